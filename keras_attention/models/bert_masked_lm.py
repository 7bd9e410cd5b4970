"""BERT masked language model: a `BertEncoder` with the tied MLM head."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.layers.feed_forward import ELEMENTWISE_ACTIVATIONS, apply_activation
from keras_attention.models._bert_common import BertTask
from keras_attention.models.bert_encoder import BertEncoder, bert_initializer, bert_inputs

__all__ = ["BertMaskedLM"]


@keras.saving.register_keras_serializable(package="keras_attention")
class _OutputBias(keras.layers.Layer):
    """Adds a learned `(units,)` bias to the logits, in float32 under any policy."""

    def __init__(self, units: int, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.units = units

    def build(self, inputs_shape):
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return inputs + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="keras_attention")
class BertMaskedLM(BertTask):
    """Predicts the tokens at masked positions from a `BertEncoder`.

    The encoder's outputs are gathered at `mask_positions` and passed through
    BERT's masked-LM head: `Dense(hidden_dim)` and its activation (the exact
    GELU by default), layer normalisation, then the transposed token
    embedding of the encoder (the output projection is tied to the input
    embeddings) plus a learned per-token output bias. The head's activation
    and epsilon are its own: Hugging Face's BERT uses the encoder's
    (`hidden_act`, `layer_norm_eps`), keras-hub's `BertMaskedLM` the exact
    GELU and 1e-5 under a tanh-GELU encoder with 1e-12.
    Rows with fewer masked tokens can pad `mask_positions` with any position
    and their labels with 0, and train with
    `SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)`.

    Args:
        encoder: a `BertEncoder`; it becomes a nested layer of this model.
        head_activation: `"gelu"` (default, exact), `"gelu_approximate"`
            (tanh) or `"relu"`, after the head's transform.
        head_norm_epsilon: float or None (default): the head's layer-norm
            epsilon; None takes the encoder's `norm_epsilon`.
        **kwargs: `keras.Model` arguments (`name`, `trainable`). The head
            uses the encoder's dtype policy.

    Call arguments:
        inputs: dict with `"token_ids"` and `"segment_ids"` `(batch, length)`
            int32, and `"mask_positions"` `(batch, num_masked)` int32, the
            indices (into `length`) of the tokens to predict.

    Returns:
        float32 logits `(batch, num_masked, vocabulary_size)`.

    Example:

    >>> import keras, numpy as np
    >>> model = BertMaskedLM.from_preset("bert_test")
    >>> logits = model({"token_ids": np.array([[2, 5, 1, 6, 3]]),
    ...                 "segment_ids": np.zeros((1, 5), "int32"),
    ...                 "mask_positions": np.array([[2]])})
    >>> tuple(logits.shape), keras.backend.standardize_dtype(logits.dtype)
    ((1, 1, 100), 'float32')

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
        for Language Understanding", 2019, §3.1 (Task #1: Masked LM).
    """

    def __init__(
        self,
        encoder: BertEncoder,
        head_activation: str = "gelu",
        head_norm_epsilon: float | None = None,
        **kwargs,
    ):
        self._check_encoder(encoder)
        _validation.choice("head_activation", head_activation, ELEMENTWISE_ACTIVATIONS)
        _validation.positive_float("head_norm_epsilon", head_norm_epsilon, allow_none=True)
        dtype = encoder.dtype_policy
        # === Layers ===
        transform = keras.layers.Dense(
            encoder.hidden_dim,
            kernel_initializer=bert_initializer(),
            dtype=dtype,
            name="mlm_transform",
        )
        transform_norm = keras.layers.LayerNormalization(
            epsilon=encoder.norm_epsilon if head_norm_epsilon is None else head_norm_epsilon,
            dtype=dtype,
            name="mlm_transform_norm",
        )
        output_bias = _OutputBias(encoder.vocabulary_size, name="mlm_output_bias")

        # === Functional Model ===
        inputs = bert_inputs("mask_positions")
        sequence_output = encoder(
            {"token_ids": inputs["token_ids"], "segment_ids": inputs["segment_ids"]}
        )["sequence_output"]
        # (batch, num_masked, hidden_dim)
        x = ops.take_along_axis(
            sequence_output, inputs["mask_positions"][:, :, None], axis=1
        )
        x = transform_norm(apply_activation(transform(x), head_activation))
        logits = output_bias(encoder.embedding(x, reverse=True))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        self.transform = transform
        self.transform_norm = transform_norm
        self.output_bias = output_bias
        # Not `activation` / `norm_epsilon`: those name the encoder's settings
        # (what `model.init_from` compares).
        self.head_activation = head_activation
        self.head_norm_epsilon = head_norm_epsilon
        self._finish(encoder)

    def get_config(self):
        # Configs saved before these arguments existed lack them: the
        # defaults are what the head computed then.
        return {
            **super().get_config(),
            "head_activation": self.head_activation,
            "head_norm_epsilon": self.head_norm_epsilon,
        }

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "BertMaskedLM":
        """A masked LM on `BertEncoder.from_preset(name, **overrides)`."""
        return cls(BertEncoder.from_preset(name, **overrides))

    @classmethod
    def from_pretrained(cls, path, **overrides) -> "BertMaskedLM":
        """A masked LM with a checkpoint's weights (see `BertEncoder.from_pretrained`).

        The head (transform, layer norm, output bias) comes from the
        checkpoint when it has one (Hugging Face `cls.predictions.*`, a
        keras-hub `BertMaskedLM` preset); otherwise it starts random, with a
        warning. Its activation and epsilon are the source's either way.
        """
        from keras_attention.convert._models import bert_masked_lm

        return bert_masked_lm(cls, BertEncoder, path, **overrides)
