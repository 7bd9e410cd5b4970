"""The attention core: one scaled dot-product attention function for every layer.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V        (Vaswani et al., §3.2.1)

Scores are dot products of queries with keys; a softmax over the keys turns each
query's scores into weights; the output is the weighted sum of the values. All
queries are computed at once with two batched matrix products, which is why
self-attention parallelises where an RNN must step through time.

The score matrix holds one float per (query, key) pair and head, so its memory
grows with the square of the length. `query_chunk_size` evaluates the queries in
blocks instead: each block still sees every key (the result is the same), but
only one block's scores exist at a time (Rabe & Staats, 2021, without their key
chunking).
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["scaled_dot_product_attention"]

# Finite stand-in for -inf: exp() of it underflows to exactly 0 in float32,
# while a fully masked row stays finite (and is then zeroed explicitly).
_MASKED_SCORE = -1e9


def scaled_dot_product_attention(
    query,
    key,
    value,
    attention_mask=None,
    dropout=None,
    training=None,
    query_chunk_size=None,
):
    """Scaled dot-product attention over heads.

    The softmax is always computed in float32, whatever the compute dtype, so
    `mixed_float16` and `mixed_bfloat16` models keep accurate weights. A query
    whose keys are all masked gets all-zero weights (and a zero output), never
    NaN. Grouped-query attention is supported: `key` and `value` may have fewer
    heads than `query`, as long as they divide it.

    Args:
        query: tensor `(batch, heads, query_length, key_dim)`.
        key: tensor `(batch, key_value_heads, key_length, key_dim)`.
        value: tensor `(batch, key_value_heads, key_length, value_dim)`.
        attention_mask: optional boolean tensor broadcastable to
            `(batch, heads, query_length, key_length)`; a rank-3 mask
            `(batch, query_length, key_length)` is broadcast over heads.
            `True` keeps a weight, `False` forces it to zero.
        dropout: optional callable `dropout(weights, training=...)` applied to
            the attention weights (e.g. a `keras.layers.Dropout`).
        training: bool, passed to `dropout`.
        query_chunk_size: optional int. Evaluate at most this many queries at
            a time, so the scores take `query_chunk_size / query_length` of
            the memory. Needs a static query length; the outputs are the same.
            Without `dropout` each chunk is rematerialised (`keras.remat`): its
            scores are recomputed in the backward pass rather than stored, so
            training memory shrinks as well, for one more forward pass.

    Returns:
        Tuple `(outputs, attention_weights)`: outputs of shape
        `(batch, heads, query_length, value_dim)` in the query's dtype and the
        softmax weights `(batch, heads, query_length, key_length)` before
        dropout. When the queries were evaluated in chunks the full weights
        never exist, and `attention_weights` is `None`.

    Example:

    >>> import numpy as np
    >>> q = np.random.rand(2, 4, 5, 8).astype("float32")
    >>> kv = np.random.rand(2, 4, 7, 8).astype("float32")
    >>> outputs, weights = scaled_dot_product_attention(q, kv, kv)
    >>> tuple(outputs.shape), tuple(weights.shape)
    ((2, 4, 5, 8), (2, 4, 5, 7))

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.2.1.
        Ainslie et al., "GQA", 2023 (grouped key/value heads).
        Rabe & Staats, "Self-attention Does Not Need O(n^2) Memory", 2021.
    """
    num_heads, num_key_value_heads = query.shape[1], key.shape[1]
    if num_heads != num_key_value_heads:
        if num_heads % num_key_value_heads:
            raise ValueError(
                "The number of query heads must be a multiple of the number of "
                f"key/value heads. Received: query heads={num_heads}, "
                f"key/value heads={num_key_value_heads}"
            )
        groups = num_heads // num_key_value_heads
        key = ops.repeat(key, groups, axis=1)
        value = ops.repeat(value, groups, axis=1)

    if attention_mask is not None:
        attention_mask = ops.cast(attention_mask, "bool")
        if len(attention_mask.shape) == 3:
            attention_mask = ops.expand_dims(attention_mask, 1)

    query_length = query.shape[2]
    if query_chunk_size is not None:
        if (
            isinstance(query_chunk_size, bool)
            or not isinstance(query_chunk_size, int)
            or query_chunk_size < 1
        ):
            raise ValueError(
                "`query_chunk_size` must be a positive integer or None. "
                f"Received: query_chunk_size={query_chunk_size!r}"
            )
    if (
        query_chunk_size is None
        or query_length is None
        or query_length <= query_chunk_size
    ):
        return _attend(query, key, value, attention_mask, dropout, training)

    outputs = []
    for start in range(0, query_length, query_chunk_size):
        stop = min(start + query_chunk_size, query_length)
        mask = attention_mask
        if mask is not None and mask.shape[-2] != 1:
            mask = mask[:, :, start:stop, :]
        chunk_query = query[:, :, start:stop]
        if dropout is None:
            # Recompute the chunk's scores in the backward pass instead of
            # keeping them, so training memory shrinks too. (Not with dropout:
            # recomputing would draw a different dropout mask.)
            chunk = keras.remat(_without_dropout(mask))(chunk_query, key, value)
        else:
            chunk, _ = _attend(chunk_query, key, value, mask, dropout, training)
        outputs.append(chunk)
    return ops.concatenate(outputs, axis=2), None


def _without_dropout(attention_mask):
    def attend(query, key, value):
        return _attend(query, key, value, attention_mask, None, None)[0]

    return attend


def _attend(query, key, value, attention_mask, dropout, training):
    """softmax(Q K^T / sqrt(d)) V for equal head counts and a rank-4 bool mask."""
    # Scale the (smaller) queries rather than the scores.
    key_dim = query.shape[-1]
    query = query * ops.cast(1.0 / math.sqrt(key_dim), query.dtype)
    # (batch, heads, query_length, key_length)
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2))
    scores = ops.cast(scores, "float32")
    if attention_mask is not None:
        scores = ops.where(attention_mask, scores, _MASKED_SCORE)
    # Masked scores underflow to weights of exactly 0 in float32.
    weights = ops.cast(ops.softmax(scores, axis=-1), query.dtype)
    attended = weights
    if dropout is not None:
        attended = dropout(weights, training=training)
    # (batch, heads, query_length, value_dim)
    outputs = ops.matmul(attended, value)
    if attention_mask is not None:
        # Except in a fully masked row, whose softmax is uniform: zero it. The
        # (smaller) outputs are zeroed, and the weights only where a caller
        # uses them (a compiled graph drops the op otherwise).
        has_keys = ops.any(attention_mask, axis=-1, keepdims=True)
        outputs = ops.where(has_keys, outputs, ops.zeros_like(outputs))
        weights = ops.where(has_keys, weights, ops.zeros_like(weights))
    return outputs, weights
