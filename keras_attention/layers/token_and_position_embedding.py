"""Token embedding plus position information, the input stage of every model."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers._initializers import clone_initializer
from keras_attention.layers.position_embedding import PositionEmbedding
from keras_attention.layers.sinusoidal_position_encoding import (
    SinusoidalPositionEncoding,
)

__all__ = ["TokenAndPositionEmbedding"]

POSITIONS = ("sinusoidal", "learned", "rotary", "none")


@keras.saving.register_keras_serializable(package="keras_attention")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds integer token ids and adds their position.

    Token id `pad_token_id` (default 0) is padding: the layer produces an
    implicit Keras mask `token_ids != pad_token_id`, which the attention
    layers honour. With `pad_token_id=None` (a vocabulary without padding,
    such as GPT-2's, whose id 0 is "!") it produces no mask.

    Args:
        vocabulary_size: int, number of token ids.
        sequence_length: int, the longest sequence (used by learned positions).
        embedding_dim: int, output width.
        position: one of `"sinusoidal"` (default, paper §3.5), `"learned"`,
            `"rotary"` or `"none"`. With `"rotary"` nothing is added here:
            the attention layers rotate queries and keys instead
            (`use_rotary_embedding=True`).
        scale_embeddings: bool, default False. Multiply token embeddings by
            `sqrt(embedding_dim)` before adding positions (paper §3.4).
        embeddings_initializer: default `"uniform"` as in `keras.layers.Embedding`;
            also initialises learned position embeddings (from a copy, so the
            two tables start different).
        pad_token_id: int or None, default 0, the id masked as padding;
            None: no mask.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: integer token ids `(batch, length)`; with `reverse=True`,
            hidden states `(batch, length, embedding_dim)`.
        start_index: int or scalar tensor, default 0. Position of the first
            token (the cache index in cached decoding).
        reverse: bool, default False. Project hidden states back onto the
            vocabulary with the transposed token embedding (weight tying,
            paper §3.4): returns float32 logits `(batch, length,
            vocabulary_size)`.

    Returns:
        `(batch, length, embedding_dim)` embeddings, or logits with `reverse`.

    Example:

    >>> import numpy as np
    >>> layer = TokenAndPositionEmbedding(100, 16, 8)
    >>> tuple(layer(np.array([[5, 7, 0]])).shape)
    (1, 3, 8)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.4-3.5.
    """

    def __init__(
        self,
        vocabulary_size: int,
        sequence_length: int,
        embedding_dim: int,
        position: str = "sinusoidal",
        scale_embeddings: bool = False,
        embeddings_initializer="uniform",
        pad_token_id: int | None = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = _validation.positive_int(
            "vocabulary_size", vocabulary_size
        )
        self.sequence_length = _validation.positive_int(
            "sequence_length", sequence_length
        )
        self.embedding_dim = _validation.positive_int("embedding_dim", embedding_dim)
        self.position = _validation.choice("position", position, POSITIONS)
        self.scale_embeddings = bool(scale_embeddings)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.pad_token_id = _validation.token_id("pad_token_id", pad_token_id, vocabulary_size)
        self.supports_masking = True
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=clone_initializer(self.embeddings_initializer),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.position_encoding = None
        if position == "sinusoidal":
            self.position_encoding = SinusoidalPositionEncoding(
                dtype=self.dtype_policy, name="position_encoding"
            )
        elif position == "learned":
            self.position_encoding = PositionEmbedding(
                sequence_length,
                initializer=clone_initializer(self.embeddings_initializer),
                dtype=self.dtype_policy,
                name="position_encoding",
            )

    def build(self, inputs_shape):
        if len(inputs_shape) != 2:
            raise ValueError(
                "`token_ids` must be a rank-2 integer tensor (batch, length). "
                f"Received: token_ids.shape={tuple(inputs_shape)}"
            )
        self.token_embedding.build(inputs_shape)
        if self.position_encoding is not None:
            self.position_encoding.build(tuple(inputs_shape) + (self.embedding_dim,))

    def call(self, inputs, start_index=0, reverse=False):
        if reverse:
            table = ops.cast(self.token_embedding.embeddings, inputs.dtype)
            # (batch, length, embedding_dim) x (embedding_dim, vocabulary_size)
            logits = ops.matmul(inputs, ops.transpose(table))
            return ops.cast(logits, "float32")
        embeddings = self.token_embedding(inputs)
        if self.scale_embeddings:
            embeddings = embeddings * ops.cast(
                math.sqrt(self.embedding_dim), embeddings.dtype
            )
        if self.position_encoding is not None:
            embeddings = self.position_encoding(embeddings, start_index=start_index)
        return embeddings

    def compute_output_spec(self, inputs, start_index=0, reverse=False):
        # Shapes and dtypes without running `call` on symbolic tensors (some
        # backends cannot slice the position table to a symbolic length).
        if reverse:
            shape = tuple(inputs.shape[:-1]) + (self.vocabulary_size,)
            return keras.KerasTensor(shape, dtype="float32")
        shape = tuple(inputs.shape) + (self.embedding_dim,)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if len(inputs.shape) == 3:  # reverse: logits keep the incoming mask
            return mask
        if self.pad_token_id is None:
            return None
        return ops.not_equal(inputs, self.pad_token_id)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "position": self.position,
                "scale_embeddings": self.scale_embeddings,
                "pad_token_id": self.pad_token_id,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
