"""Transformer decoder block: causal self-attention, optional cross-attention, feed-forward."""

from __future__ import annotations

import keras

from keras_attention.layers._transformer_block import TransformerBlock
from keras_attention.layers.masks import keras_mask

__all__ = ["TransformerDecoderBlock"]


@keras.saving.register_keras_serializable(package="keras_attention")
class TransformerDecoderBlock(TransformerBlock):
    """One decoder layer of the transformer, with a key/value cache for generation.

    Masked (causal) self-attention, then, when the block is built with an
    encoder sequence, encoder-decoder cross-attention, then the feed-forward
    network; each sub-layer is wrapped in residual dropout, a residual
    connection and layer normalisation (post-LN by default, pre-LN with
    `normalize_first=True`). Without an encoder sequence it is a GPT-style
    decoder block.

    The constructor arguments are those of `TransformerEncoderBlock`
    (`num_heads`, `intermediate_dim`, `key_dim`, `num_key_value_heads`,
    `dropout`, `attention_dropout`, `activation_dropout`, `activation`,
    `normalize_first`, `norm`, `norm_epsilon`, `attention_window`,
    `use_rotary_embedding`, `query_chunk_size`, `kernel_initializer`, `seed`).

    Call arguments:
        decoder_sequence: `(batch, length, hidden_dim)`.
        encoder_sequence: optional `(batch, encoder_length, encoder_dim)`.
            Giving it at the first call builds the cross-attention.
        decoder_padding_mask: optional `(batch, length)`, nonzero for real
            tokens (defaults to the implicit Keras mask).
        decoder_attention_mask: optional `(batch, length, key_length)`.
        encoder_padding_mask: optional `(batch, encoder_length)`.
        use_causal_mask: bool, default True.
        self_attention_cache: optional `(batch, 2, kv_heads, max_length,
            key_dim)` cache (see `MultiHeadAttention.initial_cache`); the
            self-attention then runs `MultiHeadAttention.call_cached`.
        self_attention_cache_index: int or scalar tensor, position of the first
            token of `decoder_sequence` in the cache; given exactly when
            `self_attention_cache` is.
        cross_attention_cache: optional precomputed encoder keys/values
            (`self.cross_attention.project_key_value(encoder_sequence)`); used
            instead of `encoder_sequence` (by
            `MultiHeadAttention.call_with_key_value`).
        return_attention_scores: bool, default False.
        training: bool, enables dropout.

    Returns:
        `outputs`; with `self_attention_cache`, `(outputs, self_attention_cache)`;
        with `return_attention_scores`, a dict `{"self_attention": ...,
        "cross_attention": ...}` of `(batch, heads, query_length, key_length)`
        weights is appended.

    Example:

    >>> import numpy as np
    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> decoder, encoder = np.zeros((2, 5, 16), "float32"), np.zeros((2, 9, 16), "float32")
    >>> tuple(block(decoder, encoder).shape)
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.1-3.2.3.
    """

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        self._check_inputs_shape("decoder_sequence", decoder_sequence_shape)
        shape = decoder_sequence_shape
        self.self_attention = self._make_attention("self_attention", shape)
        self.self_attention_norm = self._make_norm("self_attention_norm", shape)
        self.self_attention_dropout = self._make_dropout("self_attention_dropout")
        self.cross_attention = None
        if encoder_sequence_shape is not None:
            self._check_inputs_shape("encoder_sequence", encoder_sequence_shape)
            self.cross_attention = self._make_attention(
                "cross_attention", shape, encoder_sequence_shape, self_attention=False
            )
            self.cross_attention_norm = self._make_norm("cross_attention_norm", shape)
            self.cross_attention_dropout = self._make_dropout("cross_attention_dropout")
        self.feed_forward = self._make_feed_forward(shape)
        self.feed_forward_norm = self._make_norm("feed_forward_norm", shape)
        self.feed_forward_dropout = self._make_dropout("feed_forward_dropout")

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        use_causal_mask=True,
        self_attention_cache=None,
        self_attention_cache_index=None,
        cross_attention_cache=None,
        return_attention_scores=False,
        training=None,
    ):
        uses_encoder = encoder_sequence is not None or cross_attention_cache is not None
        if uses_encoder and self.cross_attention is None:
            raise ValueError(
                "This decoder block was built without cross-attention (no "
                "`encoder_sequence` at its first call), so it cannot take "
                "`encoder_sequence` or `cross_attention_cache` now."
            )
        if not uses_encoder and self.cross_attention is not None:
            raise ValueError(
                "This decoder block has cross-attention: pass `encoder_sequence` "
                "or `cross_attention_cache`."
            )
        if (self_attention_cache is None) != (self_attention_cache_index is None):
            raise ValueError(
                "`self_attention_cache` and `self_attention_cache_index` go "
                "together: pass both (cached decoding) or neither. Received: "
                f"self_attention_cache is None: {self_attention_cache is None}, "
                f"self_attention_cache_index={self_attention_cache_index!r}"
            )
        if decoder_padding_mask is None:
            decoder_padding_mask = keras_mask(decoder_sequence)
        if encoder_sequence is not None and encoder_padding_mask is None:
            encoder_padding_mask = keras_mask(encoder_sequence)
        options = dict(return_attention_scores=return_attention_scores, training=training)
        scores = {}

        # Causal self-attention; over the fixed-size cache when decoding.
        x = decoder_sequence
        normed = self._before(self.self_attention_norm, x)
        self_options = dict(
            padding_mask=decoder_padding_mask,
            attention_mask=decoder_attention_mask,
            use_causal_mask=use_causal_mask,
            **options,
        )
        if self_attention_cache is None:
            attended = self.self_attention(normed, **self_options)
            if return_attention_scores:
                attended, scores["self_attention"] = attended
        else:
            results = self.self_attention.call_cached(
                normed, self_attention_cache, self_attention_cache_index, **self_options
            )
            if return_attention_scores:
                attended, self_attention_cache, scores["self_attention"] = results
            else:
                attended, self_attention_cache = results
        x = self._after(
            self.self_attention_norm, self.self_attention_dropout, attended, x, training
        )

        # Cross-attention to the encoder sequence, or to its keys and values
        # projected once before decoding.
        if uses_encoder:
            normed = self._before(self.cross_attention_norm, x)
            cross_options = dict(
                padding_mask=decoder_padding_mask,
                context_padding_mask=encoder_padding_mask,
                **options,
            )
            if cross_attention_cache is None:
                attended = self.cross_attention(normed, encoder_sequence, **cross_options)
            else:
                attended = self.cross_attention.call_with_key_value(
                    normed, cross_attention_cache, **cross_options
                )
            if return_attention_scores:
                attended, scores["cross_attention"] = attended
            x = self._after(
                self.cross_attention_norm,
                self.cross_attention_dropout,
                attended,
                x,
                training,
            )

        outputs = self._after(
            self.feed_forward_norm,
            self.feed_forward_dropout,
            self.feed_forward(self._before(self.feed_forward_norm, x), training=training),
            x,
            training,
        )
        returned = (outputs,)
        if self_attention_cache is not None:
            returned += (self_attention_cache,)
        if return_attention_scores:
            returned += (scores,)
        return returned[0] if len(returned) == 1 else returned

