"""Embedded offline datasets: Python docstrings (the dates live in `dates.py`).

Nothing here downloads anything. `python_docstrings`, `docstring_topics` and
`docstring_summaries` mine the documentation of the standard library that
ships with the running Python, giving English text for language modelling, a
small topic-classification task and a summarisation task.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import sys
import sysconfig

__all__ = ["docstring_summaries", "docstring_topics", "python_docstrings"]

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

# A wider visit for summarisation, which needs many docstrings that open with
# a one-line summary; a package's submodules are named when the package
# itself defines little. Modules this platform lacks (posix) are skipped; `sys`
# is left out, as tools replace its hooks (pytest its `unraisablehook`).
_SUMMARY_MODULES = tuple(
    """
    abc argparse array ast asyncio base64 bdb binascii builtins bz2 calendar cmath cmd code
    codecs collections collections.abc concurrent.futures configparser contextlib copy csv
    ctypes dataclasses datetime decimal difflib dis doctest email.header email.message
    email.policy email.utils enum fileinput fnmatch fractions ftplib functools gc getopt
    gettext glob graphlib gzip hashlib heapq hmac html.parser http.client http.cookiejar
    http.server imaplib importlib.metadata importlib.resources inspect io ipaddress itertools
    json json.decoder json.encoder locale logging logging.handlers lzma mailbox math mimetypes
    multiprocessing.pool multiprocessing.queues numbers operator optparse os os.path pathlib pdb
    pickle pickletools pkgutil platform plistlib poplib posix pprint queue random re reprlib
    sched secrets select selectors shelve shlex shutil signal site smtplib socket socketserver
    sqlite3 ssl statistics string struct subprocess symtable sysconfig tarfile tempfile
    textwrap threading time timeit tokenize traceback types typing unicodedata unittest
    unittest.mock urllib.parse urllib.request uuid warnings wave weakref webbrowser
    xml.dom.minidom xml.etree.ElementTree xml.sax zipfile zlib zoneinfo
    """.split()
)


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


def _module_docstrings(module_names):
    # `(top-level module name, docstring)` of every documented object of the
    # modules, in order; modules that fail to import are skipped.
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for obj in _documented_objects(module):
            docstring = getattr(obj, "__doc__", None)
            if isinstance(docstring, str):
                yield module_name.split(".")[0], docstring


def _module_paragraphs(module_names, min_length):
    seen = set()
    for module_name, docstring in _module_docstrings(module_names):
        for paragraph in _paragraphs(docstring, min_length):
            if paragraph not in seen:
                seen.add(paragraph)
                yield module_name, paragraph


_MIN_SUMMARY_WORDS = 3
_MIN_BODY_WORDS = 4
_SIGNATURE = re.compile(r"(async )?[\w.]+\(.*\)\s*(--?>.*)?")


def _summary_and_body(docstring: str, max_words: int) -> tuple[str, str] | None:
    # PEP 257's shape: a summary line, a blank line, the body. A summary that
    # wraps onto a second line is not a one-line summary, so it is skipped.
    lines = inspect.cleandoc(docstring).split("\n")
    if len(lines) < 3 or lines[1].strip():
        return None
    summary = " ".join(lines[0].split())
    body = " ".join(_paragraphs("\n".join(lines[2:]), 1)).split()
    if len(summary.split()) < _MIN_SUMMARY_WORDS or len(body) < _MIN_BODY_WORDS:
        return None
    # Built-ins without a text signature open with one ("B.count(sub[, start]) -> int").
    if _SIGNATURE.fullmatch(summary):
        return None
    return summary, " ".join(body[:max_words])


# Directories of the standard library's source that document no API of its own:
# bundled wheels, installed third-party packages (and test suites: any
# directory or file whose name starts with "test").
_SKIPPED_SOURCE_DIRECTORIES = (
    "site-packages", "dist-packages", "idle_test", "_bundled", "__pycache__"
)
# Pure-Python twins of a public module, and the platform implementations of
# `os.path`: their docstrings are near-copies of the public module's, so they
# belong to its group and a split by module cannot put the copies in two parts.
_MODULE_ALIASES = {"posixpath": "os", "ntpath": "os", "genericpath": "os"}


def _module_group(module_name: str) -> str:
    # "email.mime.text" -> "email"; "_pyio" -> "io", "_pydecimal" ->
    # "decimal", "_collections_abc" -> "collections", "ntpath" -> "os".
    top = module_name.split(".")[0]
    if top in _MODULE_ALIASES:
        return _MODULE_ALIASES[top]
    name = top.lstrip("_")
    if name != top:
        for candidate in (name.removeprefix("py"), name.split("_")[0]):
            if candidate and candidate in sys.stdlib_module_names:
                return candidate
    return top


def _source_files(root: str):
    # `(module name, path)` of every .py file under the standard library's
    # source directory, sorted, test suites and third-party packages left out.
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(
            name for name in subdirectories
            if name not in _SKIPPED_SOURCE_DIRECTORIES and not name.startswith("test")
        )
        if directory != root and not os.path.exists(os.path.join(directory, "__init__.py")):
            subdirectories[:] = []  # not a package: scripts, data, build configuration
            continue
        for file in sorted(files):
            if file.endswith(".py") and not file.startswith("test"):
                path = os.path.join(directory, file)
                relative = os.path.relpath(path, root)[: -len(".py")]
                yield relative.replace(os.sep, "."), path


def _source_docstrings(root: str):
    # `(module name, docstring)` of every module, class and function (methods,
    # private and nested ones included) in the standard library's source,
    # read with `ast`: nothing is imported, so nothing runs.
    for module_name, path in _source_files(root):
        try:
            with open(path, encoding="utf-8") as file:
                tree = ast.parse(file.read())
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                docstring = ast.get_docstring(node, clean=False)
                if docstring:
                    yield module_name, docstring


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


def docstring_summaries(
    max_words: int = 64, source_directory: str | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """A summarisation task: a docstring's body -> its one-line summary.

    Reads the docstrings of the standard library twice over: by importing
    about 140 modules (the module docstring and those of its public classes,
    functions and methods, as `python_docstrings` does, which reaches the
    modules written in C), then by parsing every module of its source
    directory with `ast` (every module, class, function and method, private
    and nested ones included; test suites left out; nothing is imported).
    It keeps each docstring written in PEP 257's shape: a summary line, a
    blank line, then the body. The example's source is the body (doctest
    paragraphs dropped, whitespace collapsed, cut to its first `max_words`
    words) and its target is the summary line. Docstrings whose summary wraps
    onto a second line, summaries shorter than three words and bodies shorter
    than four are skipped, and so are call signatures standing in for a
    summary (`B.count(sub[, start[, end]]) -> int`) and bodies already seen
    (one example per distinct source, the first kept).

    Each example comes with its module's group, so that a split can keep
    every group in one part (`keras_attention.tasks.split_groups`): the
    top-level module ("email" for `email.mime.text`), with a pure-Python twin
    in its public module's group ("io" for `_pyio`, "collections" for
    `_collections_abc`) and `os.path`'s implementations (`posixpath`,
    `ntpath`, `genericpath`) in "os", as their docstrings are near-copies.
    Deterministic for a given Python installation.

    Args:
        max_words: int >= 1, default 64. Longest body kept, in words.
        source_directory: str or None, default None. The standard library's
            source directory to parse; None: the running Python's
            (`sysconfig.get_paths()["stdlib"]`). A directory that does not
            exist adds nothing.

    Returns:
        `(pairs, modules)`: a list of `(body, summary)` and, for each, its
        module's group (about 3,000 examples from about 190 groups on
        CPython 3.11).

    Example:

    >>> pairs, modules = docstring_summaries()
    >>> len(pairs) == len(modules) > 2000, len(set(modules)) > 100
    (True, True)
    >>> body, summary = pairs[0]
    >>> summary
    'Metaclass for defining Abstract Base Classes (ABCs).'
    """
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise ValueError(
            f"`max_words` must be a positive integer. Received: max_words={max_words!r}"
        )
    if source_directory is None:
        source_directory = sysconfig.get_paths()["stdlib"]
    docstrings = (
        *_module_docstrings(_SUMMARY_MODULES),
        *_source_docstrings(source_directory),
    )
    pairs, modules, seen = [], [], set()
    for module_name, docstring in docstrings:
        example = _summary_and_body(docstring, max_words)
        if example is None or example[1] in seen:
            continue
        seen.add(example[1])
        pairs.append((example[1], example[0]))
        modules.append(_module_group(module_name))
    return pairs, modules
