"""Checks shared by every model test: it trains, overfits, round-trips and runs mixed/XLA."""

from __future__ import annotations

import numpy as np

import keras
import tensorflow as tf


def _dataset(inputs, targets, batch_size):
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size).repeat()


def masked_loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)


def check_overfits(model, inputs, targets, steps=60, loss=None, factor=0.25):
    """`model.fit` on a tf.data pipeline drives one tiny batch's loss down `factor`x."""
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss or masked_loss())
    batch = len(keras.tree.flatten(targets)[0])
    data = _dataset(inputs, targets, batch)
    start = float(model.evaluate(data, steps=1, verbose=0))
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    final = float(model.evaluate(data, steps=1, verbose=0))
    assert np.isfinite(start) and final < factor * start, (start, final)


def check_keras_round_trip(model, inputs, tmp_path):
    expected = model.predict(inputs, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    actual = restored.predict(inputs, verbose=0)
    for a, b in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_array_equal(a, b)
    return restored


def check_mixed_precision_jit_step(make_model, inputs, targets, loss=None):
    model = make_model(dtype="mixed_bfloat16")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=loss or masked_loss(), jit_compile=True
    )
    batch = len(keras.tree.flatten(targets)[0])
    history = model.fit(inputs, targets, batch_size=batch, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for weight in model.trainable_weights:
        assert weight.dtype == "float32", weight.path
