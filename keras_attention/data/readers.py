"""Readers for text datasets on disk, with a report of every malformed line."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

__all__ = [
    "MalformedDataError",
    "ReadReport",
    "read_labelled",
    "read_sentence_pairs",
    "read_text",
    "read_tfds",
]

_LISTED_LINES = 10
_DELIMITERS = {".tsv": "\t", ".tab": "\t", ".csv": ","}


class MalformedDataError(ValueError):
    """A data file has malformed lines and was read with `strict=True`."""


@dataclass
class ReadReport:
    """What a reader found in a file: its line count, the malformed lines and
    the lines skipped. Every line of the file is an example, malformed or
    skipped.

    Args:
        path: str, the file read.
        total_lines: int, lines in the file, blank lines included.
        malformed: list of `(line_number, reason)`, line numbers 1-based.
        skipped: list of `(line_number, why)` of the lines that are no
            example and no error: `"blank"`, `"header"`.

    Example:

    >>> report = ReadReport("pairs.tsv", 12, [(3, "expected 2 columns, got 1")])
    >>> report.summary()
    '1 of 12 lines malformed: line 3 (expected 2 columns, got 1)'
    """

    path: str
    total_lines: int
    malformed: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many lines are malformed, and the first ten of them."""
        count = len(self.malformed)
        text = f"{count} of {self.total_lines} lines malformed"
        if not count:
            return text
        listed = ", ".join(
            f"line {number} ({reason})"
            for number, reason in self.malformed[:_LISTED_LINES]
        )
        more = f", and {count - _LISTED_LINES} more" if count > _LISTED_LINES else ""
        return f"{text}: {listed}{more}"


class _Malformed(str):
    """The reason a line is malformed, as returned by a line parser."""


class _Skipped(str):
    """Why a line is no example and no error (a header), as returned by a line parser."""


def _read_lines(path, report: ReadReport) -> Iterator[tuple[int, str]]:
    """Yields `(line_number, line)` for each non-blank line that decodes as UTF-8.

    Undecodable lines and blank ones are recorded in `report` as they are met.
    """
    with open(path, "rb") as file:
        data = file.read()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    report.total_lines = len(lines)
    for number, raw in enumerate(lines, start=1):
        raw = raw.removesuffix(b"\r")
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # UTF-8 byte order mark
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            byte, column = raw[error.start], error.start + 1
            reason = f"invalid UTF-8 byte 0x{byte:02x} at byte {column}"
            report.malformed.append((number, reason))
            continue
        if line.strip():
            yield number, line
        else:
            report.skipped.append((number, "blank"))


def _read(
    path,
    strict: bool,
    parse: Callable[[str], object],
) -> tuple[list, ReadReport]:
    """Runs `parse` over the lines of `path`.

    `parse` returns an example, a `_Skipped` reason to skip the line, or a
    `_Malformed` reason (str subclasses, so that examples may be strings).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No data file at {path!r}")
    report = ReadReport(path=path, total_lines=0)
    examples = []
    for number, line in _read_lines(path, report):
        result = parse(line)
        if isinstance(result, _Malformed):
            report.malformed.append((number, str(result)))
        elif isinstance(result, _Skipped):
            report.skipped.append((number, str(result)))
        else:
            examples.append(result)
    report.malformed.sort()
    if strict and report.malformed:
        raise MalformedDataError(f"{path}: {report.summary()}")
    if not examples:
        raise ValueError(
            f"No valid examples in {path!r} ({report.summary()})"
        )
    return examples, report


def _fields(line: str, delimiter: str) -> list[str]:
    if delimiter == "\t":
        return line.split("\t")
    return next(csv.reader([line], delimiter=delimiter))


def _empty_field_reason(
    fields: Sequence[str], columns: Sequence[int]
) -> _Malformed | None:
    for column in columns:
        if not fields[column].strip():
            return _Malformed(f"empty field in column {column + 1}")
    return None


def read_sentence_pairs(
    path, strict: bool = False, empty_targets: bool = False
) -> tuple[list[tuple[str, str]], ReadReport]:
    """Reads `source<TAB>target` pairs, one per line.

    Blank lines are skipped (and listed in the report's `skipped`). A line is
    malformed if it does not have exactly two tab-separated columns, if
    either is empty (the target may be, with `empty_targets`), or if it is
    not valid UTF-8; malformed lines are left out and listed in the report,
    with 1-based line numbers. Fields are stripped of surrounding whitespace.

    Args:
        path: str or path-like, a UTF-8 TSV file.
        strict: bool, default False. If True, raise `MalformedDataError`
            after reading the whole file if any line is malformed; its
            message lists them all (the first ten by line number).
        empty_targets: bool, default False. If True, an empty target is a
            pair with target "": a test set's expected answer may be empty
            (the dates model answers an impossible date with "").

    Returns:
        `(pairs, report)`: a list of `(source, target)` and a `ReadReport`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file has no valid pair.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "pairs.tsv")
    >>> _ = open(path, "w").write("5 March 2024\\t2024-03-05\\nbroken\\n")
    >>> pairs, report = read_sentence_pairs(path)
    >>> pairs
    [('5 March 2024', '2024-03-05')]
    >>> report.malformed
    [(2, 'expected 2 tab-separated columns, got 1')]
    """

    def parse(line):
        fields = line.split("\t")
        if len(fields) != 2:
            return _Malformed(f"expected 2 tab-separated columns, got {len(fields)}")
        return _empty_field_reason(fields, (0,) if empty_targets else (0, 1)) or (
            fields[0].strip(),
            fields[1].strip(),
        )

    return _read(path, strict, parse)


def read_text(path, strict: bool = False) -> tuple[list[str], ReadReport]:
    """Reads one example per non-blank line.

    Lines are stripped of surrounding whitespace; blank lines are skipped
    (listed in the report's `skipped`). Lines that are not valid UTF-8 are malformed: left out and listed in the
    report.

    Args:
        path: str or path-like, a UTF-8 text file.
        strict: bool, default False. If True, raise `MalformedDataError`
            listing the malformed lines, if any.

    Returns:
        `(texts, report)`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file has no non-blank line.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "corpus.txt")
    >>> _ = open(path, "wb").write(b"First line.\\n\\n\\xff\\nSecond line.\\n")
    >>> texts, report = read_text(path)
    >>> texts, report.malformed
    (['First line.', 'Second line.'], [(3, 'invalid UTF-8 byte 0xff at byte 1')])
    """
    return _read(path, strict, str.strip)


def read_labelled(
    path,
    text_column: int = 0,
    label_column: int = 1,
    delimiter: str | None = None,
    strict: bool = False,
) -> tuple[list[str], list[str], ReadReport]:
    """Reads `(text, label)` examples from a CSV or TSV file.

    The delimiter is chosen by extension when not given: tab for `.tsv` and
    `.tab`, comma (with CSV quoting) for `.csv`; each line is one record
    (quoted fields cannot span lines). If the first non-blank line's label
    field is "label" (any case), it is a header and skipped (listed in the
    report's `skipped`). A line is
    malformed if it has too few columns, an empty text or label, or is not
    valid UTF-8.

    Args:
        path: str or path-like, a UTF-8 CSV or TSV file.
        text_column: int >= 0, default 0. Column of the text.
        label_column: int >= 0, default 1. Column of the label.
        delimiter: str or None, default None. A one-character delimiter;
            None chooses by extension.
        strict: bool, default False. If True, raise `MalformedDataError`
            listing the malformed lines, if any.

    Returns:
        `(texts, labels, report)`; labels are strings (see
        `classification_dataset` for mapping them to ids).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: bad arguments, or the file has no valid example.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> _ = open(path, "w").write('text,label\\n"Great, really.",pos\\nawful,\\n')
    >>> texts, labels, report = read_labelled(path)
    >>> texts, labels, report.malformed
    (['Great, really.'], ['pos'], [(3, 'empty field in column 2')])
    """
    for name, value in (("text_column", text_column), ("label_column", label_column)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"`{name}` must be a non-negative integer. Received: {name}={value!r}"
            )
    if text_column == label_column:
        raise ValueError(
            "`text_column` and `label_column` must differ. "
            f"Received: text_column={text_column}, label_column={label_column}"
        )
    if delimiter is None:
        extension = os.path.splitext(os.fspath(path))[1].lower()
        if extension not in _DELIMITERS:
            raise ValueError(
                "`delimiter` must be given for files whose extension is not "
                f"{sorted(_DELIMITERS)}. "
                f"Received: delimiter=None, path={os.fspath(path)!r}"
            )
        delimiter = _DELIMITERS[extension]
    elif not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(
            "`delimiter` must be a single character or None. "
            f"Received: delimiter={delimiter!r}"
        )
    num_columns = max(text_column, label_column) + 1
    is_first = True

    def parse(line):
        nonlocal is_first
        fields = _fields(line, delimiter)
        may_be_header, is_first = is_first, False
        if len(fields) < num_columns:
            return _Malformed(
                f"expected at least {num_columns} {delimiter!r}-separated columns, "
                f"got {len(fields)}"
            )
        if may_be_header and fields[label_column].strip().lower() == "label":
            return _Skipped("header")
        return _empty_field_reason(fields, (text_column, label_column)) or (
            fields[text_column].strip(),
            fields[label_column].strip(),
        )

    examples, report = _read(path, strict, parse)
    return [text for text, _ in examples], [label for _, label in examples], report


def read_tfds(
    name: str,
    split: str,
    keys: Sequence[str] | None = None,
    data_dir: str | None = None,
    max_examples: int | None = None,
) -> list[tuple]:
    """Reads a TensorFlow Datasets dataset into a list of tuples.

    Needs the optional `tensorflow-datasets` package
    (`pip install keras-attention-zoo[tfds]`), which downloads and prepares
    the dataset on first use.

    Args:
        name: str, the TFDS name, e.g. "ted_hrlr_translate/pt_to_en".
        split: str, e.g. "train" or "validation[:10%]".
        keys: sequence of feature names, or None (default) for the dataset's
            supervised `(input, target)` keys.
        data_dir: str or None, where TFDS keeps its data.
        max_examples: int >= 1 or None, default None (all).

    Returns:
        A list of tuples, one value per key: strings decoded from UTF-8,
        other values (labels) as Python scalars.

    Example:

    >>> pairs = read_tfds("ted_hrlr_translate/pt_to_en", "validation")  # doctest: +SKIP
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            "`read_tfds` needs the tensorflow-datasets package: "
            "pip install keras-attention-zoo[tfds]"
        ) from error
    if max_examples is not None and (
        isinstance(max_examples, bool)
        or not isinstance(max_examples, int)
        or max_examples < 1
    ):
        raise ValueError(
            "`max_examples` must be a positive integer or None. "
            f"Received: max_examples={max_examples!r}"
        )
    if keys is None:
        dataset = tfds.load(name, split=split, as_supervised=True, data_dir=data_dir)
    else:
        keys = tuple(keys)
        dataset = tfds.load(name, split=split, data_dir=data_dir).map(
            lambda features: tuple(features[key] for key in keys)
        )
    if max_examples is not None:
        dataset = dataset.take(max_examples)
    return [
        tuple(value.decode("utf-8") if isinstance(value, bytes) else value.item()
              for value in example)
        for example in dataset.as_numpy_iterator()
    ]
