"""The docstring datasets (keras_attention/data/datasets.py)."""

from keras_attention.data import docstring_topics, python_docstrings


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
