"""Lossless text: the tokenizer the text-writing tasks learn gives back
exactly what it read, on Python's own docstrings and on everyday strings."""

import pytest

from keras_attention import data
from tests.reference.everyday_text import EVERYDAY


@pytest.fixture(scope="module")
def docstrings():
    return data.python_docstrings()


def _round_trips(tokenizer, texts):
    back = tokenizer.detokenize(tokenizer.tokenize(texts)).numpy()
    return [text for text, again in zip(texts, back) if again.decode("utf-8") != text]


@pytest.fixture(scope="module")
def learned(docstrings):
    """The default tokenizer of the tasks that write text, learned from the
    first half of the docstrings (the rest and the everyday list are unseen)."""
    return data.SentencePieceTokenizer.train(
        docstrings[: len(docstrings) // 2], vocabulary_size=2000, show_progress=False)


def test_every_docstring_comes_back_exactly(learned, docstrings):
    assert _round_trips(learned, docstrings) == []


def test_every_everyday_string_comes_back_exactly(learned):
    """Characters never seen in training (Chinese, Arabic, emoji) come back
    through SentencePiece's byte fallback, not as [UNK]."""
    assert _round_trips(learned, EVERYDAY) == []
    ids = learned.tokenize(EVERYDAY).flat_values.numpy().tolist()
    assert learned.unk_id not in ids


def test_lower_casing_is_the_only_normalisation(docstrings):
    tokenizer = data.SentencePieceTokenizer.train(
        docstrings[:300], vocabulary_size=1000, lower_case=True, show_progress=False)
    back = tokenizer.detokenize(tokenizer.tokenize(EVERYDAY)).numpy()
    assert [text.decode("utf-8") for text in back] == [text.lower() for text in EVERYDAY]
    assert tokenizer.normalize("Ærø ÇA").numpy().decode() == "ærø ça"


def test_a_saved_tokenizer_reads_and_writes_the_same(learned, tmp_path):
    learned.save(tmp_path / "tokenizer")
    loaded = data.load_tokenizer(tmp_path / "tokenizer")
    assert loaded.tokenize(EVERYDAY).to_list() == learned.tokenize(EVERYDAY).to_list()
    assert _round_trips(loaded, EVERYDAY) == []


def test_wordpiece_is_lossy_which_is_why_it_does_not_write_text(docstrings):
    """WordPiece (BERT's, for the tasks that only read text) splits off
    punctuation and drops repeated spaces: `$5,000` comes back `$ 5, 000`."""
    tokenizer = data.WordPieceTokenizer.train(docstrings[:300], vocabulary_size=1000, show_progress=False)
    assert "$5,000" in _round_trips(tokenizer, EVERYDAY)
