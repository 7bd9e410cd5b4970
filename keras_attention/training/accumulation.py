"""Gradient accumulation that equals one big batch: micro-batch gradients
weighted by their real tokens, and schedules that count optimizer updates."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["AccumulatingAdam", "AccumulatingAdamW", "TokenWeightedAccumulation"]


class TokenWeightedAccumulation:
    """A mixin for a Keras optimizer: `gradient_accumulation_steps` that
    gives exactly the gradient of the whole accumulated batch.

    Keras' own accumulation applies the plain mean of the N micro-batch
    gradients. Each micro-batch loss is a mean over its own real tokens, so
    micro-batches padded differently (length bucketing) weigh the same
    whatever their token counts, and the update is not the big batch's. Here
    the loss writes each micro-batch's real-token count (summed over
    replicas) into `batch_weight` (`compile_model` connects the two through
    `MaskedSparseCategoricalCrossentropy.token_count`); the optimizer
    accumulates `count * gradient` (the gradient of the micro-batch's token
    loss sum) and the counts, and the update applies their quotient: the
    gradient of the accumulated batch's token loss sum over its real
    tokens, as one batch of all N micro-batches would give. Clipping and
    weight decay then apply to that gradient, as Keras does.

    `iterations` counts the updates applied, and a learning-rate schedule
    is evaluated there (Keras counts micro-batches, and evaluates schedules
    at that count), so warmup and decay lengths count updates, with or
    without accumulation. The micro-batches of an update are counted apart
    from Keras' micro-batch counter (`_iterations`), which also advances when a dataset of
    unknown length (bucketed batches) runs out at the end of the first
    epoch, and would shift every later group of N by one.

    Without a loss writing `batch_weight` (it stays 1), every micro-batch
    weighs the same: Keras' mean of the gradients. Tested on the TensorFlow
    backend (JAX's optimizer replaces the method overridden here); under a
    `tf.distribute` strategy Keras' accumulation does not run (its update is
    a cross-replica call inside a `cond`), nor does this.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.use_ema:
            raise ValueError(
                f"`use_ema` is not supported by {type(self).__name__}. Received: use_ema=True"
            )
        # Created here, not in `build`: the loss is connected at compile time.
        with keras.name_scope(self.name):
            self.batch_weight = self._counter("batch_weight", 1.0, "float32")
            self._accumulated_weight = self._counter("accumulated_weight", 0.0, "float32")
            self._accumulated_batches = self._counter("accumulated_batches", 0, "int64")
            self._updates = self._counter("updates", 0, "int64")

    def _counter(self, name, value, dtype):
        variable = keras.Variable(
            value, name=name, dtype=dtype, trainable=False, aggregation="only_first_replica"
        )
        self._track_variable(variable)
        return variable

    @property
    def iterations(self):
        """The number of updates applied (of micro-batches, without accumulation)."""
        if self.gradient_accumulation_steps:
            return self._updates
        return super().iterations

    def _get_current_learning_rate(self):
        if isinstance(self._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            return self._learning_rate(self.iterations)
        return super()._get_current_learning_rate()

    def _backend_apply_gradients(self, grads, trainable_variables):
        if not self.gradient_accumulation_steps:
            return super()._backend_apply_gradients(grads, trainable_variables)
        weight = self.batch_weight.value
        # The micro-batch loss is its token loss sum / `weight`.
        sums = [g * ops.cast(weight, g.dtype) for g in grads]
        accumulated = [
            self._accumulated_gradients[self._get_variable_index(v)] for v in trainable_variables
        ]
        total = self._accumulated_weight.value + weight
        is_update_step = self._accumulated_batches.value + 1 >= self.gradient_accumulation_steps

        def update():
            means = [
                ops.divide_no_nan(s + a, ops.cast(total, s.dtype))
                for s, a in zip(sums, accumulated)
            ]
            means = self._clip_gradients(means)
            self._apply_weight_decay(trainable_variables)
            self._backend_update_step(means, trainable_variables, self.learning_rate)
            self._backend_reset_gradient_accumulators()
            self._accumulated_weight.assign(0.0)
            self._accumulated_batches.assign(0)
            self._updates.assign_add(1)

        def accumulate():
            self._backend_increment_gradient_accumulators(sums, accumulated)
            self._accumulated_weight.assign(total)
            self._accumulated_batches.assign_add(1)

        ops.cond(is_update_step, update, accumulate)


@keras.saving.register_keras_serializable(package="keras_attention")
class AccumulatingAdam(TokenWeightedAccumulation, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with `TokenWeightedAccumulation`."""


@keras.saving.register_keras_serializable(package="keras_attention")
class AccumulatingAdamW(TokenWeightedAccumulation, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with `TokenWeightedAccumulation`."""
