"""Reference scaled dot-product attention in plain numpy (Vaswani et al., 2017, §3.2.1).

One query at a time, with explicit loops, so that it shares nothing with the
library's batched implementation. A query that may attend to no key (a padded
query, or every key masked) gets all-zero weights and a zero output.
"""

from __future__ import annotations

import numpy as np


def attention(query, key, value, padding_mask=None, key_padding_mask=None, causal=False):
    """softmax(q k^T / sqrt(d)) v for every batch row, head and query.

    Args:
        query: `(batch, heads, query_length, key_dim)`.
        key: `(batch, heads, key_length, key_dim)`.
        value: `(batch, heads, key_length, value_dim)`.
        padding_mask: optional `(batch, query_length)`, nonzero for real queries.
        key_padding_mask: optional `(batch, key_length)`, nonzero for real keys.
        causal: query `i` sees keys `0 .. i` only.

    Returns:
        `(outputs (batch, heads, query_length, value_dim),
        weights (batch, heads, query_length, key_length))`, float64.
    """
    query, key, value = (np.asarray(x, "float64") for x in (query, key, value))
    batch, heads, query_length, key_dim = query.shape
    key_length = key.shape[2]
    outputs = np.zeros((batch, heads, query_length, value.shape[-1]))
    weights = np.zeros((batch, heads, query_length, key_length))
    for b in range(batch):
        for h in range(heads):
            for i in range(query_length):
                if padding_mask is not None and not padding_mask[b][i]:
                    continue
                allowed = [
                    j
                    for j in range(key_length)
                    if (key_padding_mask is None or key_padding_mask[b][j]) and (not causal or j <= i)
                ]
                if not allowed:
                    continue
                scores = np.array([query[b, h, i] @ key[b, h, j] for j in allowed]) / np.sqrt(key_dim)
                exponentials = np.exp(scores - scores.max())
                for j, weight in zip(allowed, exponentials / exponentials.sum()):
                    weights[b, h, i, j] = weight
                    outputs[b, h, i] += weight * value[b, h, j]
    return outputs, weights
