"""Dates as people write them, paired with ISO dates: the default recipe's data.

`date_pairs` composes a date's written form from independent choices — a
layout (day first, month first, "the 5th of ..."), how the month is named
("March", "Mar", "Mar.", "Sept"), how the day is written ("5", "05", "5th",
"fifth"), an optional weekday, the casing of the words, and a few words of
context around the date ("due on ...", "... at noon"). A *template* is one
combination of layout, month, day and weekday style; a fixed set of templates
is held out of training (`templates="held_out"`), each made only of parts that
training does see, so a model's score on them measures how it generalises to
formats it has never been shown. `perturb_case` re-cases words at random for a
second generalisation test, and `is_iso_date` (TensorFlow ops, so it also runs
inside an exported SavedModel) tells which outputs are real calendar dates.

Everything is deterministic for a seed, and nothing is downloaded. Month and
weekday names are English and do not depend on the locale.
"""

from __future__ import annotations

import datetime
import itertools
import random

import tensorflow as tf

__all__ = ["date_pairs", "date_templates", "is_iso_date", "perturb_case"]

_FIRST_DATE = datetime.date(1950, 1, 1)
_LAST_DATE = datetime.date(2049, 12, 31)

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How people abbreviate a month besides its first three letters.
_OTHER_ABBREVIATIONS = {"September": ("Sept",)}

_ORDINAL_WORDS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth", "twentieth", "twenty-first", "twenty-second",
    "twenty-third", "twenty-fourth", "twenty-fifth", "twenty-sixth", "twenty-seventh",
    "twenty-eighth", "twenty-ninth", "thirtieth", "thirty-first",
)

# Layouts with the month in words: {W} weekday (with its separator), {M}
# month, {D} day, {Y} four-digit year. Every layout names the month in words
# or puts the year first, so no source is ambiguous between day-first and
# month-first conventions (05/03/2024 is never produced).
_WORD_LAYOUTS = {
    "month_day_comma_year": "{W}{M} {D}, {Y}",  # March 5, 2024
    "month_day_year": "{W}{M} {D} {Y}",  # March 5 2024
    "day_month_year": "{W}{D} {M} {Y}",  # 5 March 2024
    "day_month_comma_year": "{W}{D} {M}, {Y}",  # 5 March, 2024
    "the_day_of_month": "{W}the {D} of {M}, {Y}",  # the 5th of March, 2024
    "the_day_of_month_year": "{W}the {D} of {M} {Y}",  # the fifth of March 2024
    "dashed": "{W}{D}-{M}-{Y}",  # 5-Mar-2024
}
_MONTH_STYLES = ("full", "short", "short_period")
_DAY_STYLES = ("number", "padded", "ordinal", "ordinal_word")
_WEEKDAY_STYLES = ("none", "full", "short")
# All-digit layouts: year first, or day first with dots (the German and
# Russian convention; month-first is never written with dots).
_NUMERIC_LAYOUTS = ("{Y}.{mm}.{dd}", "{Y}/{mm}/{dd}", "{Y}{mm}{dd}", "{dd}.{mm}.{Y}", "{Y}-{m}-{d}")

_PREFIXES = (
    "on ", "due ", "due on ", "meeting on ", "born ", "released on ", "deadline ",
    "dated ", "from ", "until ", "by ", "expires ", "signed ", "shipped on ",
)
_SUFFIXES = (" at noon", " in the morning", " (estimated)", ".", " evening", " or earlier")
_HOLIDAYS = {(12, 25): "Christmas Day, ", (1, 1): "New Year's Day, ", (10, 31): "Halloween, "}


def _is_word_template(layout: str, month: str, day: str, weekday: str) -> bool:
    """Whether a combination reads naturally ("the 5 of March" does not)."""
    if layout.startswith("the_day_of"):
        return day in ("ordinal", "ordinal_word")
    if layout == "dashed":
        return day in ("number", "padded") and month != "short_period" and weekday == "none"
    return day != "ordinal_word" or layout.startswith("day_month")


def date_templates() -> dict[str, list[tuple[str, str, str, str]]]:
    """Every word template, split into `"training"` and `"held_out"`.

    A template is `(layout, month_style, day_style, weekday_style)`. About one
    in seven is held out, chosen with a fixed seed among those whose every
    part also occurs in a training template, so a held-out format is new only
    as a combination. (All-digit formats are always trained on: they have no
    parts to recombine.)

    >>> templates = date_templates()
    >>> len(templates["held_out"]) > 0 and not set(templates["held_out"]) & set(templates["training"])
    True
    """
    combinations = [
        combination
        for combination in itertools.product(
            _WORD_LAYOUTS, _MONTH_STYLES, _DAY_STYLES, _WEEKDAY_STYLES
        )
        if _is_word_template(*combination)
    ]
    # Days 10-31 read the same as numbers and zero-padded: those two styles
    # are held out together, or a "new" format would be an old one.
    def family(combination):
        layout, month, day, weekday = combination
        return layout, month, "number" if day == "padded" else day, weekday

    families = sorted({family(c) for c in combinations})
    rng = random.Random(20261129)
    held_out = []
    for chosen in rng.sample(families, len(families)):
        if len(held_out) >= len(combinations) // 7:
            break
        members = [c for c in combinations if family(c) == chosen]
        remaining = [c for c in combinations if c not in members and c not in held_out]
        # Every part of a held-out template must still be trained on.
        if all(any(c[i] == part for c in remaining) for m in members for i, part in enumerate(m)):
            held_out += members
    training = [c for c in combinations if c not in held_out]
    return {"training": training, "held_out": sorted(held_out)}


def _ordinal(day: int) -> str:
    if day in (11, 12, 13):
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def _recase(text: str, casing: str) -> str:
    return {"as_is": text, "lower": text.lower(), "upper": text.upper()}[casing]


def _render(date: datetime.date, template, rng: random.Random) -> str:
    layout, month_style, day_style, weekday_style = template
    month = _MONTHS[date.month - 1]
    if month_style != "full":
        month = rng.choice((month[:3],) + _OTHER_ABBREVIATIONS.get(month, ()))
        if month_style == "short_period":
            month += "."
    day = {
        "number": str(date.day),
        "padded": f"{date.day:02d}",
        "ordinal": _ordinal(date.day),
        "ordinal_word": _ORDINAL_WORDS[date.day - 1],
    }[day_style]
    weekday = _WEEKDAYS[date.weekday()]
    weekday = {"none": "", "full": weekday, "short": weekday[:3]}[weekday_style]
    if weekday:
        weekday += rng.choice((", ", " "))
    return _WORD_LAYOUTS[layout].format(W=weekday, M=month, D=day, Y=f"{date.year:04d}")


def _numeric(date: datetime.date, layout: str) -> str:
    return layout.format(
        Y=f"{date.year:04d}", mm=f"{date.month:02d}", dd=f"{date.day:02d}",
        m=date.month, d=date.day,
    )


def _with_context(text: str, date: datetime.date, rng: random.Random) -> str:
    holiday = _HOLIDAYS.get((date.month, date.day))
    if holiday and rng.random() < 0.5:
        return holiday + text
    draw = rng.random()
    if draw < 0.15:
        return rng.choice(_PREFIXES) + text
    if draw < 0.25:
        return text + rng.choice(_SUFFIXES)
    if draw < 0.3:
        return rng.choice(_PREFIXES) + text + rng.choice(_SUFFIXES)
    return text


def date_pairs(
    num_examples: int, seed: int = 0, templates: str = "training"
) -> list[tuple[str, str]]:
    """Random dates written the way people write them, paired with ISO dates.

    Dates are drawn uniformly from 1950-01-01 to 2049-12-31. A fifth are
    written with digits only ("2024.03.05", "05.03.2024", "20240305"); the
    rest with the month in words, from a template (see `date_templates`):
    full, abbreviated ("Mar", "Sept") or abbreviated with a period ("Mar.");
    the day as a number, zero-padded, an ordinal ("5th") or an ordinal word
    ("fifth"); with or without the (right) weekday, in full or abbreviated.
    Words are title case, lower case or upper case, and three in ten dates
    have a few words of context around them ("due on ...", "... at noon",
    "Christmas Day, ..." on December 25). Day-first and month-first numeric
    forms with slashes ("05/03/2024") and two-digit years are never produced,
    so every source describes exactly one date.

    Args:
        num_examples: int >= 1, how many pairs to generate.
        seed: int, default 0. The same seed always gives the same pairs.
        templates: `"training"` (default: never a held-out template),
            `"held_out"` (only held-out word templates) or `"all"`.

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
    if isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 1:
        raise ValueError(
            f"`num_examples` must be a positive integer. Received: num_examples={num_examples!r}"
        )
    splits = date_templates()
    if templates not in ("training", "held_out", "all"):
        raise ValueError(
            "`templates` must be one of ['training', 'held_out', 'all']. "
            f"Received: templates={templates!r}"
        )
    word_templates = splits["training"] + splits["held_out"] if templates == "all" else splits[templates]
    numeric_share = 0.0 if templates == "held_out" else 0.2
    rng = random.Random(seed)
    span = (_LAST_DATE - _FIRST_DATE).days + 1
    pairs = []
    for _ in range(num_examples):
        date = _FIRST_DATE + datetime.timedelta(days=rng.randrange(span))
        if rng.random() < numeric_share:
            text = _numeric(date, rng.choice(_NUMERIC_LAYOUTS))
        else:
            text = _render(date, rng.choice(word_templates), rng)
            text = _recase(text, rng.choice(("as_is", "as_is", "lower", "upper")))
        text = _with_context(text, date, rng)
        pairs.append((text, date.isoformat()))
    return pairs


def perturb_case(text: str, seed: int = 0) -> str:
    """`text` with each word re-cased at random: lower, UPPER, Title or mIxEd.

    >>> perturb_case("Tuesday, March 5, 2024", seed=3) != "Tuesday, March 5, 2024"
    True
    """
    rng = random.Random(seed)

    def recase(word: str) -> str:
        style = rng.randrange(4)
        if style == 3:
            return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)
        return (word.lower(), word.upper(), word.capitalize())[style]

    return " ".join(recase(word) for word in text.split(" "))


def is_iso_date(strings) -> tf.Tensor:
    """Which strings are real calendar dates written `YYYY-MM-DD` (TF ops).

    Checks the shape, the month, and the day against the month's length in
    that year (Gregorian leap years), so "2020-02-29" is a date and
    "2021-02-29" and "2020-06-31" are not. Runs eagerly, in `tf.function`
    and inside a SavedModel.

    Args:
        strings: a 1-D string tensor (or list of str).

    Returns:
        A bool tensor of the same shape.

    >>> is_iso_date(["2020-02-29", "2021-02-29", "2020-06-31", "1999-12-25", "", "2020-6-1"]).numpy().tolist()
    [True, False, False, True, False, False]
    """
    strings = tf.convert_to_tensor(strings, tf.string)
    well_formed = tf.strings.regex_full_match(strings, r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    safe = tf.where(well_formed, strings, "0001-01-01")
    year = tf.strings.to_number(tf.strings.substr(safe, 0, 4), tf.int32)
    month = tf.strings.to_number(tf.strings.substr(safe, 5, 2), tf.int32)
    day = tf.strings.to_number(tf.strings.substr(safe, 8, 2), tf.int32)
    leap = tf.logical_and(
        tf.equal(year % 4, 0), tf.logical_or(tf.not_equal(year % 100, 0), tf.equal(year % 400, 0))
    )
    #                         Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec
    lengths = tf.constant([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], tf.int32)
    valid_month = tf.logical_and(month >= 1, month <= 12)
    days = tf.gather(lengths, tf.clip_by_value(month, 0, 12)) + tf.cast(
        tf.logical_and(leap, tf.equal(month, 2)), tf.int32
    )
    return tf.logical_and(
        tf.logical_and(well_formed, valid_month),
        tf.logical_and(tf.logical_and(day >= 1, day <= days), year >= 1),
    )
