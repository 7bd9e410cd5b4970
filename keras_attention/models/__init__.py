"""Transformer models built from `keras_attention.layers`."""

from keras_attention.models.bert_classifier import BertClassifier
from keras_attention.models.bert_encoder import BertEncoder
from keras_attention.models.bert_masked_lm import BertMaskedLM
from keras_attention.models.generation import Sampler
from keras_attention.models.generative_model import GenerativeModel
from keras_attention.models.gpt_decoder import GPTDecoder
from keras_attention.models.seq2seq_transformer import Seq2SeqTransformer

__all__ = [
    "BertClassifier",
    "BertEncoder",
    "BertMaskedLM",
    "GPTDecoder",
    "GenerativeModel",
    "Sampler",
    "Seq2SeqTransformer",
]
