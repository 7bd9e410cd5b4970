"""The one generation engine: greedy, sampling and beam search on a fixed-size KV cache.

Both the GPT decoder and the encoder-decoder model generate through these
functions. A model supplies a `step_fn(token_ids, cache, index)` that runs its
decoder on the tokens at position `index` (shape `(batch, 1)`) against a
fixed-size key/value cache and returns `(logits (batch, vocabulary), cache)`.
The loops are `keras.ops.while_loop`s over a token buffer of fixed length, so a
compiled generate function serves every call with the same (batch, length).
They are `keras.ops` only and run under any backend; compiling them is the
job of `keras_attention.models.generative_model`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
from keras import ops

__all__ = [
    "RowSampler",
    "Sampler",
    "TemperatureSampler",
    "beam_search_loop",
    "length_penalty",
    "repeated_ngram_tokens",
    "sample_logits",
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

    def __call__(self, logits, seed_generator=None, pad_token_id: int | None = 0):
        """`(batch, vocabulary)` logits -> `(batch,)` int32 token ids.

        `pad_token_id` (default 0) is padding and is never chosen; None for
        a vocabulary without padding (GPT-2's id 0 is "!"). `seed_generator`
        is the `keras.random.SeedGenerator` that random draws consume.
        """
        if self.temperature == 0:
            return _greedy(logits, pad_token_id)
        return sample_logits(
            logits, self.temperature, self.top_k, self.top_p, seed_generator, pad_token_id
        )

    def __repr__(self):
        return (
            f"Sampler(temperature={self.temperature}, top_k={self.top_k}, "
            f"top_p={self.top_p}, seed={self.seed})"
        )


def _without_padding(logits, pad_token_id=0):
    """float32 logits with `pad_token_id` made impossible (none when it is None)."""
    logits = ops.cast(logits, "float32")
    if pad_token_id is None:
        return logits
    return ops.where(ops.arange(logits.shape[-1]) == pad_token_id, _NEG_INF, logits)


def _greedy(logits, pad_token_id=0):
    return ops.cast(ops.argmax(_without_padding(logits, pad_token_id), axis=-1), "int32")


def _per_row(value):
    """A Python number as it is; a scalar tensor as it is; a `(batch,)` tensor as `(batch, 1)`."""
    if isinstance(value, (int, float)) or len(ops.shape(value)) == 0:
        return value
    return value[:, None]


def sample_logits(
    logits, temperature, top_k=None, top_p=None, seed_generator=None, pad_token_id=0
):
    """One draw per row from `softmax(logits / temperature)`, restricted by top-k / top-p.

    The sampling step of `Sampler` and of `RowSampler` (a served model's
    per-row settings): both come here, so a served model samples as
    `generate` does. Each setting is a Python number (`Sampler`'s values, for
    every row) or a tensor of shape `()` or `(batch,)` (one value per row).

    Args:
        logits: `(batch, vocabulary)`.
        temperature: > 0.
        top_k: None, or keep the `top_k` most likely tokens; a tensor value
            <= 0 keeps every token of its row.
        top_p: None, or keep the most likely tokens until their total
            probability reaches `top_p` (the most likely one always); a tensor
            value >= 1 keeps every token of its row.
        seed_generator: the `keras.random.SeedGenerator` the draw consumes.
        pad_token_id: int or None, default 0; never chosen (None: every
            token can be).

    Returns:
        `(batch,)` int32 token ids, never `pad_token_id`.
    """
    logits = _without_padding(logits, pad_token_id) / _per_row(temperature)
    vocabulary = logits.shape[-1]
    if top_k is not None:
        if isinstance(top_k, int):
            kth = ops.top_k(logits, min(top_k, vocabulary))[0][:, -1:]
        else:
            top_k = ops.broadcast_to(ops.cast(top_k, "int32"), ops.shape(logits)[:1])
            descending = ops.top_k(logits, vocabulary)[0]
            kth = ops.take_along_axis(
                descending, ops.clip(top_k, 1, vocabulary)[:, None] - 1, axis=1
            )
            kth = ops.where(top_k[:, None] <= 0, _NEG_INF, kth)
        logits = ops.where(logits < kth, _NEG_INF, logits)
    if top_p is not None:
        sorted_logits = ops.sort(logits, axis=-1)[:, ::-1]
        sorted_probabilities = ops.softmax(sorted_logits, axis=-1)
        before = ops.cumsum(sorted_probabilities, axis=-1) - sorted_probabilities
        # The smallest kept logit is the threshold (others count as +inf).
        kept = ops.where(before < _per_row(top_p), sorted_logits, -_NEG_INF)
        threshold = ops.min(kept, axis=-1, keepdims=True)
        if not isinstance(top_p, (int, float)):
            threshold = ops.where(_per_row(top_p) >= 1.0, _NEG_INF, threshold)
        logits = ops.where(logits < threshold, _NEG_INF, logits)
    samples = keras.random.categorical(logits, 1, seed=seed_generator)
    return ops.cast(samples[:, 0], "int32")


class RowSampler:
    """`Sampler`'s decoding with tensor settings, one value per row: the inputs of a served model.

    Each row is greedy (argmax) where its `temperature <= 0`, otherwise
    sampled by `sample_logits` (the same code as `Sampler`) with its own
    temperature, `top_k` (<= 0: no top-k) and `top_p` (>= 1: no top-p). Rows
    with the settings of a `Sampler` draw what that `Sampler` draws from the
    same logits and seed state.

    Args:
        temperature: float tensor `()` or `(batch,)`.
        top_k: None, or int tensor `()` or `(batch,)`.
        top_p: None, or float tensor `()` or `(batch,)`.

    Example:

    >>> import numpy as np
    >>> logits = np.log(np.array([[0.1, 0.6, 0.3], [0.1, 0.3, 0.6]], "float32"))
    >>> sampler = RowSampler(np.array([0.0, 5.0], "float32"), top_k=np.array([0, 1], "int32"))
    >>> np.asarray(sampler(logits, keras.random.SeedGenerator(0))).tolist()
    [1, 2]
    """

    def __init__(self, temperature, top_k=None, top_p=None):
        self.temperature = ops.cast(temperature, "float32")
        self.top_k = None if top_k is None else ops.cast(top_k, "int32")
        self.top_p = None if top_p is None else ops.cast(top_p, "float32")

    def __call__(self, logits, seed_generator=None, pad_token_id: int | None = 0):
        temperature = ops.maximum(self.temperature, 1e-6)
        sampled = sample_logits(
            logits, temperature, self.top_k, self.top_p, seed_generator, pad_token_id
        )
        return ops.where(self.temperature > 0, sampled, _greedy(logits, pad_token_id))


# The temperature-only sampler of earlier versions.
TemperatureSampler = RowSampler


def _column(token_ids, index):
    # token_ids[:, index], keeping a (batch, 1) shape; index may be a tensor.
    return ops.slice(token_ids, (0, index), (ops.shape(token_ids)[0], 1))


def repeated_ngram_tokens(token_ids, index, ngram_size: int, vocabulary_size: int):
    """The tokens that, written at `index`, would repeat an n-gram of the row.

    A token `w` is banned for a row when the row's last `ngram_size - 1`
    tokens before `index`, followed by `w`, already occur in
    `token_ids[:, :index]` (the "no repeat n-gram" rule of fairseq and
    Hugging Face's `no_repeat_ngram_size`). With `ngram_size=1` every token
    already written is banned.

    Args:
        token_ids: `(rows, max_length)` int32 buffer; positions from `index`
            on are ignored.
        index: scalar int, the position written next.
        ngram_size: int >= 1.
        vocabulary_size: int.

    Returns:
        `(rows, vocabulary_size)` bool, True on banned tokens.

    Example:

    >>> import numpy as np
    >>> tokens = np.array([[1, 5, 6, 5, 0, 0]], "int32")  # next: position 4
    >>> np.flatnonzero(repeated_ngram_tokens(tokens, 4, 2, 8)[0]).tolist()  # "5 6" again
    [6]
    """
    rows, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
    n = ngram_size
    # The n-gram starting at j: tokens j .. j + n - 1, the last one written before index.
    starts = length - n + 1
    matches = ops.arange(starts, dtype="int32")[None, :] + (n - 1) < index
    for k in range(n - 1):
        last = _column(token_ids, ops.maximum(index - (n - 1) + k, 0))
        matches = ops.logical_and(matches, ops.slice(token_ids, (0, k), (rows, starts)) == last)
    following = ops.slice(token_ids, (0, n - 1), (rows, starts))
    matches = ops.broadcast_to(matches, ops.shape(following))  # (1, starts) when n = 1
    row_ids = ops.broadcast_to(ops.arange(rows, dtype="int32")[:, None], ops.shape(following))
    counts = ops.scatter(
        ops.reshape(ops.stack([row_ids, following], axis=-1), (-1, 2)),
        ops.reshape(ops.cast(matches, "float32"), (-1,)),
        (rows, vocabulary_size),
    )
    return counts > 0


def _ban_repeats(logits, token_ids, index, ngram_size):
    """`logits` (or log-probabilities) with `repeated_ngram_tokens` made
    impossible; unchanged for `ngram_size` None."""
    if not ngram_size:
        return logits
    banned = repeated_ngram_tokens(token_ids, index, ngram_size, logits.shape[-1])
    return ops.where(banned, _NEG_INF, ops.cast(logits, "float32"))


def sample_loop(
    step_fn,
    token_ids,
    prompt_mask,
    cache,
    start_index,
    sampler: Sampler,
    end_token_id: int | None = None,
    seed_generator=None,
    pad_token_id: int | None = 0,
    no_repeat_ngram_size: int | None = None,
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
            (with `pad_token_id`, or `end_token_id` itself when there is no
            pad token) and the loop stops when every row is done.
        seed_generator: the `keras.random.SeedGenerator` for sampling; it
            ends advanced by one per draw, as `keras.random` leaves it.
        pad_token_id: int or None, default 0: the padding id, never
            generated. None: the vocabulary has no padding (GPT-2), every
            token can be generated.
        no_repeat_ngram_size: int or None (default): no generated token
            completes an n-gram of this size that the row already holds
            (`repeated_ngram_tokens`; the prompt counts).

    Returns:
        The filled `(batch, max_length)` buffer.
    """
    max_length = ops.shape(token_ids)[1]
    done = ops.zeros((ops.shape(token_ids)[0],), "bool")
    fill = pad_token_id if pad_token_id is not None else (end_token_id or 0)
    # The seed generator's state is a loop variable: a JAX trace sees the
    # body once, so a state only assigned inside it would give every step
    # the same seed. Each step restores it, draws, and carries it on.
    seed = ops.zeros((2,), "int32") if seed_generator is None else seed_generator.state.value

    def cond(index, token_ids, cache, done, seed):
        return ops.logical_and(index < max_length, ops.logical_not(ops.all(done)))

    def body(index, token_ids, cache, done, seed):
        logits, cache = step_fn(_column(token_ids, index - 1), cache, index - 1)
        logits = _ban_repeats(logits, token_ids, index, no_repeat_ngram_size)
        if seed_generator is not None:
            seed_generator.state.assign(seed)
        sampled = sampler(logits, seed_generator, pad_token_id=pad_token_id)
        if seed_generator is not None:
            seed = seed_generator.state.value
        is_prompt = _column(prompt_mask, index)[:, 0]
        chosen = ops.where(
            is_prompt, _column(token_ids, index)[:, 0], ops.where(done, fill, sampled)
        )
        token_ids = ops.slice_update(token_ids, (0, index), chosen[:, None])
        if end_token_id is not None:
            finished = ops.logical_and(chosen == end_token_id, ops.logical_not(is_prompt))
            done = ops.logical_or(done, finished)
        return index + 1, token_ids, cache, done, seed

    _, token_ids, _, _, seed = ops.while_loop(
        cond, body, (ops.cast(start_index, "int32"), token_ids, cache, done, seed)
    )
    if seed_generator is not None:
        seed_generator.state.assign(seed)
    return token_ids


def length_penalty(length, alpha: float):
    """GNMT length penalty `((5 + length) / 6) ** alpha` (Wu et al., 2016, §7, eq. 14).

    `length` counts the generated tokens, the end token included (as in
    tensor2tensor and flax's WMT example).
    """
    return ops.power((5.0 + ops.cast(length, "float32")) / 6.0, alpha)


class BeamState(NamedTuple):
    """The loop variables of `beam_search_loop` (after flax's WMT `BeamState`).

    Alive beams never end with the end token; finished hypotheses wait in
    their own pool, so longer alive beams cannot push them out.
    """

    index: Any  # scalar int32: the position written next
    alive_sequences: Any  # (batch, beam_size, max_length) int32
    alive_log_probs: Any  # (batch, beam_size) float32, sum of token log-probs
    cache: Any  # the model's cache for batch * beam_size rows (alive beams)
    finished_sequences: Any  # (batch, beam_size, max_length) int32, 0 after the end token
    finished_scores: Any  # (batch, beam_size) float32, length-normalised, best first
    finished_flags: Any  # (batch, beam_size) bool, False on empty slots


def _gather_beams(x, beam_indices):
    """`x[b, beam_indices[b, j]]`: `(batch, n, ...)`, `(batch, m)` -> `(batch, m, ...)`."""
    beam_indices = ops.reshape(
        beam_indices, tuple(ops.shape(beam_indices)) + (1,) * (len(x.shape) - 2)
    )
    return ops.take_along_axis(x, beam_indices, axis=1)


def beam_search_loop(
    step_fn,
    token_ids,
    cache,
    start_index: int,
    beam_size: int,
    alpha: float = 0.6,
    end_token_id: int | None = None,
    reorder_cache=None,
    no_repeat_ngram_size: int | None = None,
):
    """Beam search into a fixed-size buffer; every row's prompt ends at `start_index`.

    Two pools per input, as in tensor2tensor and flax's WMT decoder: `beam_size`
    alive beams, searched by the sum of their tokens' log-probabilities, and
    `beam_size` finished hypotheses, ranked by that sum divided by
    `length_penalty`. Each step takes the `2 * beam_size` best extensions of
    the alive beams (so at least `beam_size` of them do not end); those ending
    with `end_token_id` join the finished pool, the best others stay alive.
    The loop stops at `max_length`, or once no alive beam can beat the worst
    finished hypothesis: log-probabilities only fall as a beam grows and, with
    `alpha >= 0`, the penalty is largest at `max_length`.

    Args:
        step_fn: `(token_ids (batch * beam_size, 1), cache, index) -> (logits, cache)`.
        token_ids: `(batch * beam_size, max_length)` int32, prompts already
            repeated per beam.
        cache: the cache for `batch * beam_size` rows.
        start_index: the first position to generate.
        beam_size: int >= 1.
        alpha: length-penalty exponent >= 0; 0 ranks by plain log-probability.
        end_token_id: optional end-of-sequence id; without one every
            hypothesis runs to `max_length`.
        reorder_cache: `(cache, flat_beam_indices) -> cache`; default gathers
            along axis 0.
        no_repeat_ngram_size: int or None (default): no beam is extended
            with a token that completes an n-gram of this size the beam
            already holds (`repeated_ngram_tokens`).

    Returns:
        `(sequences (batch, beam_size, max_length), scores (batch, beam_size))`,
        scores being length-normalised log-probabilities (the length counts
        the generated tokens, the end token included). Finished hypotheses
        come first, best first, padded with 0 after the end token; where fewer
        than `beam_size` finished, the best alive beams, cut at `max_length`,
        fill the remaining slots (best first). Token 0 (padding) is never
        generated.

    References:
        Wu et al., "Google's Neural Machine Translation System", 2016, §7.
    """
    if reorder_cache is None:
        reorder_cache = lambda cache, indices: ops.take(cache, indices, axis=0)  # noqa: E731
    rows, max_length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
    batch = rows // beam_size
    start_index = ops.convert_to_tensor(start_index, "int32")
    # The rows of beam 0 of every input, to index the flat (batch * beam) cache.
    beam_offsets = ops.arange(batch, dtype="int32")[:, None] * beam_size

    def alive_bound(state):
        # The best normalised score an alive beam could still reach.
        longest = ops.cast(max_length, "int32") - start_index
        best_alive = ops.max(state.alive_log_probs, axis=1)
        return best_alive / length_penalty(longest, alpha)

    def cond(state):
        worst_finished = ops.min(
            ops.where(state.finished_flags, state.finished_scores, _NEG_INF), axis=1
        )
        searching = ops.any(alive_bound(state) > worst_finished)
        return ops.logical_and(state.index < max_length, searching)

    def body(state):
        index = state.index
        flat_sequences = ops.reshape(state.alive_sequences, (rows, max_length))
        logits, cache = step_fn(_column(flat_sequences, index - 1), state.cache, index - 1)
        vocabulary = logits.shape[-1]
        # Padding is excluded before the softmax, as in `Sampler`.
        logits = ops.where(ops.arange(vocabulary) == 0, _NEG_INF, ops.cast(logits, "float32"))
        # Repeated n-grams are excluded after it: a beam's score stays the
        # model's log-probability of its tokens.
        log_probs = _ban_repeats(
            ops.log_softmax(logits, axis=-1), flat_sequences, index, no_repeat_ngram_size
        )
        log_probs = ops.reshape(log_probs, (batch, beam_size, vocabulary))
        # (batch, beam_size * vocabulary)
        candidates = ops.reshape(
            state.alive_log_probs[:, :, None] + log_probs, (batch, beam_size * vocabulary)
        )
        # (batch, 2 * beam_size): enough that beam_size of them do not end.
        top_log_probs, top_indices = ops.top_k(
            candidates, min(2 * beam_size, beam_size * vocabulary)
        )
        top_beams = top_indices // vocabulary
        top_tokens = ops.cast(top_indices % vocabulary, "int32")
        top_sequences = ops.slice_update(
            _gather_beams(state.alive_sequences, top_beams), (0, 0, index), top_tokens[:, :, None]
        )
        if end_token_id is None:
            ends = ops.zeros_like(top_tokens, "bool")
        else:
            ends = top_tokens == end_token_id

        # Alive: the best extensions that did not end; their caches follow them.
        alive_log_probs, alive_order = ops.top_k(
            ops.where(ends, _NEG_INF, top_log_probs), beam_size
        )
        alive_sequences = _gather_beams(top_sequences, alive_order)
        sources = ops.take_along_axis(top_beams, alive_order, axis=1) + beam_offsets
        cache = reorder_cache(cache, ops.reshape(sources, (-1,)))

        # Finished: the pool and the extensions that ended, best normalised
        # scores kept. Extensions of the empty beams of the first step have
        # scores near _NEG_INF and never count as finished.
        new_flags = ops.logical_and(ends, top_log_probs > _NEG_INF / 2)
        new_scores = top_log_probs / length_penalty(index - start_index + 1, alpha)
        # (batch, 3 * beam_size)
        scores = ops.concatenate(
            [state.finished_scores, ops.where(new_flags, new_scores, _NEG_INF)], axis=1
        )
        flags = ops.concatenate([state.finished_flags, new_flags], axis=1)
        sequences = ops.concatenate([state.finished_sequences, top_sequences], axis=1)
        finished_scores, finished_order = ops.top_k(scores, beam_size)
        return (
            BeamState(
                index=index + 1,
                alive_sequences=alive_sequences,
                alive_log_probs=alive_log_probs,
                cache=cache,
                finished_sequences=_gather_beams(sequences, finished_order),
                finished_scores=finished_scores,
                finished_flags=ops.take_along_axis(flags, finished_order, axis=1),
            ),
        )

    # Only beam 0 is alive at the start, so the beams do not all pick the
    # same first token.
    first = ops.concatenate([ops.zeros((1,)), ops.full((beam_size - 1,), _NEG_INF)])
    alive_sequences = ops.reshape(token_ids, (batch, beam_size, max_length))
    initial = BeamState(
        index=start_index,
        alive_sequences=alive_sequences,
        alive_log_probs=ops.tile(first[None, :], (batch, 1)),
        cache=cache,
        finished_sequences=ops.zeros_like(alive_sequences),
        finished_scores=ops.full((batch, beam_size), _NEG_INF),
        finished_flags=ops.zeros((batch, beam_size), "bool"),
    )
    (state,) = ops.while_loop(cond, body, (initial,))

    # Finished hypotheses first; alive beams (cut where the loop stopped,
    # which is max_length whenever a slot is still empty) fill the rest.
    finished_count = ops.sum(ops.cast(state.finished_flags, "int32"), axis=1)[:, None]
    alive_scores = state.alive_log_probs / length_penalty(state.index - start_index, alpha)
    slots = ops.arange(beam_size, dtype="int32")[None, :]
    picks = ops.where(slots < finished_count, slots, beam_size + slots - finished_count)
    sequences = _gather_beams(
        ops.concatenate([state.finished_sequences, state.alive_sequences], axis=1), picks
    )
    scores = ops.take_along_axis(
        ops.concatenate([state.finished_scores, alive_scores], axis=1), picks, axis=1
    )
    return sequences, scores
