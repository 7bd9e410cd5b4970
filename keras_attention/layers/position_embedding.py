"""Learned absolute position embedding."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers._initializers import clone_initializer

__all__ = ["PositionEmbedding"]


@keras.saving.register_keras_serializable(package="keras_attention")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to a sequence (as in BERT and GPT-2).

    Args:
        sequence_length: int, the largest number of positions.
        initializer: default `"glorot_uniform"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, length, dim)` embeddings, `length <= sequence_length`.
        start_index: int or scalar tensor, default 0. Position of the first
            token (the cache index in cached decoding).

    Returns:
        `inputs + embeddings[start_index : start_index + length]`.

    Example:

    >>> import numpy as np
    >>> layer = PositionEmbedding(sequence_length=16)
    >>> tuple(layer(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5, 8)

    References:
        Devlin et al., "BERT", 2019, §3 (learned position embeddings).
    """

    def __init__(
        self, sequence_length: int, initializer="glorot_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        self.sequence_length = _validation.positive_int(
            "sequence_length", sequence_length
        )
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                "`inputs` must be a rank-3 tensor (batch, length, dim). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, inputs_shape[-1]),
            initializer=clone_initializer(self.initializer),
        )

    def call(self, inputs, start_index=0):
        length = inputs.shape[1]
        if isinstance(start_index, int) and isinstance(length, int):
            if start_index + length > self.sequence_length:
                raise ValueError(
                    "The positions do not fit `sequence_length="
                    f"{self.sequence_length}`. Received: inputs.shape="
                    f"{tuple(inputs.shape)}, start_index={start_index}"
                )
        length = ops.shape(inputs)[1]
        embeddings = ops.slice(
            ops.convert_to_tensor(self.position_embeddings),
            (start_index, 0),
            (length, ops.shape(self.position_embeddings)[1]),
        )
        return inputs + ops.cast(embeddings[None], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
