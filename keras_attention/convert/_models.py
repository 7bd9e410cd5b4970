"""The `from_pretrained` classmethods' work: a `BertCheckpoint` or
`GPT2Checkpoint` into a built model."""

from __future__ import annotations

import warnings

from keras_attention.convert import _bert_mapping, _gpt2_mapping
from keras_attention.convert._bert_mapping import BertCheckpoint, ConversionError
from keras_attention.convert._gpt2_mapping import GPT2Checkpoint
from keras_attention.convert.checkpoint import read_bert_checkpoint, read_gpt2_checkpoint

# What `from_pretrained` may change: nothing that alters the weights' shapes.
ADJUSTABLE = ("dropout", "dtype", "name", "trainable")


def _checkpoint(source) -> BertCheckpoint:
    return source if isinstance(source, BertCheckpoint) else read_bert_checkpoint(source)


# The model classes are passed in (by their `from_pretrained`): importing
# them here would make `keras_attention.models` and this module import each other.


def _check_overrides(overrides: dict) -> None:
    unknown = sorted(set(overrides) - set(ADJUSTABLE))
    if unknown:
        raise ValueError(
            f"`from_pretrained` takes the architecture from the checkpoint; it can only "
            f"set {', '.join(ADJUSTABLE)}. Received: {', '.join(unknown)}"
        )


def bert_encoder(encoder_class, source, **overrides):
    """A `BertEncoder` (`encoder_class`) with the checkpoint's architecture and weights."""
    _check_overrides(overrides)
    checkpoint = _checkpoint(source)
    encoder = encoder_class(**{**checkpoint.config, **overrides})
    _bert_mapping.load_encoder_weights(encoder, checkpoint)
    return encoder


def bert_masked_lm(model_class, encoder_class, source, **overrides):
    """A `BertMaskedLM`; its head from the checkpoint when it has one, else random (warned)."""
    checkpoint = _checkpoint(source)
    model = model_class(bert_encoder(encoder_class, checkpoint, **overrides), **checkpoint.masked_lm_config)
    if checkpoint.has_masked_lm_head:
        _bert_mapping.load_masked_lm_weights(model, checkpoint)
    else:
        warnings.warn(
            f"{checkpoint.source} has no masked-LM head: the encoder is pretrained, the "
            "head (transform, layer norm, output bias) is randomly initialised.",
            stacklevel=3,
        )
    return model


def bert_classifier(model_class, encoder_class, source, num_classes: int | None = None, **overrides):
    """A `BertClassifier`; its output layer from the checkpoint when it has one, else random (warned)."""
    checkpoint = _checkpoint(source)
    if checkpoint.has_classifier_head:
        rows = checkpoint.tensors["classifier.kernel"].value.shape[1]
        if num_classes is not None and num_classes != rows:
            raise ConversionError(
                f"{checkpoint.weights_file}: the classifier head has {rows} classes; "
                f"received num_classes={num_classes}. Leave num_classes unset to use it."
            )
        num_classes = rows
    elif num_classes is None:
        raise ValueError(
            f"{checkpoint.source} has no classification head: pass `num_classes` "
            "(the new head starts random)."
        )
    encoder = bert_encoder(encoder_class, checkpoint, **overrides)
    model = model_class(encoder, num_classes, dropout=encoder.dropout)
    if checkpoint.has_classifier_head:
        _bert_mapping.load_classifier_weights(model, checkpoint)
    else:
        warnings.warn(
            f"{checkpoint.source} has no classification head: the encoder is pretrained, "
            f"the {num_classes}-class output layer is randomly initialised; fine-tune it.",
            stacklevel=3,
        )
    return model


def gpt_decoder(decoder_class, source, **overrides):
    """A `GPTDecoder` (`decoder_class`) with a GPT-2 checkpoint's architecture
    and weights; its output projection is the tied token embedding."""
    _check_overrides(overrides)
    checkpoint = source if isinstance(source, GPT2Checkpoint) else read_gpt2_checkpoint(source)
    decoder = decoder_class(**{**checkpoint.config, **overrides})
    _gpt2_mapping.load_decoder_weights(decoder, checkpoint)
    return decoder
