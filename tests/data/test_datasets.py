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


def test_docstring_summaries_take_the_first_line_as_the_summary(monkeypatch, tmp_path):
    _fake_module(monkeypatch)
    pairs, modules = docstring_summaries(max_words=12, source_directory=str(tmp_path / "missing"))
    assert pairs == [
        ("It holds a few documented functions.", "A fake module for the test."),
        ("Both must be numbers. Floats work too.", "Return the sum of two numbers."),
        (" ".join(f"w{i}" for i in range(12)), "Make a long body short."),
    ]
    assert modules == ["fake_docsum"] * 3


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _fake_source(root):
    """A standard-library source directory of hand-written modules."""
    function = 'def {name}():\n    """{summary}\n\n    {body}\n    """\n'
    _write(root / "alpha.py", (
        '"""Alpha: a module.\n\nIts docstring has a body of words."""\n'
        "class Thing:\n"
        '    """A thing of the alpha module.\n\n    Things hold other things.\n    """\n'
        "    def _private(self):\n"
        '        """Return a private part.\n\n        Private methods are read from the source.\n        """\n'
        "        def nested():\n"
        '            """Return a nested part.\n\n            Nested functions count as well.\n            """\n'
        + function.format(name="same", summary="Another summary, same body.",
                          body="Both must be numbers. Floats work too.")
    ))
    _write(root / "_pyalpha.py", function.format(
        name="twin", summary="Return the pure-Python twin.", body="It belongs to the public module's group."))
    _write(root / "posixpath.py", function.format(
        name="isabs", summary="Test whether a path is absolute.", body="On POSIX a path is absolute when it starts with a slash."))
    _write(root / "pack" / "__init__.py", "")
    _write(root / "pack" / "sub" / "__init__.py", "")
    _write(root / "pack" / "sub" / "deep.py", function.format(
        name="deep", summary="Return a part of a subpackage.", body="Submodules belong to their top-level package."))
    skipped = function.format(name="skipped", summary="Return a skipped thing.", body="This docstring is never read.")
    for path in ("test/test_alpha.py", "pack/tests/helpers.py", "pack/test_pack.py", "site-packages/other/__init__.py",
                 "scripts/tool.py", "broken.py"):
        _write(root / path, skipped + ("def broken(:\n" if path == "broken.py" else ""))


def test_docstring_summaries_read_the_source_of_the_standard_library(monkeypatch, tmp_path):
    """Private, nested and submodule docstrings come from the source; test
    suites, third-party packages, non-package directories and files that do
    not parse are left out; a body seen on import is not read again; twins
    share their public module's group."""
    import sys

    _fake_module(monkeypatch)
    monkeypatch.setattr(sys, "stdlib_module_names", sys.stdlib_module_names | {"alpha"})
    _fake_source(tmp_path)
    pairs, modules = docstring_summaries(max_words=12, source_directory=str(tmp_path))
    assert list(zip(pairs, modules))[3:] == [
        (("It belongs to the public module's group.", "Return the pure-Python twin."), "alpha"),
        (("Its docstring has a body of words.", "Alpha: a module."), "alpha"),
        (("Things hold other things.", "A thing of the alpha module."), "alpha"),
        (("Private methods are read from the source.", "Return a private part."), "alpha"),
        (("Nested functions count as well.", "Return a nested part."), "alpha"),
        (("On POSIX a path is absolute when it starts with a slash.", "Test whether a path is absolute."), "os"),
        (("Submodules belong to their top-level package.", "Return a part of a subpackage."), "pack"),
    ]
    assert modules[:3] == ["fake_docsum"] * 3


def test_docstring_summaries_of_the_standard_library():
    pairs, modules = docstring_summaries()
    assert len(pairs) == len(modules) > 2000
    assert (pairs, modules) == docstring_summaries()
    assert len({body for body, _ in pairs}) == len(pairs)
    assert len(set(modules)) > 100 and all("." not in module for module in modules)
    # Twins of a public module are in its group, never a group of their own.
    assert not {"_pyio", "_pydecimal", "_collections_abc", "posixpath", "ntpath"} & set(modules)
    assert {"idlelib", "email", "io", "os"} <= set(modules)
    for body, summary in pairs:
        assert summary == " ".join(summary.split()) and len(summary.split()) >= 3
        assert body == " ".join(body.split()) and 4 <= len(body.split()) <= 64
        assert ">>>" not in body
