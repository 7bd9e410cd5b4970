import math

import numpy as np
import pytest

import keras

from keras_attention.training import (
    MaskedAccuracy,
    MaskedSparseCategoricalCrossentropy,
    TransformerSchedule,
    exact_match,
    perplexity,
)


def test_schedule_is_the_papers_formula():
    schedule = TransformerSchedule(hidden_dim=512, warmup_steps=4000)
    for step in (1, 100, 3999, 4000, 20000):
        expected = 512**-0.5 * min(step**-0.5, step * 4000**-1.5)
        assert float(schedule(step - 1)) == pytest.approx(expected, rel=1e-5)


def test_schedule_serializes():
    schedule = TransformerSchedule(64, 100, scale=2.0)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, TransformerSchedule)
    assert restored.get_config() == {"hidden_dim": 64, "warmup_steps": 100, "scale": 2.0}
    assert float(restored(50)) == float(schedule(50))


@pytest.mark.parametrize("kwargs", [{"hidden_dim": 0}, {"hidden_dim": 8, "warmup_steps": -1}, {"hidden_dim": 8, "scale": 0}])
def test_schedule_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        TransformerSchedule(**kwargs)


def _numpy_loss(y_true, logits, smoothing):
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    vocabulary = logits.shape[-1]
    targets = np.eye(vocabulary)[y_true] * (1 - smoothing) + smoothing / vocabulary
    per_token = -(targets * log_probs).sum(-1)
    mask = y_true != 0
    return per_token[mask].mean()


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_ignores_padding_and_smooths(rng, smoothing):
    y_true = np.array([[3, 4, 1, 0, 0], [2, 2, 0, 0, 0]])
    logits = rng.standard_normal((2, 5, 6)).astype("float32")
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=smoothing)
    assert float(loss(y_true, logits)) == pytest.approx(_numpy_loss(y_true, logits, smoothing), rel=1e-5)
    changed = logits.copy()
    changed[:, 3:] = 100.0  # predictions at pad targets do not matter
    assert float(loss(y_true, changed)) == pytest.approx(float(loss(y_true, logits)), rel=1e-6)


def test_loss_config_and_errors():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.2)
    clone = MaskedSparseCategoricalCrossentropy.from_config(loss.get_config())
    assert clone.label_smoothing == 0.2
    with pytest.raises(ValueError, match="label_smoothing=1.0"):
        MaskedSparseCategoricalCrossentropy(label_smoothing=1.0)


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
