"""MaskedSparseCategoricalCrossentropy against the numpy reference (tests/reference/losses.py):
padding ignored, one normalisation whatever Keras mask or sample weights come with the batch,
label smoothing that gives the pad token nothing."""

import numpy as np
import pytest

import keras

from keras_attention.training import (
    MaskedSparseCategoricalCrossentropy,
)
from tests.reference.losses import masked_cross_entropy, sparse_cross_entropy, token_cross_entropies

Y_TRUE = np.array([[3, 4, 1, 0, 0], [2, 2, 0, 0, 0]])


@pytest.fixture
def logits(rng):
    return rng.standard_normal((2, 5, 6)).astype("float32")


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_loss_is_the_reference_masked_mean(logits, smoothing):
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=smoothing)
    expected = masked_cross_entropy(Y_TRUE, logits, label_smoothing=smoothing)
    assert float(loss(Y_TRUE, logits)) == pytest.approx(expected, rel=1e-5)
    changed = logits.copy()
    changed[:, 3:] = 100.0  # predictions at pad targets do not matter
    assert float(loss(Y_TRUE, changed)) == pytest.approx(expected, rel=1e-5)


def test_smoothing_puts_nothing_on_the_pad_token():
    # Two real tokens, vocabulary of 4: eps is spread over the 2 classes that are
    # neither the true one nor pad, so raising the pad logit alone changes only
    # the normaliser, exactly as the reference says.
    y_true = np.array([[1, 3]])
    logits = np.zeros((1, 2, 4), "float32")
    logits[..., 0] = 2.0
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.2, reduction=None)
    log_z = np.log(np.exp(2.0) + 3.0)
    # Target (0, 0.8, 0.1, 0.1) on a log-probability (2 - log_z, -log_z, -log_z, -log_z).
    np.testing.assert_allclose(np.asarray(loss(y_true, logits)), [[log_z, log_z]], rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(loss(y_true, logits)), token_cross_entropies(y_true, logits, 0.2), rtol=1e-6
    )


def test_a_keras_mask_on_the_predictions_is_not_applied_a_second_time(logits):
    # The models' logits carry their input's padding mask; Keras' Loss.__call__
    # would re-weight an already averaged loss by (all slots / masked slots).
    vocabulary = logits.shape[-1]
    ids = keras.Input((5,), dtype="int32")
    hidden = keras.layers.Embedding(50, 8, mask_zero=True)(ids)
    outputs = keras.layers.Dense(vocabulary)(hidden)
    model = keras.Model(ids, outputs)
    # The inputs have more real positions than the targets (next-token prediction).
    inputs = np.array([[5, 6, 7, 8, 0], [9, 10, 11, 0, 0]])
    predictions = model(inputs)
    assert getattr(predictions, "_keras_mask", None) is not None
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    expected = masked_cross_entropy(Y_TRUE, np.asarray(predictions), label_smoothing=0.1)
    assert float(loss(Y_TRUE, predictions)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("per", ["token", "sequence"])
def test_sample_weights_give_a_weighted_mean(logits, rng, per):
    shape = Y_TRUE.shape if per == "token" else Y_TRUE.shape[:1]
    weights = rng.uniform(0.5, 2.0, shape).astype("float32")
    loss = MaskedSparseCategoricalCrossentropy()
    expected = masked_cross_entropy(Y_TRUE, logits, sample_weight=weights)
    assert float(loss(Y_TRUE, logits, sample_weight=weights)) == pytest.approx(expected, rel=1e-5)


def test_zero_weight_slots_count_for_nothing(logits):
    # Masked-LM batches: padded prediction slots have label 0 and weight 0.
    weights = (Y_TRUE != 0).astype("float32")
    weights[0, 1] = 0.0  # and a real token weighted out
    loss = MaskedSparseCategoricalCrossentropy()
    kept = Y_TRUE * (weights > 0)
    assert float(loss(Y_TRUE, logits, sample_weight=weights)) == pytest.approx(
        masked_cross_entropy(kept, logits), rel=1e-5
    )


def test_reductions(logits):
    per_token = token_cross_entropies(Y_TRUE, logits, 0.1)
    none = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, reduction=None)
    np.testing.assert_allclose(np.asarray(none(Y_TRUE, logits)), per_token, rtol=1e-5)
    total = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, reduction="sum")
    assert float(total(Y_TRUE, logits)) == pytest.approx(per_token.sum(), rel=1e-5)
    for reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        mean = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, reduction=reduction)
        assert float(mean(Y_TRUE, logits)) == pytest.approx(per_token.sum() / 5, rel=1e-5)


def test_without_a_pad_id_every_class_is_real(rng):
    # Classification: class 0 is a label like any other.
    labels = np.array([0, 2, 1, 0])
    logits = rng.standard_normal((4, 3)).astype("float32")
    weights = np.array([1.0, 1.0, 2.0, 0.0], "float32")
    loss = MaskedSparseCategoricalCrossentropy(pad_id=None)
    assert float(loss(labels, logits)) == pytest.approx(sparse_cross_entropy(labels, logits), rel=1e-5)
    assert float(loss(labels, logits, sample_weight=weights)) == pytest.approx(
        sparse_cross_entropy(labels, logits, weights), rel=1e-5
    )
    assert float(loss(labels[:, None], logits)) == pytest.approx(sparse_cross_entropy(labels, logits), rel=1e-5)


def test_a_batch_of_padding_only_has_zero_loss(logits):
    loss = MaskedSparseCategoricalCrossentropy()
    assert float(loss(np.zeros((2, 5), "int32"), logits)) == 0.0


def test_loss_config_and_errors():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.2, pad_id=3)
    clone = MaskedSparseCategoricalCrossentropy.from_config(loss.get_config())
    assert (clone.label_smoothing, clone.pad_id, clone.reduction) == (0.2, 3, loss.reduction)
    with pytest.raises(ValueError, match="label_smoothing=1.0"):
        MaskedSparseCategoricalCrossentropy(label_smoothing=1.0)
    with pytest.raises(ValueError, match="pad_id=-1"):
        MaskedSparseCategoricalCrossentropy(pad_id=-1)
