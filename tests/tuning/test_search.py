"""Keras Tuner: hypermodels, search specs, resumable and distributed searches."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_attention.training.recipe import RecipeError
from keras_attention.tuning import TaskHyperModel, load_spec, run_search

ROOT = Path(__file__).parents[2]

TINY_SPEC = """
recipe = "{recipe}"
[tuner]
kind = "{kind}"
max_trials = 3
seed = 1
[space]
hidden_dim = [16, 32]
num_heads = [2, 3, 4]
num_layers = [1]
[overrides]
"data.num_examples" = 500
"data.vocabulary_size" = 200
"data.max_length" = 20
"data.validation_fraction" = 0.1
"training.epochs" = 1
"training.steps_per_epoch" = 8
"training.batch_size" = 16
"""


@pytest.fixture
def spec(tmp_path):
    def write(kind="random"):
        path = tmp_path / f"{kind}.toml"
        path.write_text(TINY_SPEC.format(recipe=ROOT / "models" / "dates.toml", kind=kind))
        return path

    return write


def _completed(out):
    trials = {}
    for path in (out / "search").glob("trial_*/trial.json"):
        trial = json.loads(path.read_text())
        if trial["status"] == "COMPLETED":
            trials[trial["trial_id"]] = path
    return trials


def test_shipped_specs_are_valid():
    for path in sorted((ROOT / "tuning").glob("*.toml")):
        loaded = load_spec(path)
        assert Path(loaded["recipe"]).is_file()


def test_heads_are_only_divisors_of_the_hidden_size(spec):
    from keras_attention.training.recipe import load_recipe
    from keras_attention.tasks import get_task

    loaded = load_spec(spec())
    hypermodel = TaskHyperModel(get_task(load_recipe(loaded["recipe"])), loaded["space"])
    assert hypermodel.head_choices == [2, 4]  # 3 divides neither 16 nor 32


def test_invalid_specs_name_the_key(tmp_path, spec):
    cases = {
        'recipe = "x.toml"\n[tuner]\nkind = "grid"\n': "`tuner.kind` must be one of",
        'recipe = "x.toml"\n[tuner]\nmax_trial = 3\n': "Unknown key `tuner.max_trial`",
        'recipe = "x.toml"\n[space]\ndropout = [0.5, 0.1]\n': "`space.dropout` must be \\[low, high\\]",
        '[tuner]\nkind = "random"\n': "`recipe` .* is required",
        'recipe = "x.toml"\nmodel = 3\n': "Unknown key `model`",
    }
    for text, message in cases.items():
        path = tmp_path / "bad.toml"
        path.write_text(text)
        with pytest.raises(RecipeError, match=message):
            load_spec(path)


@pytest.mark.slow
def test_a_three_trial_search_completes_and_its_best_beats_its_worst(spec, tmp_path):
    out = tmp_path / "search"
    results = run_search(spec(), out, log=lambda *_: None)
    scores = [row["score"] for row in results["trials"]]
    assert len(scores) == 3 and all(row["status"] == "COMPLETED" for row in results["trials"])
    assert min(scores) < max(scores)
    assert results["best_score"] == min(scores)
    best = json.loads((out / "best_hyperparameters.json").read_text())
    assert best["num_heads"] in (2, 4)

    # The written recipe trains as it is.
    from keras_attention.cli import main

    recipe = out / "best_recipe.toml"
    assert main(["train", str(recipe), "--out", str(tmp_path / "retrained"),
                 "--set", "training.steps_per_epoch=2", "--set", "evaluation.max_examples=4"]) == 0
    assert (tmp_path / "retrained" / "model.keras").exists()


def _tune(spec_path, out, **environment):
    return [sys.executable, "-m", "keras_attention.cli", "tune", str(spec_path), "--out", str(out)]


@pytest.mark.slow
def test_a_search_killed_after_its_first_trial_resumes_without_repeating_it(spec, tmp_path):
    out = tmp_path / "search"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(_tune(spec(), out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not _completed(out) and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, "the search ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = _completed(out)
    assert len(first) == 1
    (trial_id, path), = first.items()
    before = (path.read_text(), path.stat().st_mtime_ns)

    finished = subprocess.run(_tune(spec(), out), env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    completed = _completed(out)
    assert len(completed) == 3
    assert (path.read_text(), path.stat().st_mtime_ns) == before  # not run again
    rows = json.loads((out / "trials.json").read_text())
    assert sorted(row["trial"] for row in rows) == sorted(completed)


@pytest.mark.slow
def test_a_chief_and_two_workers_run_every_trial_exactly_once(spec, tmp_path):
    from keras_attention.tuning import launch_distributed_search

    out = tmp_path / "search"
    assert launch_distributed_search(spec(), out, workers=2, log=lambda *_: None) == 0
    rows = json.loads((out / "trials.json").read_text())
    assert len(rows) == 3
    assert len({row["trial"] for row in rows}) == 3
    assert all(row["status"] == "COMPLETED" for row in rows)
    assert len(_completed(out)) == 3
