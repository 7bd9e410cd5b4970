"""Pointer-generator output: generate from the vocabulary or copy a source token."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention.layers.multi_head_attention import MultiHeadAttention

__all__ = ["PointerGenerator"]

# Added to the copy probabilities before the log: a token that is not in the
# source gets log(1e-12) ~ -27.6 from the copy side instead of -inf (whose
# gradient is NaN). Far below any probability the vocabulary side gives.
_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="keras_attention")
class PointerGenerator(keras.layers.Layer):
    """Mixes the decoder's vocabulary distribution with copying from the source.

    At each target position `t` the layer attends from the decoder state
    `s_t` to the encoder outputs (one head, its own projections), which gives
    copy weights `a_t` over source positions and a context vector `h*_t`.
    A gate decides how much to generate and how much to copy:

        p_gen = sigmoid(w . [s_t; h*_t] + b)
        P(w)  = p_gen * softmax(logits)_w + (1 - p_gen) * sum_{i: x_i = w} a_t,i

    where `x` are the source token ids (See et al., 2017, §2.2). A source
    word the vocabulary side spells badly, or never learned, can be copied
    whole, piece by piece, as attention moves along the source. Source and
    target must share one vocabulary (the ids mean the same tokens).

    The layer returns `log P` (float32), which serves as logits everywhere
    logits are used: `softmax(log P) = P`, so cross-entropy `from_logits`,
    greedy decoding, sampling and beam search need no change.

    Memory: the copy distribution is built with a `(batch, source_length,
    vocabulary_size)` one-hot, about the size of the logits.

    Call arguments:
        decoder_sequence: `(batch, target_length, hidden_dim)`, the decoder's
            final states.
        logits: `(batch, target_length, vocabulary_size)`, the vocabulary
            side's logits for the same positions.
        encoder_token_ids: `(batch, source_length)` int ids, pad id 0.
        encoder_sequence: `(batch, source_length, hidden_dim)` encoder
            outputs; or, instead, `encoder_key_value`.
        encoder_key_value: the copy attention's keys and values projected
            once before decoding (`layer.attention.project_key_value(
            encoder_sequence)`).
        encoder_padding_mask: optional `(batch, source_length)`, nonzero for
            real tokens (defaults to `encoder_token_ids != 0`).
        return_attention_scores: bool, default False. Also return
            `{"copy_attention": (batch, 1, target_length, source_length),
            "generation_probability": (batch, target_length)}`.
        training: bool.

    Returns:
        `(batch, target_length, vocabulary_size)` float32 log-probabilities,
        and the scores dict with `return_attention_scores=True`.

    Example:

    >>> import numpy as np
    >>> layer = PointerGenerator()
    >>> states, encoder = np.zeros((1, 2, 8), "float32"), np.ones((1, 3, 8), "float32")
    >>> log_probs = layer(states, np.zeros((1, 2, 10), "float32"),
    ...                   encoder_token_ids=np.array([[4, 4, 7]]), encoder_sequence=encoder)
    >>> np.round(np.exp(np.asarray(log_probs)[0, 0, [1, 4, 7]]), 3)  # p_gen = 0.5 at first
    array([0.05 , 0.383, 0.217], dtype=float32)

    References:
        See, Liu and Manning, "Get To The Point: Summarization with
        Pointer-Generator Networks", ACL 2017, §2.2.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the output keeps the decoder sequence's mask
        self.attention = MultiHeadAttention(
            num_heads=1, dtype=self.dtype_policy, name="copy_attention"
        )
        # Starts at p_gen = 0.5 everywhere: a zero kernel and a zero bias.
        self.gate = keras.layers.Dense(
            1, kernel_initializer="zeros", dtype=self.dtype_policy, name="gate"
        )

    def build(self, decoder_sequence_shape, logits_shape=None, *args, **kwargs):
        hidden_dim = decoder_sequence_shape[-1]
        self.attention.build(decoder_sequence_shape, decoder_sequence_shape)
        self.gate.build((*decoder_sequence_shape[:-1], 2 * hidden_dim))

    def call(
        self,
        decoder_sequence,
        logits,
        encoder_token_ids,
        encoder_sequence=None,
        encoder_key_value=None,
        encoder_padding_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        if (encoder_sequence is None) == (encoder_key_value is None):
            raise ValueError(
                "Pass exactly one of `encoder_sequence` and `encoder_key_value`. "
                f"Received: encoder_sequence is None: {encoder_sequence is None}, "
                f"encoder_key_value is None: {encoder_key_value is None}"
            )
        if encoder_padding_mask is None:
            encoder_padding_mask = ops.not_equal(encoder_token_ids, 0)
        options = dict(
            context_padding_mask=encoder_padding_mask,
            return_attention_scores=True,
            training=training,
        )
        if encoder_sequence is not None:
            context, weights = self.attention(decoder_sequence, encoder_sequence, **options)
        else:
            context, weights = self.attention.call_with_key_value(
                decoder_sequence, encoder_key_value, **options
            )
        gate = ops.cast(
            self.gate(ops.concatenate([decoder_sequence, context], axis=-1)), "float32"
        )
        vocabulary_size = ops.shape(logits)[-1]
        # (batch, target, source) x (batch, source, vocabulary): the copy
        # weights summed per source token id.
        copy = ops.einsum(
            "bts,bsv->btv",
            ops.cast(weights[:, 0], "float32"),
            ops.one_hot(encoder_token_ids, vocabulary_size, dtype="float32"),
        )
        log_probs = ops.logaddexp(
            ops.log_sigmoid(gate) + ops.log_softmax(ops.cast(logits, "float32"), axis=-1),
            ops.log_sigmoid(-gate) + ops.log(copy + _EPSILON),
        )
        if not return_attention_scores:
            return log_probs
        return log_probs, {
            "copy_attention": weights,
            "generation_probability": ops.sigmoid(gate[..., 0]),
        }
