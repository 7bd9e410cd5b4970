"""Position-wise feed-forward network."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers._initializers import clone_initializer

__all__ = ["FeedForward"]

ACTIVATIONS = ("relu", "gelu", "gelu_approximate", "swiglu")
# The activations of one projection (all but the gated "swiglu").
ELEMENTWISE_ACTIVATIONS = ("relu", "gelu", "gelu_approximate")


def apply_activation(inputs, activation: str):
    """`activation` (one of `ELEMENTWISE_ACTIVATIONS`) of `inputs`: `"gelu"`
    is the exact (erf) GELU, `"gelu_approximate"` its tanh approximation."""
    if activation == "gelu":
        return ops.gelu(inputs, approximate=False)
    if activation == "gelu_approximate":
        return ops.gelu(inputs, approximate=True)
    if activation == "relu":
        return ops.relu(inputs)
    raise ValueError(
        f"`activation` must be one of {sorted(ELEMENTWISE_ACTIVATIONS)}. "
        f"Received: activation={activation!r}"
    )


@keras.saving.register_keras_serializable(package="keras_attention")
class FeedForward(keras.layers.Layer):
    """Two projections with a non-linearity between, applied to every position.

        FFN(x) = act(x W1 + b1) W2 + b2                      (paper §3.3)
        SwiGLU(x) = (silu(x W_gate) * (x W_up)) W2           (Shazeer, 2020)

    `"gelu"` is the exact GELU, `x * Phi(x)` (BERT); `"gelu_approximate"` its
    tanh approximation, `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`,
    which GPT-2 was trained with (Hugging Face's `"gelu_new"`).

    The output has the input's width. For `"swiglu"` the gate and up
    projections run as one fused matrix product.

    Args:
        intermediate_dim: int, width of the hidden layer.
        activation: `"relu"` (default, the paper), `"gelu"` (BERT),
            `"gelu_approximate"` (GPT-2) or `"swiglu"`.
        dropout: float in [0, 1), default 0.0, dropout on the hidden
            activations.
        use_bias: bool, default True.
        kernel_initializer: default `"glorot_uniform"`, copied for each of
            the two kernels so that they start different.
        seed: int or None, seed for dropout.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(..., hidden_dim)`.
        training: bool, enables dropout.

    Returns:
        A tensor with the shape of `inputs`.

    Example:

    >>> import numpy as np
    >>> layer = FeedForward(intermediate_dim=64, activation="swiglu")
    >>> tuple(layer(np.zeros((2, 5, 16), "float32")).shape)
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.3.
        Shazeer, "GLU Variants Improve Transformer", 2020.
        Hendrycks and Gimpel, "Gaussian Error Linear Units (GELUs)", 2016, §2.
    """

    def __init__(
        self,
        intermediate_dim: int,
        activation: str = "relu",
        dropout: float = 0.0,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = _validation.positive_int(
            "intermediate_dim", intermediate_dim
        )
        self.activation = _validation.choice("activation", activation, ACTIVATIONS)
        self.dropout = _validation.rate("dropout", dropout)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(
            self.dropout, seed=seed, dtype=self.dtype_policy
        )

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        gated = self.activation == "swiglu"
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim * (2 if gated else 1),
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="intermediate_dense",
        )
        self.intermediate_dense.build(inputs_shape)
        self.output_dense = keras.layers.Dense(
            hidden_dim,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="output_dense",
        )
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))

    def call(self, inputs, training=None):
        hidden = self.intermediate_dense(inputs)
        if self.activation == "swiglu":
            gate, up = ops.split(hidden, 2, axis=-1)
            hidden = ops.silu(gate) * up
        else:
            hidden = apply_activation(hidden, self.activation)
        hidden = self._dropout_layer(hidden, training=training)
        return self.output_dense(hidden)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "seed": self.seed,
            }
        )
        return config
