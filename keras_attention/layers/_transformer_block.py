"""What the encoder and decoder blocks share: arguments, residual wiring, config."""

from __future__ import annotations

import zlib

import keras

from keras_attention import _validation
from keras_attention.layers.feed_forward import ACTIVATIONS, FeedForward
from keras_attention.layers.multi_head_attention import MultiHeadAttention

NORMS = ("layer", "rms")


def normalization(norm: str, epsilon: float, **kwargs) -> keras.layers.Layer:
    """A `LayerNormalization` (`norm="layer"`) or `RMSNormalization` (`"rms"`)."""
    _validation.choice("norm", norm, NORMS)
    if norm == "rms":
        return keras.layers.RMSNormalization(epsilon=epsilon, **kwargs)
    return keras.layers.LayerNormalization(epsilon=epsilon, **kwargs)


class TransformerBlock(keras.layers.Layer):
    """Base of the layer-normalised residual blocks (not exported).

    Every sub-layer `f` (attention, feed-forward) is wrapped as

        post-LN (paper):  x = norm(x + dropout(f(x)))
        pre-LN:           x = x + dropout(f(norm(x)))

    Layer normalisation normalises each token of each example across its
    features, unlike batch normalisation, which normalises each feature across
    the batch: it needs no batch statistics and behaves identically at
    training and inference time and for any batch size.
    """

    def __init__(
        self,
        num_heads: int,
        intermediate_dim: int,
        key_dim: int | None = None,
        num_key_value_heads: int | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
        activation: str = "relu",
        normalize_first: bool = False,
        norm: str = "layer",
        norm_epsilon: float = 1e-5,
        attention_window: int | None = None,
        use_rotary_embedding: bool = False,
        query_chunk_size: int | None = None,
        kernel_initializer="glorot_uniform",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = _validation.positive_int("num_heads", num_heads)
        self.intermediate_dim = _validation.positive_int(
            "intermediate_dim", intermediate_dim
        )
        self.key_dim = _validation.positive_int("key_dim", key_dim, allow_none=True)
        self.num_key_value_heads = num_key_value_heads
        self.dropout = _validation.rate("dropout", dropout)
        self.attention_dropout = _validation.rate("attention_dropout", attention_dropout)
        self.activation_dropout = _validation.rate(
            "activation_dropout", activation_dropout
        )
        self.activation = _validation.choice("activation", activation, ACTIVATIONS)
        self.normalize_first = bool(normalize_first)
        self.norm = _validation.choice("norm", norm, NORMS)
        self.norm_epsilon = _validation.positive_float("norm_epsilon", norm_epsilon)
        self.attention_window = _validation.positive_int(
            "attention_window", attention_window, allow_none=True
        )
        self.use_rotary_embedding = bool(use_rotary_embedding)
        self.query_chunk_size = _validation.positive_int(
            "query_chunk_size", query_chunk_size, allow_none=True
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.supports_masking = True

    # === Sub-layers ===

    def _check_inputs_shape(self, name, shape):
        if len(shape) != 3:
            raise ValueError(
                f"`{name}` must be a rank-3 tensor (batch, length, hidden_dim). "
                f"Received: {name}.shape={tuple(shape)}"
            )

    def _make_attention(self, name, query_shape, context_shape=None, self_attention=True):
        layer = MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            dropout=self.attention_dropout,
            attention_window=self.attention_window if self_attention else None,
            num_key_value_heads=self.num_key_value_heads,
            use_rotary_embedding=self.use_rotary_embedding and self_attention,
            query_chunk_size=self.query_chunk_size,
            kernel_initializer=self.kernel_initializer,
            seed=self._dropout_seed(name),
            dtype=self.dtype_policy,
            name=name,
        )
        layer.build(query_shape, context_shape)
        return layer

    def _make_feed_forward(self, inputs_shape):
        layer = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            dropout=self.activation_dropout,
            kernel_initializer=self.kernel_initializer,
            seed=self._dropout_seed("feed_forward"),
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        layer.build(inputs_shape)
        return layer

    def _make_norm(self, name, inputs_shape):
        layer = normalization(
            self.norm, self.norm_epsilon, dtype=self.dtype_policy, name=name
        )
        layer.build(inputs_shape)
        return layer

    def _make_dropout(self, name):
        return keras.layers.Dropout(
            self.dropout,
            seed=self._dropout_seed(name),
            dtype=self.dtype_policy,
            name=name,
        )

    def _dropout_seed(self, sublayer_name):
        """The seed of one dropout site (a sub-layer), derived from `seed`.

        Dropout layers given one seed draw the same masks, so each site gets
        its own stream; the same `seed` still reproduces every one of them.
        """
        if self.seed is None:
            return None
        # Hash seed and name together: with `seed + index`, blocks seeded 0
        # and 1 would share streams.
        return zlib.crc32(f"{self.seed}/{sublayer_name}".encode()) & 0x7FFFFFFF

    # === Residual wiring ===

    def _before(self, norm, inputs):
        return norm(inputs) if self.normalize_first else inputs

    def _after(self, norm, dropout, outputs, residual, training):
        outputs = dropout(outputs, training=training) + residual
        return outputs if self.normalize_first else norm(outputs)

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return inputs_shape

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "key_dim": self.key_dim,
                "num_key_value_heads": self.num_key_value_heads,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "activation_dropout": self.activation_dropout,
                "activation": self.activation,
                "normalize_first": self.normalize_first,
                "norm": self.norm,
                "norm_epsilon": self.norm_epsilon,
                "attention_window": self.attention_window,
                "use_rotary_embedding": self.use_rotary_embedding,
                "query_chunk_size": self.query_chunk_size,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "seed": self.seed,
            }
        )
        return config
