import numpy as np
import pytest

import keras
from keras import ops

from keras_attention.layers import scaled_dot_product_attention


def _reference(query, key, value, mask=None):
    """The paper's formula in numpy: softmax(Q K^T / sqrt(d_k)) V."""
    scores = query @ np.swapaxes(key, -1, -2) / np.sqrt(query.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(-1, keepdims=True)
    return weights @ value, weights


def test_matches_the_formula(rng):
    query = rng.standard_normal((2, 3, 5, 8))
    key = rng.standard_normal((2, 3, 7, 8))
    value = rng.standard_normal((2, 3, 7, 4))
    mask = rng.random((2, 1, 5, 7)) > 0.3
    mask[..., 0] = True
    outputs, weights = scaled_dot_product_attention(
        query.astype("float32"), key.astype("float32"), value.astype("float32"), mask
    )
    expected_outputs, expected_weights = _reference(query, key, value, mask)
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected_outputs, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(weights), expected_weights, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_softmax_runs_in_float32(dtype):
    # Scores this large overflow float16's exp; computed in float32 they are fine.
    query = np.full((1, 1, 2, 4), 60.0, "float32")
    key = np.full((1, 1, 3, 4), 60.0, "float32")
    value = np.ones((1, 1, 3, 4), "float32")
    outputs, weights = scaled_dot_product_attention(
        ops.cast(query, dtype), ops.cast(key, dtype), ops.cast(value, dtype)
    )
    assert ops.convert_to_numpy(ops.cast(outputs, "float32")).tolist() == np.ones(
        (1, 1, 2, 4)
    ).tolist()
    assert keras.backend.standardize_dtype(outputs.dtype) == dtype


def test_grouped_heads_must_divide(rng):
    query = rng.standard_normal((1, 4, 2, 8)).astype("float32")
    key = rng.standard_normal((1, 3, 2, 8)).astype("float32")
    with pytest.raises(ValueError, match="key/value heads=3"):
        scaled_dot_product_attention(query, key, key)


@pytest.mark.parametrize(
    "mask_shape",
    [None, (2, 7, 9), (2, 1, 7, 9), (2, 4, 7, 9), (2, 1, 1, 9)],
    ids=["no-mask", "rank-3", "rank-4", "per-head", "broadcast-queries"],
)
@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_query_chunks_give_the_same_outputs(rng, mask_shape, chunk):
    query = rng.standard_normal((2, 4, 7, 8)).astype("float32")
    key = rng.standard_normal((2, 2, 9, 8)).astype("float32")  # grouped heads too
    value = rng.standard_normal((2, 2, 9, 5)).astype("float32")
    mask = None if mask_shape is None else rng.random(mask_shape) > 0.4
    full, weights = scaled_dot_product_attention(query, key, value, mask)
    chunked, chunked_weights = scaled_dot_product_attention(
        query, key, value, mask, query_chunk_size=chunk
    )
    np.testing.assert_allclose(ops.convert_to_numpy(chunked), ops.convert_to_numpy(full), atol=1e-6)
    # The full weights never exist when the queries were chunked (7 queries
    # fit in one chunk of 7: nothing is chunked then).
    assert (chunked_weights is None) == (chunk < 7)


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
def test_query_chunks_give_the_same_gradients(rng, graph):
    import tensorflow as tf

    query, key, value = (
        tf.constant(rng.standard_normal((1, 2, 6, 4)).astype("float32")) for _ in range(3)
    )
    mask = rng.random((1, 6, 6)) > 0.3

    def gradients(chunk):
        def compute():
            with tf.GradientTape() as tape:
                tape.watch([query, key, value])
                outputs, _ = scaled_dot_product_attention(
                    query, key, value, mask, query_chunk_size=chunk
                )
                loss = ops.sum(outputs**2)
            return tape.gradient(loss, [query, key, value])

        return [g.numpy() for g in (tf.function(compute)() if graph else compute())]

    for full, chunked in zip(gradients(None), gradients(4)):
        np.testing.assert_allclose(chunked, full, atol=1e-5)


@pytest.mark.parametrize("chunk", [0, -2, 2.5, True, "8"])
def test_bad_query_chunk_size(rng, chunk):
    query = rng.standard_normal((1, 1, 4, 8)).astype("float32")
    with pytest.raises(ValueError, match=f"query_chunk_size={chunk!r}"):
        scaled_dot_product_attention(query, query, query, query_chunk_size=chunk)
