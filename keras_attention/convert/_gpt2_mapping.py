"""What the GPT-2 converters share: one checkpoint form, and where each tensor goes.

A reader (`huggingface.py`, `keras_hub_preset.py`) turns a checkpoint
directory into a `GPT2Checkpoint`: the `GPTDecoder` config, the byte-level
BPE vocabulary and merges (when the directory has them), and tensors under
the names of `decoder_tensor_names()`, already in this package's layout
(kernels `(in, out)`, attention projections `(hidden, heads * head_dim)`).
Each tensor remembers its name in the source, so an error names what the
user can find in their files. The output projection is the token embedding
(GPT-2 ties them), so there is no head tensor.
"""

from __future__ import annotations

import dataclasses

from keras_attention.convert._bert_mapping import (
    ConversionError,
    assign,
    block_tensor_names,
    block_variables,
)

END_OF_TEXT = "<|endoftext|>"

# `GPTDecoder` arguments every GPT-2 checkpoint shares: learned positions,
# pre-LN blocks with a final layer norm, the tanh GELU, no pad token (id 0 is "!").
GPT2_ARCHITECTURE = {
    "position": "learned",
    "norm": "layer",
    "activation": "gelu_approximate",
    "pad_token_id": None,
}


@dataclasses.dataclass
class GPT2Checkpoint:
    """A GPT-2 checkpoint read into this package's terms.

    Attributes:
        source: the directory it was read from.
        format: `"huggingface"` or `"keras_hub"`.
        config: `GPTDecoder` arguments.
        tensors: canonical name -> `SourceTensor`.
        weights_file: the file the tensors came from (for errors).
        vocabulary: token -> id (vocab.json), or None when the directory has
            no tokenizer.
        merges: the BPE merge rules ("a b" per rule), or None.
        vocabulary_file: where the vocabulary came from (for errors).
        end_token_id: the id of `<|endoftext|>` (GPT-2's start and end of
            text), or None.
    """

    source: str
    format: str
    config: dict
    tensors: dict
    weights_file: str
    vocabulary: dict | None = None
    merges: list | None = None
    vocabulary_file: str | None = None
    end_token_id: int | None = None

    @property
    def has_tokenizer(self) -> bool:
        return self.vocabulary is not None and self.merges is not None


def decoder_tensor_names(num_layers: int) -> list[str]:
    """The canonical names of a `GPTDecoder`'s tensors, embeddings to final norm."""
    names = ["embeddings.token", "embeddings.position"]
    for index in range(num_layers):
        names += block_tensor_names(f"layers.{index}.")
    return names + ["final_norm.gamma", "final_norm.beta"]


def _decoder_variables(decoder) -> dict:
    """Canonical name -> the `GPTDecoder`'s variable."""
    variables = {
        "embeddings.token": decoder.embedding.token_embedding.embeddings,
        "embeddings.position": decoder.embedding.position_encoding.position_embeddings,
        "final_norm.gamma": decoder.final_norm.gamma,
        "final_norm.beta": decoder.final_norm.beta,
    }
    for index, block in enumerate(decoder.blocks):
        variables.update(block_variables(block, f"layers.{index}."))
    return variables


def _hint(name: str) -> str:
    return {
        "embeddings.token": "the token embedding",
        "embeddings.position": "the position embedding",
        "final_norm.gamma": "the final layer norm",
        "final_norm.beta": "the final layer norm",
    }.get(name, "a GPT-2 weight")


def check_vocabulary(checkpoint: GPT2Checkpoint) -> None:
    """The vocabulary (when there is one) must have one token per row of the
    token embedding, with ids 0 .. rows - 1."""
    if checkpoint.vocabulary is None:
        return
    rows = checkpoint.config["vocabulary_size"]
    ids = sorted(checkpoint.vocabulary.values())
    if len(ids) != rows:
        raise ConversionError(
            f"{checkpoint.vocabulary_file} has {len(ids)} tokens, but the checkpoint's "
            f"token embedding has {rows} rows: the vocabulary does not belong to these weights."
        )
    if ids != list(range(rows)):
        raise ConversionError(
            f"{checkpoint.vocabulary_file}: the token ids must be 0 .. {rows - 1}, each once."
        )


def load_decoder_weights(decoder, checkpoint: GPT2Checkpoint) -> None:
    """Set every weight of a built `GPTDecoder` from `checkpoint`."""
    assign(
        _decoder_variables(decoder), checkpoint, decoder_tensor_names(decoder.num_layers), _hint
    )
