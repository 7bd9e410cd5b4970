"""The docstring datasets (keras_attention/data/datasets.py)."""

from keras_attention.data import docstring_summaries, docstring_topics, python_docstrings


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


def _fake_module(monkeypatch):
    """A module of hand-written docstrings, the only one `docstring_summaries` visits."""
    import sys
    import types

    from keras_attention.data import datasets

    module = types.ModuleType("fake_docsum", "A fake module for the test.\n\nIt holds a few documented functions.")

    def function(name, docstring):
        def body():
            pass

        body.__name__, body.__module__, body.__doc__ = name, module.__name__, docstring
        setattr(module, name, body)

    function("add", """Return the sum of two numbers.

        Both must be numbers.
        Floats work too.

        >>> add(1, 2)
        3
        """)
    function("long", "Make a long body short.\n\n" + " ".join(f"w{i}" for i in range(100)))
    function("same_body", "Another summary, same body.\n\nBoth must be numbers. Floats work too.")
    function("wrapped", "Return something whose summary wraps\nonto a second line.\n\nA body of words.")
    function("no_body", "Return the thing, and nothing more.")
    function("terse", "Close it.\n\nA body that is long enough.")
    function("signature", "signature(x, /) -> int\n\nReturn x as an int, in a few words.")
    function("_private", "Return a private thing.\n\nPrivate objects are not visited.")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(datasets, "_SUMMARY_MODULES", (module.__name__, "no_such_module_here"))


def test_docstring_summaries_take_the_first_line_as_the_summary(monkeypatch):
    _fake_module(monkeypatch)
    pairs, modules = docstring_summaries(max_words=12)
    assert pairs == [
        ("It holds a few documented functions.", "A fake module for the test."),
        ("Both must be numbers. Floats work too.", "Return the sum of two numbers."),
        (" ".join(f"w{i}" for i in range(12)), "Make a long body short."),
    ]
    assert modules == ["fake_docsum"] * 3


def test_docstring_summaries_of_the_standard_library():
    pairs, modules = docstring_summaries()
    assert len(pairs) == len(modules) > 1000
    assert (pairs, modules) == docstring_summaries()
    assert len({body for body, _ in pairs}) == len(pairs)
    assert len(set(modules)) > 50 and all("." not in module for module in modules)
    for body, summary in pairs:
        assert summary == " ".join(summary.split()) and len(summary.split()) >= 3
        assert body == " ".join(body.split()) and 4 <= len(body.split()) <= 64
        assert ">>>" not in body
