"""Metrics: masked token accuracy (a Keras metric), BLEU, exact match, perplexity."""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["MaskedAccuracy", "bleu", "exact_match", "perplexity"]


@keras.saving.register_keras_serializable(package="keras_attention")
class MaskedAccuracy(keras.metrics.Metric):
    """Fraction of real (non-pad) target tokens whose argmax prediction is right.

    Args:
        pad_id: int, default 0.
        name: default "accuracy".

    Example:

    >>> import numpy as np
    >>> metric = MaskedAccuracy()
    >>> metric.update_state(np.array([[2, 1, 0]]), np.eye(3)[None, [2, 2, 0]])
    >>> float(metric.result())
    0.5
    """

    def __init__(self, pad_id: int = 0, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = pad_id
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predictions = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        if sample_weight is not None:
            mask = mask * ops.cast(sample_weight, "float32")
        correct = ops.cast(ops.equal(predictions, y_true), "float32") * mask
        self.correct.assign_add(ops.sum(correct))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


def exact_match(predictions: list[str], references: list[str]) -> float:
    """Fraction of predictions equal to their reference (after stripping spaces at the ends).

    >>> exact_match(["2024-03-05", "1999-01-01"], ["2024-03-05", "1999-01-02"])
    0.5
    """
    if len(predictions) != len(references) or not references:
        raise ValueError(
            "`predictions` and `references` must be non-empty and of equal length. "
            f"Received: {len(predictions)} predictions, {len(references)} references"
        )
    return sum(p.strip() == r.strip() for p, r in zip(predictions, references)) / len(references)


def bleu(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU (sacrebleu, 13a tokenisation), on the 0-100 scale.

    >>> round(bleu(["the cat sat on the mat"], ["the cat sat on the mat"]), 1)
    100.0

    References:
        Papineni et al., "BLEU", 2002; Post, "A Call for Clarity in
        Reporting BLEU Scores", 2018 (sacrebleu).
    """
    import sacrebleu

    return float(sacrebleu.corpus_bleu(predictions, [references]).score)


def perplexity(mean_cross_entropy: float) -> float:
    """`exp(mean token cross-entropy)` (natural log), capped to avoid overflow.

    >>> perplexity(0.0)
    1.0
    """
    return math.exp(min(mean_cross_entropy, 700.0))
