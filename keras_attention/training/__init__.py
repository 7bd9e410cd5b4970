"""Training: schedules, losses, metrics, recipes, strategies and the run loop
(`training.run.train`; a finished run is a `keras_attention.runs.Run`)."""

from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy
from keras_attention.training.metrics import (
    MaskedAccuracy,
    bleu,
    exact_match,
    first_sentence,
    perplexity,
    rouge,
    text_scores,
)
from keras_attention.training.recipe import RecipeError, load_recipe
from keras_attention.training.schedules import TransformerSchedule
from keras_attention.training.strategy import get_strategy

__all__ = [
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "RecipeError",
    "TransformerSchedule",
    "bleu",
    "exact_match",
    "first_sentence",
    "get_strategy",
    "load_recipe",
    "perplexity",
    "rouge",
    "text_scores",
]
