"""Transformer encoder block: self-attention and feed-forward, each residual and normalised."""

from __future__ import annotations

import keras

from keras_attention.layers._transformer_block import TransformerBlock
from keras_attention.layers.masks import keras_mask

__all__ = ["TransformerEncoderBlock"]


@keras.saving.register_keras_serializable(package="keras_attention")
class TransformerEncoderBlock(TransformerBlock):
    """One encoder layer of the transformer.

    Multi-head self-attention over the whole (unmasked) sequence, then a
    position-wise feed-forward network; each sub-layer has residual dropout, a
    residual connection and layer normalisation, after the sum (post-LN, the
    paper) or before the sub-layer (pre-LN, `normalize_first=True`, which
    trains deep stacks without warmup tricks).

    Args:
        num_heads: int, attention heads.
        intermediate_dim: int, feed-forward hidden width.
        key_dim: int or None, default None (`hidden_dim // num_heads`).
        num_key_value_heads: int or None, default None (grouped-query attention).
        dropout: float in [0, 1), default 0.0, residual dropout.
        attention_dropout: float in [0, 1), default 0.0, on attention weights.
        activation_dropout: float in [0, 1), default 0.0, inside the feed-forward.
        activation: `"relu"` (default), `"gelu"`, `"gelu_approximate"`
            (tanh GELU, GPT-2) or `"swiglu"`.
        normalize_first: bool, default False (post-LN as in the paper).
        norm: `"layer"` (default) or `"rms"`.
        norm_epsilon: float, default 1e-5.
        attention_window: int or None, default None. Local attention window.
        use_rotary_embedding: bool, default False. RoPE inside self-attention.
        query_chunk_size: int or None, default None. Evaluate attention this
            many queries at a time (less memory for long inputs, same outputs).
        kernel_initializer: default `"glorot_uniform"`.
        seed: int or None, seed for the dropout layers.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, length, hidden_dim)`.
        padding_mask: optional `(batch, length)`, nonzero for real tokens
            (defaults to the implicit Keras mask of `inputs`).
        attention_mask: optional `(batch, length, length)` boolean mask.
        return_attention_scores: bool, default False.
        training: bool, enables dropout.

    Returns:
        `(batch, length, hidden_dim)`, or `(outputs, attention_scores)` with
        scores of shape `(batch, num_heads, length, length)`.

    Example:

    >>> import numpy as np
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> tuple(block(np.zeros((2, 7, 16), "float32")).shape)
    (2, 7, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.1.
        Ba et al., "Layer Normalization", 2016.
        Xiong et al., "On Layer Normalization in the Transformer
        Architecture", 2020 (pre-LN).
    """

    def build(self, inputs_shape):
        self._check_inputs_shape("inputs", inputs_shape)
        self.self_attention = self._make_attention("self_attention", inputs_shape)
        self.self_attention_norm = self._make_norm("self_attention_norm", inputs_shape)
        self.self_attention_dropout = self._make_dropout("self_attention_dropout")
        self.feed_forward = self._make_feed_forward(inputs_shape)
        self.feed_forward_norm = self._make_norm("feed_forward_norm", inputs_shape)
        self.feed_forward_dropout = self._make_dropout("feed_forward_dropout")

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        if padding_mask is None:
            padding_mask = keras_mask(inputs)
        attended = self.self_attention(
            self._before(self.self_attention_norm, inputs),
            padding_mask=padding_mask,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            attended, scores = attended
        x = self._after(
            self.self_attention_norm,
            self.self_attention_dropout,
            attended,
            inputs,
            training,
        )
        outputs = self._after(
            self.feed_forward_norm,
            self.feed_forward_dropout,
            self.feed_forward(
                self._before(self.feed_forward_norm, x), training=training
            ),
            x,
            training,
        )
        return (outputs, scores) if return_attention_scores else outputs
