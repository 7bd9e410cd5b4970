"""The one generation engine: greedy, sampling and beam search on a fixed-size KV cache.

Both the GPT decoder and the encoder-decoder model generate through these
functions. A model supplies a `step_fn(token_ids, cache, index)` that runs its
decoder on the tokens at position `index` (shape `(batch, 1)`) against a
fixed-size key/value cache and returns `(logits (batch, vocabulary), cache)`.
The loops are `keras.ops.while_loop`s over a token buffer of fixed length, so a
compiled generate function serves every call with the same (batch, length).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = [
    "CompiledFunctions",
    "Sampler",
    "TemperatureSampler",
    "beam_search_loop",
    "length_penalty",
    "sample_loop",
]

_NEG_INF = -1e9


class Sampler:
    """How the next token is chosen from the logits.

    `temperature=0` (the default) is greedy decoding (argmax). Otherwise the
    logits are divided by `temperature`, optionally restricted to the `top_k`
    most likely tokens and/or to the smallest set whose probability reaches
    `top_p` (nucleus sampling), and a token is drawn at random.

    Args:
        temperature: float >= 0, default 0.0 (greedy).
        top_k: int >= 1 or None.
        top_p: float in (0, 1] or None.
        seed: int or None. The same seed gives the same samples on every call.

    Example:

    >>> import numpy as np
    >>> logits = np.log(np.array([[0.1, 0.6, 0.3]], "float32"))
    >>> int(Sampler()(logits)[0])
    1
    >>> int(Sampler(temperature=1.0, top_k=1, seed=0)(logits)[0])
    1

    References:
        Fan et al., "Hierarchical Neural Story Generation", 2018 (top-k).
        Holtzman et al., "The Curious Case of Neural Text Degeneration",
        2020 (top-p).
    """

    def __init__(
        self,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ):
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
            raise ValueError(
                f"`temperature` must be a float >= 0. Received: temperature={temperature!r}"
            )
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise ValueError(f"`top_k` must be an integer >= 1. Received: top_k={top_k!r}")
        if top_p is not None and (
            isinstance(top_p, bool)
            or not isinstance(top_p, (int, float))
            or not 0.0 < top_p <= 1.0
        ):
            raise ValueError(f"`top_p` must be a float in (0, 1]. Received: top_p={top_p!r}")
        if temperature == 0 and (top_k is not None or top_p is not None):
            raise ValueError(
                "`top_k`/`top_p` need sampling: set `temperature` > 0. Received: "
                f"temperature={temperature!r}, top_k={top_k!r}, top_p={top_p!r}"
            )
        self.temperature = float(temperature)
        self.top_k = top_k
        self.top_p = None if top_p is None else float(top_p)
        self.seed = seed

    @classmethod
    def get(cls, sampler) -> "Sampler":
        """A `Sampler` from an instance, None/`"greedy"`, or a config dict."""
        if isinstance(sampler, Sampler):
            return sampler
        if sampler is None or sampler == "greedy":
            return cls()
        if isinstance(sampler, dict):
            return cls(**sampler)
        raise ValueError(
            "`sampler` must be a Sampler, 'greedy', or a dict of Sampler "
            f"arguments. Received: sampler={sampler!r}"
        )

    @property
    def key(self):
        """What a compiled generate function depends on (not the seed)."""
        return (self.temperature, self.top_k, self.top_p)

    def __call__(self, logits, seed_generator=None):
        """`(batch, vocabulary)` logits -> `(batch,)` int32 token ids.

        Token 0 is padding and is never chosen. `seed_generator` is the
        `keras.random.SeedGenerator` that random draws consume.
        """
        logits = _without_padding(logits)
        if self.temperature == 0:
            return ops.cast(ops.argmax(logits, axis=-1), "int32")
        logits = logits / self.temperature
        if self.top_k is not None:
            kth = ops.top_k(logits, min(self.top_k, logits.shape[-1]))[0][:, -1:]
            logits = ops.where(logits < kth, _NEG_INF, logits)
        if self.top_p is not None:
            # Keep the most likely tokens until their total probability
            # reaches top_p (the most likely one is always kept).
            sorted_logits = ops.sort(logits, axis=-1)[:, ::-1]
            sorted_probabilities = ops.softmax(sorted_logits, axis=-1)
            before = ops.cumsum(sorted_probabilities, axis=-1) - sorted_probabilities
            # The smallest kept logit is the threshold (others count as +inf).
            kept = ops.where(before < self.top_p, sorted_logits, -_NEG_INF)
            threshold = ops.min(kept, axis=-1, keepdims=True)
            logits = ops.where(logits < threshold, _NEG_INF, logits)
        samples = keras.random.categorical(logits, 1, seed=seed_generator)
        return ops.cast(samples[:, 0], "int32")

    def __repr__(self):
        return (
            f"Sampler(temperature={self.temperature}, top_k={self.top_k}, "
            f"top_p={self.top_p}, seed={self.seed})"
        )


def _without_padding(logits):
    """float32 logits with token 0 (padding) made impossible."""
    logits = ops.cast(logits, "float32")
    return ops.where(ops.arange(logits.shape[-1]) == 0, _NEG_INF, logits)


class TemperatureSampler:
    """Sampling whose temperature is a tensor, e.g. an input of a served model.

    Greedy (argmax) where `temperature <= 0`, otherwise a draw from
    `softmax(logits / temperature)`. Token 0 (padding) is never chosen.
    """

    def __init__(self, temperature):
        self.temperature = ops.cast(temperature, "float32")

    def __call__(self, logits, seed_generator=None):
        logits = _without_padding(logits)
        greedy = ops.cast(ops.argmax(logits, axis=-1), "int32")
        scaled = logits / ops.maximum(self.temperature, 1e-6)
        sampled = keras.random.categorical(scaled, 1, seed=seed_generator)[:, 0]
        return ops.where(self.temperature > 0, ops.cast(sampled, "int32"), greedy)


class CompiledFunctions:
    """A model's compiled generate functions, one per shape key, and its seed.

    Kept outside Keras' attribute tracking (a plain object), so compiling a
    function never adds variables to the model.
    """

    def __init__(self):
        self._functions = {}
        self._seed_generator = None

    def get(self, key, build):
        if key not in self._functions:
            self._functions[key] = build()
        return self._functions[key]

    def seed_generator(self, seed: int | None):
        """The shared seed generator, restarted at `seed` (random if None)."""
        import numpy as np

        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        if self._seed_generator is None:
            self._seed_generator = keras.random.SeedGenerator(seed)
        state = self._seed_generator.state
        state.assign(ops.cast(ops.convert_to_tensor([seed, 0]), state.dtype))
        return self._seed_generator


def _column(token_ids, index):
    # token_ids[:, index], keeping a (batch, 1) shape; index may be a tensor.
    return ops.slice(token_ids, (0, index), (ops.shape(token_ids)[0], 1))


def sample_loop(
    step_fn,
    token_ids,
    prompt_mask,
    cache,
    start_index,
    sampler: Sampler,
    end_token_id: int | None = None,
    seed_generator=None,
):
    """Greedy or sampled generation into a fixed-size token buffer.

    Args:
        step_fn: `(token_ids (batch, 1), cache, index) -> (logits, cache)`.
        token_ids: `(batch, max_length)` int32 buffer holding the prompts.
        prompt_mask: `(batch, max_length)` bool, True on prompt tokens, which
            are kept as they are.
        cache: the model's key/value cache, already filled for the prompt.
        start_index: scalar, the first position to generate (>= 1).
        sampler: a `Sampler`.
        end_token_id: optional; once a row produced it, the row is padded
            with 0 and the loop stops when every row is done.
        seed_generator: the `keras.random.SeedGenerator` for sampling.

    Returns:
        The filled `(batch, max_length)` buffer.
    """
    max_length = ops.shape(token_ids)[1]
    done = ops.zeros((ops.shape(token_ids)[0],), "bool")

    def cond(index, token_ids, cache, done):
        return ops.logical_and(index < max_length, ops.logical_not(ops.all(done)))

    def body(index, token_ids, cache, done):
        logits, cache = step_fn(_column(token_ids, index - 1), cache, index - 1)
        sampled = sampler(logits, seed_generator)
        is_prompt = _column(prompt_mask, index)[:, 0]
        chosen = ops.where(
            is_prompt, _column(token_ids, index)[:, 0], ops.where(done, 0, sampled)
        )
        token_ids = ops.slice_update(token_ids, (0, index), chosen[:, None])
        if end_token_id is not None:
            finished = ops.logical_and(chosen == end_token_id, ops.logical_not(is_prompt))
            done = ops.logical_or(done, finished)
        return index + 1, token_ids, cache, done

    _, token_ids, _, _ = ops.while_loop(
        cond, body, (ops.cast(start_index, "int32"), token_ids, cache, done)
    )
    return token_ids


def length_penalty(length, alpha: float):
    """GNMT length penalty `((5 + length) / 6) ** alpha` (Wu et al., 2016, §7)."""
    return ops.power((5.0 + ops.cast(length, "float32")) / 6.0, alpha)


def beam_search_loop(
    step_fn,
    token_ids,
    cache,
    start_index: int,
    beam_size: int,
    alpha: float = 0.6,
    end_token_id: int | None = None,
    reorder_cache=None,
):
    """Beam search into a fixed-size buffer; every row's prompt ends at `start_index`.

    Beams are searched by the sum of token log-probabilities; a finished beam
    (one that produced `end_token_id`) keeps its score and is padded with 0.
    The final ranking divides each score by the length penalty.

    Args:
        step_fn: `(token_ids (batch * beam_size, 1), cache, index) -> (logits, cache)`.
        token_ids: `(batch * beam_size, max_length)` int32, prompts already
            repeated per beam.
        cache: the cache for `batch * beam_size` rows.
        start_index: the first position to generate.
        beam_size: int >= 1.
        alpha: length-penalty exponent; 0 ranks by plain log-probability.
        end_token_id: optional end-of-sequence id.
        reorder_cache: `(cache, flat_beam_indices) -> cache`; default gathers
            along axis 0.

    Returns:
        `(sequences (batch, beam_size, max_length), scores (batch, beam_size))`,
        best first, scores being length-normalised log-probabilities.
    """
    if reorder_cache is None:
        reorder_cache = lambda cache, indices: ops.take(cache, indices, axis=0)  # noqa: E731
    rows, max_length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
    batch = rows // beam_size
    # Only the first beam is alive at the start, so the beams do not all
    # pick the same first token.
    first = ops.concatenate([ops.zeros((1,)), ops.full((beam_size - 1,), _NEG_INF)])
    scores = ops.tile(first[None, :], (batch, 1))
    done = ops.zeros((rows,), "bool")
    lengths = ops.zeros((rows,), "int32")
    beam_offsets = ops.repeat(ops.arange(batch) * beam_size, beam_size)

    def cond(index, token_ids, cache, scores, done, lengths):
        return ops.logical_and(index < max_length, ops.logical_not(ops.all(done)))

    def body(index, token_ids, cache, scores, done, lengths):
        logits, cache = step_fn(_column(token_ids, index - 1), cache, index - 1)
        vocabulary = logits.shape[-1]
        is_pad = ops.arange(vocabulary) == 0
        # Live beams never choose padding (it is excluded before the softmax,
        # as in `Sampler`); a finished beam may only continue with padding,
        # at no cost.
        logits = ops.where(is_pad, _NEG_INF, ops.cast(logits, "float32"))
        log_probs = ops.log_softmax(logits, axis=-1)
        pad_only = ops.where(is_pad, 0.0, _NEG_INF)
        log_probs = ops.where(done[:, None], pad_only[None, :], log_probs)
        # (batch, beam_size * vocabulary)
        candidates = ops.reshape(
            scores[:, :, None] + ops.reshape(log_probs, (batch, beam_size, vocabulary)),
            (batch, beam_size * vocabulary),
        )
        scores, flat = ops.top_k(candidates, beam_size)
        source = ops.reshape(flat // vocabulary, (-1,)) + beam_offsets
        tokens = ops.cast(ops.reshape(flat % vocabulary, (-1,)), "int32")
        token_ids = ops.take(token_ids, source, axis=0)
        done, lengths = ops.take(done, source), ops.take(lengths, source)
        cache = reorder_cache(cache, source)
        token_ids = ops.slice_update(token_ids, (0, index), tokens[:, None])
        lengths = lengths + ops.cast(ops.logical_not(done), "int32")
        if end_token_id is not None:
            done = ops.logical_or(done, tokens == end_token_id)
        return index + 1, token_ids, cache, scores, done, lengths

    _, token_ids, _, scores, _, lengths = ops.while_loop(
        cond,
        body,
        (ops.convert_to_tensor(start_index, "int32"), token_ids, cache, scores, done, lengths),
    )
    normalized = scores / ops.reshape(length_penalty(lengths, alpha), (batch, beam_size))
    normalized, order = ops.top_k(normalized, beam_size)
    sequences = ops.reshape(token_ids, (batch, beam_size, max_length))
    sequences = ops.take_along_axis(sequences, order[:, :, None], axis=1)
    return sequences, normalized
