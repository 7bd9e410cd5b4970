"""The optimizer, learning-rate schedule and compile step of a recipe: one
function for `train` and for every tuning trial.

The optimizer is Keras' `keras.optimizers.Adam` / `AdamW` with their
`clipnorm` argument; with `gradient_accumulation_steps` > 1, their
`TokenWeightedAccumulation` subclasses, whose accumulated update is exactly
one big batch's (the loss reports each micro-batch's real tokens to them)
and whose schedule counts updates. The schedules are the paper's
`TransformerSchedule` and `CosineSchedule`. Steps are optimizer updates
throughout: `total_steps`, `warmup_steps` and the schedules count them.
"""

from __future__ import annotations

import keras

from keras_attention.training.accumulation import (
    AccumulatingAdam,
    AccumulatingAdamW,
    TokenWeightedAccumulation,
)
from keras_attention.training.recipe import TrainingConfig
from keras_attention.training.schedules import CosineSchedule, TransformerSchedule

__all__ = ["build_optimizer", "build_schedule", "compile_model", "count_batches", "total_steps"]


def count_batches(dataset) -> int:
    """The number of batches in one pass over a finite `tf.data.Dataset`."""
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    # Bucketed batches have no known cardinality: count them once.
    return int(dataset.reduce(0, lambda count, _: count + 1))


def total_steps(training: TrainingConfig, train_data=None, batches_per_epoch: int | None = None) -> int:
    """The number of optimizer updates of a whole run.

    `epochs` times the batches of an epoch (`steps_per_epoch`, else
    `batches_per_epoch`, else one pass over `train_data`), divided by
    `gradient_accumulation_steps` and rounded down: Keras applies an update
    after every N-th batch, counted across epochs, and the batches after the
    last complete group are accumulated but never applied.
    """
    if training.steps_per_epoch is not None:
        batches_per_epoch = training.steps_per_epoch
    elif batches_per_epoch is None:
        if train_data is None:
            raise ValueError("The number of steps of an epoch needs `training.steps_per_epoch` or the data.")
        batches_per_epoch = count_batches(train_data)
    return training.epochs * batches_per_epoch // training.gradient_accumulation_steps


def build_schedule(training: TrainingConfig, hidden_dim: int, steps: int | None = None):
    """The learning rate of `training.schedule_kind`: a schedule, or a float.

    Args:
        training: the recipe's `[training]` table.
        hidden_dim: the model width, which sets the transformer schedule's rate.
        steps: the run's number of optimizer updates (`total_steps`); the
            cosine schedule reaches 0 at the last one, and needs it.
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
            f"{steps} steps (optimizer updates: `training.epochs` x batches per epoch / "
            "`training.gradient_accumulation_steps`): lower `training.warmup_steps` or train longer."
        )
    return CosineSchedule(training.learning_rate, training.warmup_steps, steps)


def build_optimizer(
    training: TrainingConfig, hidden_dim: int, steps: int | None = None
) -> keras.optimizers.Optimizer:
    """The recipe's optimizer (Adam or AdamW, the paper's betas and epsilon,
    §5.3) with its schedule, clipping and gradient accumulation (then a
    `TokenWeightedAccumulation` optimizer)."""
    options = dict(beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    if training.clipnorm is not None:
        options["clipnorm"] = training.clipnorm
    accumulating = training.gradient_accumulation_steps > 1
    if accumulating:  # Keras takes None (not 1) for none
        options["gradient_accumulation_steps"] = training.gradient_accumulation_steps
    learning_rate = build_schedule(training, hidden_dim, steps)
    if training.optimizer == "adamw":
        if training.weight_decay is not None:
            options["weight_decay"] = training.weight_decay
        optimizer_class = AccumulatingAdamW if accumulating else keras.optimizers.AdamW
    else:
        optimizer_class = AccumulatingAdam if accumulating else keras.optimizers.Adam
    return optimizer_class(learning_rate, **options)


def compile_model(model: keras.Model, task, training: TrainingConfig, steps: int | None = None) -> keras.Model:
    """Compile a task's model as the recipe says: its optimizer and schedule,
    the task's loss and metrics for this model (its padding: GPT-2 has no pad
    token; sample weights apply to both), and
    `jit_compile`. Mixed precision is the dtype policy in force when the
    model was built (`keras.config.set_dtype_policy(training.mixed_precision)`);
    Keras adds loss scaling for `mixed_float16` itself. With gradient
    accumulation the loss reports each micro-batch's real tokens to the
    optimizer, which weighs the micro-batches' gradients by them."""
    optimizer = build_optimizer(training, task.model_width(model), steps)
    loss = task.loss(model)
    if isinstance(optimizer, TokenWeightedAccumulation):
        loss.token_count = optimizer.batch_weight
    model.compile(
        optimizer=optimizer,
        loss=loss,
        weighted_metrics=task.metrics(model),
        jit_compile=training.jit_compile,
    )
    return model
