"""Token-level cross-entropy that ignores padding, with label smoothing."""

from __future__ import annotations

import keras
from keras import ops

try:  # the Keras mask of a tensor on every backend (an attribute on TensorFlow's)
    from keras.src.backend import get_keras_mask as _get_keras_mask
except ImportError:  # pragma: no cover

    def _get_keras_mask(x):
        return getattr(x, "_keras_mask", None)


__all__ = ["MaskedSparseCategoricalCrossentropy", "target_weights"]


def target_weights(y_true, pad_id: int | None, sample_weight=None, keras_mask=None):
    """The weight of every target token: what the loss, the accuracy and the
    held-out cross-entropy count, and the one place padding is decided.

    A target weighs 0 where it is the pad token (`pad_id`; with None there is
    no pad token, as in GPT-2, whose id 0 is `"!"`, and no id is padding),
    where a Keras mask says so, and where `sample_weight` is 0 (the way a
    batch without a pad token marks its padding); otherwise the sample
    weight, 1 without one.

    Args:
        y_true: integer targets, `(batch, ...)`.
        pad_id: int >= 0 or None.
        sample_weight: None, or `(batch,)`, `(batch, length)` (or with a
            trailing 1).
        keras_mask: None, or a boolean mask of `y_true`'s shape.

    Returns:
        float32 weights of `y_true`'s shape.

    Example:

    >>> import numpy as np
    >>> targets = np.array([[5, 0, 7, 0]])
    >>> target_weights(targets, pad_id=0).numpy().tolist()  # id 0 is padding
    [[1.0, 0.0, 1.0, 0.0]]
    >>> mask = np.array([[1, 1, 1, 0]])  # no pad token: the padding is marked
    >>> target_weights(targets, pad_id=None, sample_weight=mask).numpy().tolist()
    [[1.0, 1.0, 1.0, 0.0]]
    """
    y_true = ops.cast(y_true, "int32")
    weights = ops.ones(ops.shape(y_true), "float32")
    if pad_id is not None:
        weights = ops.cast(ops.not_equal(y_true, pad_id), "float32")
    if keras_mask is not None:
        weights = weights * ops.cast(keras_mask, "float32")
    if sample_weight is not None:
        weights = weights * _broadcast_like(sample_weight, weights)
    return weights


@keras.saving.register_keras_serializable(package="keras_attention")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy over token ids, averaged over real (non-pad) tokens only.

    The loss of a batch is `sum(w * loss) / sum(w)` over its target tokens,
    where `w` is 0 at pad targets (`pad_id`) and otherwise the sample weight
    (1 without one), as `target_weights` gives it: the mean over real tokens, so batches with more padding
    are neither down- nor up-weighted, and padded prediction slots of weight
    0 (masked-LM batches) count for nothing. It is normalised once, whether
    or not the predictions carry a Keras mask: that mask (the models pass
    their input's padding mask on) only removes tokens, and never re-weights
    the mean as `keras.losses.Loss` would.

    With `label_smoothing = eps` the target distribution puts `1 - eps` on
    the correct token and spreads `eps` evenly over the other tokens the
    model can emit: every token but the correct one and the pad token, which
    gets probability 0, as in the Annotated Transformer (paper §5.4 uses
    eps = 0.1). With `pad_id=None` there is no pad token (class labels, or
    GPT-2's vocabulary, whose id 0 is `"!"`): no id is ignored, `eps` is
    spread over all the other classes, and a padded batch marks its padding
    with a `sample_weight` of 0.

    Under a `tf.distribute` strategy (`MirroredStrategy`,
    `MultiWorkerMirroredStrategy`) each replica divides the loss sum of its
    share of the batch by the real tokens of the whole global batch (summed
    across replicas). The replicas' gradients, which Keras sums, are then
    exactly the one-device gradient of the global batch, however the padding
    is split between replicas. The loss Keras reports (each replica's loss
    times the number of replicas, averaged) is the global batch's loss when
    the replicas get equally many examples. Over several batches, `fit` and
    `evaluate` report the mean of the batch losses weighted by examples, not
    tokens; for the exact per-token mean of a dataset, add up the batches'
    `reduction="sum"` losses and divide by their real tokens.

    With gradient accumulation each micro-batch is still normalised by its
    own real tokens, but `token_count` (a `keras.Variable`, None by default;
    not configuration) receives that count, summed over replicas, at every
    call: `compile_model` points it at a `TokenWeightedAccumulation`
    optimizer's `batch_weight`, which re-weights the micro-batch gradients so
    that an update is exactly the accumulated batch's (normalised by the
    real tokens of all its micro-batches). The reported loss stays the mean
    per token of each micro-batch.

    The reductions `"sum_over_batch_size"` (the Keras default),
    `"mean"` and `"mean_with_sample_weight"` all give this weighted mean;
    `"sum"` gives `sum(w * loss)` and `None` / `"none"` the weighted loss
    of every token.

    Args:
        label_smoothing: float in [0, 1), default 0.0.
        pad_id: int >= 0 or None, default 0. The pad token id.
        from_logits: bool, default True.
        **kwargs: `keras.losses.Loss` arguments (`name`, `reduction`, `dtype`).

    Example:

    >>> import numpy as np
    >>> loss = MaskedSparseCategoricalCrossentropy()
    >>> logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]], "float32"))
    >>> round(float(loss(np.array([[1, 0]]), logits)), 4)  # only -log(0.25)
    1.3863
    >>> smoothed = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    >>> # target (0, 0.9, 0.1): pad token 0 gets nothing
    >>> round(float(smoothed(np.array([[1, 0]]), logits)), 4)
    1.3863

    References:
        Szegedy et al., "Rethinking the Inception Architecture", 2016, §7.
        Vaswani et al., "Attention Is All You Need", 2017, §5.4.
        Rush, "The Annotated Transformer", 2018 (label smoothing without pad).
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        pad_id: int | None = 0,
        from_logits: bool = True,
        name: str = "masked_sparse_categorical_crossentropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
            raise ValueError(
                "`label_smoothing` must be a float in [0, 1). "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        if pad_id is not None and (
            isinstance(pad_id, bool) or not isinstance(pad_id, int) or pad_id < 0
        ):
            raise ValueError(
                f"`pad_id` must be a non-negative integer or None. Received: pad_id={pad_id!r}"
            )
        self.label_smoothing = float(label_smoothing)
        self.pad_id = pad_id
        self.from_logits = from_logits
        # Not configuration: where each call records its batch's real-token count.
        self.token_count = None

    def call(self, y_true, y_pred):
        """Cross-entropy of every target token (pad targets included), shape of `y_true`."""
        y_true = ops.cast(y_true, "int32")
        y_pred = ops.cast(y_pred, "float32")
        log_probs = (
            ops.log_softmax(y_pred, axis=-1)
            if self.from_logits
            else ops.log(ops.clip(y_pred, 1e-7, 1.0))
        )
        per_token = -ops.take_along_axis(log_probs, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
        if not self.label_smoothing:
            return per_token
        # eps is spread over the tokens k that are neither the target y nor pad:
        # -sum_k target_k log p_k = (1 - eps) (-log p_y) + eps mean_k(-log p_k).
        vocabulary = ops.shape(y_pred)[-1]
        others = -ops.sum(log_probs, axis=-1) - per_token
        count = ops.cast(vocabulary - 1, "float32")
        if self.pad_id is not None:
            others = others + log_probs[..., self.pad_id]
            count = count - 1.0
        smoothing = self.label_smoothing
        return (1.0 - smoothing) * per_token + smoothing * others / ops.maximum(count, 1.0)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Keras' Loss.__call__ would turn a Keras mask on `y_pred` into weights
        # of (all slots / masked slots) and divide by the slot count: both the
        # mask and the mean are applied here instead, once.
        keras_mask = _get_keras_mask(y_pred)
        with keras.name_scope(self.name):
            y_true = ops.convert_to_tensor(y_true)
            if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
                y_true = ops.squeeze(y_true, -1)  # class labels given as (batch, 1)
            per_token = self.call(y_true, y_pred)
            weights = target_weights(y_true, self.pad_id, sample_weight, keras_mask)
            weighted = ops.where(ops.not_equal(weights, 0.0), per_token * weights, 0.0)
            weighted = ops.cast(weighted, self.dtype)
            if self.reduction in (None, "none"):
                return weighted
            total = ops.sum(weighted)
            if self.reduction == "sum":
                return total
            count = _sum_over_replicas(ops.cast(ops.sum(weights), self.dtype))
            if self.token_count is not None:
                self.token_count.assign(ops.cast(count, self.token_count.dtype))
            return ops.divide_no_nan(total, count)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "label_smoothing": self.label_smoothing,
                "pad_id": self.pad_id,
                "from_logits": self.from_logits,
            }
        )
        return config


def _broadcast_like(sample_weight, values):
    """`sample_weight` (`(batch,)`, `(batch, length)` or with a trailing 1) as `values`' shape."""
    sample_weight = ops.cast(sample_weight, "float32")
    if len(sample_weight.shape) == len(values.shape) + 1 and sample_weight.shape[-1] == 1:
        sample_weight = ops.squeeze(sample_weight, -1)
    while len(sample_weight.shape) < len(values.shape):
        sample_weight = ops.expand_dims(sample_weight, -1)
    return ops.broadcast_to(sample_weight, ops.shape(values))


def _sum_over_replicas(value):
    """`value` summed over the replicas of a `tf.distribute` step (itself elsewhere).

    Keras sums the replicas' gradients, so each replica divides by the global
    token count; outside a replica step (one device, or a call in the
    cross-replica context) the batch at hand is the whole batch.
    """
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return tf.stop_gradient(context.all_reduce(tf.distribute.ReduceOp.SUM, value))
