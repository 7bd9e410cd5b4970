"""Training: schedules, losses, metrics, recipes, strategies and the run loop."""

from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy
from keras_attention.training.metrics import MaskedAccuracy, bleu, exact_match, perplexity
from keras_attention.training.recipe import RecipeError, load_recipe
from keras_attention.training.run import evaluate, load_run, train
from keras_attention.training.schedules import TransformerSchedule
from keras_attention.training.strategy import get_strategy

__all__ = [
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "RecipeError",
    "TransformerSchedule",
    "bleu",
    "evaluate",
    "exact_match",
    "get_strategy",
    "load_recipe",
    "load_run",
    "perplexity",
    "train",
]
