"""Exhaustive search over every continuation of a prefix, in plain numpy.

The reference that beam search is checked against: it enumerates the whole
tree of continuations, so it cannot lose a hypothesis. Scores follow Wu et al.,
"Google's Neural Machine Translation System", 2016, §7, eq. 14:
`s(Y) = log P(Y | X) / lp(Y)` with `lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha`,
where `|Y|` counts the generated tokens, the end token included and the start
token (the prompt) excluded, as in tensor2tensor's and flax's beam searches.
Token 0 is padding and is never generated.
"""

from __future__ import annotations

import numpy as np


def gnmt_length_penalty(length: int, alpha: float) -> float:
    """`lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha` (Wu et al., 2016, eq. 14)."""
    return (5.0 + length) ** alpha / 6.0**alpha


def normalized_score(log_probabilities, alpha: float) -> float:
    """Sum of the tokens' log-probabilities over `lp` of their count."""
    return float(np.sum(log_probabilities)) / gnmt_length_penalty(len(log_probabilities), alpha)


def exhaustive_search(next_log_probs, prefix, end_token_id, max_length, alpha):
    """Every continuation of `prefix` up to `max_length` tokens, scored.

    Args:
        next_log_probs: `tokens (list of int) -> (vocabulary,) float` the
            log-probabilities of the next token after `tokens`; entry 0
            (padding) is ignored.
        prefix: list of int, the prompt (e.g. `[start_token_id]`).
        end_token_id: int.
        max_length: int, the longest sequence, prefix included.
        alpha: length-penalty exponent.

    Returns:
        `(finished, unfinished)`: lists of `(sequence, score)` best first.
        `finished` holds every sequence that ends with `end_token_id`;
        `unfinished` every sequence of `max_length` tokens without it, both
        scored with `normalized_score`.
    """
    finished, unfinished = [], []
    stack = [(list(prefix), [])]
    while stack:
        tokens, log_probabilities = stack.pop()
        if len(tokens) == max_length:
            unfinished.append((tokens, normalized_score(log_probabilities, alpha)))
            continue
        log_probs = np.asarray(next_log_probs(tokens), "float64")
        for token in range(1, len(log_probs)):
            extended = (tokens + [token], log_probabilities + [log_probs[token]])
            if token == end_token_id:
                finished.append((extended[0], normalized_score(extended[1], alpha)))
            else:
                stack.append(extended)
    finished.sort(key=lambda item: -item[1])
    unfinished.sort(key=lambda item: -item[1])
    return finished, unfinished


def best_hypotheses(next_log_probs, prefix, end_token_id, max_length, alpha, count):
    """The `count` best hypotheses as a beam search should return them.

    Finished hypotheses first, best first; when there are fewer than `count`,
    the best unfinished ones (cut at `max_length`) follow, best first.

    Returns:
        `(sequences (count, max_length) int, scores (count,) float64)`,
        sequences padded with 0 after the end token.
    """
    finished, unfinished = exhaustive_search(
        next_log_probs, prefix, end_token_id, max_length, alpha
    )
    chosen = (finished + unfinished)[:count]
    sequences = np.zeros((len(chosen), max_length), "int64")
    for row, (tokens, _) in enumerate(chosen):
        sequences[row, : len(tokens)] = tokens
    return sequences, np.array([score for _, score in chosen])
