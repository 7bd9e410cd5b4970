"""Dates as people write them, paired with ISO dates: the default recipe's data.

`date_pairs` composes a date's written form from independent choices — a
layout (day first, month first, "the 5th of ..."), how the month is named
("March", "Mar", "Mar.", "Sept"), how the day is written ("5", "05", "5th",
"fifth"), an optional weekday, the casing of the words, and a few words of
context around the date ("due on ...", "... at noon", "the invoice dated ...
is overdue"). A *template* is one combination of layout, month, day and
weekday style; a fixed set of templates is held out of training
(`templates="held_out"`), each made only of parts that training does see, so
a model's score on them measures how it generalises to formats it has never
been shown. A fixed set of context phrases is held out too
(`context="held_out"`), made of words no training source contains, so a score
on them measures whether an unseen word changes the date the model reads.

On request (`impossible`), some dates are impossible ones written the same
ways ("February 29, 2023", "April 31, 2024", "31.06.2021"), whose answer is
"": `impossible_dates` lists them and holds some out, and
`impossible_date_pairs` makes a test split of impossible dates training never
showed beside real dates at a month's end. `perturb_case` re-cases words at
random for another generalisation test, and `is_iso_date` (TensorFlow ops, so
it also runs inside an exported SavedModel) tells which outputs are real
calendar dates.

Everything is deterministic for a seed, and nothing is downloaded. Month and
weekday names are English and do not depend on the locale.
"""

from __future__ import annotations

import calendar
import datetime
import itertools
import random

import tensorflow as tf

__all__ = [
    "date_pairs",
    "date_templates",
    "impossible_date_pairs",
    "impossible_dates",
    "is_iso_date",
    "perturb_case",
]

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

# Context around a date: words before it, after it, or both, and phrases the
# date sits inside. Some words begin like a month or weekday ("market",
# "junior", "wedding") so the model learns that only a whole word names one.
# The held-out phrases are made of words that no training source contains
# (tests/data/test_dates.py checks it): a model that reads the date right
# after them is not thrown by a word it has never seen.
_CONTEXT = {
    "training": {
        # Up to which draw in [0, 1) a date gets a prefix, else a suffix,
        # both, sits inside a phrase, or among made-up words: 40% have context.
        "placements": (0.1, 0.16, 0.19, 0.25, 0.4),
        "prefixes": (
            "on ", "due ", "due on ", "meeting on ", "born ", "released on ", "deadline ",
            "dated ", "from ", "until ", "by ", "expires ", "signed ", "shipped on ",
            "effective ", "posted ", "delivered on ", "paid on ", "published ", "last updated ",
            "starting ", "renewal on ", "as of ", "sent on ", "market opens ", "wedding on ",
            "decision due ", "junior prom on ", "mayor elected ", "octet concert on ",
        ),
        "suffixes": (
            " at noon", " in the morning", " (estimated)", ".", " evening", " or earlier",
            " at midnight", " sharp", " or later", " if possible", " local time",
            " (tentative)", " at the latest", " please",
        ),
        "around": (
            ("the invoice dated ", " is overdue"),
            ("your order shipped ", " and arrives soon"),
            ("we met on ", " in paris"),
            ("the contract signed ", " was renewed"),
            ("payment received ", ", thanks"),
            ("the flight leaves ", " from gate c"),
            ("the market closed early on ", " due to snow"),
            ("her wedding on ", " was lovely"),
            ("rent due ", " is late"),
            ("lunch on ", " is booked"),
        ),
    },
    "held_out": {
        "placements": (0.3, 0.55, 0.7, 1.0, 1.0),  # every date: the split measures nothing else
        "prefixes": (
            "audit ", "expo ", "gala ", "picnic ", "lease ends ", "junk pickup ",
            "novice intake ", "janitor quits ",
        ),
        "suffixes": (" tops", " roughly", " maybe", " hopefully", " barring delays"),
        "around": (
            ("gala ", " axed"),
            ("picnic ", " moved indoors"),
            ("julia left ", " abruptly"),
            ("taxes filed ", " remain unpaid"),
            ("novel drafts ", " got rejected"),
        ),
    },
}
_HOLIDAYS = {(12, 25): "Christmas Day, ", (1, 1): "New Year's Day, ", (10, 31): "Halloween, "}
_CONTEXTS = tuple(_CONTEXT)
_HELD_OUT_WORDS = frozenset(
    word
    for part in ("prefixes", "suffixes", "around")
    for phrase in _CONTEXT["held_out"][part]
    for word in "".join(phrase).split()
)
# Made-up words: a word the tokenizer never learned is spelled in short
# pieces, some of which a month or weekday also has ("ro-ug-hly", "may-be"),
# and a model that only ever saw whole context words reads a month into them.
# Three in ten begin with a month's or weekday's first three letters.
_DATE_WORD_STARTS = tuple(sorted({name[:3].lower() for name in _MONTHS + _WEEKDAYS}))
_VOWELS, _CONSONANTS = "aeiouy", "bcdfghjklmnpqrstvwxz"


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


def _exists(year: int, month: int, day: int) -> bool:
    return 1 <= day <= calendar.monthrange(year, month)[1]


def _weekday(year: int, month: int, day: int) -> int:
    """The day's weekday; for an impossible day, the one a calendar that ran
    on past the month's end would give (30 February 2023: Thursday 2 March)."""
    return (datetime.date(year, month, 1) + datetime.timedelta(days=day - 1)).weekday()


def _render(day_of, template, rng: random.Random) -> str:
    year, month_number, day_number = day_of
    layout, month_style, day_style, weekday_style = template
    month = _MONTHS[month_number - 1]
    if month_style != "full":
        month = rng.choice((month[:3],) + _OTHER_ABBREVIATIONS.get(month, ()))
        if month_style == "short_period":
            month += "."
    day = {
        "number": str(day_number),
        "padded": f"{day_number:02d}",
        "ordinal": _ordinal(day_number),
        "ordinal_word": _ORDINAL_WORDS[day_number - 1],
    }[day_style]
    weekday = _WEEKDAYS[_weekday(*day_of)]
    weekday = {"none": "", "full": weekday, "short": weekday[:3]}[weekday_style]
    if weekday:
        weekday += rng.choice((", ", " "))
    return _WORD_LAYOUTS[layout].format(W=weekday, M=month, D=day, Y=f"{year:04d}")


def _numeric(day_of, layout: str) -> str:
    year, month, day = day_of
    return layout.format(Y=f"{year:04d}", mm=f"{month:02d}", dd=f"{day:02d}", m=month, d=day)


def _written(day_of, word_templates, numeric_share: float, rng: random.Random) -> str:
    """The day in an all-digit layout (`numeric_share` of the time) or a word
    template, its words cased as-is, lower or upper."""
    if rng.random() < numeric_share:
        return _numeric(day_of, rng.choice(_NUMERIC_LAYOUTS))
    text = _render(day_of, rng.choice(word_templates), rng)
    return _recase(text, rng.choice(("as_is", "as_is", "lower", "upper")))


def _names_a_date_part(word: str) -> bool:
    """Whether a reader could take `word` for a month, weekday or day ("sept",
    "wed", "fifth"), as tests/reference/dates.py would."""
    names = [name.lower() for name in _MONTHS + _WEEKDAYS]
    return (len(word) >= 3 and any(name.startswith(word) for name in names)) or (
        word in _ORDINAL_WORDS
    )


def _made_up_word(rng: random.Random) -> str:
    """A word no dictionary has ("vobem", "augri"), never one that names a
    date part nor a held-out context word."""
    while True:
        word = rng.choice(_DATE_WORD_STARTS) if rng.random() < 0.3 else ""
        for _ in range(rng.randint(2, 5)):
            word += rng.choice(_VOWELS if rng.random() < 0.4 else _CONSONANTS)
        if not _names_a_date_part(word) and word not in _HELD_OUT_WORDS:
            return word


def _made_up_words(rng: random.Random) -> str:
    return " ".join(_made_up_word(rng) for _ in range(rng.randint(1, 2)))


def _with_context(text: str, day_of, context: str, rng: random.Random) -> str:
    phrases = _CONTEXT[context]
    holiday = _HOLIDAYS.get(day_of[1:]) if context == "training" else None
    if holiday and rng.random() < 0.5:
        return holiday + text
    prefix, suffix, both, around, made_up = phrases["placements"]
    draw = rng.random()
    if draw < prefix:
        return rng.choice(phrases["prefixes"]) + text
    if draw < suffix:
        return text + rng.choice(phrases["suffixes"])
    if draw < both:
        return rng.choice(phrases["prefixes"]) + text + rng.choice(phrases["suffixes"])
    if draw < around:
        before, after = rng.choice(phrases["around"])
        return before + text + after
    if draw < made_up:
        where = rng.randrange(3)
        before = _made_up_words(rng) + " " if where != 1 else ""
        after = " " + _made_up_words(rng) if where != 0 else ""
        return before + text + after
    return text


def _answer(day_of) -> str:
    """The ISO date, or "" for an impossible day."""
    return datetime.date(*day_of).isoformat() if _exists(*day_of) else ""


def _years() -> range:
    return range(_FIRST_DATE.year, _LAST_DATE.year + 1)


def impossible_dates() -> dict[str, list[tuple[int, int, int]]]:
    """Every impossible date from 1950 to 2049 as `(year, month, day)`, split
    into `"training"` and `"held_out"`.

    The impossible dates are 29 February of a common year (1950-2049 has 75;
    2000 is a leap year), 30 and 31 February, and 31 April, June, September
    and November of any year. One in seven of the days past a month's end
    other than 29 February is held out, chosen with a fixed seed, so a model
    is tested on impossible dates it never saw. 29 February of a common year
    is never held out: whether a year has one is a fact about that year that
    only that year's examples teach (its two-digit piece "23" says nothing of
    divisibility), so `impossible_date_pairs` tests those in held-out
    templates instead.

    >>> dates = impossible_dates()
    >>> (2023, 2, 29) in dates["training"], (2024, 2, 29) in dates["training"] + dates["held_out"]
    (True, False)
    >>> len(dates["training"]) + len(dates["held_out"])
    675
    """
    no_leap_days = [(year, 2, 29) for year in _years() if not calendar.isleap(year)]
    past_end = [
        (year, month, day)
        for year in _years()
        for month in range(1, 13)
        for day in (30, 31)
        if not _exists(year, month, day)
    ]
    held_out = sorted(random.Random(20261208).sample(past_end, len(past_end) // 7))
    return {
        "training": sorted(no_leap_days + [day for day in past_end if day not in set(held_out)]),
        "held_out": held_out,
    }


def _check_count(num_examples) -> None:
    if isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 1:
        raise ValueError(
            f"`num_examples` must be a positive integer. Received: num_examples={num_examples!r}"
        )


def date_pairs(
    num_examples: int,
    seed: int = 0,
    templates: str = "training",
    context: str = "training",
    impossible: float = 0.0,
) -> list[tuple[str, str]]:
    """Random dates written the way people write them, paired with ISO dates.

    Dates are drawn uniformly from 1950-01-01 to 2049-12-31. A fifth are
    written with digits only ("2024.03.05", "05.03.2024", "20240305"); the
    rest with the month in words, from a template (see `date_templates`):
    full, abbreviated ("Mar", "Sept") or abbreviated with a period ("Mar.");
    the day as a number, zero-padded, an ordinal ("5th") or an ordinal word
    ("fifth"); with or without the (right) weekday, in full or abbreviated.
    Words are title case, lower case or upper case, and about a third of the
    dates have words of context before or after them or both ("due on ...",
    "... at noon", "the invoice dated ... is overdue", "Christmas Day, ..."
    on December 25). Day-first and month-first numeric forms with slashes
    ("05/03/2024") and two-digit years are never produced, so every source
    describes exactly one date.

    With `impossible`, that share of the dates are impossible ones (the
    training ones of `impossible_dates`), written the same ways, whose
    answer is "": half are 29 February of a common year, half another day
    past a month's end. 29 February of a leap year then comes a third as
    often as of a common year, as the calendar has it, so a model learns
    which years have one rather than that none does. (Default 0: every
    answer is a date, and the pairs make a valid corpus file, which refuses
    an empty answer.)

    Args:
        num_examples: int >= 1, how many pairs to generate.
        seed: int, default 0. The same seed always gives the same pairs.
        templates: `"training"` (default: never a held-out template),
            `"held_out"` (only held-out word templates) or `"all"`.
        context: `"training"` (default: about a third of the dates with
            training context words) or `"held_out"` (every date with held-out
            context words, which no `"training"` source contains).
        impossible: float in [0, 0.5], default 0. The share of impossible dates.

    Returns:
        A list of `(human_date, iso_date)` string pairs, for example
        `("Tuesday, March 5, 2024", "2024-03-05")` or
        `("February 29, 2023", "")`.

    Example:

    >>> pairs = date_pairs(3, seed=1)
    >>> len(pairs), all(len(target) == 10 for _, target in pairs)
    (3, True)
    >>> date_pairs(3, seed=1) == pairs
    True
    >>> pairs = date_pairs(1000, seed=1, impossible=0.06)
    >>> 30 < sum(target == "" for _, target in pairs) < 90
    True

    References:
        The "human-readable dates to machine dates" exercise of the
        deeplearning.ai sequence-models course (neural machine translation
        with attention), with unambiguous formats only.
    """
    _check_count(num_examples)
    splits = date_templates()
    if templates not in ("training", "held_out", "all"):
        raise ValueError(
            "`templates` must be one of ['training', 'held_out', 'all']. "
            f"Received: templates={templates!r}"
        )
    if context not in _CONTEXTS:
        raise ValueError(
            f"`context` must be one of {list(_CONTEXTS)}. Received: context={context!r}"
        )
    if isinstance(impossible, bool) or not isinstance(impossible, (int, float)) or not (
        0 <= impossible <= 0.5
    ):
        raise ValueError(
            f"`impossible` must be a share in [0, 0.5]. Received: impossible={impossible!r}"
        )
    word_templates = splits["training"] + splits["held_out"] if templates == "all" else splits[templates]
    numeric_share = 0.0 if templates == "held_out" else 0.2
    training_impossible = impossible_dates()["training"]
    no_leap_days = [day for day in training_impossible if day[1:] == (2, 29)]
    past_end = [day for day in training_impossible if day[1:] != (2, 29)]
    leap_days = [(year, 2, 29) for year in _years() if calendar.isleap(year)]
    rng = random.Random(seed)
    span = (_LAST_DATE - _FIRST_DATE).days + 1
    pairs = []
    for _ in range(num_examples):
        draw = rng.random() if impossible else 1.0
        if draw < impossible / 2:
            day_of = rng.choice(no_leap_days)
        elif draw < impossible * 2 / 3:
            day_of = rng.choice(leap_days)
        elif draw < impossible * 7 / 6:
            day_of = rng.choice(past_end)
        else:
            date = _FIRST_DATE + datetime.timedelta(days=rng.randrange(span))
            day_of = (date.year, date.month, date.day)
        text = _written(day_of, word_templates, numeric_share, rng)
        pairs.append((_with_context(text, day_of, context, rng), _answer(day_of)))
    return pairs


def impossible_date_pairs(num_examples: int, seed: int = 0) -> list[tuple[str, str]]:
    """A test split of impossible dates that training never showed, beside as
    many real dates at a month's end: no source is one `date_pairs` makes
    with its default `templates` and `context`.

    A quarter each, with training context words and casing as `date_pairs`
    gives them:
    - a held-out impossible date of `impossible_dates` (31 April 2031, say),
      written in any template or all-digit layout; answer "";
    - 29 February of a common year in a held-out template; answer "";
    - 29 February of a leap year in a held-out template; its ISO date;
    - the last day of a month (28 February 2023, 30 April 2031, ...) in a
      held-out template; its ISO date.

    So a model that answers "" for every date at a month's end scores 0.5,
    and one that never answers "" scores 0.5 too.

    Args:
        num_examples: int >= 1, how many pairs to generate.
        seed: int, default 0. The same seed always gives the same pairs.

    Returns:
        A list of `(human_date, iso_date_or_empty)` string pairs.

    >>> pairs = impossible_date_pairs(8, seed=2)
    >>> len(pairs), impossible_date_pairs(8, seed=2) == pairs
    (8, True)
    """
    _check_count(num_examples)
    templates = date_templates()
    every_template = templates["training"] + templates["held_out"]
    held_out_dates = impossible_dates()["held_out"]
    years = list(_years())
    rng = random.Random(seed)
    pairs = []
    for _ in range(num_examples):
        kind = rng.randrange(4)
        if kind == 0:
            day_of = rng.choice(held_out_dates)
            text = _written(day_of, every_template, 0.2, rng)
        else:
            if kind == 1:
                day_of = (rng.choice([y for y in years if not calendar.isleap(y)]), 2, 29)
            elif kind == 2:
                day_of = (rng.choice([y for y in years if calendar.isleap(y)]), 2, 29)
            else:
                year, month = rng.choice(years), rng.randrange(1, 13)
                day_of = (year, month, calendar.monthrange(year, month)[1])
            text = _written(day_of, templates["held_out"], 0.0, rng)
        pairs.append((_with_context(text, day_of, "training", rng), _answer(day_of)))
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
