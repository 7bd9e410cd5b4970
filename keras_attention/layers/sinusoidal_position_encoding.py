"""Fixed sinusoidal position encoding ("Attention Is All You Need", §3.5)."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers._angles import position_angles

__all__ = ["SinusoidalPositionEncoding"]


@keras.saving.register_keras_serializable(package="keras_attention")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Adds the paper's sinusoidal position encoding to a sequence.

    Self-attention is blind to order: permuting the tokens permutes the outputs
    and nothing else. Adding a position-dependent vector to each embedding
    gives the model the order back:

        PE(pos, 2i)     = sin(pos / max_wavelength^(2i / d))
        PE(pos, 2i + 1) = cos(pos / max_wavelength^(2i / d))

    Each pair of channels is a sinusoid of a different wavelength, from 2*pi up
    to `max_wavelength * 2 * pi`, so any fixed offset is a linear function of
    the encoding. The encoding has no weights and works for any length.

    Args:
        max_wavelength: int, default 10000 (the paper's value).
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, sequence_length, dim)` embeddings.
        start_index: int or scalar tensor, default 0. Position of the first
            token (the cache index in cached decoding).

    Returns:
        `inputs + PE`, same shape and dtype as `inputs`.

    Example:

    >>> import numpy as np
    >>> layer = SinusoidalPositionEncoding()
    >>> outputs = layer(np.zeros((1, 3, 4), "float32"))
    >>> np.round(np.asarray(outputs[0]), 3)  # position 0 is sin(0), cos(0)
    array([[ 0.   ,  1.   ,  0.   ,  1.   ],
           [ 0.841,  0.54 ,  0.01 ,  1.   ],
           [ 0.909, -0.416,  0.02 ,  1.   ]], dtype=float32)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.5.
    """

    def __init__(self, max_wavelength: int = 10000, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = _validation.positive_int("max_wavelength", max_wavelength)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, start_index=0):
        _validation.tensor_rank("inputs", inputs, 3, "(batch, length, dim)")
        dim = inputs.shape[-1]
        channels = ops.arange(dim)
        # Channels 2i and 2i + 1 share the frequency 1 / max_wavelength^(2i / d).
        exponents = ops.cast(channels // 2 * 2, "float32") / float(dim)
        # (length, dim)
        angles = position_angles(
            ops.shape(inputs)[1], start_index, exponents, self.max_wavelength
        )
        encoding = ops.where(channels % 2 == 0, ops.sin(angles), ops.cos(angles))
        return inputs + ops.cast(encoding[None], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
