"""Reusable transformer layers, written with `keras.ops` only."""

from keras_attention.layers.feed_forward import FeedForward
from keras_attention.layers.masks import (
    causal_mask,
    compute_attention_mask,
    local_window_mask,
)
from keras_attention.layers.multi_head_attention import MultiHeadAttention
from keras_attention.layers.pointer_generator import PointerGenerator

# Deprecated alias, importable (and registered for loading old `.keras` files)
# but not part of `__all__`.
from keras_attention.layers.multi_head_self_attention import MultiHeadSelfAttention  # noqa: F401
from keras_attention.layers.position_embedding import PositionEmbedding
from keras_attention.layers.rotary_embedding import RotaryEmbedding
from keras_attention.layers.scaled_dot_product_attention import (
    scaled_dot_product_attention,
)
from keras_attention.layers.sinusoidal_position_encoding import (
    SinusoidalPositionEncoding,
)
from keras_attention.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)
from keras_attention.layers.transformer_decoder_block import TransformerDecoderBlock
from keras_attention.layers.transformer_encoder_block import TransformerEncoderBlock

__all__ = [
    "FeedForward",
    "MultiHeadAttention",
    "PointerGenerator",
    "PositionEmbedding",
    "RotaryEmbedding",
    "SinusoidalPositionEncoding",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "causal_mask",
    "compute_attention_mask",
    "local_window_mask",
    "scaled_dot_product_attention",
]
