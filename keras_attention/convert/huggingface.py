"""Read a Hugging Face checkpoint directory: BERT (`config.json`,
`model.safetensors`, `vocab.txt`) or GPT-2 (`vocab.json` + `merges.txt`).

Parameter names are those of `transformers`' `BertModel` (`embeddings.*`,
`encoder.layer.N.*`, `pooler.dense.*`), with the `bert.` prefix of the task
models (`BertForMaskedLM`, `BertForPreTraining`,
`BertForSequenceClassification`), whose heads are `cls.predictions.*` and
`classifier.*`. Linear weights are stored `(out, in)` and are transposed to
Keras's `(in, out)`. Old TensorFlow-converted checkpoints name layer-norm
weights `gamma` / `beta`; both spellings are read.

GPT-2's names are those of `transformers`' `GPT2Model` (`wte`, `wpe`,
`h.N.*`, `ln_f`), with the `transformer.` prefix of `GPT2LMHeadModel`, whose
`lm_head.weight`, when stored, is the token embedding (tied). GPT-2's linear
layers are `Conv1D`s, stored `(in, out)` as Keras stores them, and its
attention projects queries, keys and values with one `c_attn` matrix
`(hidden, 3 * hidden)`, split here.
"""

from __future__ import annotations

import os

import numpy as np

from keras_attention.convert._bert_mapping import (
    BertCheckpoint,
    ConversionError,
    SourceTensor,
    config_arguments,
    encoder_config,
    read_config_file,
    read_json,
    read_vocabulary,
)
from keras_attention.convert._gpt2_mapping import END_OF_TEXT, GPT2_ARCHITECTURE, GPT2Checkpoint

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCABULARY_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
GPT2_VOCABULARY_FILE = "vocab.json"
GPT2_MERGES_FILE = "merges.txt"


# BertEncoder argument -> the key of Hugging Face's BertConfig.
_CONFIG_NAMES = {
    "vocabulary_size": "vocab_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "hidden_dim": "hidden_size",
    "intermediate_dim": "intermediate_size",
    "max_sequence_length": "max_position_embeddings",
    "num_segments": "type_vocab_size",
    "dropout": "hidden_dropout_prob",
    "norm_epsilon": "layer_norm_eps",
}


# Hugging Face's activation names (`transformers.activations.ACT2FN`) -> FeedForward's.
_ACTIVATIONS = {
    "gelu": "gelu",  # the exact (erf) GELU
    "gelu_new": "gelu_approximate",  # the tanh approximation
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
}


def _activation(config: dict, key: str, default: str, path: str, model: str) -> str:
    """FeedForward's name for the activation `config[key]`; a ConversionError
    naming the key and value for one `model` does not compute."""
    value = config.get(key, default)
    if not isinstance(value, str) or value not in _ACTIVATIONS:
        raise ConversionError(
            f"{path}: {key}={value!r} is not supported; {model} computes "
            f"{', '.join(sorted(_ACTIVATIONS))}."
        )
    return _ACTIVATIONS[value]


def is_huggingface_directory(path: str) -> bool:
    return os.path.isfile(os.path.join(path, WEIGHTS_FILE))


def _encoder_config(config: dict, path: str) -> dict:
    if config.get("model_type") != "bert":
        raise architecture_error(
            config, path, "only BERT checkpoints (model_type 'bert') convert to BertEncoder."
        )
    # BertModel's blocks and BertForMaskedLM's head transform both use
    # `hidden_act` and `layer_norm_eps`.
    activation = _activation(config, "hidden_act", "gelu", path, "BertEncoder")
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ConversionError(
            f"{path}: position_embedding_type={position_type!r} is not supported; "
            "BertEncoder learns absolute positions."
        )
    return {**encoder_config(config, _CONFIG_NAMES, path), "activation": activation}


def _lower_case(directory: str, config: dict) -> bool:
    tokenizer_config = os.path.join(directory, TOKENIZER_CONFIG_FILE)
    if os.path.isfile(tokenizer_config):
        value = read_json(tokenizer_config).get("do_lower_case")
        if value is not None:
            return bool(value)
    if "do_lower_case" in config:
        return bool(config["do_lower_case"])
    # Hugging Face's BertTokenizer lower-cases unless told otherwise.
    return True


def _label_names(config: dict) -> list[str] | None:
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        return None
    try:
        return [str(id2label[key]) for key in sorted(id2label, key=int)]
    except ValueError:
        return None


class _Tensors:
    """The tensors of `model.safetensors`, found with or without the task
    model's prefix (`bert.`, `transformer.`)."""

    def __init__(self, path: str, prefix: str = "bert."):
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ConversionError(
                "Reading model.safetensors needs the `safetensors` package: "
                "pip install safetensors"
            ) from None
        try:
            self.tensors = load_file(path)
        except Exception as error:  # the package raises its own error types
            raise ConversionError(f"{path} cannot be read as safetensors: {error}") from None
        self.path = path
        self.prefix = prefix if any(name.startswith(prefix) for name in self.tensors) else ""
        norm_names = ("LayerNorm.gamma", "LayerNorm.beta")
        self.old_norm_names = f"{self.prefix}embeddings.{norm_names[0]}" in self.tensors

    def name(self, name: str, encoder: bool = True) -> str:
        if self.old_norm_names:
            name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        return (self.prefix if encoder else "") + name

    def get(self, name: str, transpose: bool = False, encoder: bool = True) -> SourceTensor:
        full_name = self.name(name, encoder)
        if full_name not in self.tensors:
            raise ConversionError(f"{self.path}: missing tensor {full_name!r}.")
        value = self.tensors[full_name]
        if transpose:
            if value.ndim != 2:
                raise ConversionError(
                    f"{self.path}: tensor {full_name!r} has shape {tuple(value.shape)}; "
                    "expected a matrix."
                )
            value = value.T
        return SourceTensor(full_name, value, transposed=transpose)

    def has(self, name: str, encoder: bool = True) -> bool:
        return self.name(name, encoder) in self.tensors

    def check_tied(self, name: str, embedding: SourceTensor, what: str) -> None:
        """A stored output projection `name` (a head's, no prefix) must equal
        the token embedding: the models tie them."""
        if self.has(name, encoder=False) and not np.array_equal(
            self.get(name, encoder=False).value, embedding.value
        ):
            raise ConversionError(f"{self.path}: tensor {self.name(name, False)!r} differs from {what}.")


def read_huggingface(directory: str) -> BertCheckpoint:
    """A Hugging Face BERT checkpoint directory as a `BertCheckpoint`."""
    directory = os.fspath(directory)
    config_path, config = read_config_file(directory, CONFIG_FILE, "a Hugging Face checkpoint directory")
    encoder_config = _encoder_config(config, config_path)
    vocabulary_file = os.path.join(directory, VOCABULARY_FILE)
    if not os.path.isfile(vocabulary_file):
        raise ConversionError(f"{directory} has no {VOCABULARY_FILE}: the tokenizer's vocabulary is needed.")
    vocabulary = read_vocabulary(vocabulary_file)

    source = _Tensors(os.path.join(directory, WEIGHTS_FILE))
    tensors = {
        "embeddings.token": source.get("embeddings.word_embeddings.weight"),
        "embeddings.position": source.get("embeddings.position_embeddings.weight"),
        "embeddings.segment": source.get("embeddings.token_type_embeddings.weight"),
        "embeddings.norm.gamma": source.get("embeddings.LayerNorm.weight"),
        "embeddings.norm.beta": source.get("embeddings.LayerNorm.bias"),
        "pooler.kernel": source.get("pooler.dense.weight", transpose=True),
        "pooler.bias": source.get("pooler.dense.bias"),
    }
    for index in range(encoder_config["num_layers"]):
        hf, ours = f"encoder.layer.{index}.", f"layers.{index}."
        for projection, hf_name in (
            ("query", "attention.self.query"),
            ("key", "attention.self.key"),
            ("value", "attention.self.value"),
            ("output", "attention.output.dense"),
        ):
            tensors[f"{ours}attention.{projection}.kernel"] = source.get(f"{hf}{hf_name}.weight", transpose=True)
            tensors[f"{ours}attention.{projection}.bias"] = source.get(f"{hf}{hf_name}.bias")
        for name, hf_name in (
            ("attention_norm", "attention.output.LayerNorm"),
            ("output_norm", "output.LayerNorm"),
        ):
            tensors[f"{ours}{name}.gamma"] = source.get(f"{hf}{hf_name}.weight")
            tensors[f"{ours}{name}.beta"] = source.get(f"{hf}{hf_name}.bias")
        for name, hf_name in (("intermediate", "intermediate.dense"), ("output", "output.dense")):
            tensors[f"{ours}{name}.kernel"] = source.get(f"{hf}{hf_name}.weight", transpose=True)
            tensors[f"{ours}{name}.bias"] = source.get(f"{hf}{hf_name}.bias")
    next_layer = f"encoder.layer.{encoder_config['num_layers']}.attention.self.query.weight"
    if source.has(next_layer):
        raise ConversionError(
            f"{source.path}: tensor {source.name(next_layer)!r} is beyond num_hidden_layers="
            f"{encoder_config['num_layers']} in {config_path}: the config does not match the weights."
        )

    if source.has("cls.predictions.transform.dense.weight", encoder=False):
        tensors.update(
            {
                "mlm.transform.kernel": source.get("cls.predictions.transform.dense.weight", True, False),
                "mlm.transform.bias": source.get("cls.predictions.transform.dense.bias", encoder=False),
                "mlm.norm.gamma": source.get("cls.predictions.transform.LayerNorm.weight", encoder=False),
                "mlm.norm.beta": source.get("cls.predictions.transform.LayerNorm.bias", encoder=False),
                "mlm.output_bias": source.get("cls.predictions.bias", encoder=False),
            }
        )
    source.check_tied(
        "cls.predictions.decoder.weight", tensors["embeddings.token"],
        "the word embeddings; BertMaskedLM ties its output projection to them",
    )
    label_names = None
    if source.has("classifier.weight", encoder=False):
        tensors["classifier.kernel"] = source.get("classifier.weight", True, False)
        tensors["classifier.bias"] = source.get("classifier.bias", encoder=False)
        label_names = _label_names(config)
        rows = tensors["classifier.kernel"].value.shape[1]
        if label_names is None or len(label_names) != rows:
            label_names = [f"LABEL_{index}" for index in range(rows)]
    return BertCheckpoint(
        source=directory,
        format="huggingface",
        config=encoder_config,
        vocabulary=vocabulary,
        vocabulary_file=vocabulary_file,
        lower_case=_lower_case(directory, config),
        tensors=tensors,
        weights_file=source.path,
        label_names=label_names,
        # BertPredictionHeadTransform: `hidden_act`, then LayerNorm(eps=layer_norm_eps).
        masked_lm_config={
            "head_activation": encoder_config["activation"],
            "head_norm_epsilon": encoder_config["norm_epsilon"],
        },
    )


# === GPT-2 ===

# GPTDecoder argument -> the key of Hugging Face's GPT2Config.
_GPT2_CONFIG_NAMES = {
    "vocabulary_size": "vocab_size",
    "num_layers": "n_layer",
    "num_heads": "n_head",
    "hidden_dim": "n_embd",
    "max_sequence_length": "n_positions",
    "dropout": "resid_pdrop",
    "norm_epsilon": "layer_norm_epsilon",
}
# (argument, type, default when the config leaves it out; None: required),
# the defaults of GPT2Config.
_GPT2_ARGUMENTS = (
    ("vocabulary_size", int, None),
    ("num_layers", int, None),
    ("num_heads", int, None),
    ("hidden_dim", int, None),
    ("max_sequence_length", int, 1024),
    ("dropout", float, 0.1),
    ("norm_epsilon", float, 1e-5),
)


def is_gpt2_config(config: dict) -> bool:
    return config.get("model_type") == "gpt2"


def architecture_error(config: dict, path: str, expected: str) -> ConversionError:
    architectures = config.get("architectures")
    return ConversionError(
        f"{path} describes a {config.get('model_type')!r} model"
        + (f" ({', '.join(architectures)})" if architectures else "")
        + f"; {expected}"
    )


def _gpt2_config(config: dict, path: str) -> dict:
    if not is_gpt2_config(config):
        raise architecture_error(
            config, path, "only GPT-2 checkpoints (model_type 'gpt2') convert to GPTDecoder."
        )
    activation = _activation(config, "activation_function", "gelu_new", path, "GPTDecoder")
    for key, supported in (
        ("scale_attn_weights", True),
        ("scale_attn_by_inverse_layer_idx", False),
        ("add_cross_attention", False),
    ):
        if bool(config.get(key, supported)) != supported:
            raise ConversionError(
                f"{path}: {key}={config[key]!r} is not supported; GPTDecoder is GPT-2 with "
                f"{key}={supported}."
            )
    arguments = config_arguments(config, _GPT2_ARGUMENTS, _GPT2_CONFIG_NAMES, path, "a GPT-2 config")
    inner = config.get("n_inner")
    try:
        arguments["intermediate_dim"] = 4 * arguments["hidden_dim"] if inner is None else int(inner)
    except (TypeError, ValueError):
        raise ConversionError(f"{path}: 'n_inner' must be an integer or null. Received: {inner!r}") from None
    return {**arguments, **GPT2_ARCHITECTURE, "activation": activation}


def read_bpe_files(vocabulary_file: str, merges_file: str, directory: str) -> tuple[dict | None, list | None]:
    """A byte-level BPE vocabulary (token -> id, from JSON) and merge rules,
    or `(None, None)` when neither file is there."""
    have = [os.path.isfile(vocabulary_file), os.path.isfile(merges_file)]
    if not any(have):
        return None, None
    if not all(have):
        missing = merges_file if have[0] else vocabulary_file
        raise ConversionError(
            f"{directory}: {os.path.basename(missing)} is missing; a GPT-2 tokenizer needs "
            "both the vocabulary and the merge rules."
        )
    vocabulary = read_json(vocabulary_file)
    if not all(isinstance(token_id, int) and not isinstance(token_id, bool) for token_id in vocabulary.values()):
        raise ConversionError(f"{vocabulary_file} must map each token to an integer id.")
    with open(merges_file, encoding="utf-8") as file:
        # Hugging Face's merges.txt starts with "#version: ..."; a rule is "a b".
        merges = [line.rstrip("\r") for line in file.read().split("\n")]
    merges = [rule for rule in merges if rule and not rule.startswith("#version")]
    for number, rule in enumerate(merges, 1):
        if len(rule.split(" ")) != 2:
            raise ConversionError(f"{merges_file}: rule {number} {rule!r} is not two tokens.")
    return vocabulary, merges


def _split_attention(source, name: str, hidden: int, tensors: dict, ours: str, kind: str) -> None:
    """`c_attn`'s `(hidden, 3 * hidden)` kernel or `(3 * hidden,)` bias as
    query, key and value."""
    tensor = source.get(name)
    expected = (hidden, 3 * hidden) if kind == "kernel" else (3 * hidden,)
    if tuple(tensor.value.shape) != expected:
        raise ConversionError(
            f"{source.path}: tensor {tensor.name!r} has shape {tuple(tensor.value.shape)}; "
            f"expected {expected} (query, key and value side by side, (in, out)) for the "
            "architecture in the checkpoint's config."
        )
    for index, projection in enumerate(("query", "key", "value")):
        part = tensor.value[..., index * hidden : (index + 1) * hidden]
        tensors[f"{ours}attention.{projection}.{kind}"] = SourceTensor(tensor.name, part)


def read_huggingface_gpt2(directory: str) -> GPT2Checkpoint:
    """A Hugging Face GPT-2 checkpoint directory as a `GPT2Checkpoint`."""
    directory = os.fspath(directory)
    config_path, config = read_config_file(directory, CONFIG_FILE, "a Hugging Face checkpoint directory")
    decoder_config = _gpt2_config(config, config_path)
    vocabulary_file = os.path.join(directory, GPT2_VOCABULARY_FILE)
    vocabulary, merges = read_bpe_files(
        vocabulary_file, os.path.join(directory, GPT2_MERGES_FILE), directory
    )

    source = _Tensors(os.path.join(directory, WEIGHTS_FILE), prefix="transformer.")
    hidden = decoder_config["hidden_dim"]
    tensors = {
        "embeddings.token": source.get("wte.weight"),
        "embeddings.position": source.get("wpe.weight"),
        "final_norm.gamma": source.get("ln_f.weight"),
        "final_norm.beta": source.get("ln_f.bias"),
    }
    for index in range(decoder_config["num_layers"]):
        hf, ours = f"h.{index}.", f"layers.{index}."
        _split_attention(source, f"{hf}attn.c_attn.weight", hidden, tensors, ours, "kernel")
        _split_attention(source, f"{hf}attn.c_attn.bias", hidden, tensors, ours, "bias")
        for name, hf_name in (
            ("attention.output", "attn.c_proj"),
            ("intermediate", "mlp.c_fc"),
            ("output", "mlp.c_proj"),
        ):
            # Conv1D: (in, out) already.
            tensors[f"{ours}{name}.kernel"] = source.get(f"{hf}{hf_name}.weight")
            tensors[f"{ours}{name}.bias"] = source.get(f"{hf}{hf_name}.bias")
        for name, hf_name in (("attention_norm", "ln_1"), ("output_norm", "ln_2")):
            tensors[f"{ours}{name}.gamma"] = source.get(f"{hf}{hf_name}.weight")
            tensors[f"{ours}{name}.beta"] = source.get(f"{hf}{hf_name}.bias")
    next_layer = f"h.{decoder_config['num_layers']}.ln_1.weight"
    if source.has(next_layer):
        raise ConversionError(
            f"{source.path}: tensor {source.name(next_layer)!r} is beyond n_layer="
            f"{decoder_config['num_layers']} in {config_path}: the config does not match the weights."
        )
    source.check_tied(
        "lm_head.weight", tensors["embeddings.token"],
        "the token embedding (wte); GPTDecoder ties its output projection to it",
    )
    end_token_id = None
    if vocabulary is not None and END_OF_TEXT in vocabulary:
        end_token_id = vocabulary[END_OF_TEXT]
    elif isinstance(config.get("eos_token_id"), int):
        end_token_id = config["eos_token_id"]
    return GPT2Checkpoint(
        source=directory,
        format="huggingface",
        config=decoder_config,
        tensors=tensors,
        weights_file=source.path,
        vocabulary=vocabulary,
        merges=merges,
        vocabulary_file=vocabulary_file,
        end_token_id=end_token_id,
    )
