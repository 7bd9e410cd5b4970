"""The dates of the default recipe (keras_attention/data/dates.py)."""

import datetime
import re

import numpy as np
import pytest

from keras_attention.data import date_pairs, date_templates, is_iso_date, perturb_case
from tests.reference.dates import read_date


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
