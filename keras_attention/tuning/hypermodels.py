"""The Keras Tuner hypermodel of a task's model.

Fixed choices (the task: data, vocabulary, lengths; the fixed recipe values)
are made in `__init__`; the whole search space is declared in `build(hp)`,
from the ranges of a search spec. Heads are only ever divisors of the hidden
size: the head choices are filtered to values that divide every hidden size.
"""

from __future__ import annotations

import keras
import keras_tuner

from keras_attention.training.schedules import TransformerSchedule

__all__ = ["DEFAULT_SPACE", "TaskHyperModel"]

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


class TaskHyperModel(keras_tuner.HyperModel):
    """The search space of a task's model: what to sample is shared, what
    the values mean is the task's hook (`Task.tuned_arguments`, and its
    `searches_normalization` / `searches_position` flags)."""

    def __init__(self, task, space: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if not task.tunable:
            raise ValueError(
                f"Task {task.kind!r} has no search space. Tunable tasks: "
                "every task whose `tunable` is True in keras_attention.tasks.TASKS"
            )
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
        if self.task.searches_normalization:
            values["normalize_first"] = bool(hp.Choice("normalize_first", space["normalize_first"]))
        if self.task.searches_position:
            values["position"] = hp.Choice("position", space["position"])
        values["schedule_scale"] = hp.Float("schedule_scale", *space["schedule_scale"], sampling="log")
        values["warmup_steps"] = hp.Int("warmup_steps", *space["warmup_steps"], sampling="log")
        return values

    def model_overrides(self, values: dict) -> dict:
        """Constructor arguments of the task's model for sampled `values`."""
        return self.task.tuned_arguments(values)

    def build(self, hp):
        values = self._sample(hp)
        model = self.task.build_model(self.model_overrides(values))
        schedule = TransformerSchedule(
            values["hidden_dim"], values["warmup_steps"], values["schedule_scale"]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9),
            loss=self.task.loss(),
            weighted_metrics=self.task.metrics(),  # sample weights apply, as to the loss
        )
        return model
