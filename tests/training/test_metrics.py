"""Masked accuracy, exact match, perplexity."""

import math

import numpy as np
import pytest


from keras_attention.training import (
    MaskedAccuracy,
    exact_match,
    perplexity,
)


def test_masked_accuracy_counts_real_tokens_only():
    metric = MaskedAccuracy()
    y_true = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])
    predictions = np.eye(5)[np.array([[1, 2, 0, 4], [4, 1, 1, 1]])]
    metric.update_state(y_true, predictions)
    assert float(metric.result()) == pytest.approx(3 / 4)


def test_exact_match_and_perplexity():
    assert exact_match(["a", "b "], ["a", "b"]) == 1.0
    with pytest.raises(ValueError, match="equal length"):
        exact_match(["a"], ["a", "b"])
    assert perplexity(math.log(7.0)) == pytest.approx(7.0)
