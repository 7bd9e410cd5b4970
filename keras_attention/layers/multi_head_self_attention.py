"""Multi-head self-attention (and cross-attention) on the shared attention core."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers._initializers import clone_initializer
from keras_attention.layers.masks import _validate_window, compute_attention_mask
from keras_attention.layers.rotary_embedding import RotaryEmbedding
from keras_attention.layers.scaled_dot_product_attention import (
    scaled_dot_product_attention,
)

__all__ = ["MultiHeadSelfAttention"]


def _keras_mask(tensor):
    # Implicit Keras masks (from `Embedding(mask_zero=True)` and friends) are
    # honoured when no explicit mask is passed.
    return getattr(tensor, "_keras_mask", None)


@keras.saving.register_keras_serializable(package="keras_attention")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head attention: self-attention by default, cross-attention with `context`.

    Each token is projected to a query, a key and a value per head. A head's
    scores are the dot products of its queries with its keys, scaled by
    `1 / sqrt(key_dim)` and softmaxed over the keys; its output is the
    weighted sum of its values. Heads are concatenated and projected back to
    the input width. Because heads have their own projections, they can look
    at different things: one head may attend locally, another globally.

    For self-attention the query, key and value projections run as a single
    fused matrix product. Masks of every kind are combined by
    `keras_attention.layers.masks.compute_attention_mask`, and the maths is
    `keras_attention.layers.scaled_dot_product_attention` (softmax in float32,
    fully masked rows give zeros).

    Args:
        num_heads: int, number of query heads.
        key_dim: int or None, default None. Size of each query/key head;
            None means `hidden_dim // num_heads` (which must divide).
        value_dim: int or None, default None. Size of each value head;
            None means `key_dim`.
        dropout: float in [0, 1), default 0.0. Dropout on the attention weights.
        use_bias: bool, default True. Biases on the four projections.
        attention_window: int >= 1 or None, default None. Local attention:
            each query sees only keys within this distance (weights outside the
            window are exactly zero). None is global attention.
        num_key_value_heads: int or None, default None. Number of key/value
            heads for grouped-query attention (1 is multi-query attention);
            must divide `num_heads`. None means `num_heads`.
        use_rotary_embedding: bool, default False. Rotate queries and keys
            with RoPE in self-attention (positions start at `cache_index`).
        rotary_max_wavelength: int, default 10000.
        query_chunk_size: int >= 1 or None, default None. Evaluate the
            attention this many queries at a time, so only that many rows of
            scores exist at once: memory for long sequences, same outputs.
            Ignored when `return_attention_scores=True`.
        kernel_initializer: default "glorot_uniform". Each projection gets
            its own copy, so the four kernels start different (an
            initializer seeded with an int gives them the same draws).
        bias_initializer: default "zeros".
        seed: int or None, seed for attention dropout.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        query: `(batch, query_length, hidden_dim)`.
        context: optional `(batch, context_length, context_dim)`. When given,
            keys and values come from it (encoder-decoder attention).
        padding_mask: optional `(batch, query_length)`, nonzero for real
            tokens. Padded query rows output zeros; in uncached self-attention
            the same mask also hides padded keys.
        context_padding_mask: optional `(batch, context_length)` for `context`.
        attention_mask: optional `(batch, query_length, key_length)` boolean
            mask; `True` allows attention.
        use_causal_mask: bool, default False. Queries see only earlier keys.
        cache: optional key/value cache `(batch, 2, num_key_value_heads,
            cache_length, key_dim)`. With `cache_index` it is a self-attention
            cache: the new keys/values are written at `cache_index` and the
            updated cache is returned. Without `cache_index` it is a read-only
            cross-attention cache from `project_key_value(context)`.
        cache_index: int or scalar tensor, the position of the first query in
            the cache.
        return_attention_scores: bool, default False. Also return the
            attention weights `(batch, num_heads, query_length, key_length)`.
        training: bool, enables dropout.

    Returns:
        `outputs` of shape `(batch, query_length, hidden_dim)`; with `cache`,
        `(outputs, cache)`; with `return_attention_scores`, the scores are
        appended: `(outputs, scores)` or `(outputs, cache, scores)`.

    Example:

    >>> import numpy as np
    >>> layer = MultiHeadSelfAttention(num_heads=4)
    >>> x = np.random.rand(2, 10, 32).astype("float32")
    >>> outputs, scores = layer(x, use_causal_mask=True, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(scores.shape)
    ((2, 10, 32), (2, 4, 10, 10))

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.2.2.
        Beltagy et al., "Longformer", 2020 (local windowed attention).
        Ainslie et al., "GQA", 2023 (grouped key/value heads).
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int | None = None,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        attention_window: int | None = None,
        num_key_value_heads: int | None = None,
        use_rotary_embedding: bool = False,
        rotary_max_wavelength: int = 10000,
        query_chunk_size: int | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = _validation.positive_int("num_heads", num_heads)
        self.key_dim = _validation.positive_int("key_dim", key_dim, allow_none=True)
        self.value_dim = _validation.positive_int(
            "value_dim", value_dim, allow_none=True
        )
        self.dropout = _validation.rate("dropout", dropout)
        self.use_bias = bool(use_bias)
        if attention_window is not None:
            _validate_window(attention_window)
        self.attention_window = attention_window
        self.num_key_value_heads = _validation.positive_int(
            "num_key_value_heads", num_key_value_heads, allow_none=True
        )
        if self.num_key_value_heads is not None and (
            self.num_heads % self.num_key_value_heads
        ):
            raise ValueError(
                "`num_heads` must be divisible by `num_key_value_heads`. "
                f"Received: num_heads={num_heads}, "
                f"num_key_value_heads={num_key_value_heads}"
            )
        self.use_rotary_embedding = bool(use_rotary_embedding)
        self.rotary_max_wavelength = rotary_max_wavelength
        self.query_chunk_size = _validation.positive_int(
            "query_chunk_size", query_chunk_size, allow_none=True
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(
            self.dropout, seed=seed, dtype=self.dtype_policy
        )
        self._rotary = (
            RotaryEmbedding(rotary_max_wavelength, dtype=self.dtype_policy)
            if self.use_rotary_embedding
            else None
        )

    # === Weights ===

    def build(self, query_shape, context_shape=None):
        if len(query_shape) != 3:
            raise ValueError(
                "`query` must be a rank-3 tensor (batch, length, hidden_dim). "
                f"Received: query.shape={tuple(query_shape)}"
            )
        hidden_dim = query_shape[-1]
        context_dim = hidden_dim if context_shape is None else context_shape[-1]
        if self.key_dim is None:
            if hidden_dim % self.num_heads:
                raise ValueError(
                    "With `key_dim=None` the hidden size must be divisible by "
                    f"`num_heads`. Received: hidden size={hidden_dim}, "
                    f"num_heads={self.num_heads}"
                )
            self._key_dim = hidden_dim // self.num_heads
        else:
            self._key_dim = self.key_dim
        self._value_dim = self.value_dim or self._key_dim
        self._kv_heads = self.num_key_value_heads or self.num_heads
        self._hidden_dim = hidden_dim
        heads, kv_heads = self.num_heads, self._kv_heads
        self.query_kernel, self.query_bias = self._projection(
            "query", hidden_dim, heads * self._key_dim
        )
        self.key_kernel, self.key_bias = self._projection(
            "key", context_dim, kv_heads * self._key_dim
        )
        self.value_kernel, self.value_bias = self._projection(
            "value", context_dim, kv_heads * self._value_dim
        )
        self.output_kernel, self.output_bias = self._projection(
            "output", heads * self._value_dim, hidden_dim
        )
        if self._rotary is not None and self._key_dim % 2:
            raise ValueError(
                "`use_rotary_embedding=True` needs an even `key_dim`. "
                f"Received: key_dim={self._key_dim}"
            )

    def _projection(self, name, input_dim, output_dim):
        kernel = self.add_weight(
            name=f"{name}_kernel",
            shape=(input_dim, output_dim),
            initializer=clone_initializer(self.kernel_initializer),
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(
                name=f"{name}_bias",
                shape=(output_dim,),
                initializer=clone_initializer(self.bias_initializer),
            )
        return kernel, bias

    # === Helpers ===

    @staticmethod
    def _dense(inputs, kernel, bias):
        # (batch, length, in) -> (batch, length, out) as one rank-2 matrix
        # product: cheaper than a broadcast batched matmul, and lets the
        # backend fuse the bias add.
        length = ops.shape(inputs)[1]
        outputs = ops.matmul(ops.reshape(inputs, (-1, inputs.shape[-1])), kernel)
        if bias is not None:
            outputs = outputs + bias
        return ops.reshape(outputs, (-1, length, outputs.shape[-1]))

    @staticmethod
    def _split_heads(x, heads, head_dim):
        # (batch, length, heads * head_dim) -> (batch, length, heads, head_dim)
        return ops.reshape(x, (-1, ops.shape(x)[1], heads, head_dim))

    @staticmethod
    def _heads_first(x):
        # (batch, length, heads, head_dim) -> (batch, heads, length, head_dim)
        return ops.transpose(x, (0, 2, 1, 3))

    def _project_query_key_value(self, inputs):
        """One fused matrix product for the three self-attention projections."""
        kernel = ops.concatenate(
            [self.query_kernel, self.key_kernel, self.value_kernel], axis=-1
        )
        bias = None
        if self.use_bias:
            bias = ops.concatenate([self.query_bias, self.key_bias, self.value_bias])
        projected = self._dense(inputs, kernel, bias)
        query_width = self.num_heads * self._key_dim
        key_width = self._kv_heads * self._key_dim
        # `split` (not slicing): its gradient is one concatenation, where
        # slices would each pad a full-width zero tensor.
        query, key, value = ops.split(
            projected, [query_width, query_width + key_width], axis=-1
        )
        return (
            self._split_heads(query, self.num_heads, self._key_dim),
            self._split_heads(key, self._kv_heads, self._key_dim),
            self._split_heads(value, self._kv_heads, self._value_dim),
        )

    def project_key_value(self, context):
        """Keys and values of `context` as a read-only cross-attention cache.

        Computing them once per input (rather than once per decoding step) is
        what makes cached encoder-decoder generation cheap.

        Args:
            context: `(batch, context_length, context_dim)`.

        Returns:
            `(batch, 2, num_key_value_heads, context_length, key_dim)`.
        """
        self._check_cacheable()
        key = self._split_heads(
            self._dense(context, self.key_kernel, self.key_bias),
            self._kv_heads,
            self._key_dim,
        )
        value = self._split_heads(
            self._dense(context, self.value_kernel, self.value_bias),
            self._kv_heads,
            self._value_dim,
        )
        return ops.stack([self._heads_first(key), self._heads_first(value)], axis=1)

    def initial_cache(self, batch_size: int, cache_length: int):
        """An empty self-attention cache of fixed size.

        Returns:
            Zeros of shape `(batch_size, 2, num_key_value_heads, cache_length,
            key_dim)` in the layer's compute dtype.
        """
        self._check_cacheable()
        return ops.zeros(
            (batch_size, 2, self._kv_heads, cache_length, self._key_dim),
            dtype=self.compute_dtype,
        )

    def _check_cacheable(self):
        if not self.built:
            raise ValueError(
                "The layer must be built (called once) before creating a cache."
            )
        if self._key_dim != self._value_dim:
            raise ValueError(
                "A key/value cache needs `key_dim == value_dim`. Received: "
                f"key_dim={self._key_dim}, value_dim={self._value_dim}"
            )

    def _check_cache(self, cache):
        expected = (None, 2, self._kv_heads, None, self._key_dim)
        shape = tuple(cache.shape)
        if len(shape) != 5 or any(
            want is not None and got is not None and got != want
            for got, want in zip(shape, expected)
        ):
            raise ValueError(
                "`cache` must have shape (batch, 2, num_key_value_heads="
                f"{self._kv_heads}, cache_length, key_dim={self._key_dim}). "
                f"Received: cache.shape={shape}"
            )

    # === Forward pass ===

    def call(
        self,
        query,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_index=None,
        return_attention_scores=False,
        training=None,
    ):
        _validation.tensor_rank("query", query, 3, "(batch, length, hidden_dim)")
        if padding_mask is None:
            padding_mask = _keras_mask(query)
        cross_attention = context is not None or (
            cache is not None and cache_index is None
        )
        if cache is not None:
            self._check_cache(cache)
        query_length = query.shape[1] or ops.shape(query)[1]
        offset = 0
        key_valid_length = None

        if cross_attention:
            queries = self._split_heads(
                self._dense(query, self.query_kernel, self.query_bias),
                self.num_heads,
                self._key_dim,
            )
            if cache is not None:
                key_value = cache
            else:
                _validation.tensor_rank(
                    "context", context, 3, "(batch, length, context_dim)"
                )
                key_value = self.project_key_value(context)
            keys, values = key_value[:, 0], key_value[:, 1]
            if context is not None and context_padding_mask is None:
                context_padding_mask = _keras_mask(context)
            key_padding_mask = context_padding_mask
            queries = self._heads_first(queries)
        else:
            queries, keys, values = self._project_query_key_value(query)
            if cache_index is not None:
                offset = cache_index
            if self._rotary is not None:
                queries = self._rotary(queries, start_index=offset)
                keys = self._rotary(keys, start_index=offset)
            queries = self._heads_first(queries)
            keys, values = self._heads_first(keys), self._heads_first(values)
            key_padding_mask = padding_mask
            if cache is not None:
                if cache_index is None:
                    raise ValueError("A self-attention `cache` needs `cache_index`.")
                # Write the new keys/values at `cache_index`; attend over the
                # filled part of the fixed-size cache.
                start = [0, 0, 0, cache_index, 0]
                cache = ops.slice_update(
                    cache, start, ops.stack([keys, values], axis=1)
                )
                keys, values = cache[:, 0], cache[:, 1]
                key_padding_mask = None
                key_valid_length = ops.cast(cache_index, "int32") + query_length

        key_length = keys.shape[2] or ops.shape(keys)[2]
        mask = compute_attention_mask(
            query_length,
            key_length,
            batch_size=query.shape[0],
            padding_mask=padding_mask,
            key_padding_mask=key_padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            attention_window=self.attention_window,
            offset=offset,
            key_valid_length=key_valid_length,
        )
        # (batch, heads, query_length, value_dim), (batch, heads, query_length, key_length)
        attended, scores = scaled_dot_product_attention(
            queries,
            keys,
            values,
            attention_mask=mask,
            dropout=self._dropout_layer if self.dropout > 0 else None,
            training=training,
            # Scores on request need the full matrix that chunking avoids.
            query_chunk_size=None if return_attention_scores else self.query_chunk_size,
        )
        # (batch, query_length, heads * value_dim)
        attended = ops.reshape(
            ops.transpose(attended, (0, 2, 1, 3)),
            (-1, ops.shape(attended)[2], self.num_heads * self._value_dim),
        )
        outputs = self._dense(attended, self.output_kernel, self.output_bias)

        results = (outputs,)
        if cache is not None:
            results += (cache,)
        if return_attention_scores:
            results += (scores,)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "attention_window": self.attention_window,
                "num_key_value_heads": self.num_key_value_heads,
                "use_rotary_embedding": self.use_rotary_embedding,
                "rotary_max_wavelength": self.rotary_max_wavelength,
                "query_chunk_size": self.query_chunk_size,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "seed": self.seed,
            }
        )
        return config
