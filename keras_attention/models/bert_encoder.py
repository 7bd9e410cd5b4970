"""BERT-style bidirectional transformer encoder (and what its task heads build with)."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention.layers import TokenAndPositionEmbedding, TransformerEncoderBlock
from keras_attention import _validation
from keras_attention.models.bert_presets import BERT_PRESETS
from keras_attention.models.preset_mixin import PresetMixin

__all__ = ["BertEncoder"]


def bert_initializer():
    """Truncated normal, stddev 0.02: BERT's initializer for every weight matrix."""
    return keras.initializers.TruncatedNormal(stddev=0.02)


def bert_inputs(*names: str) -> dict:
    """Symbolic `(batch, None)` int32 inputs named `token_ids`, `segment_ids`, *names."""
    return {
        name: keras.Input((None,), dtype="int32", name=name)
        for name in ("token_ids", "segment_ids") + names
    }


@keras.saving.register_keras_serializable(package="keras_attention")
class BertEncoder(PresetMixin, keras.Model):
    """A BERT encoder: token, position and segment embeddings, post-LN blocks, pooler.

    Takes integer token ids (pad id 0) and segment ids, and returns the
    contextual embedding of every token together with a pooled summary of
    the sequence: `tanh(Dense(sequence_output[:, 0]))`, the `[CLS]` token's
    output, which BERT's sentence-level heads read. Attention is
    bidirectional; the padding mask is built from `token_ids != 0` inside the
    model and passed to every block. The blocks are post-LN, as in BERT and
    the original transformer. Task heads: `BertMaskedLM`, `BertClassifier`.

    Args:
        vocabulary_size: int.
        num_layers: int, number of encoder blocks.
        num_heads: int.
        hidden_dim: int.
        intermediate_dim: int, feed-forward width.
        max_sequence_length: int, default 512, the longest input.
        num_segments: int, default 2, number of segment (token type) ids.
        dropout: float in [0, 1), default 0.1, on embeddings, residuals and
            attention weights.
        activation: `"gelu"` (default, the exact GELU of BERT and Hugging
            Face's `hidden_act="gelu"`), `"gelu_approximate"` (the tanh GELU
            of keras-hub's `BertBackbone`), `"relu"` or `"swiglu"`.
        norm_epsilon: float, default 1e-12.
        **kwargs: `keras.Model` arguments (`name`, `dtype`).

    Call arguments:
        inputs: dict with `"token_ids"` and `"segment_ids"`, both
            `(batch, length)` int32.

    Returns:
        A dict: `"sequence_output"` `(batch, length, hidden_dim)` and
        `"pooled_output"` `(batch, hidden_dim)`.

    Example:

    >>> import numpy as np
    >>> encoder = BertEncoder.from_preset("bert_test")
    >>> outputs = encoder({"token_ids": np.array([[2, 5, 6, 3, 0]]),
    ...                    "segment_ids": np.array([[0, 0, 0, 1, 0]])})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 5, 32), (1, 32))

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
        for Language Understanding", 2019, §3 (input representation, Figure 2).
        Turc et al., "Well-Read Students Learn Better", 2019 (small BERTs).
    """

    presets = BERT_PRESETS

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        max_sequence_length: int = 512,
        num_segments: int = 2,
        dropout: float = 0.1,
        activation: str = "gelu",
        norm_epsilon: float = 1e-12,
        **kwargs,
    ):
        _validation.positive_int("num_layers", num_layers)
        for name, value in (("vocabulary_size", vocabulary_size), ("num_heads", num_heads),
                            ("hidden_dim", hidden_dim), ("intermediate_dim", intermediate_dim),
                            ("max_sequence_length", max_sequence_length)):
            _validation.positive_int(name, value)
        _validation.positive_int("num_segments", num_segments)
        _validation.rate("dropout", dropout)
        dtype = kwargs.pop("dtype", None)
        # === Layers ===
        embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            max_sequence_length,
            hidden_dim,
            position="learned",
            embeddings_initializer=bert_initializer(),
            dtype=dtype,
            name="embedding",
        )
        segment_embedding = keras.layers.Embedding(
            num_segments,
            hidden_dim,
            embeddings_initializer=bert_initializer(),
            dtype=dtype,
            name="segment_embedding",
        )
        embeddings_norm = keras.layers.LayerNormalization(
            epsilon=norm_epsilon, dtype=dtype, name="embeddings_norm"
        )
        embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout"
        )
        blocks = [
            TransformerEncoderBlock(
                num_heads,
                intermediate_dim,
                dropout=dropout,
                attention_dropout=dropout,
                activation=activation,
                normalize_first=False,
                norm_epsilon=norm_epsilon,
                kernel_initializer=bert_initializer(),
                dtype=dtype,
                name=f"encoder_layer_{index}",
            )
            for index in range(num_layers)
        ]
        pooler = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=bert_initializer(),
            dtype=dtype,
            name="pooler",
        )

        self.embedding = embedding
        self.segment_embedding = segment_embedding
        self.embeddings_norm = embeddings_norm
        self.embeddings_dropout = embeddings_dropout
        self.blocks = blocks
        self.pooler = pooler

        # === Functional Model ===
        inputs = bert_inputs()
        outputs, _ = self._forward(inputs["token_ids"], inputs["segment_ids"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        if dtype is not None:
            # A functional model ignores `dtype`; keep it for `compile` (loss
            # scaling under mixed_float16), the task heads and the config.
            self.dtype_policy = dtype

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.activation = activation
        self.norm_epsilon = norm_epsilon

    @classmethod
    def from_pretrained(cls, path, **overrides) -> "BertEncoder":
        """A `BertEncoder` with the architecture and weights of a checkpoint.

        `from_preset` builds a published architecture with random weights;
        `from_pretrained` loads weights: a keras-hub `BertBackbone` preset
        directory or a Hugging Face BERT checkpoint directory (see
        `keras_attention.convert.read_bert_checkpoint`). The tokenizer that
        goes with it: `keras_attention.convert.load_bert_tokenizer(path)`.

        Args:
            path: the checkpoint directory (or a `BertCheckpoint` read from it).
            **overrides: `dropout`, `dtype`, `name`, `trainable` only.

        Raises:
            ConversionError (a ValueError): another architecture, a missing
                or misshapen tensor, a vocabulary of the wrong size.
        """
        from keras_attention.convert._models import bert_encoder

        return bert_encoder(cls, path, **overrides)

    # === Forward pass (functional graph, inspection) ===

    def _forward(self, token_ids, segment_ids, return_attention_scores=False):
        """The outputs dict and (optionally) every layer's attention weights."""
        padding_mask = ops.not_equal(token_ids, 0)
        # BERT's input representation: token + position + segment embeddings.
        x = self.embedding(token_ids) + self.segment_embedding(segment_ids)
        x = self.embeddings_dropout(self.embeddings_norm(x))
        scores = {}
        for block in self.blocks:
            x = block(
                x, padding_mask=padding_mask, return_attention_scores=return_attention_scores
            )
            if return_attention_scores:
                x, scores[block.name] = x
        # (batch, hidden_dim): the first ([CLS]) token summarises the sequence.
        pooled_output = self.pooler(x[:, 0, :])
        return {"sequence_output": x, "pooled_output": pooled_output}, scores

    def attention_scores(self, inputs: dict) -> dict:
        """Attention weights of every layer and head (inference mode).

        Args:
            inputs: dict with `"token_ids"` and `"segment_ids"`, both
                `(batch, length)`.

        Returns:
            `{"encoder_layer_0": (batch, num_heads, length, length), ...}`.
            Rows of padded queries are zeros.
        """
        _, scores = self._forward(
            ops.convert_to_tensor(inputs["token_ids"], "int32"),
            ops.convert_to_tensor(inputs["segment_ids"], "int32"),
            return_attention_scores=True,
        )
        return scores
