"""Keras Tuner hypermodels, one per model family.

Fixed choices (the task: data, vocabulary, lengths; the fixed recipe values)
are made in `__init__`; the whole search space is declared in `build(hp)`,
from the ranges of a search spec. Heads are only ever divisors of the hidden
size: the head choices are filtered to values that divide every hidden size.
"""

from __future__ import annotations

import copy

import keras
import keras_tuner

from keras_attention.training.schedules import TransformerSchedule

__all__ = [
    "BertClassifierHyperModel",
    "DEFAULT_SPACE",
    "GPTHyperModel",
    "Seq2SeqHyperModel",
    "hypermodel_for",
]

# Ranges: lists are choices; [low, high] of floats/ints for dropout,
# schedule_scale and warmup_steps are intervals.
DEFAULT_SPACE = {
    "num_layers": [1, 2],
    "hidden_dim": [32, 64],
    "num_heads": [2, 4],
    "intermediate_multiplier": [2, 4],
    "dropout": [0.0, 0.2],
    "normalize_first": [False, True],
    "position": ["sinusoidal", "learned"],
    "schedule_scale": [0.5, 2.0],
    "warmup_steps": [100, 1000],
}


class TransformerHyperModel(keras_tuner.HyperModel):
    """Shared search space; subclasses turn the sampled values into model arguments."""

    family = ""
    searches_normalization = True
    searches_position = True

    def __init__(self, task, space: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.task = task
        self.space = {**DEFAULT_SPACE, **(space or {})}
        hidden = self.space["hidden_dim"]
        self.head_choices = [
            heads for heads in self.space["num_heads"] if all(size % heads == 0 for size in hidden)
        ]
        if not self.head_choices:
            raise ValueError(
                "No `num_heads` choice divides every `hidden_dim` choice. Received: "
                f"num_heads={self.space['num_heads']}, hidden_dim={hidden}"
            )

    def _sample(self, hp):
        space = self.space
        values = {
            "num_layers": hp.Choice("num_layers", space["num_layers"]),
            "hidden_dim": hp.Choice("hidden_dim", space["hidden_dim"]),
            "num_heads": hp.Choice("num_heads", self.head_choices),
            "intermediate_multiplier": hp.Choice(
                "intermediate_multiplier", space["intermediate_multiplier"]
            ),
            "dropout": hp.Float("dropout", *space["dropout"], step=0.05),
        }
        if self.searches_normalization:
            values["normalize_first"] = bool(hp.Choice("normalize_first", space["normalize_first"]))
        if self.searches_position:
            values["position"] = hp.Choice("position", space["position"])
        values["schedule_scale"] = hp.Float("schedule_scale", *space["schedule_scale"], sampling="log")
        values["warmup_steps"] = hp.Int("warmup_steps", *space["warmup_steps"], sampling="log")
        return values

    def model_overrides(self, values: dict) -> dict:
        """Constructor arguments of the family's model for sampled `values`."""
        overrides = {
            "num_layers": values["num_layers"],
            "hidden_dim": values["hidden_dim"],
            "num_heads": values["num_heads"],
            "intermediate_dim": values["hidden_dim"] * values["intermediate_multiplier"],
            "dropout": values["dropout"],
        }
        for searched in ("normalize_first", "position"):
            if searched in values:
                overrides[searched] = values[searched]
        return overrides

    def build(self, hp):
        values = self._sample(hp)
        overrides = self.model_overrides(values)
        task = copy.copy(self.task)
        task.recipe = copy.deepcopy(self.task.recipe)
        task.recipe["model"]["overrides"] = {**task.recipe["model"]["overrides"], **overrides}
        model = task.build_model()
        schedule = TransformerSchedule(
            values["hidden_dim"], values["warmup_steps"], values["schedule_scale"]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9),
            loss=task.loss(),
            weighted_metrics=task.metrics(),  # sample weights apply, as to the loss
        )
        return model


class Seq2SeqHyperModel(TransformerHyperModel):
    """Encoder-decoder Transformer (`translation` recipes)."""

    family = "seq2seq"

    def model_overrides(self, values):
        overrides = super().model_overrides(values)
        num_layers = overrides.pop("num_layers")
        return {"num_encoder_layers": num_layers, "num_decoder_layers": num_layers, **overrides}


class GPTHyperModel(TransformerHyperModel):
    """GPT decoder (`language_model` recipes); always pre-LN, as GPT-2."""

    family = "gpt"
    searches_normalization = False


class BertClassifierHyperModel(TransformerHyperModel):
    """BERT classifier (`classification` recipes); post-LN with learned positions, as BERT."""

    family = "bert_classifier"
    searches_normalization = False
    searches_position = False


_BY_TASK = {
    "translation": Seq2SeqHyperModel,
    "language_model": GPTHyperModel,
    "classification": BertClassifierHyperModel,
}


def hypermodel_for(task, space: dict | None = None) -> TransformerHyperModel:
    """The hypermodel of a task's model family."""
    if task.kind not in _BY_TASK:
        raise ValueError(
            f"No hypermodel for task {task.kind!r}. Tunable tasks: {sorted(_BY_TASK)}"
        )
    return _BY_TASK[task.kind](task, space)
