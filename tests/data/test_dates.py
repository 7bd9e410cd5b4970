"""The dates of the default recipe (keras_attention/data/dates.py)."""

import datetime
import re

import numpy as np
import pytest

from keras_attention.data import (
    date_pairs,
    date_templates,
    impossible_date_pairs,
    impossible_dates,
    is_iso_date,
    perturb_case,
)
from keras_attention.data.dates import _CONTEXT
from tests.reference.dates import MONTHS, WEEKDAYS, ordinal_words, read_date, read_date_parts

YEARS = range(1950, 2050)


def _calendar_lacks(year, month, day) -> bool:
    """Python's datetime decides which days do not exist."""
    try:
        datetime.date(year, month, day)
    except ValueError:
        return True
    return False


def _words(texts) -> set:
    return {word for text in texts for word in re.findall(r"[a-z]+", text.lower())}


def test_date_pairs_describe_their_iso_targets():
    """An independent reader finds the target date in every source, in every
    template split; weekdays, when given, are the right ones."""
    for templates in ("training", "held_out", "all"):
        for source, target in date_pairs(1500, seed=7, templates=templates):
            date = datetime.date.fromisoformat(target)
            assert 1950 <= date.year <= 2049
            assert read_date(source) == date, source


def test_date_pairs_cover_how_people_write_dates():
    sources = [source for source, _ in date_pairs(4000, seed=1)]
    joined = "\n".join(sources)
    for pattern in (
        r"\b[a-z]+day \d",  # lower-case weekday
        r"\b(jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec) \d",  # lower-case abbreviation
        r"\bsept\b", r"\bSept\.", r"\b[A-Z][a-z]{2}\. \d",  # abbreviations with a period
        r"\b(fifth|twenty-first|thirty-first)\b",  # spelled-out ordinals
        r"\bthe \w+ of\b", r"\b[A-Z]{3,} \d",  # "the 5th of", upper case
        r"\d{2}\.\d{2}\.\d{4}", r"\d{8}", r"^(due on|deadline|meeting on) ", r" at noon$",
    ):
        assert re.search(pattern, joined, re.MULTILINE), pattern
    # Mostly distinct shapes: digits and letters abstracted away.
    shapes = {re.sub(r"[a-z]+", "a", re.sub(r"\d+", "0", s.lower())) for s in sources}
    assert len(shapes) >= 40


def test_held_out_templates_are_new_combinations_of_trained_parts():
    templates = date_templates()
    held_out, training = templates["held_out"], templates["training"]
    assert len(held_out) >= 10 and not set(held_out) & set(training)
    for template in held_out:
        for position, part in enumerate(template):
            assert any(trained[position] == part for trained in training), template
    held = {source for source, _ in date_pairs(500, seed=3, templates="held_out")}
    assert not held & {source for source, _ in date_pairs(500, seed=3)}


def test_perturb_case_changes_only_case():
    text = "Tuesday, the 5th of March, 2024"
    perturbed = [perturb_case(text, seed) for seed in range(20)]
    assert all(p.lower() == text.lower() for p in perturbed)
    assert len(set(perturbed)) > 10 and perturb_case(text, 4) == perturbed[4]


def test_is_iso_date_knows_the_calendar():
    """Every day of 1899-2101 is valid (Python's calendar is the reference);
    impossible days, months and shapes are not."""
    day, days = datetime.date(1899, 1, 1), []
    while day.year < 2102:
        days.append(day.isoformat())
        day += datetime.timedelta(days=1)
    assert bool(np.all(is_iso_date(days).numpy()))
    invalid = ["2020-06-31", "2021-02-29", "1900-02-29", "2020-13-01", "2020-00-10",
               "2020-01-00", "2020-1-01", "20200101", "", "2020-01-01 ", "abcd-ef-gh", "0000-01-01"]
    assert not np.any(is_iso_date(invalid).numpy())
    assert is_iso_date(["2000-02-29"]).numpy().tolist() == [True]


def test_date_pairs_are_deterministic_per_seed():
    assert date_pairs(50, seed=3) == date_pairs(50, seed=3)
    assert date_pairs(50, seed=3) != date_pairs(50, seed=4)


@pytest.mark.parametrize("num_examples", [0, -1, 2.5, True])
def test_date_pairs_rejects_bad_counts(num_examples):
    with pytest.raises(ValueError, match="num_examples"):
        date_pairs(num_examples)
    with pytest.raises(ValueError, match="num_examples"):
        impossible_date_pairs(num_examples)


@pytest.mark.parametrize("arguments, name", [
    ({"context": "unseen"}, "context"), ({"impossible": 0.9}, "impossible"),
    ({"impossible": -0.1}, "impossible"), ({"impossible": True}, "impossible"),
    ({"impossible": "0.06"}, "impossible"),
])
def test_date_pairs_rejects_bad_arguments(arguments, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        date_pairs(10, **arguments)


# --- impossible dates (issue 24, item 6) ------------------------------------


def test_impossible_dates_are_the_days_the_calendar_lacks():
    """Every (year, month, day <= 31) of 1950-2049 that datetime refuses,
    none twice; a seventh of the days past a month's end held out, but no
    29 February, and every kind of impossible date still trained on."""
    expected = {(y, m, d) for y in YEARS for m in range(1, 13) for d in range(1, 32)
                if _calendar_lacks(y, m, d)}
    dates = impossible_dates()
    training, held_out = dates["training"], dates["held_out"]
    assert len(expected) == 675  # 75 common years' 29 February + 100 * 6
    assert set(training) | set(held_out) == expected
    assert len(training) + len(held_out) == len(expected) and not set(training) & set(held_out)
    assert len(held_out) == 600 // 7
    assert all((m, d) != (2, 29) for _, m, d in held_out)
    assert (2023, 2, 29) in training and (2000, 2, 29) not in expected  # 2000 is a leap year
    assert {(m, d) for _, m, d in training} == {(2, 29), (2, 30), (2, 31), (4, 31), (6, 31),
                                               (9, 31), (11, 31)}
    assert impossible_dates() == dates


@pytest.mark.parametrize("templates", ["training", "held_out", "all"])
def test_impossible_dates_are_written_as_dates_are_and_answered_with_nothing(templates):
    """The independent reader finds the written day in every source: the
    answer is "" exactly when datetime refuses it, and then it is a training
    impossible date; else its ISO date, with the right weekday."""
    pairs = date_pairs(3000, seed=7, templates=templates, impossible=0.06)
    training = set(impossible_dates()["training"])
    empty = 0
    for source, target in pairs:
        year, month, day, named = read_date_parts(source)
        assert 1950 <= year <= 2049, source
        if _calendar_lacks(year, month, day):
            assert target == "" and (year, month, day) in training, source
            empty += 1
        else:
            assert target == datetime.date(year, month, day).isoformat(), source
            assert named in ([], [datetime.date(year, month, day).weekday()]), source
    assert 0.04 * len(pairs) < empty < 0.08 * len(pairs)


def test_impossible_dates_come_in_every_form_beside_real_leap_days():
    pairs = date_pairs(6000, seed=2, impossible=0.06)
    impossible = [source for source, target in pairs if not target]
    joined = "\n".join(impossible)
    for pattern in (
        r"^\d{4}[./]?02[./]?(29|30|31)$", r"^(29|30|31)\.02\.\d{4}$",  # all digits
        r"\b(apr|april|jun|june|sep|sept|september|nov|november)\.? (31|31st)\b",
        r"\bthirtieth\b", r"\btwenty-ninth\b", r"\bFEB", r"^(due|on|the invoice dated) ",
    ):
        assert re.search(pattern, joined, re.MULTILINE | re.IGNORECASE), pattern
    kinds = {read_date_parts(source)[1:3] for source in impossible}
    assert kinds == {(2, 29), (2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31)}
    # 29 February: a third as often in a leap year (real) as in a common one.
    leap = sum(1 for source, target in pairs if target.endswith("-02-29"))
    common = sum(1 for source in impossible if read_date_parts(source)[1:3] == (2, 29))
    assert 0.2 < leap / common < 0.5 and common > 100
    assert date_pairs(300, seed=2, impossible=0.06) == pairs[:300]
    assert all(target for _, target in date_pairs(3000, seed=2))  # default: real dates only


def test_impossible_date_pairs_are_new_to_training():
    """Half are impossible dates training never showed (a held-out date, or
    29 February of a common year in a held-out template), half real dates
    at a month's end in held-out templates; no source is a training one."""
    pairs = impossible_date_pairs(1200, seed=5)
    held_out = set(impossible_dates()["held_out"])
    trained = {source for source, _ in date_pairs(40000, seed=5, impossible=0.06)}
    assert not {source for source, _ in pairs} & trained
    empty = 0
    for source, target in pairs:
        year, month, day, named = read_date_parts(source)
        if _calendar_lacks(year, month, day):
            assert target == ""
            assert (year, month, day) in held_out or (month, day) == (2, 29), source
            empty += 1
        else:
            assert target == datetime.date(year, month, day).isoformat(), source
            last = (datetime.date(year, month, 28) + datetime.timedelta(days=4)).replace(day=1)
            assert day == (last - datetime.timedelta(days=1)).day, source  # a month's last day
            assert named in ([], [datetime.date(year, month, day).weekday()]), source
    assert 0.4 < empty / len(pairs) < 0.6
    impossible = [read_date_parts(source)[:3] for source, target in pairs if not target]
    assert any(date in held_out for date in impossible)
    assert any(date[1:] == (2, 29) for date in impossible)
    assert impossible_date_pairs(1200, seed=5) == pairs != impossible_date_pairs(1200, seed=6)


# --- context words (issue 24, item 6) ------------------------------------------


def test_context_words_sit_before_after_and_around_the_date():
    sources = [source for source, _ in date_pairs(6000, seed=4)]
    joined = "\n".join(sources)
    for pattern in (
        r"^the invoice dated .+ is overdue$", r"^(market opens|wedding on|junior prom on) ",
        r" (at midnight|local time|sharp)$", r"^payment received .+, thanks$",
        r"^(on|due on) .+ (at noon|in the morning)$",
    ):
        assert re.search(pattern, joined, re.MULTILINE), pattern
    # About two in five dates have words that are no part of a date.
    date_words = set(MONTHS) | set(WEEKDAYS) | set(ordinal_words()) | {
        "the", "of", "st", "nd", "rd", "th", "sept", "christmas", "day", "new", "year", "s", "halloween",
        "twenty", "thirty"}
    date_words |= {name[:3] for name in MONTHS + WEEKDAYS}
    with_context = [s for s in sources if _words([re.sub(r"\d+(st|nd|rd|th)?", " ", s)]) - date_words]
    assert 0.35 < len(with_context) / len(sources) < 0.45


def test_held_out_context_words_never_appear_in_training():
    """No word of a held-out context phrase occurs in any training source
    (every template, impossible dates included); every source of the
    held-out split has one, and the reader still finds its date."""
    held_out_phrases = [phrase for part in ("prefixes", "suffixes", "around")
                        for phrase in _CONTEXT["held_out"][part]]
    held_out_words = _words(
        phrase if isinstance(phrase, str) else " ".join(phrase) for phrase in held_out_phrases
    )
    assert len(held_out_words) >= 15
    training = [source for templates in ("training", "all")
                for source, _ in date_pairs(30000, seed=9, templates=templates, impossible=0.06)]
    training += [source for source, _ in impossible_date_pairs(3000, seed=9)]
    assert not held_out_words & _words(training)
    unseen = date_pairs(2000, seed=9, context="held_out", impossible=0.06)
    assert all(_words([source]) & held_out_words for source, _ in unseen)
    for source, target in unseen:
        year, month, day, _ = read_date_parts(source)
        assert target == ("" if _calendar_lacks(year, month, day)
                          else datetime.date(year, month, day).isoformat()), source
    # Words that begin like a month or weekday, trained on and held out.
    assert {"market", "junior", "wedding"} <= _words(training)
    assert {"janitor", "junk", "novice", "maybe"} <= held_out_words
    assert date_pairs(50, seed=9, context="held_out") == date_pairs(50, seed=9, context="held_out")
