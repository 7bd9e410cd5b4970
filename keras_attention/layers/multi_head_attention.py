"""Multi-head attention (self or cross) on the shared attention core, with an
explicit cached-decoding path."""

from __future__ import annotations

import inspect

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers._initializers import clone_initializer
from keras_attention.layers.masks import compute_attention_mask, keras_mask
from keras_attention.layers.rotary_embedding import RotaryEmbedding
from keras_attention.layers.scaled_dot_product_attention import (
    scaled_dot_product_attention,
)

__all__ = ["MultiHeadAttention"]


@keras.saving.register_keras_serializable(package="keras_attention")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention: self-attention, or cross-attention to a `context`.

    Each query token is projected to a query per head, and each key token (the
    query sequence itself, or `context`) to a key and a value. A head's scores
    are the dot products of its queries with its keys, scaled by
    `1 / sqrt(key_dim)` and softmaxed over the keys; its output is the
    weighted sum of its values. Heads are concatenated and projected back to
    the query width. Because heads have their own projections, they can look
    at different things: one head may attend locally, another globally.

    What the layer does is said by the method called, never guessed from the
    arguments:

    | entry point | attention | returns |
    |---|---|---|
    | `layer(query)` | self-attention | `outputs` |
    | `layer(query, context)` | cross-attention | `outputs` |
    | `layer.call_cached(query, cache, cache_index)` | self-attention over a fixed-size key/value cache (decoding) | `(outputs, cache)` |
    | `layer.call_with_key_value(query, key_value)` | cross-attention to keys/values from `project_key_value(context)` | `outputs` |

    Every entry point appends the attention weights when called with
    `return_attention_scores=True`, as `keras.layers.MultiHeadAttention` does.

    For self-attention the query, key and value projections run as a single
    fused matrix product. Masks of every kind are combined by
    `keras_attention.layers.compute_attention_mask`, and the maths is
    `keras_attention.layers.scaled_dot_product_attention` (softmax in float32,
    fully masked rows give zeros). With the same weights the outputs equal
    `keras.layers.MultiHeadAttention`'s (tested).

    Args:
        num_heads: int, number of query heads.
        key_dim: int or None, default None. Size of each query/key head;
            None means `hidden_dim // num_heads` (which must divide).
        value_dim: int or None, default None. Size of each value head;
            None means `key_dim`.
        dropout: float in [0, 1), default 0.0. Dropout on the attention weights.
        use_bias: bool, default True. Biases on the four projections.
        attention_window: int >= 1 or None, default None. Local attention:
            each query sees only keys within this distance (weights outside
            the window are exactly zero). None is global attention.
        num_key_value_heads: int or None, default None. Number of key/value
            heads for grouped-query attention (1 is multi-query attention);
            must divide `num_heads`. None means `num_heads`.
        use_rotary_embedding: bool, default False. Rotate queries and keys
            with RoPE in self-attention (positions start at `cache_index` in
            `call_cached`).
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
        context: optional `(batch, context_length, context_dim)`. None (the
            default) is self-attention: keys and values come from `query`.
            Given, it is cross-attention (encoder-decoder attention): keys and
            values come from `context`. The layer's key/value projections are
            built for the `context_dim` of the first call.
        padding_mask: optional `(batch, query_length)`, nonzero for real
            tokens (defaults to the implicit Keras mask of `query`). Padded
            query rows output zeros; in self-attention the same mask also
            hides padded keys.
        context_padding_mask: optional `(batch, context_length)`, nonzero for
            real `context` tokens (defaults to the implicit Keras mask of
            `context`).
        attention_mask: optional `(batch, query_length, key_length)` boolean
            mask; `True` allows attention.
        use_causal_mask: bool, default False. Queries see only earlier keys.
        return_attention_scores: bool, default False. Also return the
            attention weights `(batch, num_heads, query_length, key_length)`.
        training: bool, enables dropout.

    Returns:
        `outputs` of shape `(batch, query_length, hidden_dim)`, or
        `(outputs, attention_scores)` with `return_attention_scores=True`.

    Example:

    >>> import numpy as np
    >>> layer = MultiHeadAttention(num_heads=4)
    >>> x = np.random.rand(2, 10, 32).astype("float32")
    >>> outputs, scores = layer(x, use_causal_mask=True, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(scores.shape)
    ((2, 10, 32), (2, 4, 10, 10))

    Cross-attention to a context of another length and width:

    >>> cross = MultiHeadAttention(num_heads=4)
    >>> context = np.random.rand(2, 7, 24).astype("float32")
    >>> tuple(cross(x, context).shape)
    (2, 10, 32)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.2.2.
        Beltagy et al., "Longformer", 2020 (local windowed attention).
        Ainslie et al., "GQA", 2023 (grouped key/value heads).
        Su et al., "RoFormer", 2021 (rotary position embedding).
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
        self.attention_window = _validation.positive_int(
            "attention_window", attention_window, allow_none=True
        )
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
        # The order of these weights is the saved format (and that of
        # `get_weights`): query, key, value, output; kernel then bias.
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

    def _dense(self, inputs, kernel, bias):
        # (batch, length, in) -> (batch, length, out) as one rank-2 matrix
        # product: cheaper than a broadcast batched matmul, and lets the
        # backend fuse the bias add. The casts matter only where Keras does
        # not autocast the variables: `call_cached`, `call_with_key_value` and
        # `project_key_value` called directly under a mixed dtype policy.
        length = ops.shape(inputs)[1]
        kernel = ops.cast(kernel, self.compute_dtype)
        outputs = ops.matmul(ops.reshape(inputs, (-1, inputs.shape[-1])), kernel)
        if bias is not None:
            outputs = outputs + ops.cast(bias, self.compute_dtype)
        return ops.reshape(outputs, (-1, length, outputs.shape[-1]))

    def _compute_input(self, name, tensor, meaning):
        # What `Layer.__call__` does for `call`, for the other entry points.
        _validation.tensor_rank(name, tensor, 3, meaning)
        return ops.cast(tensor, self.compute_dtype)

    @staticmethod
    def _split_heads(x, heads, head_dim):
        # (batch, length, heads * head_dim) -> (batch, length, heads, head_dim)
        return ops.reshape(x, (-1, ops.shape(x)[1], heads, head_dim))

    @staticmethod
    def _heads_first(x):
        # (batch, length, heads, head_dim) -> (batch, heads, length, head_dim)
        return ops.transpose(x, (0, 2, 1, 3))

    def _project_query_key_value(self, inputs, position_offset):
        """Self-attention heads `(batch, heads, length, head_dim)`, in one product."""
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
        query = self._split_heads(query, self.num_heads, self._key_dim)
        key = self._split_heads(key, self._kv_heads, self._key_dim)
        value = self._split_heads(value, self._kv_heads, self._value_dim)
        if self._rotary is not None:
            query = self._rotary(query, start_index=position_offset)
            key = self._rotary(key, start_index=position_offset)
        return self._heads_first(query), self._heads_first(key), self._heads_first(value)

    def _project_query(self, query):
        # (batch, heads, query_length, key_dim)
        return self._heads_first(
            self._split_heads(
                self._dense(query, self.query_kernel, self.query_bias),
                self.num_heads,
                self._key_dim,
            )
        )

    def _check_built(self, method):
        if not self.built:
            raise ValueError(
                f"`{method}` needs a built layer: call the layer once (or "
                "`build` it) first."
            )

    def _check_cacheable(self, method):
        self._check_built(method)
        if self._key_dim != self._value_dim:
            raise ValueError(
                "A key/value cache needs `key_dim == value_dim`. Received: "
                f"key_dim={self._key_dim}, value_dim={self._value_dim}"
            )

    def _check_cache(self, name, cache):
        expected = (None, 2, self._kv_heads, None, self._key_dim)
        shape = tuple(cache.shape)
        if len(shape) != 5 or any(
            want is not None and got is not None and got != want
            for got, want in zip(shape, expected)
        ):
            raise ValueError(
                f"`{name}` must have shape (batch, 2, num_key_value_heads="
                f"{self._kv_heads}, length, key_dim={self._key_dim}). "
                f"Received: {name}.shape={shape}"
            )

    # === Caches ===

    def initial_cache(self, batch_size: int, cache_length: int):
        """An empty self-attention cache of fixed size, for `call_cached`.

        Args:
            batch_size: int, number of sequences decoded together.
            cache_length: int, the most tokens a sequence can reach.

        Returns:
            Zeros of shape `(batch_size, 2, num_key_value_heads, cache_length,
            key_dim)` in the layer's compute dtype (keys at index 0 of axis 1,
            values at index 1).
        """
        self._check_cacheable("initial_cache")
        return ops.zeros(
            (batch_size, 2, self._kv_heads, cache_length, self._key_dim),
            dtype=self.compute_dtype,
        )

    def project_key_value(self, context):
        """Keys and values of `context`, for `call_with_key_value`.

        Computing them once per input (rather than once per decoding step) is
        what makes cached encoder-decoder generation cheap.

        Args:
            context: `(batch, context_length, context_dim)`.

        Returns:
            `(batch, 2, num_key_value_heads, context_length, key_dim)`.
        """
        self._check_cacheable("project_key_value")
        context = self._compute_input(
            "context", context, "(batch, length, context_dim)"
        )
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

    # === Forward pass ===

    def call(
        self,
        query,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        _validation.tensor_rank("query", query, 3, "(batch, length, hidden_dim)")
        if padding_mask is None:
            padding_mask = keras_mask(query)
        if context is None:
            queries, keys, values = self._project_query_key_value(query, 0)
            key_padding_mask = padding_mask
        else:
            _validation.tensor_rank(
                "context", context, 3, "(batch, length, context_dim)"
            )
            if context_padding_mask is None:
                context_padding_mask = keras_mask(context)
            queries = self._project_query(query)
            key_value = self.project_key_value(context)
            keys, values = key_value[:, 0], key_value[:, 1]
            key_padding_mask = context_padding_mask
        return self._attend(
            query,
            queries,
            keys,
            values,
            padding_mask=padding_mask,
            key_padding_mask=key_padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )

    def call_cached(
        self,
        query,
        cache,
        cache_index,
        padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        """Self-attention for decoding: attend over a fixed-size key/value cache.

        The keys and values of `query` are written into `cache` at
        `cache_index`, and the queries attend over the filled part of the
        cache (positions `< cache_index + query_length`). A prompt can be
        written in one call (prefill) and then one token per call; the shapes
        never change, so a compiled decoding step is traced once. Outputs
        equal those of `layer(whole_sequence, use_causal_mask=True)` at the
        same positions (tested).

        Args:
            query: `(batch, query_length, hidden_dim)`, the new tokens.
            cache: `(batch, 2, num_key_value_heads, cache_length, key_dim)`,
                from `initial_cache` or a previous `call_cached`.
            cache_index: int or scalar int tensor, the position of the first
                query in the sequence (and in the cache); RoPE positions and
                the causal and window masks count from it.
            padding_mask: optional `(batch, query_length)`, nonzero for real
                query tokens; padded rows output zeros.
            attention_mask: optional `(batch, query_length, cache_length)`
                boolean mask; `True` allows attention (e.g. to hide the cached
                positions of a left-padded prompt).
            use_causal_mask: bool, default False. Queries see only earlier
                positions; set it when writing several tokens at once.
            return_attention_scores: bool, default False. Also return the
                weights `(batch, num_heads, query_length, cache_length)`.
            training: bool, enables dropout.

        Returns:
            `(outputs, cache)`: outputs `(batch, query_length, hidden_dim)`
            and the updated cache; `(outputs, cache, attention_scores)` with
            `return_attention_scores=True`.

        Example:

        >>> import numpy as np
        >>> layer = MultiHeadAttention(num_heads=2)
        >>> x = np.random.rand(1, 4, 8).astype("float32")
        >>> full = layer(x, use_causal_mask=True)
        >>> cache = layer.initial_cache(batch_size=1, cache_length=6)
        >>> prefill, cache = layer.call_cached(x[:, :3], cache, 0, use_causal_mask=True)
        >>> step, cache = layer.call_cached(x[:, 3:], cache, 3)
        >>> tuple(step.shape), tuple(cache.shape)
        ((1, 1, 8), (1, 2, 2, 6, 4))
        >>> bool(np.allclose(step, full[:, 3:], atol=1e-5))
        True
        """
        self._check_cacheable("call_cached")
        if padding_mask is None:
            padding_mask = keras_mask(query)
        query = self._compute_input("query", query, "(batch, length, hidden_dim)")
        self._check_cache("cache", cache)
        query_length = query.shape[1] or ops.shape(query)[1]
        queries, keys, values = self._project_query_key_value(query, cache_index)
        # Write the new keys/values at `cache_index`; attend over the filled
        # part of the fixed-size cache.
        # (batch, 2, kv_heads, cache_length, key_dim)
        cache = ops.slice_update(
            ops.cast(cache, self.compute_dtype),
            [0, 0, 0, cache_index, 0],
            ops.stack([keys, values], axis=1),
        )
        results = self._attend(
            query,
            queries,
            cache[:, 0],
            cache[:, 1],
            padding_mask=padding_mask,
            key_padding_mask=None,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            offset=cache_index,
            key_valid_length=ops.cast(cache_index, "int32") + query_length,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            outputs, scores = results
            return outputs, cache, scores
        return results, cache

    def call_with_key_value(
        self,
        query,
        key_value,
        padding_mask=None,
        context_padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        """Cross-attention to keys and values projected beforehand.

        `layer.call_with_key_value(query, layer.project_key_value(context))`
        equals `layer(query, context)`; the projection of `context` is done
        once instead of at every decoding step.

        Args:
            query: `(batch, query_length, hidden_dim)`.
            key_value: `(batch, 2, num_key_value_heads, context_length,
                key_dim)` from `project_key_value(context)`; read only.
            padding_mask: optional `(batch, query_length)`, nonzero for real
                query tokens; padded rows output zeros.
            context_padding_mask: optional `(batch, context_length)`, nonzero
                for real context tokens.
            attention_mask: optional `(batch, query_length, context_length)`
                boolean mask; `True` allows attention.
            use_causal_mask: bool, default False.
            return_attention_scores: bool, default False. Also return the
                weights `(batch, num_heads, query_length, context_length)`.
            training: bool, enables dropout.

        Returns:
            `outputs` of shape `(batch, query_length, hidden_dim)`, or
            `(outputs, attention_scores)` with `return_attention_scores=True`.

        Example:

        >>> import numpy as np
        >>> layer = MultiHeadAttention(num_heads=2)
        >>> x = np.random.rand(1, 3, 8).astype("float32")
        >>> context = np.random.rand(1, 5, 8).astype("float32")
        >>> expected = layer(x, context)
        >>> key_value = layer.project_key_value(context)
        >>> tuple(key_value.shape)
        (1, 2, 2, 5, 4)
        >>> outputs = layer.call_with_key_value(x, key_value)
        >>> bool(np.allclose(outputs, expected, atol=1e-6))
        True
        """
        self._check_built("call_with_key_value")
        if padding_mask is None:
            padding_mask = keras_mask(query)
        query = self._compute_input("query", query, "(batch, length, hidden_dim)")
        self._check_cache("key_value", key_value)
        key_value = ops.cast(key_value, self.compute_dtype)
        return self._attend(
            query,
            self._project_query(query),
            key_value[:, 0],
            key_value[:, 1],
            padding_mask=padding_mask,
            key_padding_mask=context_padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )

    def _attend(
        self,
        query,
        queries,
        keys,
        values,
        padding_mask,
        key_padding_mask,
        attention_mask,
        use_causal_mask,
        return_attention_scores,
        training,
        offset=0,
        key_valid_length=None,
    ):
        """Masks, the attention core and the output projection, for every entry point."""
        query_length = query.shape[1] or ops.shape(query)[1]
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
        return (outputs, scores) if return_attention_scores else outputs

    # === Shapes ===

    def compute_output_shape(self, query_shape, context_shape=None):
        """`(batch, query_length, hidden_dim)`: the outputs have the query's shape."""
        if len(query_shape) != 3:
            raise ValueError(
                "`query` must be a rank-3 tensor (batch, length, hidden_dim). "
                f"Received: query.shape={tuple(query_shape)}"
            )
        if context_shape is not None and len(context_shape) != 3:
            raise ValueError(
                "`context` must be a rank-3 tensor (batch, length, context_dim). "
                f"Received: context.shape={tuple(context_shape)}"
            )
        return tuple(query_shape)

    def compute_output_spec(self, *args, **kwargs):
        # Shapes only: a functional model needs no trace of `call`.
        arguments = inspect.signature(self.call).bind(*args, **kwargs).arguments
        query, context = arguments["query"], arguments.get("context")
        return_attention_scores = arguments.get("return_attention_scores", False)
        outputs = keras.KerasTensor(
            self.compute_output_shape(
                query.shape, None if context is None else context.shape
            ),
            dtype=self.compute_dtype,
        )
        if not return_attention_scores:
            return outputs
        key_length = (query if context is None else context).shape[1]
        scores_shape = (query.shape[0], self.num_heads, query.shape[1], key_length)
        return outputs, keras.KerasTensor(scores_shape, dtype=self.compute_dtype)

    # === Config ===

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
