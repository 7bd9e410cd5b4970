"""The tokenizer kinds of this package by the `type` they save, and `load_tokenizer`."""

from __future__ import annotations

import os

from keras_attention.data.byte_pair_tokenizer import BytePairTokenizer
from keras_attention.data.sentencepiece_tokenizer import SentencePieceTokenizer
from keras_attention.data.tokenizer import WordPieceTokenizer
from keras_attention.data.tokenizer_base import CONFIG_FILE, BaseTokenizer, read_config

__all__ = ["LEARNABLE_TOKENIZERS", "TOKENIZERS", "load_tokenizer"]

TOKENIZERS: dict[str, type[BaseTokenizer]] = {
    tokenizer_class.kind: tokenizer_class
    for tokenizer_class in (WordPieceTokenizer, SentencePieceTokenizer, BytePairTokenizer)
}

# The kinds a recipe's `data.tokenizer` can ask to learn from its data
# (those with a `train(texts, vocabulary_size, lower_case, show_progress)`).
LEARNABLE_TOKENIZERS: dict[str, type[BaseTokenizer]] = {
    tokenizer_class.kind: tokenizer_class
    for tokenizer_class in (SentencePieceTokenizer, WordPieceTokenizer)
}


def load_tokenizer(directory) -> BaseTokenizer:
    """Loads a tokenizer saved by `WordPieceTokenizer`, `SentencePieceTokenizer` or
    `BytePairTokenizer`.

    Args:
        directory: path of the directory holding `tokenizer.json`.

    Returns:
        A `WordPieceTokenizer`, `SentencePieceTokenizer` or
        `BytePairTokenizer`, as the `type` in `tokenizer.json` says.

    Example:

    >>> import tempfile
    >>> from keras_attention.data import RESERVED_TOKENS
    >>> tokenizer = WordPieceTokenizer(RESERVED_TOKENS + ["a", "##b"])
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     tokenizer.save(directory)
    ...     loaded = load_tokenizer(directory)
    >>> loaded.tokenize("ab a").numpy().tolist()
    [7, 8, 7]
    """
    config = read_config(directory)
    kind = config.get("type")
    if kind not in TOKENIZERS:
        config_path = os.path.join(os.fspath(directory), CONFIG_FILE)
        expected = " or ".join(repr(name) for name in TOKENIZERS)
        raise ValueError(
            f"The `type` in {config_path!r} must be {expected}. Received: type={kind!r}"
        )
    return TOKENIZERS[kind].from_saved(directory, config)
