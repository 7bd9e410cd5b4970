"""Embedded offline datasets: Python docstrings (the dates live in `dates.py`).

Nothing here downloads anything. `python_docstrings` and `docstring_topics` mine the documentation of the
standard library that ships with the running Python, giving English text for
language modelling and a small topic-classification task.
"""

from __future__ import annotations

import importlib
import inspect
import re

__all__ = ["docstring_topics", "python_docstrings"]

_DOCSTRING_MODULES = (
    "abc",
    "argparse",
    "ast",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email.message",
    "enum",
    "fractions",
    "functools",
    "heapq",
    "http.client",
    "inspect",
    "io",
    "itertools",
    "json",
    "logging",
    "pathlib",
    "random",
    "re",
    "shutil",
    "statistics",
    "string",
    "tempfile",
    "textwrap",
    "typing",
    "unittest",
    "urllib.parse",
)

# Modules with the most prose, so that each topic has hundreds of examples.
_TOPIC_MODULES = ("inspect", "logging", "typing", "unittest")


def _documented_objects(module):
    # The module itself, then its public classes and functions (sorted by
    # name) and the public methods of those classes. Only objects defined in
    # the module's own package count, so re-exports are not visited twice.
    package = module.__name__.split(".")[0]

    def own(obj):
        owner = getattr(obj, "__module__", None) or ""
        return owner == package or owner.startswith(package + ".")

    yield module
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or not (inspect.isclass(obj) or callable(obj)):
            continue
        if not own(obj):
            continue
        yield obj
        if inspect.isclass(obj):
            for member_name, member in sorted(vars(obj).items()):
                if not member_name.startswith("_"):
                    yield member


def _paragraphs(docstring: str, min_length: int):
    for paragraph in re.split(r"\n\s*\n", inspect.cleandoc(docstring)):
        paragraph = " ".join(paragraph.split())
        # Doctest paragraphs are code, not prose.
        if len(paragraph) >= min_length and ">>>" not in paragraph:
            yield paragraph


def _module_paragraphs(module_names, min_length):
    seen = set()
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for obj in _documented_objects(module):
            docstring = getattr(obj, "__doc__", None)
            if not isinstance(docstring, str):
                continue
            for paragraph in _paragraphs(docstring, min_length):
                if paragraph not in seen:
                    seen.add(paragraph)
                    yield module_name.split(".")[0], paragraph


def python_docstrings(min_length: int = 40) -> list[str]:
    """Docstring paragraphs from a fixed list of standard-library modules.

    Visits about thirty modules (`collections`, `json`, `re`, `pathlib`,
    `argparse`, `logging`, `typing`, ...), in a fixed order, and for each the
    module docstring and the docstrings of its public classes, functions and
    methods (sorted by name). Docstrings are split into paragraphs at blank
    lines and whitespace is collapsed to single spaces; doctest paragraphs,
    short paragraphs and repeats are dropped. Modules that fail to import are
    skipped. The text depends on the Python version but is deterministic for
    a given interpreter.

    Args:
        min_length: int >= 1, default 40. Shortest paragraph kept, in
            characters.

    Returns:
        A list of paragraphs (about two thousand on CPython 3.11).

    Example:

    >>> texts = python_docstrings()
    >>> len(texts) > 1000, min(len(text) for text in texts) >= 40
    (True, True)
    """
    if isinstance(min_length, bool) or not isinstance(min_length, int) or (
        min_length < 1
    ):
        raise ValueError(
            "`min_length` must be a positive integer. "
            f"Received: min_length={min_length!r}"
        )
    return [text for _, text in _module_paragraphs(_DOCSTRING_MODULES, min_length)]


def docstring_topics() -> tuple[list[str], list[str]]:
    """A topic-classification task: which module is a docstring paragraph from?

    Paragraphs (at least 40 characters) from the docstrings of four
    standard-library modules with plenty of prose — "inspect", "logging",
    "typing" and "unittest" — labelled with the module's name (about 670
    examples on CPython 3.11). Deterministic for a given Python version; the
    classes are not balanced.

    Returns:
        `(texts, labels)`: two lists of the same length; every label is one of
        the four module names.

    Example:

    >>> texts, labels = docstring_topics()
    >>> len(texts) == len(labels), sorted(set(labels))
    (True, ['inspect', 'logging', 'typing', 'unittest'])
    """
    examples = list(_module_paragraphs(_TOPIC_MODULES, 40))
    return [text for _, text in examples], [label for label, _ in examples]
