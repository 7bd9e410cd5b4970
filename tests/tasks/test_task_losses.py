"""Every task's training loss is the numpy reference's masked mean (tests/reference/losses.py),
normalised once: `loss(y, logits)`, `model.compute_loss` and `model.evaluate` agree with it on
padded batches, and padding a batch (longer sequences, padded prediction slots, an all-pad row)
changes neither the loss nor its gradient."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf


from keras_attention.models import BertClassifier, BertMaskedLM, GPTDecoder, Seq2SeqTransformer
from keras_attention.training.recipe import validate_recipe
from keras_attention.tasks import get_task
from keras_attention.tasks.language_model import mean_token_cross_entropy
from tests.reference.losses import masked_cross_entropy, sparse_cross_entropy, token_cross_entropies

START, END = 1, 2


def _pad(array, shape):
    padded = np.zeros(shape, array.dtype)
    padded[tuple(slice(0, size) for size in array.shape)] = array
    return padded


def _translation(rng):
    source = rng.integers(3, 60, (3, 6)).astype("int32")
    source[0, 4:], source[2, 2:] = 0, 0
    target = rng.integers(3, 60, (3, 8)).astype("int32")
    target[:, 0] = START
    for row, length in enumerate((6, 3, 5)):
        target[row, length] = END
        target[row, length + 1 :] = 0
    batch = ({"encoder_token_ids": source, "decoder_token_ids": target[:, :-1]}, target[:, 1:], None)
    # The same three sentence pairs, padded to longer lengths, plus a row of padding.
    padded = (
        {
            "encoder_token_ids": _pad(source, (4, 9)),
            "decoder_token_ids": _pad(target[:, :-1], (4, 11)),
        },
        _pad(target[:, 1:], (4, 11)),
        None,
    )
    model = Seq2SeqTransformer.from_preset("transformer_tiny", dropout=0.0)
    return model, batch, padded


def _language_model(rng):
    ids = rng.integers(3, 60, (3, 9)).astype("int32")
    ids[0, 5:], ids[1, 3:] = 0, 0
    batch = (ids[:, :-1], ids[:, 1:], None)
    longer = _pad(ids, (4, 14))
    padded = (longer[:, :-1], longer[:, 1:], None)
    return GPTDecoder.from_preset("gpt_tiny", dropout=0.0), batch, padded


def _masked_lm(rng):
    ids = rng.integers(4, 60, (3, 8)).astype("int32")
    ids[0, 6:], ids[2, 4:] = 0, 0
    positions = np.array([[1, 3], [2, 5], [1, 0]], "int32")
    labels = np.take_along_axis(ids, positions, axis=1)
    labels[2, 1] = 0  # a padded prediction slot
    weights = (labels != 0).astype("float32")
    masked = ids.copy()
    np.put_along_axis(masked, positions, 3, axis=1)

    def inputs(token_ids, mask_positions):
        return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "mask_positions": mask_positions}

    batch = (inputs(masked, positions), labels, weights)
    padded = (
        inputs(_pad(masked, (4, 12)), _pad(positions, (4, 5))),
        _pad(labels, (4, 5)),
        _pad(weights, (4, 5)),
    )
    return BertMaskedLM.from_preset("bert_test", dropout=0.0), batch, padded


def _classification(rng):
    ids = rng.integers(4, 60, (3, 8)).astype("int32")
    ids[0, 6:], ids[2, 4:] = 0, 0
    labels = np.array([0, 2, 1], "int32")  # class 0 is a real class

    def inputs(token_ids):
        return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)}

    batch = (inputs(ids), labels, np.ones(3, "float32"))
    # An extra example of weight 0 must not dilute the mean.
    padded = (inputs(_pad(ids, (4, 12))), _pad(labels, (4,)), np.array([1, 1, 1, 0], "float32"))
    return BertClassifier.from_preset("bert_test", num_classes=3, dropout=0.0), batch, padded


BATCHES = {
    "translation": _translation,
    "language_model": _language_model,
    "masked_lm": _masked_lm,
    "classification": _classification,
}


def _task(kind, label_smoothing):
    return get_task(validate_recipe({"task": {"kind": kind}, "training": {"label_smoothing": label_smoothing}}))


def _reference(kind, targets, logits, weights, label_smoothing):
    if kind == "classification":
        return sparse_cross_entropy(targets, logits, weights)
    return masked_cross_entropy(targets, logits, label_smoothing, sample_weight=weights)


def _smoothing(task):
    return getattr(task.loss(), "label_smoothing", 0.0)


@pytest.mark.parametrize("kind", sorted(BATCHES))
def test_loss_compute_loss_and_evaluate_are_the_reference(kind, rng):
    task = _task(kind, 0.1)
    model, batch, padded = BATCHES[kind](rng)
    model.compile(optimizer="sgd", loss=task.loss(), weighted_metrics=task.metrics())
    loss = task.loss()
    for inputs, targets, weights in (batch, padded):
        logits = model(inputs)
        expected = _reference(kind, targets, np.asarray(logits), weights, _smoothing(task))
        assert float(loss(targets, logits, sample_weight=weights)) == pytest.approx(expected, rel=1e-5)
        computed = model.compute_loss(inputs, targets, logits, weights)
        assert float(computed) == pytest.approx(expected, rel=1e-5)
        evaluated = model.evaluate(
            inputs, targets, sample_weight=weights, batch_size=len(targets), verbose=0, return_dict=True
        )
        assert evaluated["loss"] == pytest.approx(expected, rel=1e-5)


def _loss_and_gradients(model, inputs, targets, weights):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(inputs, targets, model(inputs, training=True), weights)
    gradients = tape.gradient(loss, model.trainable_weights)
    # Weights the loss does not reach (the masked LM's pooler) get zeros.
    return float(loss), [
        np.zeros(w.shape) if g is None else np.asarray(tf.convert_to_tensor(g))
        for w, g in zip(model.trainable_weights, gradients)
    ]


@pytest.mark.parametrize("kind", sorted(BATCHES))
def test_padding_changes_neither_the_loss_nor_its_gradient(kind, rng):
    task = _task(kind, 0.1)
    model, batch, padded = BATCHES[kind](rng)
    model.compile(optimizer="sgd", loss=task.loss())
    loss, gradients = _loss_and_gradients(model, *batch)
    padded_loss, padded_gradients = _loss_and_gradients(model, *padded)
    assert padded_loss == pytest.approx(loss, rel=1e-5)
    for weight, gradient, padded_gradient in zip(model.trainable_weights, gradients, padded_gradients):
        np.testing.assert_allclose(padded_gradient, gradient, rtol=1e-4, atol=1e-6, err_msg=weight.path)


def test_mean_token_cross_entropy_is_the_reference_over_batches(rng):
    model, (inputs, targets, _), (padded_inputs, padded_targets, _) = _language_model(rng)
    dataset = tf.data.Dataset.from_tensors((inputs, targets)).concatenate(
        tf.data.Dataset.from_tensors((padded_inputs[:, :10], padded_targets[:, :10]))
    )
    losses = [token_cross_entropies(targets, np.asarray(model(inputs)))]
    losses.append(token_cross_entropies(padded_targets[:, :10], np.asarray(model(padded_inputs[:, :10]))))
    count = (targets != 0).sum() + (padded_targets[:, :10] != 0).sum()
    expected = sum(loss.sum() for loss in losses) / count
    assert mean_token_cross_entropy(model, dataset) == pytest.approx(expected, rel=1e-5)



_MIRRORED_STEP = """
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
from keras_attention.models import GPTDecoder
from keras_attention.training import MaskedSparseCategoricalCrossentropy
from tests.reference.losses import masked_cross_entropy

ids = np.random.default_rng(0).integers(3, 60, (4, 9)).astype("int32")
ids[0, 3:], ids[1, 2:], ids[3, 7:] = 0, 0, 0  # replica 0 gets 3 real targets, replica 1 gets 14
inputs, targets = ids[:, :-1], ids[:, 1:]
keras.utils.set_random_seed(0)
model = GPTDecoder.from_preset("gpt_tiny", dropout=0.0)
weights = model.get_weights()
results = {"reference": masked_cross_entropy(targets, np.asarray(model(inputs)), 0.1)}
for name, strategy in (("one", tf.distribute.get_strategy()),
                       ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
    with strategy.scope():
        model = GPTDecoder.from_preset("gpt_tiny", dropout=0.0)
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(1.0), jit_compile=False,
                      loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.1))
    loss = model.evaluate(inputs, targets, batch_size=4, verbose=0)
    history = model.fit(inputs, targets, batch_size=4, epochs=1, shuffle=False, verbose=0)
    gradients = [before - after for before, after in zip(weights, model.get_weights())]
    results[name] = {"replicas": strategy.num_replicas_in_sync, "loss": loss,
                     "fit_loss": history.history["loss"][0],
                     "gradients": [g.ravel().tolist() for g in gradients]}
print(json.dumps(results))
"""


@pytest.mark.slow
def test_mirrored_replicas_with_unequal_padding_give_the_one_device_loss_and_gradient():
    """Two replicas, one with 3 real target tokens and one with 14: each replica divides its
    token-loss sum by the real tokens of the whole global batch, so the summed replica
    gradients are the one-device gradient and the reported loss is the reference."""
    root = Path(__file__).parents[2]
    environment = {**os.environ, "PYTHONPATH": str(root), "KERAS_BACKEND": "tensorflow"}
    process = subprocess.run(
        [sys.executable, "-c", _MIRRORED_STEP],
        cwd=root, env=environment, capture_output=True, text=True, timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads(process.stdout.strip().splitlines()[-1])
    one, mirrored = results["one"], results["mirrored"]
    assert (one["replicas"], mirrored["replicas"]) == (1, 2)
    for run in (one, mirrored):
        assert run["loss"] == pytest.approx(results["reference"], rel=1e-5)
        assert run["fit_loss"] == pytest.approx(results["reference"], rel=1e-5)
    for expected, actual in zip(one["gradients"], mirrored["gradients"]):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6)
