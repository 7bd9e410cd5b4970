"""Beam search against an exhaustive search over a toy model whose tree is small.

The toy model is a fixed table of next-token log-probabilities for every
prefix; its cache holds the prefix (and the batch row), so beams that are
reordered carry their own history. Expected values come from
`tests.reference.exhaustive_search`, which shares no code with the library.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras import ops

from keras_attention.models import Seq2SeqTransformer
from keras_attention.models.generation import beam_search_loop
from tests.reference.ngrams import repeating_tokens
from tests.reference.exhaustive_search import (
    best_hypotheses,
    exhaustive_search,
    normalized_score,
)

START, END = 1, 2


class PrefixTable:
    """A toy language model: next-token log-probs looked up by the whole prefix.

    Args:
        vocabulary_size: tokens `0 .. vocabulary_size - 1`; 0 is padding.
        max_length: the longest prefix the table covers.
        batch: one table per batch row.
        rng: fills the table with random distributions over tokens 1...
    """

    def __init__(self, vocabulary_size, max_length, batch, rng):
        self.vocabulary_size, self.max_length = vocabulary_size, max_length
        codes = vocabulary_size**max_length
        probabilities = rng.dirichlet(np.ones(vocabulary_size - 1), size=(batch, codes))
        self.table = np.empty((batch, codes, vocabulary_size), "float32")
        self.table[..., 1:] = np.log(probabilities)
        # Padding's logit is large, so a search that did not exclude it would
        # pick it and score the other tokens differently.
        self.table[..., 0] = 5.0

    def _code(self, tokens):
        return sum(token * self.vocabulary_size**i for i, token in enumerate(tokens))

    def set(self, row, tokens, probabilities):
        """The next-token distribution after `tokens`, as `{token: probability}`."""
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert set(probabilities) == set(range(1, self.vocabulary_size))
        for token, probability in probabilities.items():
            self.table[row, self._code(tokens), token] = np.log(probability)

    def set_everywhere(self, probabilities):
        for token, probability in probabilities.items():
            self.table[..., token] = np.log(probability)

    def next_log_probs(self, row):
        """`tokens -> (vocabulary,)` log-probabilities, as the reference wants them."""
        return lambda tokens: self.table[row, self._code(tokens)]

    def step(self, token_ids, cache, index):
        # cache: (rows, max_length + 1), the prefix so far, then the batch row.
        prefix = ops.slice_update(cache[:, :-1], (0, index), token_ids)
        batch_row = cache[:, -1]
        powers = ops.convert_to_tensor(
            self.vocabulary_size ** np.arange(self.max_length), "int32"
        )
        codes = ops.sum(prefix * powers[None, :], axis=1)
        flat_table = ops.convert_to_tensor(
            self.table.reshape(-1, self.vocabulary_size), "float32"
        )
        logits = ops.take(flat_table, codes + batch_row * self.table.shape[1], axis=0)
        return logits, ops.concatenate([prefix, batch_row[:, None]], axis=1)

    def beam_search(self, beam_size, alpha, end_token_id=END, compiled=True, no_repeat_ngram_size=None):
        batch = self.table.shape[0]
        token_ids = np.zeros((batch * beam_size, self.max_length), "int32")
        token_ids[:, 0] = START
        batch_rows = np.repeat(np.arange(batch, dtype="int32"), beam_size)
        cache = np.concatenate([np.zeros_like(token_ids), batch_rows[:, None]], axis=1)

        def search(token_ids, cache):
            return beam_search_loop(
                self.step, token_ids, cache, 1, beam_size, alpha, end_token_id,
                no_repeat_ngram_size=no_repeat_ngram_size,
            )

        if compiled:
            search = tf.function(search, jit_compile=True)
        sequences, scores = search(token_ids, cache)
        return ops.convert_to_numpy(sequences), ops.convert_to_numpy(scores)


def _counterexample():
    """Issue 11's case: the short finished `[1 2]` beats every longer hypothesis.

    A search that ranks finished and live beams together on raw
    log-probability (beam 2) drops `[1 2]` at the first step (it is third)
    and returns `[1 3 3 2]`, whose normalised score is -1.784.
    """
    model = PrefixTable(5, 4, 1, np.random.default_rng(0))
    model.set_everywhere({1: 0.2, 2: 0.1, 3: 0.3, 4: 0.4})
    model.set(0, [1], {1: 0.05, 2: 0.25, 3: 0.4, 4: 0.3})
    model.set(0, [1, 3], {1: 0.05, 2: 0.2, 3: 0.5, 4: 0.25})
    model.set(0, [1, 4], {1: 0.1, 2: 0.1, 3: 0.45, 4: 0.35})
    model.set(0, [1, 3, 3], {1: 0.1, 2: 0.6, 3: 0.2, 4: 0.1})
    return model


def test_the_counterexample_is_what_the_issue_describes():
    finished, _ = exhaustive_search(_counterexample().next_log_probs(0), [START], END, 4, 0.6)
    assert finished[0][0] == [1, 2]
    assert finished[0][1] == pytest.approx(np.log(0.25))
    assert finished[1][0] == [1, 3, 3, 2]
    assert finished[1][1] == pytest.approx(-1.784, abs=1e-3)


@pytest.mark.parametrize("compiled", [True, False], ids=["xla", "eager"])
def test_a_short_finished_hypothesis_is_not_pushed_out(compiled):
    model = _counterexample()
    sequences, scores = model.beam_search(beam_size=2, alpha=0.6, compiled=compiled)
    assert sequences[0, 0].tolist() == [1, 2, 0, 0]
    assert scores[0, 0] == pytest.approx(np.log(0.25), abs=1e-5)
    for sequence, score in zip(sequences[0], scores[0]):
        assert score == pytest.approx(_recomputed_score(model, 0, sequence, 0.6), abs=1e-5)


def _recomputed_score(model, row, sequence, alpha):
    """The toy model's length-normalised log-probability of `sequence`."""
    tokens = [int(token) for token in sequence if token != 0]
    next_log_probs = model.next_log_probs(row)
    log_probabilities = [
        next_log_probs(tokens[:position])[tokens[position]]
        for position in range(1, len(tokens))
    ]
    return normalized_score(log_probabilities, alpha)


@pytest.mark.parametrize(
    "vocabulary_size, max_length, beam_size, end_token_id",
    [
        # Two tokens besides the end token: 8 live prefixes before the last
        # step, 8 * 3 candidates at most, 15 finished sequences.
        (4, 5, 12, END),
        # Three tokens besides the end token: 13 finished sequences, so the
        # best 5 unfinished ones complete the 18 returned.
        (5, 4, 18, END),
        # No end token: every hypothesis is cut at max_length.
        (4, 4, 14, None),
    ],
)
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_a_beam_wide_enough_finds_what_exhaustive_search_finds(
    vocabulary_size, max_length, beam_size, end_token_id, alpha
):
    model = PrefixTable(vocabulary_size, max_length, 2, np.random.default_rng(7))
    sequences, scores = model.beam_search(beam_size, alpha, end_token_id)
    for row in range(2):
        expected_sequences, expected_scores = best_hypotheses(
            model.next_log_probs(row), [START], end_token_id, max_length, alpha, beam_size
        )
        np.testing.assert_array_equal(sequences[row], expected_sequences)
        np.testing.assert_allclose(scores[row], expected_scores, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_returned_scores_are_the_models_normalized_log_probabilities(seed):
    model = PrefixTable(6, 6, 2, np.random.default_rng(seed))
    sequences, scores = model.beam_search(beam_size=3, alpha=0.6)
    for row in range(2):
        assert len({tuple(sequence) for sequence in sequences[row].tolist()}) == 3
        for sequence, score in zip(sequences[row], scores[row]):
            assert _well_formed(sequence.tolist())
            assert score == pytest.approx(_recomputed_score(model, row, sequence, 0.6), abs=1e-5)
        # Finished hypotheses first, best first.
        done = [END in sequence for sequence in sequences[row].tolist()]
        assert done == sorted(done, reverse=True)
        assert np.all(np.diff(scores[row][done]) <= 1e-6)
        # `[1 2]` is among the candidates of the first step (2 * beam_size
        # covers them all), so the best returned is finished and no worse.
        assert done[0]
        shortest = normalized_score([model.next_log_probs(row)([START])[END]], 0.6)
        assert scores[row, 0] >= shortest - 1e-6


def _trimmed(sequence):
    return [int(token) for token in sequence if token != 0]


def _well_formed(tokens):
    """Start token, non-padding tokens up to the end token, padding after it."""
    if tokens[0] != START:
        return False
    length = tokens.index(END) + 1 if END in tokens else len(tokens)
    return 0 not in tokens[:length] and set(tokens[length:]) <= {0}


def test_seq2seq_beam_scores_are_recomputed_log_probabilities():
    model = Seq2SeqTransformer.from_preset("transformer_tiny")
    sources = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]])
    # A token the model actually produces as its end token, so that some
    # hypotheses finish and others are cut at max_length.
    end_token_id = int(model.generate(sources, START, max_length=4)[0, 2])
    alpha, max_length = 0.6, 7
    sequences, scores = model.beam_search(
        sources, START, end_token_id, max_length=max_length, beam_size=3, length_penalty=alpha
    )
    assert sequences.shape == (2, 3, max_length)
    assert any(end_token_id in sequence for sequence in sequences.reshape(-1, max_length).tolist())
    for row in range(2):
        for sequence, score in zip(sequences[row], scores[row]):
            tokens = _trimmed(sequence)
            assert tokens[0] == START and 0 not in sequence[: len(tokens)]
            # Teacher-forced forward pass, log-softmax over every token but padding.
            logits = np.asarray(
                model(
                    {
                        "encoder_token_ids": sources[row : row + 1],
                        "decoder_token_ids": np.array([tokens[:-1]]),
                    }
                ),
                "float64",
            )[0]
            logits[:, 0] = -np.inf
            log_probs = _log_softmax(logits)
            taken = log_probs[np.arange(len(tokens) - 1), tokens[1:]]
            assert score == pytest.approx(normalized_score(taken, alpha), abs=1e-4)


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _without_repeats(next_log_probs, n):
    """The toy model with every token that would repeat an n-gram at -inf."""

    def blocked(tokens):
        log_probs = np.array(next_log_probs(tokens), "float64")
        log_probs[list(repeating_tokens(tokens, n))] = -np.inf
        return log_probs

    return blocked


# n = 1: no token twice; after the start token only 5 sequences end.
@pytest.mark.parametrize("n, beam_size", [(1, 5), (2, 6)])
@pytest.mark.parametrize("compiled", [True, False], ids=["xla", "eager"])
def test_no_repeat_ngram_beams_are_the_best_sequences_without_repeats(n, beam_size, compiled):
    """A wide beam finds what exhaustive search over the sequences that repeat
    no n-gram finds, scored with the model's own log-probabilities."""
    model = PrefixTable(5, 5, 2, np.random.default_rng(3))
    sequences, scores = model.beam_search(beam_size, 0.6, compiled=compiled, no_repeat_ngram_size=n)
    for row in range(2):
        expected_sequences, expected_scores = best_hypotheses(
            _without_repeats(model.next_log_probs(row), n), [START], END, 5, 0.6, beam_size
        )
        assert np.all(np.isfinite(expected_scores))
        np.testing.assert_array_equal(sequences[row], expected_sequences)
        np.testing.assert_allclose(scores[row], expected_scores, atol=1e-5)
