"""Transformer models built from `keras_attention.layers`."""

from keras_attention.models.generation import Sampler
from keras_attention.models.gpt_decoder import GPTDecoder

__all__ = ["GPTDecoder", "Sampler"]
