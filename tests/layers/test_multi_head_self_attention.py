"""The deprecated `MultiHeadSelfAttention` alias: old files load, old code runs."""

import pathlib
import warnings

import numpy as np
import pytest

import keras

from keras_attention.layers import MultiHeadAttention, MultiHeadSelfAttention

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
BATCH, LENGTH, HIDDEN, HEADS = 2, 6, 16, 4


def _old_layer(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return MultiHeadSelfAttention(*args, **kwargs)


def _new_layer_with_weights_of(old, *call_args):
    new = MultiHeadAttention.from_config(old.get_config())
    new(*call_args)
    new.set_weights(old.get_weights())
    return new


def test_construction_warns():
    with pytest.warns(DeprecationWarning, match="use `keras_attention.layers.MultiHeadAttention`"):
        layer = MultiHeadSelfAttention(HEADS)
    assert isinstance(layer, MultiHeadAttention)


def test_a_model_saved_before_the_rename_loads_with_the_same_outputs():
    # `multi_head_self_attention.keras` was saved by the code of f8e5a95 (before
    # the rename): a functional model of a `MultiHeadSelfAttention` with
    # grouped heads, RoPE, a window, causal and padding masks returning its
    # scores, then a cross-attention `MultiHeadSelfAttention` with a context
    # padding mask. The `.npz` holds its inputs and the outputs it gave then.
    arrays = np.load(FIXTURES / "multi_head_self_attention.npz")
    with pytest.warns(DeprecationWarning):
        model = keras.saving.load_model(FIXTURES / "multi_head_self_attention.keras")
    attention_layers = [layer for layer in model.layers if isinstance(layer, MultiHeadAttention)]
    assert [type(layer).__name__ for layer in attention_layers] == ["MultiHeadSelfAttention"] * 2
    outputs, scores = model.predict(
        [arrays["x"], arrays["context"], arrays["padding"], arrays["context_padding"]],
        verbose=0,
    )
    np.testing.assert_allclose(outputs, arrays["outputs"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(scores, arrays["scores"], rtol=0, atol=1e-6)


def test_saved_under_the_old_name_loads_with_identical_outputs(rng, tmp_path):
    x = rng.standard_normal((BATCH, LENGTH, HIDDEN)).astype("float32")
    inputs = keras.Input((LENGTH, HIDDEN))
    model = keras.Model(inputs, _old_layer(HEADS, use_rotary_embedding=True)(inputs, use_causal_mask=True))
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "old.keras")
    with pytest.warns(DeprecationWarning):
        restored = keras.saving.load_model(tmp_path / "old.keras")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), expected)


def test_old_calls_give_the_new_entry_points_results(rng):
    x = rng.standard_normal((BATCH, LENGTH, HIDDEN)).astype("float32")
    context = rng.standard_normal((BATCH, 9, HIDDEN)).astype("float32")
    old = _old_layer(HEADS, num_key_value_heads=2)
    old(x)
    new = _new_layer_with_weights_of(old, x)

    np.testing.assert_array_equal(
        np.array(old(x, use_causal_mask=True)), np.array(new(x, use_causal_mask=True))
    )
    cache = old.initial_cache(BATCH, LENGTH)
    old_outputs, old_cache, old_scores = old(
        x, cache=cache, cache_index=0, use_causal_mask=True, return_attention_scores=True
    )
    new_outputs, new_cache, new_scores = new.call_cached(
        x, cache, 0, use_causal_mask=True, return_attention_scores=True
    )
    for got, want in ((old_outputs, new_outputs), (old_cache, new_cache), (old_scores, new_scores)):
        np.testing.assert_array_equal(np.array(got), np.array(want))

    cross_old = _old_layer(HEADS)
    cross_old(x, context)
    cross_new = _new_layer_with_weights_of(cross_old, x, context)
    key_value = cross_old.project_key_value(context)
    outputs, returned = cross_old(x, cache=key_value)
    assert returned is key_value
    np.testing.assert_array_equal(
        np.array(outputs), np.array(cross_new.call_with_key_value(x, key_value))
    )
    np.testing.assert_array_equal(
        np.array(cross_old(x, context)), np.array(cross_new(x, context))
    )


def test_cache_index_without_cache_is_refused(rng):
    x = rng.standard_normal((BATCH, LENGTH, HIDDEN)).astype("float32")
    with pytest.raises(ValueError, match="`cache_index` needs a `cache`"):
        _old_layer(HEADS)(x, cache_index=0)


def test_old_calls_have_their_symbolic_shapes(rng):
    layer = _old_layer(HEADS)
    layer(rng.standard_normal((BATCH, LENGTH, HIDDEN)).astype("float32"))
    query = keras.Input((1, HIDDEN))
    cache = keras.Input((2, HEADS, 9, HIDDEN // HEADS))
    outputs, new_cache, scores = layer(
        query, cache=cache, cache_index=3, return_attention_scores=True
    )
    assert tuple(outputs.shape) == (None, 1, HIDDEN)
    assert tuple(new_cache.shape) == tuple(cache.shape)
    assert tuple(scores.shape) == (None, HEADS, 1, 9)
    outputs, scores = layer(keras.Input((LENGTH, HIDDEN)), return_attention_scores=True)
    assert tuple(scores.shape) == (None, HEADS, LENGTH, LENGTH)
