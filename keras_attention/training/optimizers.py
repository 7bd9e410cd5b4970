"""The optimizer, learning-rate schedule and compile step of a recipe: one
function for `train` and for every tuning trial.

Everything here is Keras' own API: `keras.optimizers.Adam` / `AdamW` with
their `clipnorm` and `gradient_accumulation_steps` arguments,
`keras.optimizers.schedules.CosineDecay` with its warmup arguments, and the
paper's `TransformerSchedule`.
"""

from __future__ import annotations

import keras

from keras_attention.training.recipe import TrainingConfig
from keras_attention.training.schedules import TransformerSchedule

__all__ = ["build_optimizer", "build_schedule", "compile_model", "count_batches", "total_steps"]


def count_batches(dataset) -> int:
    """The number of batches in one pass over a finite `tf.data.Dataset`."""
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    # Bucketed batches have no known cardinality: count them once.
    return int(dataset.reduce(0, lambda count, _: count + 1))


def total_steps(training: TrainingConfig, train_data=None) -> int:
    """The number of training steps (batches) of a whole run: `epochs` times
    `steps_per_epoch`, or times the batches of one pass over `train_data`."""
    if training.steps_per_epoch is not None:
        return training.epochs * training.steps_per_epoch
    if train_data is None:
        raise ValueError("The number of steps of an epoch needs `training.steps_per_epoch` or the data.")
    return training.epochs * count_batches(train_data)


def build_schedule(training: TrainingConfig, hidden_dim: int, steps: int | None = None):
    """The learning rate of `training.schedule_kind`: a schedule, or a float.

    Args:
        training: the recipe's `[training]` table.
        hidden_dim: the model width, which sets the transformer schedule's rate.
        steps: the run's total number of steps (`total_steps`); the cosine
            schedule decays to 0 there, and needs it.
    """
    kind = training.schedule_kind
    if kind == "transformer":
        return TransformerSchedule(hidden_dim, training.warmup_steps, training.schedule_scale)
    if kind == "constant":
        return training.learning_rate
    if steps is None:
        raise ValueError("`training.schedule = \"cosine\"` needs the run's number of steps.")
    if steps <= training.warmup_steps:
        raise ValueError(
            f"`training.schedule = \"cosine\"` warms up for `training.warmup_steps` = "
            f"{training.warmup_steps} steps, then decays until the last step, but the run has "
            f"{steps} steps (`training.epochs` x steps per epoch): lower `training.warmup_steps` "
            "or train longer."
        )
    # Linear warmup from 0 to `learning_rate`, then cosine decay to 0 at the last step.
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=steps - training.warmup_steps,
        warmup_target=training.learning_rate,
        warmup_steps=training.warmup_steps,
    )


def build_optimizer(
    training: TrainingConfig, hidden_dim: int, steps: int | None = None
) -> keras.optimizers.Optimizer:
    """The recipe's optimizer (Adam or AdamW, the paper's betas and epsilon,
    §5.3) with its schedule, clipping and gradient accumulation."""
    options = dict(beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    if training.clipnorm is not None:
        options["clipnorm"] = training.clipnorm
    if training.gradient_accumulation_steps > 1:  # Keras takes None (not 1) for none
        options["gradient_accumulation_steps"] = training.gradient_accumulation_steps
    learning_rate = build_schedule(training, hidden_dim, steps)
    if training.optimizer == "adamw":
        if training.weight_decay is not None:
            options["weight_decay"] = training.weight_decay
        return keras.optimizers.AdamW(learning_rate, **options)
    return keras.optimizers.Adam(learning_rate, **options)


def compile_model(model: keras.Model, task, training: TrainingConfig, steps: int | None = None) -> keras.Model:
    """Compile a task's model as the recipe says: its optimizer and schedule,
    the task's loss and metrics for this model (its padding: GPT-2 has no pad
    token; sample weights apply to both), and
    `jit_compile`. Mixed precision is the dtype policy in force when the
    model was built (`keras.config.set_dtype_policy(training.mixed_precision)`);
    Keras adds loss scaling for `mixed_float16` itself."""
    model.compile(
        optimizer=build_optimizer(training, task.model_width(model), steps),
        loss=task.loss(model),
        weighted_metrics=task.metrics(model),
        jit_compile=training.jit_compile,
    )
    return model
