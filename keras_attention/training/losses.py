"""Token-level cross-entropy that ignores padding, with label smoothing."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["MaskedSparseCategoricalCrossentropy"]


@keras.saving.register_keras_serializable(package="keras_attention")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy over token ids, averaged over real (non-pad) tokens only.

    With `label_smoothing = eps` the target distribution puts `1 - eps` on the
    correct token and spreads `eps` uniformly over the vocabulary (paper §5.4
    uses eps = 0.1). Padding targets (`pad_id`, default 0) count for nothing,
    and the mean is taken over real tokens, so batches with more padding are
    not down-weighted.

    Args:
        label_smoothing: float in [0, 1), default 0.0.
        pad_id: int, default 0.
        from_logits: bool, default True.
        **kwargs: `keras.losses.Loss` arguments (`name`, `reduction`, `dtype`).

    Example:

    >>> import numpy as np
    >>> loss = MaskedSparseCategoricalCrossentropy()
    >>> logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]], "float32"))
    >>> round(float(loss(np.array([[1, 0]]), logits)), 4)  # only -log(0.25)
    1.3863

    References:
        Szegedy et al., "Rethinking the Inception Architecture", 2016, §7.
        Vaswani et al., "Attention Is All You Need", 2017, §5.4.
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        pad_id: int = 0,
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
        self.label_smoothing = float(label_smoothing)
        self.pad_id = pad_id
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        y_pred = ops.cast(y_pred, "float32")
        log_probs = (
            ops.log_softmax(y_pred, axis=-1)
            if self.from_logits
            else ops.log(ops.clip(y_pred, 1e-7, 1.0))
        )
        vocabulary = ops.shape(y_pred)[-1]
        smoothing = self.label_smoothing
        targets = ops.one_hot(y_true, vocabulary) * (1.0 - smoothing) + smoothing / ops.cast(
            vocabulary, "float32"
        )
        per_token = -ops.sum(targets * log_probs, axis=-1)
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        # Scale so that the mean over all entries is the mean over real tokens.
        return per_token * mask / ops.maximum(ops.mean(mask), 1e-9)

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
