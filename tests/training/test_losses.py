"""MaskedSparseCategoricalCrossentropy: padding ignored, label smoothing."""


import numpy as np
import pytest


from keras_attention.training import (
    MaskedSparseCategoricalCrossentropy,
)


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
