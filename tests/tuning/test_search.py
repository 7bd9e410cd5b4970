"""Keras Tuner: hypermodels, search specs, resumable and distributed searches."""

import json
import os
import re
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
"data.vocabulary_size" = 400
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
        'recipe = "x.toml"\n[space]\noptimizer = ["adam", "sgd"]\n':
            "`space.optimizer`: `training.optimizer` must be one of \\['adam', 'adamw'\\]. Received: 'sgd'",
        'recipe = "x.toml"\n[space]\nbatch_size = [0, 8]\n': "`space.batch_size`: `training.batch_size` must be >= 1",
        'recipe = "x.toml"\n[space]\nclipnorm = [-1.0]\n': "`space.clipnorm`: `training.clipnorm` must be a finite number > 0",
        'recipe = "x.toml"\n[space]\nlearning_rate = [0.01, 0.001]\n': "`space.learning_rate` must be \\[low, high\\]",
        'recipe = "x.toml"\n[space]\nschedule = ["cosine", "linear"]\n': "`space.schedule`: `training.schedule` must be one of",
        'recipe = "x.toml"\n[space]\nearly_stopping_patience = [1, 2]\n': "Unknown key `space.early_stopping_patience`",
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
    # That the written best_recipe.toml trains as it is, docs/guides/tuning.md's
    # `keras-attention train runs/tune-dates/best_recipe.toml` shows (tests/docs).
    assert (out / "best_recipe.toml").is_file()


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


def test_trials_build_under_the_recipes_precision_and_jit(spec, tmp_path, monkeypatch):
    """`run_search` sets the recipe's mixed-precision policy before any trial
    builds, and trials compile with its `jit_compile` and constant rate."""
    import keras
    import keras_tuner

    from keras_attention.tuning import search

    path = spec()
    path.write_text(path.read_text() + '"training.mixed_precision" = "mixed_bfloat16"\n'
                    '"training.jit_compile" = true\n"training.learning_rate" = 0.002\n')
    built = {}

    def one_build(self, *args, **kwargs):
        model = self.hypermodel.build(keras_tuner.HyperParameters())
        built.update(policy=model.dtype_policy.name, jit=model.jit_compile,
                     rate=model.optimizer.get_config()["learning_rate"], fit=kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(search._RandomSearch, "search", one_build)
    with pytest.raises(KeyboardInterrupt):
        run_search(path, tmp_path / "search", log=lambda *_: None)
    keras.config.set_dtype_policy("float32")
    assert built["policy"] == "mixed_bfloat16" and built["jit"] is True
    assert built["rate"] == pytest.approx(0.002)
    assert built["fit"]["epochs"] == 1 and built["fit"]["steps_per_epoch"] == 8


class _Epochs(__import__("keras").callbacks.Callback):
    """Records (fit number, epoch) of every epoch begun, across Keras Tuner's copies of it."""

    log: list = []

    def on_train_begin(self, logs=None):
        _Epochs.log.append([])

    def on_epoch_begin(self, epoch, logs=None):
        _Epochs.log[-1].append(epoch)


class _CtrlC(__import__("keras").callbacks.Callback):
    """Ctrl-C after two batches of the second epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 1:
            raise KeyboardInterrupt


def _one_trial_spec(spec, *overrides, **changes):
    """The tiny spec with one trial, 3 epochs, more `overrides` lines and other
    values of its own overrides (`changes`, e.g. `epochs=8`)."""
    path = spec()
    text = path.read_text().replace("max_trials = 3", "max_trials = 1")
    for key, value in {"epochs": 3, **changes}.items():
        text = re.sub(f'"training.{key}" = .*', f'"training.{key}" = {value}', text)
    path.write_text(text + "".join(f"{line}\n" for line in overrides))
    return path


@pytest.mark.slow
def test_an_interrupted_trial_resumes_from_its_checkpoint(spec, tmp_path):
    """A search interrupted in the middle of its trial's second epoch: run
    again, Keras Tuner gives the same trial back and it resumes at the second
    epoch (the first is not trained again); its score covers all three."""
    path = _one_trial_spec(spec)
    out = tmp_path / "search"
    _Epochs.log = []
    with pytest.raises(KeyboardInterrupt):
        run_search(path, out, log=lambda *_: None, callbacks=[_Epochs(), _CtrlC()])
    assert _Epochs.log == [[0, 1]]
    assert (out / "search" / "trial_0" / "backup-0" / "latest.weights.h5").exists()
    assert not _completed(out)

    results = run_search(path, out, log=lambda *_: None, callbacks=[_Epochs()])
    assert _Epochs.log == [[0, 1], [1, 2]]  # resumed at epoch 1, not 0
    assert [(row["trial"], row["status"]) for row in results["trials"]] == [("0", "COMPLETED")]
    assert not (out / "search" / "trial_0" / "backup-0").exists()  # removed once the trial finished
    trial = json.loads((out / "search" / "trial_0" / "trial.json").read_text())
    observations = trial["metrics"]["metrics"]["val_loss"]["observations"]
    assert len(observations) == 1 and results["best_score"] == observations[0]["value"][0]


@pytest.mark.slow
def test_trials_stop_early_with_the_recipes_patience(spec, tmp_path):
    """`training.early_stopping_patience` in the recipe (here from the spec's
    overrides) stops a trial whose validation loss stops falling: at a
    constant rate of 1e-12 no weight moves enough to change the loss (in
    float32 the loss's last bit is about 5e-7; at 1e-9 the small presets'
    unscaled embeddings let it fall by a few such bits), the loss of epoch 1
    is never beaten, and patience 2 ends the trial after epoch 3 of 8."""
    path = _one_trial_spec(
        spec, '"training.early_stopping_patience" = 2', '"training.learning_rate" = 1e-12', epochs=8,
    )
    _Epochs.log = []
    run_search(path, tmp_path / "search", log=lambda *_: None, callbacks=[_Epochs()])
    assert _Epochs.log == [[0, 1, 2]]


@pytest.mark.slow
def test_the_training_keys_are_searched_and_the_best_recipe_has_them(tmp_path):
    """Batch size and the training controls searched by `keras-attention tune`:
    every trial samples them, and best_recipe.toml trains with the winner's."""
    from keras_attention.cli import main
    from keras_attention.training.recipe import load_recipe

    path = tmp_path / "spec.toml"
    path.write_text(TINY_SPEC.format(recipe=ROOT / "models" / "dates.toml", kind="random").replace(
        "max_trials = 3", "max_trials = 2").replace("[overrides]", """batch_size = [8, 16]
optimizer = ["adamw"]
weight_decay = [0.001, 0.1]
clipnorm = [1.0, 5.0]
gradient_accumulation_steps = [1, 2]
schedule = ["cosine", "constant"]
learning_rate = [0.0005, 0.005]
warmup_steps = [1, 2]  # schedules count updates: 4 with accumulation 2
[overrides]"""))
    out = tmp_path / "search"
    assert main(["tune", str(path), "--out", str(out)]) == 0
    rows = json.loads((out / "trials.json").read_text())
    assert len(rows) == 2 and all(row["status"] == "COMPLETED" for row in rows)
    for row in rows:
        assert {"batch_size", "optimizer", "weight_decay", "clipnorm", "gradient_accumulation_steps",
                "schedule", "learning_rate"} <= set(row["hyperparameters"])
    best = json.loads((out / "best_hyperparameters.json").read_text())
    training = load_recipe(out / "best_recipe.toml").training
    for key in ("batch_size", "optimizer", "weight_decay", "clipnorm", "gradient_accumulation_steps",
                "schedule", "learning_rate"):
        assert getattr(training, key) == pytest.approx(best[key]) if isinstance(best[key], float) else \
            getattr(training, key) == best[key], key
