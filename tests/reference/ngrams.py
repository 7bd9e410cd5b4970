"""The "no repeat n-gram" rule in plain Python: the reference for decoding with
`no_repeat_ngram_size` (fairseq's and Hugging Face's rule)."""

from __future__ import annotations


def repeating_tokens(tokens: list[int], n: int) -> set[int]:
    """Tokens that, appended to `tokens`, would complete an n-gram already in it."""
    tokens = [int(token) for token in tokens]
    prefix = tokens[len(tokens) - n + 1 :] if n > 1 else []
    if len(prefix) != n - 1:
        return set()
    return {
        tokens[j + n - 1]
        for j in range(len(tokens) - n + 1)
        if tokens[j : j + n - 1] == prefix
    }
