import datetime
import re

import pytest

from keras_attention.data import date_pairs, docstring_topics, python_docstrings

# strptime patterns covering every source format, once "the", "of" and
# ordinal suffixes are removed; %B/%b/%A/%a match case-insensitively.
PATTERNS = (
    "%B %d, %Y",
    "%d %B %Y",
    "%A, %B %d, %Y",
    "%a, %d %b %Y",
    "%b %d, %Y",
    "%b. %d, %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%d-%b-%Y",
    "%A, %d %B %Y",
    "%A %d %B %Y",
    "%d %B, %Y",
    "%Y.%m.%d",
    "%Y/%m/%d",
    "%Y%m%d",
)


def parse(source):
    simplified = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", source)
    simplified = re.sub(r"\b(the|of) ", "", simplified)
    for pattern in PATTERNS:
        try:
            return datetime.datetime.strptime(simplified, pattern).date()
        except ValueError:
            pass
    raise AssertionError(f"unparsed source {source!r}")


def test_date_pairs_describe_their_iso_targets():
    pairs = date_pairs(500, seed=7)
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)
        assert 1950 <= date.year <= 2049
        assert parse(source) == date, source
        # A weekday, when given, is the right one (strptime ignores it).
        for weekday in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
            if source.startswith(weekday):
                assert date.strftime("%A") == weekday
    assert len({re.sub(r"\d+", "0", source.lower()) for source, _ in pairs}) >= 15


def test_date_pairs_are_deterministic_per_seed():
    assert date_pairs(50, seed=3) == date_pairs(50, seed=3)
    assert date_pairs(50, seed=3) != date_pairs(50, seed=4)


@pytest.mark.parametrize("num_examples", [0, -1, 2.5, True])
def test_date_pairs_rejects_bad_counts(num_examples):
    with pytest.raises(ValueError, match="num_examples"):
        date_pairs(num_examples)


def test_python_docstrings_are_deterministic_paragraphs():
    texts = python_docstrings()
    assert len(texts) > 500
    assert texts == python_docstrings()
    assert len(set(texts)) == len(texts)
    for text in texts:
        assert len(text) >= 40
        assert text == " ".join(text.split())
    assert len(python_docstrings(min_length=200)) < len(texts)


def test_docstring_topics_are_labelled_by_module():
    texts, labels = docstring_topics()
    assert len(texts) == len(labels)
    counts = {label: labels.count(label) for label in set(labels)}
    assert len(counts) == 4 and min(counts.values()) >= 50
    assert set(texts) <= set(python_docstrings())
