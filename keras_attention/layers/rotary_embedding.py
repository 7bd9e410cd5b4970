"""Rotary position embedding (RoPE): positions as rotations of queries and keys."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers._angles import position_angles

__all__ = ["RotaryEmbedding"]


@keras.saving.register_keras_serializable(package="keras_attention")
class RotaryEmbedding(keras.layers.Layer):
    """Rotary position embedding.

    Rotates each pair of feature channels of a query or key by an angle that
    grows with the token's position. The dot product of a rotated query and a
    rotated key then depends only on their *relative* distance, so attention
    learns order without any position vector being added to the embeddings.
    Channels are paired as `(x[i], x[i + dim / 2])` (the "rotate half" layout).

    Args:
        max_wavelength: int, default 10000. The longest wavelength of the
            rotation frequencies.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor `(batch, sequence_length, ..., dim)` with an even
            `dim`; the sequence axis is axis 1, e.g. `(batch, length, heads,
            head_dim)` inside attention.
        start_index: int or scalar tensor, default 0. Position of the first
            token (the cache index in cached decoding).

    Returns:
        A tensor of the same shape and dtype, rotated.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 6, 4, 8).astype("float32")
    >>> tuple(RotaryEmbedding()(x).shape)
    (2, 6, 4, 8)

    References:
        Su et al., "RoFormer: Enhanced Transformer with Rotary Position
        Embedding", 2021, §3.4.
    """

    def __init__(self, max_wavelength: int = 10000, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = _validation.positive_int("max_wavelength", max_wavelength)
        self.built = True

    def call(self, inputs, start_index=0):
        dim = inputs.shape[-1]
        if dim is None or dim % 2:
            raise ValueError(
                "RotaryEmbedding needs an even, known last dimension. "
                f"Received: inputs.shape={tuple(inputs.shape)}"
            )
        half = dim // 2
        # Channel pair i rotates at frequency 1 / max_wavelength^(2i / dim).
        exponents = ops.arange(half, dtype="float32") * (2.0 / dim)
        # (sequence_length, dim / 2)
        angles = position_angles(
            ops.shape(inputs)[1], start_index, exponents, self.max_wavelength
        )
        angles = ops.concatenate([angles, angles], axis=-1)
        # Broadcast over every axis between the sequence and the features.
        shape = (1, -1) + (1,) * (len(inputs.shape) - 3) + (dim,)
        cos = ops.cast(ops.reshape(ops.cos(angles), shape), inputs.dtype)
        sin = ops.cast(ops.reshape(ops.sin(angles), shape), inputs.dtype)
        first, second = inputs[..., :half], inputs[..., half:]
        rotated_half = ops.concatenate([-second, first], axis=-1)
        return inputs * cos + rotated_half * sin

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
