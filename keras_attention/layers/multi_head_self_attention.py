"""Deprecated: `MultiHeadSelfAttention`, the former name of `MultiHeadAttention`.

Kept so that `.keras` files saved under the old registered name
(`keras_attention>MultiHeadSelfAttention`) still load, and old code still
runs. New code uses `keras_attention.layers.MultiHeadAttention`.
"""

from __future__ import annotations

import inspect
import warnings

import keras

from keras_attention.layers.multi_head_attention import MultiHeadAttention

__all__ = ["MultiHeadSelfAttention"]


@keras.saving.register_keras_serializable(package="keras_attention")
class MultiHeadSelfAttention(MultiHeadAttention):
    """Deprecated alias of `MultiHeadAttention` with the old calling convention.

    Constructing it emits a `DeprecationWarning`. Its arguments, weights and
    config are those of `MultiHeadAttention`; its `call` keeps the old
    signature, in which the mode followed from the arguments passed:

    | old call | new call |
    |---|---|
    | `layer(query)`, `layer(query, context)` | the same |
    | `layer(query, cache=cache, cache_index=i)` | `layer.call_cached(query, cache, i)` |
    | `layer(query, cache=key_value)` (no `cache_index`) | `layer.call_with_key_value(query, key_value)`, which returns no cache |

    Example:

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     layer = MultiHeadSelfAttention(num_heads=2)
    >>> caught[0].category.__name__
    'DeprecationWarning'
    """

    def __init__(self, *args, **kwargs):
        warnings.warn(
            "`MultiHeadSelfAttention` is deprecated: use "
            "`keras_attention.layers.MultiHeadAttention` (`layer(query)` or "
            "`layer(query, context)`; `call_cached` for cached decoding; "
            "`call_with_key_value` for precomputed cross-attention keys/values).",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(*args, **kwargs)

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
        options = dict(
            padding_mask=padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if cache is None:
            if cache_index is not None:
                raise ValueError(
                    "`cache_index` needs a `cache` (from `initial_cache`)."
                )
            return super().call(
                query, context, context_padding_mask=context_padding_mask, **options
            )
        if cache_index is not None:
            return self.call_cached(query, cache, cache_index, **options)
        results = self.call_with_key_value(
            query, cache, context_padding_mask=context_padding_mask, **options
        )
        # The old convention returned the read-only cache as well.
        if return_attention_scores:
            return results[0], cache, results[1]
        return results, cache

    def compute_output_spec(self, *args, **kwargs):
        arguments = inspect.signature(self.call).bind(*args, **kwargs).arguments
        cache = arguments.get("cache")
        if cache is None:
            return super().compute_output_spec(*args, **kwargs)
        # The old convention: `(outputs, cache[, scores])`, scores over the cache.
        query = arguments["query"]
        outputs = keras.KerasTensor(tuple(query.shape), dtype=self.compute_dtype)
        cache = keras.KerasTensor(tuple(cache.shape), dtype=self.compute_dtype)
        if not arguments.get("return_attention_scores", False):
            return outputs, cache
        scores_shape = (query.shape[0], self.num_heads, query.shape[1], cache.shape[3])
        return outputs, cache, keras.KerasTensor(scores_shape, dtype=self.compute_dtype)
