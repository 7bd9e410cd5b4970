"""Keras Tuner hypermodels for every model family, and the search runner."""

from keras_attention.tuning.hypermodels import (
    BertClassifierHyperModel,
    GPTHyperModel,
    Seq2SeqHyperModel,
    hypermodel_for,
)
from keras_attention.tuning.search import launch_distributed_search, load_spec, run_search

__all__ = [
    "BertClassifierHyperModel",
    "GPTHyperModel",
    "Seq2SeqHyperModel",
    "hypermodel_for",
    "launch_distributed_search",
    "load_spec",
    "run_search",
]
