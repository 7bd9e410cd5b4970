"""The encoder-decoder Transformer of "Attention Is All You Need"."""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

from keras_attention.layers import (
    PointerGenerator,
    TokenAndPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from keras_attention import _validation
from keras_attention.layers._transformer_block import normalization
from keras_attention.models import generation
from keras_attention.models.generative_model import GenerativeModel
from keras_attention.models.preset_mixin import PresetMixin
from keras_attention.models.seq2seq_presets import SEQ2SEQ_PRESETS

__all__ = ["Seq2SeqTransformer"]


@keras.saving.register_keras_serializable(package="keras_attention")
class Seq2SeqTransformer(PresetMixin, GenerativeModel):
    """Encoder-decoder Transformer for translation and summarisation.

    The encoder reads the source with self-attention over all positions; the
    decoder reads the target so far with causal self-attention and attends to
    the encoder's outputs with cross-attention; a linear projection gives
    next-token logits. Token embeddings are multiplied by `sqrt(hidden_dim)`
    and a position encoding is added (paper §3.4-3.5). Inputs are integer ids
    with pad id 0; padding masks are built inside the model.

    Decoding (`generate` for greedy/sampling, `beam_search`) runs on the
    shared generation engine with a fixed-size self-attention cache, and the
    cross-attention keys/values are computed once per input. The
    `GenerativeModel` base compiles it for the running backend (TensorFlow
    or JAX).

    Args:
        encoder_vocabulary_size: int, source vocabulary.
        num_encoder_layers: int.
        num_decoder_layers: int.
        num_heads: int.
        hidden_dim: int (d_model).
        intermediate_dim: int (d_ff).
        max_sequence_length: int, longest source or target sequence.
        decoder_vocabulary_size: int or None, default None (same as the
            encoder's: a shared vocabulary).
        dropout: float in [0, 1), default 0.1 (P_drop, on embeddings and
            residuals).
        activation: `"relu"` (default), `"gelu"` or `"swiglu"`.
        normalize_first: bool, default False (post-LN, the paper). With
            True, a final norm follows each stack.
        norm: `"layer"` (default) or `"rms"`.
        norm_epsilon: float, default 1e-5.
        position: `"sinusoidal"` (default), `"learned"` or `"rotary"`.
        share_embeddings: bool, default False. One embedding table for the
            source and the target (needs equal vocabulary sizes).
        tie_embeddings: bool, default True. The output projection is the
            transposed target embedding (paper §3.4).
        scale_embeddings: bool, default True. Multiply token embeddings by
            `sqrt(hidden_dim)` before adding positions (paper §3.4).
        embeddings_initializer: initializer (name, config or object) or
            None, default None: the paper's `N(0, 1 / hidden_dim)`.
        pointer_generator: bool, default False. Add a `PointerGenerator`
            output: each target token is generated from the vocabulary or
            copied from the source, mixed by a learned gate (See et al.,
            2017), which suits summarisation. The model then outputs
            log-probabilities (still usable as logits). Needs one vocabulary
            for source and target.
        **kwargs: `keras.Model` arguments (`name`, `dtype`).

    Example:

    >>> import numpy as np
    >>> model = Seq2SeqTransformer.from_preset("transformer_tiny")
    >>> logits = model({"encoder_token_ids": np.array([[5, 6, 7, 0]]),
    ...                 "decoder_token_ids": np.array([[1, 8, 9]])})
    >>> tuple(logits.shape)
    (1, 3, 100)
    >>> model.generate(np.array([[5, 6, 7, 0]]), start_token_id=1, max_length=6).shape
    (1, 6)
    >>> sequences, scores = model.beam_search(
    ...     np.array([[5, 6, 7, 0]]), start_token_id=1, max_length=6, beam_size=3)
    >>> sequences.shape, scores.shape
    ((1, 3, 6), (1, 3))

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3 and Table 3.
    """

    presets = SEQ2SEQ_PRESETS

    def __init__(
        self,
        encoder_vocabulary_size: int,
        num_encoder_layers: int,
        num_decoder_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        max_sequence_length: int,
        decoder_vocabulary_size: int | None = None,
        dropout: float = 0.1,
        activation: str = "relu",
        normalize_first: bool = False,
        norm: str = "layer",
        norm_epsilon: float = 1e-5,
        position: str = "sinusoidal",
        share_embeddings: bool = False,
        tie_embeddings: bool = True,
        scale_embeddings: bool = True,
        embeddings_initializer=None,
        pointer_generator: bool = False,
        **kwargs,
    ):
        _validation.positive_int("num_encoder_layers", num_encoder_layers)
        _validation.positive_int("num_decoder_layers", num_decoder_layers)
        for name, value in (("encoder_vocabulary_size", encoder_vocabulary_size),
                            ("num_heads", num_heads), ("hidden_dim", hidden_dim),
                            ("intermediate_dim", intermediate_dim),
                            ("max_sequence_length", max_sequence_length)):
            _validation.positive_int(name, value)
        _validation.positive_int("decoder_vocabulary_size", decoder_vocabulary_size, allow_none=True)
        _validation.rate("dropout", dropout)
        _validation.choice("position", position, ("sinusoidal", "learned", "rotary"))
        target_vocabulary_size = decoder_vocabulary_size or encoder_vocabulary_size
        if share_embeddings and target_vocabulary_size != encoder_vocabulary_size:
            raise ValueError(
                "`share_embeddings=True` needs one vocabulary for source and "
                f"target. Received: encoder_vocabulary_size={encoder_vocabulary_size}, "
                f"decoder_vocabulary_size={decoder_vocabulary_size}"
            )
        if pointer_generator and target_vocabulary_size != encoder_vocabulary_size:
            raise ValueError(
                "`pointer_generator=True` copies source ids into the output, so it "
                "needs one vocabulary for source and target. Received: "
                f"encoder_vocabulary_size={encoder_vocabulary_size}, "
                f"decoder_vocabulary_size={decoder_vocabulary_size}"
            )
        dtype = kwargs.pop("dtype", None)

        # === Layers ===
        def embedding(vocabulary_size, name):
            return TokenAndPositionEmbedding(
                vocabulary_size,
                max_sequence_length,
                hidden_dim,
                position="none" if position == "rotary" else position,
                scale_embeddings=scale_embeddings,
                embeddings_initializer=keras.initializers.get(embeddings_initializer)
                if embeddings_initializer is not None
                # The paper's (§3.4): N(0, 1/d), multiplied by sqrt(d) when scaled.
                else keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
                dtype=dtype,
                name=name,
            )

        def block_arguments():
            return dict(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                activation=activation,
                normalize_first=normalize_first,
                norm=norm,
                norm_epsilon=norm_epsilon,
                use_rotary_embedding=position == "rotary",
                dtype=dtype,
            )

        encoder_embedding = embedding(encoder_vocabulary_size, "encoder_embedding")
        decoder_embedding = (
            encoder_embedding
            if share_embeddings
            else embedding(target_vocabulary_size, "decoder_embedding")
        )
        encoder_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="encoder_dropout")
        decoder_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="decoder_dropout")
        encoder_blocks = [
            TransformerEncoderBlock(**block_arguments(), name=f"encoder_layer_{i}")
            for i in range(num_encoder_layers)
        ]
        decoder_blocks = [
            TransformerDecoderBlock(**block_arguments(), name=f"decoder_layer_{i}")
            for i in range(num_decoder_layers)
        ]
        encoder_norm = decoder_norm = None
        if normalize_first:  # pre-LN stacks end with a norm
            encoder_norm = normalization(norm, norm_epsilon, dtype=dtype, name="encoder_norm")
            decoder_norm = normalization(norm, norm_epsilon, dtype=dtype, name="decoder_norm")
        output_projection = None
        if not tie_embeddings:
            output_projection = keras.layers.Dense(
                target_vocabulary_size, dtype=dtype, name="output_projection"
            )

        self.encoder_embedding = encoder_embedding
        self.decoder_embedding = decoder_embedding
        self.encoder_dropout = encoder_dropout
        self.decoder_dropout = decoder_dropout
        self.encoder_blocks = encoder_blocks
        self.decoder_blocks = decoder_blocks
        self.encoder_norm = encoder_norm
        self.decoder_norm = decoder_norm
        self.output_projection = output_projection
        self.pointer = (
            PointerGenerator(dtype=dtype, name="pointer_generator") if pointer_generator else None
        )

        # === Functional Model ===
        inputs = {
            "encoder_token_ids": keras.Input((None,), dtype="int32", name="encoder_token_ids"),
            "decoder_token_ids": keras.Input((None,), dtype="int32", name="decoder_token_ids"),
        }
        logits, _ = self._forward(
            inputs["encoder_token_ids"], inputs["decoder_token_ids"]
        )
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.encoder_vocabulary_size = encoder_vocabulary_size
        self.decoder_vocabulary_size = decoder_vocabulary_size
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.activation = activation
        self.normalize_first = normalize_first
        self.norm = norm
        self.norm_epsilon = norm_epsilon
        self.position = position
        self.share_embeddings = share_embeddings
        self.tie_embeddings = tie_embeddings
        self.scale_embeddings = scale_embeddings
        self.embeddings_initializer = embeddings_initializer
        self.pointer_generator = pointer_generator

    # === Forward pass (functional graph, inspection) ===

    def _forward(self, encoder_token_ids, decoder_token_ids, return_attention_scores=False):
        """Logits and (optionally) every layer's attention weights."""
        scores = {}
        encoder_outputs, encoder_padding_mask = self._encode(
            encoder_token_ids, scores if return_attention_scores else None
        )
        decoder_padding_mask = ops.not_equal(decoder_token_ids, 0)
        x = self.decoder_dropout(self.decoder_embedding(decoder_token_ids))
        for block in self.decoder_blocks:
            x = block(
                x,
                encoder_outputs,
                decoder_padding_mask=decoder_padding_mask,
                encoder_padding_mask=encoder_padding_mask,
                return_attention_scores=return_attention_scores,
            )
            if return_attention_scores:
                x, block_scores = x
                for kind, value in block_scores.items():
                    scores[f"{block.name}/{kind}"] = value
        logits = self._logits(
            x,
            encoder_token_ids,
            encoder_padding_mask,
            encoder_sequence=encoder_outputs,
            scores=scores if return_attention_scores else None,
        )
        return logits, scores

    def _encode(self, encoder_token_ids, scores=None):
        padding_mask = ops.not_equal(encoder_token_ids, 0)
        x = self.encoder_dropout(self.encoder_embedding(encoder_token_ids))
        for block in self.encoder_blocks:
            x = block(
                x, padding_mask=padding_mask, return_attention_scores=scores is not None
            )
            if scores is not None:
                x, scores[block.name] = x
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
        return x, padding_mask

    def _logits(self, x, encoder_token_ids, encoder_padding_mask, scores=None, **encoder):
        """Next-token logits of the decoder's outputs `x`; with the pointer,
        log-probabilities mixing in copies of the source (`**encoder`: its
        `encoder_sequence` or `encoder_key_value`)."""
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        if self.output_projection is None:
            logits = self.decoder_embedding(x, reverse=True)
        else:
            logits = ops.cast(self.output_projection(x), "float32")
        if self.pointer is None:
            return logits
        logits = self.pointer(
            x,
            logits,
            encoder_token_ids,
            encoder_padding_mask=encoder_padding_mask,
            return_attention_scores=scores is not None,
            **encoder,
        )
        if scores is not None:
            logits, pointer_scores = logits
            scores.update(pointer_scores)
        return logits

    def attention_scores(self, inputs) -> dict:
        """Attention weights of every layer and head.

        Args:
            inputs: dict with `encoder_token_ids` and `decoder_token_ids`.

        Returns:
            `{"encoder_layer_0": (batch, heads, source_length, source_length),
            "decoder_layer_0/self_attention": (batch, heads, target_length,
            target_length), "decoder_layer_0/cross_attention": (batch, heads,
            target_length, source_length), ...}`; with `pointer_generator`,
            also `"copy_attention"` `(batch, 1, target_length, source_length)`
            and `"generation_probability"` `(batch, target_length)`.
        """
        _, scores = self._forward(
            ops.convert_to_tensor(inputs["encoder_token_ids"], "int32"),
            ops.convert_to_tensor(inputs["decoder_token_ids"], "int32"),
            return_attention_scores=True,
        )
        return scores

    # === Generation ===

    @property
    def cached_blocks(self) -> list:
        return self.decoder_blocks

    def _prepare_decoding(self, encoder_token_ids, rows_per_input, max_length):
        """Encode once; return the engine's step function and an empty self-attention cache."""
        encoder_outputs, encoder_padding_mask = self._encode(encoder_token_ids)
        # Cross-attention keys/values: computed once per input, not per step.
        cross_cache = self.stack_layers(
            lambda block: block.cross_attention.project_key_value(encoder_outputs)
        )
        # The pointer's copy attention: its keys/values, also once per input.
        copy_cache = None
        if self.pointer is not None:
            copy_cache = self.pointer.attention.project_key_value(encoder_outputs)
        if rows_per_input > 1:
            cross_cache = ops.repeat(cross_cache, rows_per_input, axis=0)
            encoder_padding_mask = ops.repeat(encoder_padding_mask, rows_per_input, axis=0)
            if copy_cache is not None:
                copy_cache = ops.repeat(copy_cache, rows_per_input, axis=0)
                encoder_token_ids = ops.repeat(encoder_token_ids, rows_per_input, axis=0)

        def step(token_ids, cache, index):
            x = self.decoder_embedding(token_ids, start_index=index)
            x, cache = self.call_blocks_with_cache(
                x, cache, index, cross_cache, encoder_padding_mask=encoder_padding_mask
            )
            logits = self._logits(
                x[:, -1:], encoder_token_ids, encoder_padding_mask, encoder_key_value=copy_cache
            )
            return logits[:, 0], cache

        return step, self.initial_cache(ops.shape(cross_cache)[0], max_length)

    @staticmethod
    def _start_buffer(batch, start_token_id, max_length):
        # (batch, max_length): the start token, then padding to be filled.
        start = ops.full((batch, 1), start_token_id, dtype="int32")
        return ops.pad(start, ((0, 0), (0, max_length - 1)))

    def decode_sample(
        self,
        encoder_token_ids,
        start_token_id,
        end_token_id,
        max_length,
        sampler,
        seed_generator=None,
        no_repeat_ngram_size=None,
    ):
        """Greedy/sampled decoding on tensors, uncompiled (`generate` and exports wrap it).

        Returns:
            `(batch, max_length)` int32 target ids.
        """
        batch = ops.shape(encoder_token_ids)[0]
        step, cache = self._prepare_decoding(encoder_token_ids, 1, max_length)
        buffer = self._start_buffer(batch, start_token_id, max_length)
        prompt_mask = ops.equal(ops.arange(max_length), 0)[None, :] & ops.ones((batch, 1), "bool")
        return generation.sample_loop(
            step, buffer, prompt_mask, cache, 1, sampler, end_token_id, seed_generator,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )

    def decode_beams(
        self,
        encoder_token_ids,
        start_token_id,
        end_token_id,
        max_length,
        beam_size,
        length_penalty,
        no_repeat_ngram_size=None,
    ):
        """Beam search on tensors, uncompiled (`beam_search` and exports wrap it).

        Returns:
            `(sequences (batch, beam_size, max_length), scores (batch, beam_size))`.
        """
        batch = ops.shape(encoder_token_ids)[0]
        step, cache = self._prepare_decoding(encoder_token_ids, beam_size, max_length)
        buffer = self._start_buffer(batch, start_token_id, max_length)
        return generation.beam_search_loop(
            step,
            ops.repeat(buffer, beam_size, axis=0),
            cache,
            1,
            beam_size,
            float(length_penalty),
            end_token_id,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )

    def _check_decoding_arguments(self, encoder_token_ids, start_token_id, max_length):
        encoder_token_ids = np.asarray(encoder_token_ids)
        if encoder_token_ids.ndim != 2 or not np.issubdtype(
            encoder_token_ids.dtype, np.integer
        ):
            raise ValueError(
                "`encoder_token_ids` must be a 2-D integer array (batch, length). "
                f"Received: shape={encoder_token_ids.shape}, dtype={encoder_token_ids.dtype}"
            )
        _validation.positive_int("start_token_id", start_token_id)
        max_length = max_length or self.max_sequence_length
        _validation.positive_int("max_length", max_length)
        limit = self.max_sequence_length
        if self.position == "learned" and (
            max_length > limit or encoder_token_ids.shape[1] > limit
        ):
            raise ValueError(
                f"Sequences are limited to max_sequence_length={limit} by the "
                f"learned positions. Received: max_length={max_length}, "
                f"encoder length={encoder_token_ids.shape[1]}"
            )
        return encoder_token_ids.astype("int32"), max_length

    def generate(
        self,
        encoder_token_ids,
        start_token_id: int,
        end_token_id: int | None = None,
        max_length: int | None = None,
        sampler="greedy",
        no_repeat_ngram_size: int | None = None,
    ) -> np.ndarray:
        """Greedy (or sampled) decoding of each source sequence.

        Args:
            encoder_token_ids: `(batch, source_length)` ints, pad id 0.
            start_token_id: int, the first decoder token.
            end_token_id: optional; a row stops after it and is padded with 0.
            max_length: int, default `max_sequence_length`: the length of the
                returned target buffer, start token included.
            sampler: `"greedy"`, a `generation.Sampler` or a dict of its arguments.
            no_repeat_ngram_size: int >= 1 or None (default): never generate
                a token that repeats an n-gram of this size
                (`generation.repeated_ngram_tokens`).

        Returns:
            `(batch, max_length)` int32 target ids, starting with `start_token_id`.
        """
        sampler = generation.Sampler.get(sampler)
        _validation.positive_int("no_repeat_ngram_size", no_repeat_ngram_size, allow_none=True)
        encoder_token_ids, max_length = self._check_decoding_arguments(
            encoder_token_ids, start_token_id, max_length
        )
        function = self.compiled_sampling(
            self.decode_sample,
            sampler,
            end_token_id=end_token_id,
            max_length=max_length,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        outputs = function(encoder_token_ids, ops.convert_to_tensor(start_token_id, "int32"))
        return ops.convert_to_numpy(outputs)

    def beam_search(
        self,
        encoder_token_ids,
        start_token_id: int,
        end_token_id: int | None = None,
        max_length: int | None = None,
        beam_size: int = 4,
        length_penalty: float = 0.6,
        no_repeat_ngram_size: int | None = None,
    ):
        """Beam search decoding (paper §6.1: beam 4, length penalty alpha 0.6).

        Args:
            encoder_token_ids: `(batch, source_length)` ints, pad id 0.
            start_token_id: int, the first decoder token.
            end_token_id: optional end-of-sequence id.
            max_length: int, default `max_sequence_length`.
            beam_size: int >= 1.
            length_penalty: alpha of `((5 + length) / 6) ** alpha`, >= 0.
            no_repeat_ngram_size: int >= 1 or None (default): no beam repeats
                an n-gram of this size (`generation.repeated_ngram_tokens`).

        Returns:
            `(sequences, scores)`: numpy `(batch, beam_size, max_length)` int32
            and `(batch, beam_size)` float32 length-normalised
            log-probabilities, best first.
        """
        _validation.positive_int("beam_size", beam_size)
        _validation.positive_int("no_repeat_ngram_size", no_repeat_ngram_size, allow_none=True)
        if not isinstance(length_penalty, (int, float)) or length_penalty < 0:
            raise ValueError(
                f"`length_penalty` must be a float >= 0. Received: length_penalty={length_penalty!r}"
            )
        encoder_token_ids, max_length = self._check_decoding_arguments(
            encoder_token_ids, start_token_id, max_length
        )
        function = self.compiled_function(
            self.decode_beams,
            end_token_id=end_token_id,
            max_length=max_length,
            beam_size=beam_size,
            length_penalty=float(length_penalty),
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        sequences, scores = function(
            encoder_token_ids, ops.convert_to_tensor(start_token_id, "int32")
        )
        return ops.convert_to_numpy(sequences), ops.convert_to_numpy(scores)
