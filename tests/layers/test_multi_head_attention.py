import numpy as np
import pytest

import keras

from keras_attention.layers import MultiHeadAttention
from tests.layer_contract import check_layer_contract

BATCH, LENGTH, HIDDEN, HEADS = 2, 6, 16, 4


def _inputs(rng, length=LENGTH, hidden=HIDDEN):
    return rng.standard_normal((BATCH, length, hidden)).astype("float32")


def _padding(lengths, length=LENGTH):
    return (np.arange(length)[None, :] < np.array(lengths)[:, None]).astype("int32")


@pytest.mark.parametrize(
    "kwargs, call_kwargs",
    [
        ({}, {}),
        ({"num_key_value_heads": 2, "use_rotary_embedding": True}, {"use_causal_mask": True}),
        ({"attention_window": 2, "dropout": 0.1, "seed": 3}, {}),
        ({"query_chunk_size": 2}, {"use_causal_mask": True}),
    ],
)
def test_layer_contract(rng, tmp_path, kwargs, call_kwargs):
    check_layer_contract(
        lambda **extra: MultiHeadAttention(HEADS, **kwargs, **extra),
        _inputs(rng),
        tmp_path,
        call_kwargs,
    )


def _copy_from_keras(reference, ours):
    """Copy a keras.layers.MultiHeadAttention's weights into our layer."""
    q, k, v, o = (
        reference._query_dense,
        reference._key_dense,
        reference._value_dense,
        reference._output_dense,
    )
    weights = []
    for dense in (q, k, v):
        kernel, bias = (np.array(w) for w in dense.weights)
        weights += [kernel.reshape(kernel.shape[0], -1), bias.reshape(-1)]
    kernel, bias = (np.array(w) for w in o.weights)
    weights += [kernel.reshape(-1, kernel.shape[-1]), bias]
    # our weight order: query kernel/bias, key, value, output
    ours.set_weights(weights)


@pytest.mark.parametrize("mask_kind", ["none", "padding", "causal"])
def test_parity_with_keras_multi_head_attention(rng, mask_kind):
    x = _inputs(rng)
    reference = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=HIDDEN // HEADS)
    ours = MultiHeadAttention(num_heads=HEADS)
    padding = _padding([LENGTH, 3])
    if mask_kind == "padding":
        expected = reference(x, x, query_mask=padding, value_mask=padding)
    else:
        expected = reference(x, x, use_causal_mask=mask_kind == "causal")
    ours(x)
    _copy_from_keras(reference, ours)
    actual = ours(
        x,
        padding_mask=padding if mask_kind == "padding" else None,
        use_causal_mask=mask_kind == "causal",
    )
    # Padded query rows are masked outputs: ours are defined as zero weights,
    # Keras' fused path gives them uniform weights. Compare the real tokens.
    valid = padding.astype(bool) if mask_kind == "padding" else np.ones_like(padding, bool)
    np.testing.assert_allclose(
        np.array(actual)[valid], np.array(expected)[valid], atol=1e-5
    )


def test_parity_cross_attention_with_keras(rng):
    x, context = _inputs(rng), _inputs(rng, length=9, hidden=12)
    context_padding = _padding([9, 4], length=9)
    reference = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=4)
    ours = MultiHeadAttention(num_heads=HEADS)
    expected = reference(x, context, value_mask=context_padding)
    ours(x, context)
    _copy_from_keras(reference, ours)
    actual = ours(x, context, context_padding_mask=context_padding)
    np.testing.assert_allclose(np.array(actual), np.array(expected), atol=1e-5)


def test_implicit_keras_mask_is_honoured(rng):
    token_ids = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    embedding = keras.layers.Embedding(10, HIDDEN, mask_zero=True)
    layer = MultiHeadAttention(HEADS)
    embedded = embedding(token_ids)
    implicit = layer(embedded)
    explicit = layer(embedded, padding_mask=token_ids != 0)
    np.testing.assert_allclose(np.array(implicit), np.array(explicit), atol=1e-6)


def test_implicit_keras_mask_is_honoured_by_the_cache_entry_points(rng):
    token_ids = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    embedded = keras.layers.Embedding(10, HIDDEN, mask_zero=True)(token_ids)
    layer = MultiHeadAttention(HEADS)
    layer(embedded)
    cache = layer.initial_cache(BATCH, LENGTH)
    implicit, _ = layer.call_cached(embedded, cache, 0)
    explicit, _ = layer.call_cached(embedded, cache, 0, padding_mask=token_ids != 0)
    np.testing.assert_array_equal(np.array(implicit), np.array(explicit))
    assert np.all(np.array(implicit)[0, 3:] == 0.0)
    key_value = layer.project_key_value(embedded)
    implicit = layer.call_with_key_value(embedded, key_value)
    assert np.all(np.array(implicit)[0, 3:] == 0.0)


def test_local_attention_zeroes_weights_outside_window(rng):
    x = _inputs(rng, length=10)
    layer = MultiHeadAttention(HEADS, attention_window=2)
    _, scores = layer(x, return_attention_scores=True)
    scores = np.array(scores)
    distance = np.abs(np.arange(10)[:, None] - np.arange(10)[None, :])
    assert np.all(scores[..., distance > 2] == 0.0)
    assert np.all(scores[..., distance <= 2] > 0.0)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-5)


def test_window_covering_the_sequence_equals_global_attention(rng):
    x = _inputs(rng)
    local = MultiHeadAttention(HEADS, attention_window=LENGTH)
    global_ = MultiHeadAttention(HEADS)
    local(x)
    global_(x)
    global_.set_weights(local.get_weights())
    np.testing.assert_allclose(np.array(local(x)), np.array(global_(x)), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"use_rotary_embedding": True}, {"num_key_value_heads": 1, "attention_window": 3}],
)
def test_cached_decoding_equals_full_causal_pass(rng, kwargs):
    x = _inputs(rng)
    layer = MultiHeadAttention(HEADS, **kwargs)
    full = np.array(layer(x, use_causal_mask=True))
    cache = layer.initial_cache(BATCH, LENGTH + 2)
    steps = []
    for index in range(LENGTH):
        output, cache = layer.call_cached(
            x[:, index : index + 1], cache, index, use_causal_mask=True
        )
        steps.append(np.array(output))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_cached_prefill_then_steps_under_jit(rng):
    x = _inputs(rng)
    layer = MultiHeadAttention(HEADS)
    full = np.array(layer(x, use_causal_mask=True))

    import tensorflow as tf

    @tf.function(jit_compile=True)
    def step(tokens, cache, index):
        return layer.call_cached(tokens, cache, index, use_causal_mask=True)

    cache = layer.initial_cache(BATCH, LENGTH)
    prefill, cache = step(x[:, :3], cache, tf.constant(0))
    outputs = [np.array(prefill)]
    for index in range(3, LENGTH):
        output, cache = step(x[:, index : index + 1], cache, tf.constant(index))
        outputs.append(np.array(output))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)


def test_cross_attention_key_value_equals_context(rng):
    x, context = _inputs(rng), _inputs(rng, length=9, hidden=12)
    context_padding = _padding([9, 4], length=9)
    layer = MultiHeadAttention(HEADS)
    expected, expected_scores = layer(
        x, context, context_padding_mask=context_padding, return_attention_scores=True
    )
    key_value = layer.project_key_value(context)
    actual, scores = layer.call_with_key_value(
        x, key_value, context_padding_mask=context_padding, return_attention_scores=True
    )
    np.testing.assert_allclose(np.array(actual), np.array(expected), atol=1e-6)
    np.testing.assert_allclose(np.array(scores), np.array(expected_scores), atol=1e-6)
    assert np.all(np.array(scores)[1, ..., 4:] == 0.0)


def test_grouped_query_attention_equals_repeated_key_value_heads(rng):
    x = _inputs(rng)
    grouped = MultiHeadAttention(HEADS, num_key_value_heads=2)
    full = MultiHeadAttention(HEADS)
    grouped(x)
    full(x)
    head_dim = HIDDEN // HEADS
    weights = [np.array(w) for w in grouped.get_weights()]

    def repeat_heads(array):  # (..., 2 * head_dim) -> (..., 4 * head_dim)
        heads = array.reshape(array.shape[:-1] + (2, head_dim))
        return np.repeat(heads, 2, axis=-2).reshape(array.shape[:-1] + (HIDDEN,))

    for index in (2, 3, 4, 5):  # key/value kernels and biases
        weights[index] = repeat_heads(weights[index])
    full.set_weights(weights)
    np.testing.assert_allclose(
        np.array(grouped(x, use_causal_mask=True)),
        np.array(full(x, use_causal_mask=True)),
        atol=1e-5,
    )


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_fully_masked_rows_are_zero_not_nan(rng, dtype):
    x = _inputs(rng)
    layer = MultiHeadAttention(HEADS, dtype=dtype, use_bias=False)
    padding = _padding([LENGTH, 0])
    outputs, scores = layer(x, padding_mask=padding, return_attention_scores=True)
    outputs = np.array(keras.ops.cast(outputs, "float32"))
    scores = np.array(keras.ops.cast(scores, "float32"))
    assert np.all(np.isfinite(outputs)) and np.all(np.isfinite(scores))
    assert np.all(scores[1] == 0.0) and np.all(outputs[1] == 0.0)


@pytest.mark.parametrize(
    "kwargs, call_kwargs",
    [
        ({}, {"use_causal_mask": True}),
        ({"attention_window": 2, "num_key_value_heads": 2}, {}),
        ({"use_rotary_embedding": True}, {"use_causal_mask": True}),
    ],
)
def test_query_chunks_give_the_same_outputs(rng, kwargs, call_kwargs):
    x = _inputs(rng)
    padding = _padding([LENGTH, 3])
    full = MultiHeadAttention(HEADS, **kwargs)
    chunked = MultiHeadAttention(HEADS, query_chunk_size=3, **kwargs)
    expected = full(x, padding_mask=padding, **call_kwargs)
    chunked(x, padding_mask=padding, **call_kwargs)
    chunked.set_weights(full.get_weights())
    outputs = chunked(x, padding_mask=padding, **call_kwargs)
    np.testing.assert_allclose(np.array(outputs), np.array(expected), atol=1e-5)
    # Asking for the scores evaluates the full matrix, so they still come back.
    _, scores = chunked(x, return_attention_scores=True, **call_kwargs)
    assert tuple(scores.shape) == (x.shape[0], HEADS, LENGTH, LENGTH)


def test_attention_scores_are_a_distribution(rng):
    x = _inputs(rng)
    _, scores = MultiHeadAttention(HEADS)(
        x, use_causal_mask=True, return_attention_scores=True
    )
    scores = np.array(scores)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(scores, k=1) == 0.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_heads": 0}, "num_heads=0"),
        ({"num_heads": 4, "dropout": 1.0}, "dropout=1.0"),
        ({"num_heads": 4, "dropout": -0.1}, "dropout=-0.1"),
        ({"num_heads": 4, "attention_window": 0}, "attention_window=0"),
        ({"num_heads": 4, "num_key_value_heads": 3}, "num_key_value_heads=3"),
        ({"num_heads": 4, "key_dim": 2.5}, "key_dim=2.5"),
        ({"num_heads": 4, "query_chunk_size": 0}, "query_chunk_size=0"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(**kwargs)


def test_hidden_size_not_divisible_by_heads(rng):
    with pytest.raises(ValueError, match="hidden size=16, num_heads=3"):
        MultiHeadAttention(3)(_inputs(rng))


def test_wrong_rank_inputs(rng):
    with pytest.raises(ValueError, match=r"query.shape=\(2, 16\)"):
        MultiHeadAttention(HEADS)(np.zeros((2, 16), "float32"))


def test_mask_shapes_that_do_not_fit(rng):
    layer = MultiHeadAttention(HEADS)
    x = _inputs(rng)
    with pytest.raises(ValueError, match=r"padding_mask.shape=\(2, 5\)"):
        layer(x, padding_mask=np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"attention_mask.shape=\(2, 6, 7\)"):
        layer(x, attention_mask=np.ones((2, 6, 7), bool))


def test_bad_cache_shape(rng):
    layer = MultiHeadAttention(HEADS)
    x = _inputs(rng)
    layer(x)
    with pytest.raises(ValueError, match=r"cache.shape=\(2, 2, 3, 8, 4\)"):
        layer.call_cached(x[:, :1], np.zeros((BATCH, 2, 3, 8, 4), "float32"), 0)
    with pytest.raises(ValueError, match=r"key_value.shape=\(2, 2, 4, 8\)"):
        layer.call_with_key_value(x, np.zeros((BATCH, 2, 4, 8), "float32"))


@pytest.mark.parametrize("context_shape", [None, (BATCH, 9, 12)])
def test_compute_output_shape_matches_the_outputs(rng, context_shape):
    x = _inputs(rng)
    context = None if context_shape is None else rng.standard_normal(context_shape)
    layer = MultiHeadAttention(HEADS, key_dim=3)
    outputs, scores = layer(x, context, return_attention_scores=True)
    assert layer.compute_output_shape(x.shape, context_shape) == tuple(outputs.shape)
    # The symbolic shapes of a functional model are those of the eager outputs.
    symbolic_query = keras.Input(x.shape[1:])
    symbolic_context = None if context is None else keras.Input(context.shape[1:])
    symbolic = layer(symbolic_query, symbolic_context, return_attention_scores=True)
    key_length = LENGTH if context is None else context_shape[1]
    assert tuple(scores.shape) == (BATCH, HEADS, LENGTH, key_length)
    assert [tuple(t.shape)[1:] for t in symbolic] == [
        tuple(outputs.shape)[1:],
        tuple(scores.shape)[1:],
    ]


def test_compute_output_shape_rejects_bad_ranks():
    layer = MultiHeadAttention(HEADS)
    with pytest.raises(ValueError, match=r"query.shape=\(2, 16\)"):
        layer.compute_output_shape((2, 16))
    with pytest.raises(ValueError, match=r"context.shape=\(2, 9\)"):
        layer.compute_output_shape((2, 6, 16), (2, 9))


def test_cached_scores_cover_the_filled_cache(rng):
    x = _inputs(rng)
    layer = MultiHeadAttention(HEADS)
    _, full_scores = layer(x, use_causal_mask=True, return_attention_scores=True)
    cache = layer.initial_cache(BATCH, LENGTH + 3)
    outputs, cache, scores = layer.call_cached(
        x, cache, 0, use_causal_mask=True, return_attention_scores=True
    )
    assert tuple(outputs.shape) == x.shape
    assert tuple(cache.shape) == (BATCH, 2, HEADS, LENGTH + 3, HIDDEN // HEADS)
    scores = np.array(scores)
    np.testing.assert_allclose(scores[..., :LENGTH], np.array(full_scores), atol=1e-6)
    assert np.all(scores[..., LENGTH:] == 0.0)


def test_cache_entry_points_need_a_built_layer(rng):
    layer = MultiHeadAttention(HEADS)
    with pytest.raises(ValueError, match="`initial_cache` needs a built layer"):
        layer.initial_cache(BATCH, LENGTH)
    with pytest.raises(ValueError, match="`call_with_key_value` needs a built layer"):
        layer.call_with_key_value(_inputs(rng), np.zeros((BATCH, 2, HEADS, 3, 4)))


@pytest.mark.parametrize("dtype", ["mixed_float16", "mixed_bfloat16"])
def test_cache_entry_points_run_in_the_compute_dtype(rng, dtype):
    # Called directly (not through `Layer.__call__`), they cast inputs and
    # variables themselves.
    x, context = _inputs(rng), _inputs(rng, length=9)
    layer = MultiHeadAttention(HEADS, dtype=dtype)
    expected = layer(x, use_causal_mask=True)
    cache = layer.initial_cache(BATCH, LENGTH)
    outputs, cache = layer.call_cached(x, cache, 0, use_causal_mask=True)
    compute_dtype = layer.compute_dtype
    assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
    assert keras.backend.standardize_dtype(cache.dtype) == compute_dtype
    np.testing.assert_allclose(
        np.array(keras.ops.cast(outputs, "float32")),
        np.array(keras.ops.cast(expected, "float32")),
        atol=1e-2,
    )
    cross = MultiHeadAttention(HEADS, dtype=dtype)
    cross(x, context)
    outputs = cross.call_with_key_value(x, cross.project_key_value(context))
    assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
