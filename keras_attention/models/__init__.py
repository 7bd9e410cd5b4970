"""Transformer models built from `keras_attention.layers`."""

from keras_attention.models.generation import Sampler
from keras_attention.models.gpt_decoder import GPTDecoder
from keras_attention.models.seq2seq_transformer import Seq2SeqTransformer

__all__ = ["GPTDecoder", "Sampler", "Seq2SeqTransformer"]
