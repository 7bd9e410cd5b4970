"""The main job's promise: `make run`'s recipe reads dates as people write them.

>= 99% exact match on the random held-out split, >= 99.5% on templates never
seen in training and on re-cased inputs, >= 98.5% on dates among context words
never seen in training, >= 99% on impossible dates never seen in training beside
real dates at a month's end (>= 98% of the impossible ones answered ""), >= 99.5%
valid dates where a date is expected on every split, and an export that answers
lower-case and abbreviated dates right, and impossible ones with "", in a process
where keras_attention cannot be imported. (Two runs of 2026-12-08, before and
after the resumable data stream changed the batch order, measured 1.0 / 0.9978,
1.0 / 1.0, 1.0 / 0.9978, 0.9922 / 0.9933 and 0.9978 / 0.9944; impossible dates
answered "" 0.9955 / 0.9887; validity 1.0 everywhere.)"""

import json
from pathlib import Path

import pytest

from tests.export.test_saved_model import _isolated

ROOT = Path(__file__).parents[2]

# Typed the way people type them (the examples), with their ISO dates;
# an impossible date has none.
HUMAN_DATES = {
    "tuesday 14 july 2020": "2020-07-14",
    "jul 14 2020": "2020-07-14",
    "dec 25, 1999": "1999-12-25",
    "sept 9, 2009": "2009-09-09",
    "the fifth of november, 2021": "2021-11-05",
    "5 nov. 2021": "2021-11-05",
    "Christmas Day, December 25, 1999": "1999-12-25",
    "July 14, 2020": "2020-07-14",
    "14.07.2020": "2020-07-14",
    "the 14th of July, 2020": "2020-07-14",
    "": "",
    "February 29, 2023": "",
    "April 31, 2024": "",
    "31.06.2021": "",
    "Feb 29, 2024": "2024-02-29",
}


def check_default_run(out: Path, metrics: dict) -> None:
    """The promise, of a trained run directory and its metrics."""
    splits = metrics["splits"]
    assert splits["random"]["exact_match"] >= 0.99, splits
    assert splits["held_out_templates"]["exact_match"] >= 0.995, splits
    assert splits["case_perturbed"]["exact_match"] >= 0.995, splits
    assert splits["unseen_context"]["exact_match"] >= 0.985, splits
    assert splits["impossible_dates"]["exact_match"] >= 0.99, splits
    assert splits["impossible_dates"]["no_answer"]["exact_match"] >= 0.98, splits
    assert all(split["no_answer"]["examples"] > 0 for split in splits.values()), splits
    assert all(split["validity"] >= 0.995 for split in splits.values()), splits
    served = _isolated(out / "export" / "1", {"text": list(HUMAN_DATES)})
    assert dict(zip(HUMAN_DATES, served["translation"])) == HUMAN_DATES
    assert served["valid"] == [bool(iso) for iso in HUMAN_DATES.values()]


@pytest.mark.slow
def test_the_default_dates_recipe_generalises_and_answers_real_dates(tmp_path):
    from keras_attention.runs import train

    out = tmp_path / "dates"
    metrics = train(ROOT / "models" / "dates.toml", out, log=lambda *_: None)
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    check_default_run(out, metrics)
