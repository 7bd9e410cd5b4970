"""Read a BERT or GPT-2 checkpoint directory of either format, and BERT's tokenizer."""

from __future__ import annotations

import os

from keras_attention.convert import _gpt2_mapping
from keras_attention.convert._bert_mapping import BertCheckpoint, ConversionError, check_vocabulary, read_json
from keras_attention.convert._gpt2_mapping import GPT2Checkpoint
from keras_attention.convert.huggingface import (
    architecture_error,
    is_gpt2_config,
    is_huggingface_directory,
    read_huggingface,
    read_huggingface_gpt2,
)
from keras_attention.convert.keras_hub_preset import (
    is_keras_hub_directory,
    is_keras_hub_gpt2,
    read_keras_hub,
    read_keras_hub_gpt2,
)

__all__ = ["load_bert_tokenizer", "read_bert_checkpoint", "read_checkpoint", "read_gpt2_checkpoint"]


def read_bert_checkpoint(path) -> BertCheckpoint:
    """Read a BERT checkpoint directory, keras-hub preset or Hugging Face.

    A keras-hub preset holds `config.json` and `model.weights.h5` (with the
    tokenizer's `assets/tokenizer/vocabulary.txt`); a Hugging Face
    checkpoint holds `config.json`, `model.safetensors` and `vocab.txt`.
    Nothing is built yet: the tensors are read and the vocabulary is checked
    against the token embedding.

    Raises:
        ConversionError (a ValueError): another architecture, a missing file
            or tensor, a vocabulary of the wrong size; the message names the
            file or tensor.
    """
    checkpoint = _read(path, read_huggingface, read_keras_hub)
    check_vocabulary(checkpoint)
    return checkpoint


def read_gpt2_checkpoint(path) -> GPT2Checkpoint:
    """Read a GPT-2 checkpoint directory, keras-hub preset or Hugging Face.

    A keras-hub preset holds `config.json` (a `GPT2Backbone`) and
    `model.weights.h5`, with `assets/tokenizer/vocabulary.json` and
    `merges.txt` when its `GPT2Tokenizer` was saved too; a Hugging Face
    checkpoint holds `config.json` (`model_type` "gpt2"), `model.safetensors`
    and, for the tokenizer, `vocab.json` and `merges.txt`. Nothing is built
    yet: the tensors are read and the vocabulary, when there is one, is
    checked against the token embedding.

    Raises:
        ConversionError (a ValueError): another architecture, a missing file
            or tensor, a vocabulary of the wrong size; the message names the
            file or tensor.
    """
    checkpoint = _read(path, read_huggingface_gpt2, read_keras_hub_gpt2)
    _gpt2_mapping.check_vocabulary(checkpoint)
    return checkpoint


def read_checkpoint(path) -> BertCheckpoint | GPT2Checkpoint:
    """Read a BERT or a GPT-2 checkpoint directory, whichever its config describes.

    Raises:
        ConversionError (a ValueError): a checkpoint of another architecture
            (naming it), or whatever `read_bert_checkpoint` and
            `read_gpt2_checkpoint` refuse.
    """
    path = os.fspath(path)
    config_path = os.path.join(path, "config.json")
    if os.path.isdir(path) and os.path.isfile(config_path):
        config = read_json(config_path)
        if is_huggingface_directory(path):
            if is_gpt2_config(config):
                return read_gpt2_checkpoint(path)
            if config.get("model_type") != "bert":
                raise architecture_error(
                    config, config_path, "BERT (model_type 'bert') and GPT-2 ('gpt2') checkpoints convert."
                )
        elif is_keras_hub_directory(path):
            if is_keras_hub_gpt2(config):
                return read_gpt2_checkpoint(path)
            if config.get("class_name") != "BertBackbone":
                raise ConversionError(
                    f"{config_path} describes a keras-hub {config.get('class_name')!r}; "
                    "BertBackbone and GPT2Backbone presets convert."
                )
    return read_bert_checkpoint(path)


def _read(path, read_huggingface_format, read_keras_hub_format):
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No checkpoint directory at {path!r}")
    if is_huggingface_directory(path):
        return read_huggingface_format(path)
    if is_keras_hub_directory(path):
        return read_keras_hub_format(path)
    raise ConversionError(
        f"{path} holds neither model.safetensors (a Hugging Face checkpoint) nor "
        "model.weights.h5 (a keras-hub preset)."
    )


def load_bert_tokenizer(checkpoint: BertCheckpoint | str):
    """The checkpoint's WordPiece tokenizer: its vocabulary as it is, special
    ids looked up by token, lower-casing as the checkpoint says."""
    from keras_attention.data import WordPieceTokenizer

    if not isinstance(checkpoint, BertCheckpoint):
        checkpoint = read_bert_checkpoint(checkpoint)
    try:
        return WordPieceTokenizer(
            checkpoint.vocabulary, lower_case=checkpoint.lower_case, reserved_tokens_first=False
        )
    except ValueError as error:
        raise ConversionError(f"{checkpoint.vocabulary_file}: {error}") from None
