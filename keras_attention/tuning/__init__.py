"""Keras Tuner: the hypermodel of a task's model, and the search runner."""

from keras_attention.tuning.hypermodels import DEFAULT_SPACE, TaskHyperModel
from keras_attention.tuning.search import launch_distributed_search, load_spec, run_search

__all__ = ["DEFAULT_SPACE", "TaskHyperModel", "launch_distributed_search", "load_spec", "run_search"]
