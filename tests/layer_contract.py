"""The contract every layer of the package must honour, as one reusable check.

`check_layer_contract(make_layer, inputs, tmp_path)`:
  1. `get_config` / `from_config` round trip rebuilds an equal layer;
  2. a functional model around the layer saves to `.keras` and loads back with
     identical outputs;
  3. under `mixed_float16` and `mixed_bfloat16` the outputs have the compute
     dtype and are finite;
  4. one `fit` step with `jit_compile=True` runs, gives a finite loss and
     changes the weights.
"""

from __future__ import annotations

import numpy as np

import keras


def _first(outputs):
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


def _as_inputs(inputs):
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _functional(make_layer, inputs, call_kwargs, **layer_kwargs):
    symbolic = [
        keras.Input(shape=array.shape[1:], dtype=str(array.dtype)) for array in inputs
    ]
    outputs = _first(make_layer(**layer_kwargs)(*symbolic, **call_kwargs))
    return keras.Model(symbolic, outputs)


def check_config_round_trip(make_layer, inputs, call_kwargs=None):
    call_kwargs = call_kwargs or {}
    layer = make_layer()
    expected = _first(layer(*inputs, **call_kwargs))
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    clone(*inputs, **call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(_first(clone(*inputs, **call_kwargs))),
        keras.ops.convert_to_numpy(expected),
        atol=1e-6,
    )


def check_saving(make_layer, inputs, tmp_path, call_kwargs=None):
    model = _functional(make_layer, inputs, call_kwargs or {})
    expected = model.predict(list(inputs), verbose=0)
    path = tmp_path / "layer.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.predict(list(inputs), verbose=0), expected)


def check_mixed_precision(make_layer, inputs, call_kwargs=None):
    for policy, dtype in (("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")):
        layer = make_layer(dtype=policy)
        outputs = _first(layer(*inputs, **(call_kwargs or {})))
        assert keras.backend.standardize_dtype(outputs.dtype) == dtype, policy
        values = keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))
        assert np.all(np.isfinite(values)), policy
        for weight in layer.trainable_weights:
            assert weight.dtype == "float32", (policy, weight.path)


def check_jit_fit_step(make_layer, inputs, call_kwargs=None):
    model = _functional(make_layer, inputs, call_kwargs or {})
    outputs = model.predict(list(inputs), verbose=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=True)
    if not model.trainable_weights:  # e.g. a fixed position encoding
        jitted = model.predict(list(inputs), verbose=0)
        np.testing.assert_allclose(jitted, outputs, atol=1e-5)
        return
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(
        list(inputs), np.ones_like(outputs, dtype="float32"), epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    if before:
        after = [np.array(w) for w in model.trainable_weights]
        assert any(not np.array_equal(a, b) for a, b in zip(before, after))


def check_layer_contract(make_layer, inputs, tmp_path, call_kwargs=None):
    """Run every check of the contract; `make_layer(**kwargs)` builds a fresh layer."""
    inputs = _as_inputs(inputs)
    check_config_round_trip(make_layer, inputs, call_kwargs)
    check_saving(make_layer, inputs, tmp_path, call_kwargs)
    check_mixed_precision(make_layer, inputs, call_kwargs)
    check_jit_fit_step(make_layer, inputs, call_kwargs)
