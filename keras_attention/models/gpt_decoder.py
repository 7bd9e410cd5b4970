"""GPT-style decoder-only causal language model."""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

from keras_attention.layers import TokenAndPositionEmbedding, TransformerDecoderBlock
from keras_attention import _validation
from keras_attention.layers._transformer_block import normalization
from keras_attention.models import generation
from keras_attention.models.generative_model import GenerativeModel
from keras_attention.models.gpt_presets import GPT_PRESETS
from keras_attention.models.preset_mixin import PresetMixin

__all__ = ["GPTDecoder"]


@keras.saving.register_keras_serializable(package="keras_attention")
class GPTDecoder(PresetMixin, GenerativeModel):
    """A causal language model: embeddings, pre-LN decoder blocks, tied output.

    Takes integer token ids and returns next-token logits for every position.
    Id `pad_token_id` (default 0) is padding: masked out of attention and
    never generated. With `pad_token_id=None` (GPT-2, whose id 0 is "!" and
    which has no pad token) no id is padding: batches are padded on the
    right, where causal attention keeps padding out of every real position,
    and `generate` takes the prompts' `padding_mask`. The output projection is the transposed token embedding (weight
    tying), and a final layer norm follows the pre-LN stack, as in GPT-2.
    `generate` decodes with a fixed-size key/value cache through the shared
    generation engine (`keras_attention.models.generation`), compiled by the
    `GenerativeModel` base for the running backend (TensorFlow or JAX).

    Args:
        vocabulary_size: int.
        num_layers: int, number of decoder blocks.
        num_heads: int.
        hidden_dim: int.
        intermediate_dim: int, feed-forward width.
        max_sequence_length: int, the longest sequence (prompt + new tokens).
        dropout: float in [0, 1), default 0.1, on embeddings, residuals and
            attention weights.
        activation: `"gelu"` (default, exact), `"gelu_approximate"` (tanh
            GELU, as GPT-2), `"relu"` or `"swiglu"`.
        position: `"learned"` (default), `"sinusoidal"` or `"rotary"`.
        norm: `"layer"` (default) or `"rms"`.
        norm_epsilon: float, default 1e-5.
        num_key_value_heads: int or None, grouped-query attention.
        attention_window: int or None, local attention.
        pad_token_id: int or None, default 0, the padding id; None: the
            vocabulary has no padding.
        **kwargs: `keras.Model` arguments (`name`, `dtype`).

    Example:

    >>> import numpy as np
    >>> model = GPTDecoder.from_preset("gpt_tiny")
    >>> tuple(model(np.array([[5, 6, 7, 0]])).shape)
    (1, 4, 100)
    >>> model.generate(np.array([[5, 6]]), max_new_tokens=3).shape
    (1, 5)

    References:
        Radford et al., "Language Models are Unsupervised Multitask
        Learners" (GPT-2), 2019, §2.3.
    """

    presets = GPT_PRESETS

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        max_sequence_length: int,
        dropout: float = 0.1,
        activation: str = "gelu",
        position: str = "learned",
        norm: str = "layer",
        norm_epsilon: float = 1e-5,
        num_key_value_heads: int | None = None,
        attention_window: int | None = None,
        pad_token_id: int | None = 0,
        **kwargs,
    ):
        _validation.positive_int("num_layers", num_layers)
        for name, value in (("vocabulary_size", vocabulary_size), ("num_heads", num_heads),
                            ("hidden_dim", hidden_dim), ("intermediate_dim", intermediate_dim),
                            ("max_sequence_length", max_sequence_length)):
            _validation.positive_int(name, value)
        _validation.token_id("pad_token_id", pad_token_id, vocabulary_size)
        dtype = kwargs.pop("dtype", None)
        # === Layers ===
        embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            max_sequence_length,
            hidden_dim,
            position="none" if position == "rotary" else position,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
            pad_token_id=pad_token_id,
            dtype=dtype,
            name="embedding",
        )
        if position not in ("learned", "sinusoidal", "rotary"):
            raise ValueError(
                "`position` must be one of ['learned', 'rotary', 'sinusoidal']. "
                f"Received: position={position!r}"
            )
        embedding_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embedding_dropout"
        )
        blocks = [
            TransformerDecoderBlock(
                num_heads,
                intermediate_dim,
                num_key_value_heads=num_key_value_heads,
                dropout=dropout,
                attention_dropout=dropout,
                activation=activation,
                normalize_first=True,
                norm=norm,
                norm_epsilon=norm_epsilon,
                attention_window=attention_window,
                use_rotary_embedding=position == "rotary",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
                dtype=dtype,
                name=f"decoder_layer_{index}",
            )
            for index in range(num_layers)
        ]
        final_norm = normalization(
            norm, norm_epsilon, dtype=dtype, name="final_norm"
        )

        self.embedding = embedding
        self.embedding_dropout = embedding_dropout
        self.blocks = blocks
        self.final_norm = final_norm

        # === Functional Model ===
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        logits, _ = self._forward(token_ids)
        super().__init__(inputs=token_ids, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.activation = activation
        self.position = position
        self.norm = norm
        self.norm_epsilon = norm_epsilon
        self.num_key_value_heads = num_key_value_heads
        self.attention_window = attention_window
        self.pad_token_id = pad_token_id

    @classmethod
    def from_pretrained(cls, path, **overrides) -> "GPTDecoder":
        """A `GPTDecoder` with the architecture and weights of a GPT-2 checkpoint.

        `from_preset` builds a published architecture with random weights;
        `from_pretrained` loads weights: a keras-hub `GPT2Backbone` preset
        directory or a Hugging Face GPT-2 checkpoint directory (see
        `keras_attention.convert.read_gpt2_checkpoint`). The model has no pad
        token (`pad_token_id=None`; GPT-2's id 0 is "!") and the tanh GELU.

        Args:
            path: the checkpoint directory (or a `GPT2Checkpoint` read from it).
            **overrides: `dropout`, `dtype`, `name`, `trainable` only.

        Raises:
            ConversionError (a ValueError): another architecture, a missing
                or misshapen tensor, a vocabulary of the wrong size.
        """
        from keras_attention.convert._models import gpt_decoder

        return gpt_decoder(cls, path, **overrides)

    # === Forward pass (functional graph, inspection) ===

    def _forward(self, token_ids, return_attention_scores=False):
        """Logits and (optionally) every layer's attention weights."""
        padding_mask = None
        pad_token_id = self.embedding.pad_token_id  # (set before the model's own attributes)
        if pad_token_id is not None:
            padding_mask = ops.not_equal(token_ids, pad_token_id)
        x = self.embedding_dropout(self.embedding(token_ids))
        scores = {}
        for block in self.blocks:
            x = block(
                x,
                decoder_padding_mask=padding_mask,
                return_attention_scores=return_attention_scores,
            )
            if return_attention_scores:
                x, block_scores = x
                scores[block.name] = block_scores["self_attention"]
        return self.embedding(self.final_norm(x), reverse=True), scores

    def attention_scores(self, token_ids) -> dict:
        """Attention weights of every layer and head for `token_ids`.

        Returns:
            `{"decoder_layer_0": (batch, num_heads, length, length), ...}`.
        """
        _, scores = self._forward(
            ops.convert_to_tensor(token_ids, "int32"), return_attention_scores=True
        )
        return scores

    # === Generation ===

    @property
    def cached_blocks(self) -> list:
        return self.blocks

    def call_with_cache(self, token_ids, cache, cache_index):
        """Logits for `token_ids` placed at `cache_index`, and the updated cache.

        Args:
            token_ids: `(batch, length)` int32.
            cache: from `initial_cache` (or a previous call).
            cache_index: int or scalar tensor.

        Returns:
            `(logits (batch, length, vocabulary_size), cache)`.
        """
        x = self.embedding(token_ids, start_index=cache_index)
        x, cache = self.call_blocks_with_cache(x, cache, cache_index)
        return self.embedding(self.final_norm(x), reverse=True), cache

    def decode(
        self,
        token_ids,
        prompt_mask,
        start_index,
        sampler,
        end_token_id=None,
        seed_generator=None,
        no_repeat_ngram_size=None,
    ):
        """Fill a token buffer after its prompts, on tensors, uncompiled.

        `generate` and exported models wrap this in their own compiled
        function. Positions past a row's prompt are overwritten before any
        query can see them, so the cache is filled from the whole buffer once.

        Args:
            token_ids: `(batch, max_length)` int32, prompts then zeros.
            prompt_mask: `(batch, max_length)` bool, True on prompt tokens.
            start_index: scalar, the shortest prompt's length.
            sampler: a `generation.Sampler` (or `TemperatureSampler`).
            end_token_id: optional end-of-text id.
            seed_generator: a `keras.random.SeedGenerator` for sampling.
            no_repeat_ngram_size: optional int, see `generate`.

        Returns:
            The filled `(batch, max_length)` buffer.
        """

        def step(token_ids, cache, index):
            logits, cache = self.call_with_cache(token_ids, cache, index)
            return logits[:, -1], cache

        batch, max_length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        _, cache = self.call_with_cache(token_ids, self.initial_cache(batch, max_length), 0)
        return generation.sample_loop(
            step, token_ids, prompt_mask, cache, start_index, sampler, end_token_id,
            seed_generator, pad_token_id=self.pad_token_id,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )

    def generate(
        self,
        prompt_token_ids,
        max_new_tokens: int,
        sampler="greedy",
        end_token_id: int | None = None,
        padding_mask=None,
        no_repeat_ngram_size: int | None = None,
    ) -> np.ndarray:
        """Continue right-padded prompts by `max_new_tokens` tokens.

        Args:
            prompt_token_ids: `(batch, prompt_length)` ints, each row a prompt
                followed by padding.
            max_new_tokens: int >= 1; the output has `prompt_length +
                max_new_tokens` columns.
            sampler: `"greedy"` (default), a `generation.Sampler`, or a dict of
                its arguments (`temperature`, `top_k`, `top_p`, `seed`).
            end_token_id: optional; rows stop after it (and are padded with
                `pad_token_id`, or with `end_token_id` when there is none).
            padding_mask: optional `(batch, prompt_length)`, nonzero on each
                row's prompt tokens, which come first. Default: the ids that
                are not `pad_token_id`; with `pad_token_id=None`, every
                position (prompts of equal length).
            no_repeat_ngram_size: int >= 1 or None (default): never generate
                a token that repeats an n-gram of this size, the prompt
                included (`generation.repeated_ngram_tokens`).

        Returns:
            A numpy `(batch, prompt_length + max_new_tokens)` int32 array: the
            prompts followed by the generated tokens.
        """
        sampler = generation.Sampler.get(sampler)
        _validation.positive_int("max_new_tokens", max_new_tokens)
        _validation.positive_int("no_repeat_ngram_size", no_repeat_ngram_size, allow_none=True)
        prompts = np.asarray(prompt_token_ids)
        if prompts.ndim != 2 or not np.issubdtype(prompts.dtype, np.integer):
            raise ValueError(
                "`prompt_token_ids` must be a 2-D integer array (batch, length). "
                f"Received: shape={prompts.shape}, dtype={prompts.dtype}"
            )
        lengths = self._prompt_lengths(prompts, padding_mask)
        max_length = prompts.shape[1] + max_new_tokens
        if self.position == "learned" and max_length > self.max_sequence_length:
            raise ValueError(
                "The prompt plus `max_new_tokens` is longer than the model's "
                f"maximum length {self.max_sequence_length}. Received: prompt "
                f"length={prompts.shape[1]}, max_new_tokens={max_new_tokens}"
            )
        # What is left after an end token (the loop stops when every row ended).
        fill = self.pad_token_id if self.pad_token_id is not None else (end_token_id or 0)
        buffer = np.full((prompts.shape[0], max_length), fill, "int32")
        buffer[:, : prompts.shape[1]] = prompts
        prompt_mask = np.arange(max_length)[None, :] < lengths[:, None]
        function = self.compiled_sampling(
            self.decode,
            sampler,
            end_token_id=end_token_id,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        outputs = function(
            buffer, prompt_mask, ops.convert_to_tensor(lengths.min(), "int32")
        )
        return ops.convert_to_numpy(outputs)

    def _prompt_lengths(self, prompts: np.ndarray, padding_mask) -> np.ndarray:
        """Each prompt's length, from `padding_mask` or the pad id."""
        if padding_mask is None:
            if self.pad_token_id is None:
                real = np.ones(prompts.shape, bool)
            else:
                real = prompts != self.pad_token_id
        else:
            real = np.asarray(padding_mask).astype(bool)
            if real.shape != prompts.shape:
                raise ValueError(
                    "`padding_mask` must have the shape of `prompt_token_ids`. Received: "
                    f"padding_mask.shape={real.shape}, prompt_token_ids.shape={prompts.shape}"
                )
        lengths = real.sum(axis=1)
        if lengths.min() < 1:
            raise ValueError(
                "Every prompt needs at least one token"
                + (f" (an id other than pad_token_id={self.pad_token_id})."
                   if padding_mask is None else " (a nonzero `padding_mask` entry).")
            )
        if padding_mask is not None and not np.array_equal(
            real, np.arange(prompts.shape[1])[None, :] < lengths[:, None]
        ):
            raise ValueError(
                "`padding_mask` must mark each row's prompt at its start (padding on "
                "the right only)."
            )
        return lengths
