"""What the BERT converters share: one checkpoint form, and where each tensor goes.

A reader (`huggingface.py`, `keras_hub_preset.py`) turns a checkpoint directory into
a `BertCheckpoint`: the `BertEncoder` config, the masked-LM head's activation
and epsilon (`BertMaskedLM` arguments), the vocabulary, and tensors
under the names of `encoder_tensor_names()` / `MASKED_LM_TENSORS` /
`CLASSIFIER_TENSORS`, already in this package's layout (kernels `(in, out)`).
Each tensor remembers its name in the source, so an error names what the user
can find in their files.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np


class ConversionError(ValueError):
    """A checkpoint that cannot be converted: the message names the file or tensor."""


def read_json(path: str) -> dict:
    """A JSON object from `path`; a `ConversionError` naming the file otherwise."""
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise ConversionError(f"{path} cannot be read as JSON: {error}") from None
    if not isinstance(value, dict):
        raise ConversionError(f"{path} must hold a JSON object.")
    return value


def read_config_file(directory: str, name: str, what: str) -> tuple[str, dict]:
    """`(path, config)` of the config file `name` of a checkpoint directory;
    a `ConversionError` saying the directory is not `what` when it is missing."""
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise ConversionError(f"{directory} has no {name}: not {what}.")
    return path, read_json(path)


def read_vocabulary(path: str) -> list[str]:
    """The tokens of a vocab.txt, one per line (line N is id N)."""
    with open(path, encoding="utf-8") as file:
        # Not `splitlines()`: it would also split at "\x85" and "\u2028".
        return [line.rstrip("\r") for line in file.read().rstrip("\n").split("\n")]


# BertEncoder's arguments a checkpoint sets: (name, type, default when the
# checkpoint's config leaves it out; None: required).
_ENCODER_ARGUMENTS = (
    ("vocabulary_size", int, None),
    ("num_layers", int, None),
    ("num_heads", int, None),
    ("hidden_dim", int, None),
    ("intermediate_dim", int, None),
    ("max_sequence_length", int, 512),
    ("num_segments", int, 2),
    ("dropout", float, 0.1),
    ("norm_epsilon", float, 1e-12),
)


def encoder_config(config: dict, source_names: dict, path: str) -> dict:
    """`BertEncoder` arguments from a checkpoint's config, whose key for each
    argument is `source_names[argument]` (an argument without a key takes its
    default)."""
    return config_arguments(config, _ENCODER_ARGUMENTS, source_names, path, "a BERT config")


def config_arguments(config: dict, arguments, source_names: dict, path: str, what: str) -> dict:
    """Model arguments from a checkpoint's config.

    Args:
        config: the checkpoint's config (a dict read from `path`).
        arguments: `(name, type, default)` triples; default None: required.
        source_names: argument -> the config's key for it.
        path: the config file, for errors.
        what: what needs a required key, for errors ("a BERT config").
    """
    values = {}
    for argument, kind, default in arguments:
        key = source_names.get(argument)
        if key is None or key not in config:
            if default is None:
                raise ConversionError(f"{path} has no {key!r}, which {what} needs.")
            values[argument] = default
            continue
        try:
            values[argument] = kind(config[key])
        except (TypeError, ValueError):
            raise ConversionError(
                f"{path}: {key!r} must be {'an integer' if kind is int else 'a number'}. "
                f"Received: {config[key]!r}"
            ) from None
    return values


@dataclasses.dataclass
class SourceTensor:
    """One tensor of a checkpoint: where it came from, and its value in our layout.

    `transposed` says that `value` is the source tensor transposed (Hugging
    Face stores `(out, in)` matrices), so errors quote the source's shape.
    """

    name: str
    value: np.ndarray
    transposed: bool = False

    @property
    def source_shape(self) -> tuple:
        shape = tuple(self.value.shape)
        return shape[::-1] if self.transposed else shape


@dataclasses.dataclass
class BertCheckpoint:
    """A BERT checkpoint read into this package's terms.

    Attributes:
        source: the directory it was read from.
        format: `"huggingface"` or `"keras_hub"`.
        config: `BertEncoder` arguments.
        masked_lm_config: `BertMaskedLM` arguments (`head_activation`,
            `head_norm_epsilon`): the source's masked-LM head computes them,
            whether or not the checkpoint stores the head's weights.
        vocabulary: the tokens by id (the checkpoint's vocab.txt as it is).
        vocabulary_file: where the vocabulary came from (for errors).
        lower_case: whether the tokenizer lower-cases.
        tensors: canonical name -> `SourceTensor`.
        weights_file: the file the tensors came from (for errors).
        label_names: the classifier's labels, when the checkpoint has a
            classification head; else None.
    """

    source: str
    format: str
    config: dict
    vocabulary: list
    vocabulary_file: str
    lower_case: bool
    tensors: dict
    weights_file: str
    label_names: list | None = None
    masked_lm_config: dict = dataclasses.field(default_factory=dict)

    @property
    def has_masked_lm_head(self) -> bool:
        return all(name in self.tensors for name in MASKED_LM_TENSORS)

    @property
    def has_classifier_head(self) -> bool:
        return all(name in self.tensors for name in CLASSIFIER_TENSORS)


def encoder_tensor_names(num_layers: int) -> list[str]:
    """The canonical names of a `BertEncoder`'s tensors, embeddings to pooler."""
    names = [
        "embeddings.token",
        "embeddings.position",
        "embeddings.segment",
        "embeddings.norm.gamma",
        "embeddings.norm.beta",
    ]
    for index in range(num_layers):
        names += block_tensor_names(f"layers.{index}.")
    return names + ["pooler.kernel", "pooler.bias"]


def block_tensor_names(prefix: str) -> list[str]:
    """The canonical names of one transformer block's tensors (BERT's and GPT-2's).

    `attention_norm` is the attention sub-layer's layer norm and
    `output_norm` the feed-forward's, after the sub-layer (BERT) or before
    it (GPT-2, pre-LN).
    """
    names = []
    for projection in ("query", "key", "value", "output"):
        names += [f"{prefix}attention.{projection}.kernel", f"{prefix}attention.{projection}.bias"]
    names += [f"{prefix}attention_norm.gamma", f"{prefix}attention_norm.beta"]
    names += [f"{prefix}intermediate.kernel", f"{prefix}intermediate.bias"]
    names += [f"{prefix}output.kernel", f"{prefix}output.bias"]
    return names + [f"{prefix}output_norm.gamma", f"{prefix}output_norm.beta"]


MASKED_LM_TENSORS = (
    "mlm.transform.kernel",
    "mlm.transform.bias",
    "mlm.norm.gamma",
    "mlm.norm.beta",
    "mlm.output_bias",
)
CLASSIFIER_TENSORS = ("classifier.kernel", "classifier.bias")


def _encoder_variables(encoder) -> dict:
    """Canonical name -> the `BertEncoder`'s variable."""
    variables = {
        "embeddings.token": encoder.embedding.token_embedding.embeddings,
        "embeddings.position": encoder.embedding.position_encoding.position_embeddings,
        "embeddings.segment": encoder.segment_embedding.embeddings,
        "embeddings.norm.gamma": encoder.embeddings_norm.gamma,
        "embeddings.norm.beta": encoder.embeddings_norm.beta,
        "pooler.kernel": encoder.pooler.kernel,
        "pooler.bias": encoder.pooler.bias,
    }
    for index, block in enumerate(encoder.blocks):
        variables.update(block_variables(block, f"layers.{index}."))
    return variables


def block_variables(block, prefix: str) -> dict:
    """Canonical name (`block_tensor_names`) -> the variable of a
    `TransformerEncoderBlock` or `TransformerDecoderBlock` (self-attention only)."""
    variables = {}
    attention = block.self_attention
    for projection in ("query", "key", "value", "output"):
        variables[f"{prefix}attention.{projection}.kernel"] = getattr(attention, f"{projection}_kernel")
        variables[f"{prefix}attention.{projection}.bias"] = getattr(attention, f"{projection}_bias")
    for name, norm in (("attention_norm", block.self_attention_norm), ("output_norm", block.feed_forward_norm)):
        variables[f"{prefix}{name}.gamma"] = norm.gamma
        variables[f"{prefix}{name}.beta"] = norm.beta
    for name, dense in (
        ("intermediate", block.feed_forward.intermediate_dense),
        ("output", block.feed_forward.output_dense),
    ):
        variables[f"{prefix}{name}.kernel"] = dense.kernel
        variables[f"{prefix}{name}.bias"] = dense.bias
    return variables


def _masked_lm_variables(model) -> dict:
    return {
        "mlm.transform.kernel": model.transform.kernel,
        "mlm.transform.bias": model.transform.bias,
        "mlm.norm.gamma": model.transform_norm.gamma,
        "mlm.norm.beta": model.transform_norm.beta,
        "mlm.output_bias": model.output_bias.bias,
    }


def _classifier_variables(model) -> dict:
    return {"classifier.kernel": model.logits_dense.kernel, "classifier.bias": model.logits_dense.bias}


def check_vocabulary(checkpoint: BertCheckpoint) -> None:
    """The vocabulary must have one token per row of the token embedding."""
    rows = checkpoint.config["vocabulary_size"]
    if len(checkpoint.vocabulary) != rows:
        raise ConversionError(
            f"{checkpoint.vocabulary_file} has {len(checkpoint.vocabulary)} tokens, but the "
            f"checkpoint's token embedding has {rows} rows: the vocabulary does not belong "
            "to these weights."
        )


def assign(variables: dict, checkpoint, names, hint=None) -> None:
    """Check every tensor of `checkpoint` (a `BertCheckpoint` or
    `GPT2Checkpoint`) first (missing, shape), then assign them all.

    `hint(name)` says in words what a missing canonical tensor is.
    """
    hint = hint or _hint
    values = []
    for name in names:
        tensor = checkpoint.tensors.get(name)
        if tensor is None:
            raise ConversionError(f"{checkpoint.weights_file}: missing tensor for {name} ({hint(name)}).")
        variable = variables[name]
        expected = tuple(variable.shape)
        if tuple(tensor.value.shape) != expected:
            shown = expected[::-1] if tensor.transposed else expected
            raise ConversionError(
                f"{checkpoint.weights_file}: tensor {tensor.name!r} has shape "
                f"{tensor.source_shape}; expected {shown} for the architecture in the "
                "checkpoint's config."
            )
        values.append((variable, tensor.value))
    for variable, value in values:
        variable.assign(np.asarray(value, dtype=variable.dtype))


def _hint(name: str) -> str:
    return {
        "embeddings.token": "the token embedding",
        "embeddings.position": "the position embedding",
        "embeddings.segment": "the segment (token type) embedding",
        "pooler.kernel": "the pooler",
        "pooler.bias": "the pooler",
    }.get(name, "a BERT weight")


def load_encoder_weights(encoder, checkpoint: BertCheckpoint) -> None:
    """Set every weight of a built `BertEncoder` from `checkpoint`."""
    assign(_encoder_variables(encoder), checkpoint, encoder_tensor_names(encoder.num_layers))


def load_masked_lm_weights(model, checkpoint: BertCheckpoint) -> None:
    """Set a `BertMaskedLM`'s head from `checkpoint` (the output projection is
    the tied token embedding, set with the encoder)."""
    assign(_masked_lm_variables(model), checkpoint, MASKED_LM_TENSORS)


def load_classifier_weights(model, checkpoint: BertCheckpoint) -> None:
    """Set a `BertClassifier`'s output layer from `checkpoint`."""
    assign(_classifier_variables(model), checkpoint, CLASSIFIER_TENSORS)
