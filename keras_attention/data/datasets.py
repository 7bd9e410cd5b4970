"""Embedded offline datasets: human dates → ISO dates, and Python docstrings.

Nothing here downloads anything. `date_pairs` generates a translation task
small enough to train a seq2seq transformer on a CPU in minutes;
`python_docstrings` and `docstring_topics` mine the documentation of the
standard library that ships with the running Python, giving English text for
language modelling and a small topic-classification task.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import random
import re

__all__ = ["date_pairs", "docstring_topics", "python_docstrings"]

_FIRST_DATE = datetime.date(1950, 1, 1)
_LAST_DATE = datetime.date(2049, 12, 31)

# Every format names the month in words or puts the year first, so no source
# is ambiguous between day-first and month-first conventions (05/03/2024 is
# never produced), and every year has four digits.
_DATE_FORMATS = (
    "{Month} {day}, {year}",  # March 5, 2024
    "{day} {Month} {year}",  # 5 March 2024
    "{Weekday}, {Month} {day}, {year}",  # Tuesday, March 5, 2024
    "{Wkd}, {day} {Mon} {year}",  # Tue, 5 Mar 2024
    "{Mon} {day}, {year}",  # Mar 5, 2024
    "{Mon}. {day}, {year}",  # Mar. 5, 2024
    "{day} {Mon} {year}",  # 5 Mar 2024
    "{month} {day} {year}",  # march 5 2024
    "{MONTH} {day}, {year}",  # MARCH 5, 2024
    "{dd} {MON} {year}",  # 05 MAR 2024
    "{day}-{Mon}-{year}",  # 5-Mar-2024
    "{ordinal} {Month} {year}",  # 5th March 2024
    "{Month} {ordinal}, {year}",  # March 5th, 2024
    "the {ordinal} of {Month}, {year}",  # the 5th of March, 2024
    "{Weekday}, the {ordinal} of {Month} {year}",  # Tuesday, the 5th of March 2024
    "{Weekday} {day} {Month} {year}",  # Tuesday 5 March 2024
    "{year}.{mm}.{dd}",  # 2024.03.05
    "{year}/{mm}/{dd}",  # 2024/03/05
    "{year}{mm}{dd}",  # 20240305
)

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


def _ordinal(day: int) -> str:
    if day in (11, 12, 13):
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def _describe(date: datetime.date, template: str) -> str:
    month = date.strftime("%B")
    return template.format(
        Month=month,
        month=month.lower(),
        MONTH=month.upper(),
        Mon=month[:3],
        MON=month[:3].upper(),
        Weekday=date.strftime("%A"),
        Wkd=date.strftime("%a"),
        day=date.day,
        dd=f"{date.day:02d}",
        mm=f"{date.month:02d}",
        year=f"{date.year:04d}",
        ordinal=_ordinal(date.day),
    )


def date_pairs(num_examples: int, seed: int = 0) -> list[tuple[str, str]]:
    """Random dates written the way people write them, paired with ISO dates.

    Dates are drawn uniformly from 1950-01-01 to 2049-12-31 and written in one
    of 19 formats: month names in full, abbreviated, lower- and upper-case;
    ordinals ("5th"); weekday names (always the right weekday for the date);
    and year-first numeric forms ("2024.03.05", "20240305"). Day-first and
    month-first numeric forms ("05/03/2024") and two-digit years are never
    produced, so every source describes exactly one date. Month and weekday
    names are English (Python's default "C" locale).

    Args:
        num_examples: int >= 1, how many pairs to generate.
        seed: int, default 0. The same seed always gives the same pairs.

    Returns:
        A list of `(human_date, iso_date)` string pairs, for example
        `("Tuesday, March 5, 2024", "2024-03-05")`.

    Example:

    >>> pairs = date_pairs(3, seed=1)
    >>> len(pairs), all(len(target) == 10 for _, target in pairs)
    (3, True)
    >>> date_pairs(3, seed=1) == pairs
    True

    References:
        The "human-readable dates to machine dates" exercise of the
        deeplearning.ai sequence-models course (neural machine translation
        with attention), with unambiguous formats only.
    """
    if isinstance(num_examples, bool) or not isinstance(num_examples, int):
        raise ValueError(
            f"`num_examples` must be a positive integer. "
            f"Received: num_examples={num_examples!r}"
        )
    if num_examples < 1:
        raise ValueError(
            f"`num_examples` must be a positive integer. "
            f"Received: num_examples={num_examples!r}"
        )
    rng = random.Random(seed)
    span = (_LAST_DATE - _FIRST_DATE).days + 1
    pairs = []
    for _ in range(num_examples):
        date = _FIRST_DATE + datetime.timedelta(days=rng.randrange(span))
        template = rng.choice(_DATE_FORMATS)
        pairs.append((_describe(date, template), date.isoformat()))
    return pairs


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
