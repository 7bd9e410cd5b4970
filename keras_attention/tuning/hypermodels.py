"""The Keras Tuner hypermodel of a task's model and its training.

Fixed choices (the task: data, vocabulary, lengths; the recipe's values that
are not searched) are made in `__init__`; the whole search space is declared
in `build(hp)`, from the ranges of a search spec. Heads are only ever divisors
of the hidden size: the head choices are filtered to values that divide every
hidden size.

A trial trains as `keras-attention train` would train the recipe with the
trial's values: the recipe's `[training]` table with the searched keys
replaced (`trial_recipe`) is compiled by the same function as `train`'s
(`keras_attention.training.optimizers.compile_model`: optimizer, schedule,
`jit_compile`, under the recipe's mixed-precision policy), and `fit` reads
the task's data batched at the trial's `batch_size`.
"""

from __future__ import annotations

import copy
import warnings

import keras_tuner

from keras_attention.training.callbacks import resume_batch
from keras_attention.training.optimizers import compile_model, total_steps
from keras_attention.training.recipe import Recipe

__all__ = ["DEFAULT_SPACE", "INTERVALS", "TRAINING_SPACE", "TaskHyperModel"]

# Ranges: lists are choices; the keys in INTERVALS take [low, high].
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
# Training keys a spec may search besides (none by default: a key that is not
# searched keeps the recipe's value), with an example range of each.
TRAINING_SPACE = {
    "batch_size": [32, 64],                     # choices
    "optimizer": ["adam", "adamw"],             # choices
    "weight_decay": [1e-4, 0.1],                # [low, high], log-uniform; adamw trials only
    "clipnorm": [0.5, 1.0],                     # choices
    "gradient_accumulation_steps": [1, 2],      # choices
    "schedule": ["transformer", "cosine"],      # choices
    "learning_rate": [1e-4, 3e-3],              # [low, high], log-uniform; cosine and constant trials
}
INTERVALS = ("dropout", "schedule_scale", "warmup_steps", "weight_decay", "learning_rate")
# The sampled values that are `[training]` keys of the recipe.
_TRAINING_KEYS = ("schedule_scale", "warmup_steps", *TRAINING_SPACE)


class TaskHyperModel(keras_tuner.HyperModel):
    """The search space of a task's model and its training: what to sample is
    shared, what the model values mean is the task's hook
    (`Task.tuned_arguments`, and its `searches_normalization` /
    `searches_position` flags), and the training values are the recipe's
    `[training]` keys of the same names.

    Args:
        task: the task (its recipe, data and tokenizers loaded).
        space: the ranges to search, on top of `DEFAULT_SPACE`; the keys of
            `TRAINING_SPACE` are searched only when given.
    """

    def __init__(self, task, space: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if not task.tunable:
            raise ValueError(
                f"Task {task.kind!r} has no search space. Tunable tasks: "
                "every task whose `tunable` is True in keras_attention.tasks.TASKS"
            )
        self.task = task
        self.recipe: Recipe = task.recipe
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
        self._check_training_space()
        self._batches: dict[int, int] = {}

    def _check_training_space(self):
        training, space = self.recipe.training, self.space
        if "weight_decay" in space and "adamw" not in space.get("optimizer", [training.optimizer]):
            raise ValueError(
                "`space.weight_decay` needs AdamW: add \"adamw\" to `space.optimizer`, or set "
                f"`training.optimizer = \"adamw\"` in the recipe. Received: optimizer={training.optimizer!r}"
            )
        schedules = space.get("schedule", [self._fixed_schedule()])
        if "learning_rate" in space and not {"cosine", "constant"} & set(schedules):
            raise ValueError(
                "`space.learning_rate` is the rate of the \"cosine\" and \"constant\" schedules, "
                f"but the trials use {schedules}."
            )
        if "learning_rate" not in space and training.learning_rate is None and (
            {"cosine", "constant"} & set(schedules)
        ):
            raise ValueError(
                "The \"cosine\" and \"constant\" schedules need a learning rate: set "
                "`training.learning_rate` in the recipe, or search `space.learning_rate`."
            )

    def _fixed_schedule(self) -> str:
        """The schedule of every trial when `schedule` is not searched."""
        training = self.recipe.training
        if training.schedule is None and "learning_rate" in self.space:
            return "constant"  # a learning rate and no schedule: a constant rate, as in a recipe
        return training.schedule_kind

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
        values.update(self._sample_training(hp))
        return values

    def _sample_training(self, hp) -> dict:
        """The trial's `[training]` values: only what it searches, and the
        keys a searched choice turns off (unset)."""
        space, training = self.space, self.recipe.training
        values = {}
        for key in ("batch_size", "clipnorm", "gradient_accumulation_steps"):
            if key in space:
                values[key] = hp.Choice(key, space[key])

        optimizer = training.optimizer
        if "optimizer" in space:
            optimizer = values["optimizer"] = hp.Choice("optimizer", space["optimizer"])
            if optimizer != "adamw":
                values["weight_decay"] = None  # the recipe's AdamW weight decay
        if "weight_decay" in space:
            weight_decay = self._conditional(hp, "optimizer", ["adamw"], "weight_decay")
            if optimizer == "adamw":
                values["weight_decay"] = weight_decay

        schedule = self._fixed_schedule()
        if "schedule" in space:
            schedule = values["schedule"] = hp.Choice("schedule", space["schedule"])
        if "learning_rate" in space:
            learning_rate = self._conditional(hp, "schedule", ["cosine", "constant"], "learning_rate")
            if schedule != "transformer":
                values["learning_rate"] = learning_rate
        if schedule == "transformer":
            values["learning_rate"] = None  # its rate follows the model width
        # The schedule's own settings, only when the trial's schedule has them.
        if schedule == "transformer" or "schedule" in space:
            values["schedule_scale"] = self._conditional(hp, "schedule", ["transformer"], "schedule_scale")
        if schedule in ("transformer", "cosine") or "schedule" in space:
            values["warmup_steps"] = self._conditional(hp, "schedule", ["transformer", "cosine"], "warmup_steps")
        # None: an inactive choice (keep the recipe's value), except for the
        # keys a trial unsets.
        return {
            key: value for key, value in values.items()
            if value is not None or key in ("weight_decay", "learning_rate")
        }

    def _conditional(self, hp, parent: str, parent_values: list, name: str):
        """Sample an interval `name`, active only when the searched `parent`
        takes one of `parent_values` (None when inactive)."""
        low, high = self.space[name]

        def sample():
            if name == "warmup_steps":
                return hp.Int(name, low, high, sampling="log")
            # rates, scales, decays: log-uniform when they can be
            return hp.Float(name, low, high, sampling="log" if low > 0 else "linear")

        if parent not in self.space:
            return sample()
        with hp.conditional_scope(parent, parent_values):
            return sample()

    def model_overrides(self, values: dict) -> dict:
        """Constructor arguments of the task's model for sampled `values`."""
        return self.task.tuned_arguments(values)

    def training_values(self, values: dict) -> dict:
        """The `[training]` keys of sampled `values` (None: unset the recipe's)."""
        return {key: value for key, value in values.items() if key in _TRAINING_KEYS}

    def trial_recipe(self, hp) -> Recipe:
        """The recipe a trial trains: the searched `[training]` keys replaced."""
        return self.recipe.replace(training=self.training_values(self._sample(hp)))

    def _task(self, recipe: Recipe):
        task = copy.copy(self.task)
        task.recipe = recipe
        return task

    def _steps_per_epoch(self, recipe: Recipe) -> int:
        """The batches of a trial's epoch (one pass over the data is counted
        once per batch size)."""
        training = recipe.training
        if training.steps_per_epoch is not None:
            return training.steps_per_epoch
        if training.batch_size not in self._batches:
            self._batches[training.batch_size] = self._task(recipe).steps_per_epoch()
        return self._batches[training.batch_size]

    def _total_steps(self, recipe: Recipe) -> int:
        """A trial's number of optimizer updates (the cosine schedule ends there)."""
        return total_steps(recipe.training, batches_per_epoch=self._steps_per_epoch(recipe))

    def build(self, hp):
        values = self._sample(hp)
        recipe = self.trial_recipe(hp)
        model = self.task.build_model(self.model_overrides(values))
        steps = self._total_steps(recipe) if recipe.training.schedule_kind == "cosine" else None
        return compile_model(model, self.task, recipe.training, steps)

    def fit(self, hp, model, *args, **kwargs):
        """Fit a trial's model on the task's data, batched at the trial's
        `batch_size` (data passed in, as to any hypermodel, is used as it is)."""
        if args or "x" in kwargs:
            return model.fit(*args, **kwargs)
        recipe = self.trial_recipe(hp)
        kwargs["steps_per_epoch"] = steps_per_epoch = self._steps_per_epoch(recipe)
        # Resumed (a trial's checkpoint), the data continues at its batch.
        start = resume_batch(kwargs.get("callbacks", []), steps_per_epoch, kwargs.get("initial_epoch", 0))
        train_data, validation_data = self._task(recipe).datasets(start=start)
        kwargs.setdefault("validation_data", validation_data)
        kwargs.setdefault("shuffle", False)  # the tf.data pipeline shuffles, deterministically
        with warnings.catch_warnings():
            # Bucketed validation data has no known length: Keras learns it at its end.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            return model.fit(train_data, **kwargs)
