"""The attention core against the numpy reference (tests/reference/attention.py): padding and
causal masks, grouped key/value heads, query chunks, and rows with no key to attend to."""

import numpy as np
import pytest
from keras import ops

from keras_attention.layers.masks import compute_attention_mask
from keras_attention.layers.scaled_dot_product_attention import scaled_dot_product_attention
from tests.reference.attention import attention

BATCH, HEADS, LENGTH, KEY_DIM = 3, 2, 6, 4
PADDING = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]])


@pytest.fixture
def qkv(rng):
    return [rng.standard_normal((BATCH, HEADS, LENGTH, KEY_DIM)).astype("float32") for _ in range(3)]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("query_chunk_size", [None, 4])
def test_self_attention_with_padding_is_the_reference(qkv, causal, query_chunk_size):
    mask = compute_attention_mask(
        LENGTH, LENGTH, padding_mask=PADDING, key_padding_mask=PADDING, use_causal_mask=causal
    )
    outputs, weights = scaled_dot_product_attention(*qkv, attention_mask=mask, query_chunk_size=query_chunk_size)
    expected_outputs, expected_weights = attention(
        *qkv, padding_mask=PADDING, key_padding_mask=PADDING, causal=causal
    )
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    if weights is not None:
        np.testing.assert_allclose(ops.convert_to_numpy(weights), expected_weights, rtol=1e-5, atol=1e-6)
    # The all-padding row and the padded queries attend to nothing.
    assert not np.any(expected_outputs[2]) and not np.any(expected_outputs[1, :, 3:])


def test_cross_attention_with_key_padding_only(rng, qkv):
    query = rng.standard_normal((BATCH, HEADS, 4, KEY_DIM)).astype("float32")
    mask = compute_attention_mask(4, LENGTH, key_padding_mask=PADDING)
    outputs, weights = scaled_dot_product_attention(query, qkv[1], qkv[2], attention_mask=mask)
    expected_outputs, expected_weights = attention(query, qkv[1], qkv[2], key_padding_mask=PADDING)
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(weights), expected_weights, rtol=1e-5, atol=1e-6)


def test_grouped_key_value_heads_are_the_reference_with_repeated_heads(rng, qkv):
    query = rng.standard_normal((BATCH, 4, LENGTH, KEY_DIM)).astype("float32")
    key, value = qkv[1][:, :1], qkv[2][:, :1]
    mask = compute_attention_mask(LENGTH, LENGTH, key_padding_mask=PADDING, use_causal_mask=True)
    outputs, _ = scaled_dot_product_attention(query, key, value, attention_mask=mask)
    expected, _ = attention(
        query, np.repeat(key, 4, axis=1), np.repeat(value, 4, axis=1), key_padding_mask=PADDING, causal=True
    )
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected, rtol=1e-5, atol=1e-6)
