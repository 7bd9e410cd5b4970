"""End to end: a run through the CLI, runs resume after SIGKILL, and a
two-worker MultiWorkerMirroredStrategy job on 127.0.0.1 agrees on its weights.

Every shipped recipe is trained by the documentation's own commands
(tests/docs/test_docs_commands.py)."""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from keras_attention.cli import main
from tests.tiny import COMMON, TINY, kind_of, sets

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_cli_end_to_end_on_a_tiny_translation_run(trained, tmp_path, capsys):
    # The session's tiny dates run (tests/conftest.py), trained by the same
    # `train` as the CLI's; the other tests here train through the CLI.
    out = Path(shutil.copytree(trained("dates")[0], tmp_path / "dates"))
    assert main(["evaluate", str(out)]) == 0
    assert "exact match" in capsys.readouterr().out
    assert main(["translate", str(out), "March 5, 2024", "the 1st of May, 1999"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["March 5, 2024", "the 1st of May, 1999"]
    png = tmp_path / "heatmap.png"
    assert main(["attention", str(out), "March 5, 2024", "--out", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert main(["generate", str(out), "hello"]) == 2  # wrong kind of run: a clear error
    assert "needs a language_model run" in capsys.readouterr().err


def test_cli_reports_invalid_recipes(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[training]\nbatch_sise = 3\n')
    assert main(["train", str(bad), "--out", str(tmp_path / "run")]) == 2
    assert "Unknown recipe key `training.batch_sise`" in capsys.readouterr().err


def _train_command(out, *options):
    return [
        sys.executable, "-m", "keras_attention.cli", "train", str(ROOT / "models" / "dates.toml"),
        "--out", str(out), *sets(TINY["translation"] + list(options)),
    ]


# === Resuming: the batches after the checkpoint, in the uninterrupted order ===
#
# Each trained batch is recorded in the train step (`_record_batches`), and a
# run is stopped after a given number of batches of an epoch (`_stop_at`). An
# interrupted run, resumed until it finishes, must train exactly the batches of
# an uninterrupted run, in its order, with as many optimizer updates, to the
# same weights.

# Epochs of one pass over the data (counted), a checkpoint every 4 batches.
RESUMED = ["training.epochs=3", "training.steps_per_epoch=0", "training.batch_size=16",
           "training.checkpoint_every=4", "training.warmup_steps=10", "evaluation.max_examples=4"]


def _fingerprint(*tensors) -> str:
    digest = hashlib.sha1()
    for tensor in tensors:
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]


def _record_batches(patch, record, models=None):
    """Make `train` call `record(fingerprint)` for each batch its model trains on
    (and append each model it compiles to `models`)."""
    import tensorflow as tf

    from keras_attention.training import run

    compile_model = run.compile_model

    def compile_and_record(model, *args, **kwargs):
        model = compile_model(model, *args, **kwargs)
        train_step = model.train_step

        def record_batch(*tensors):
            record(_fingerprint(*tensors))

        def recorded_train_step(data):
            tf.py_function(record_batch, tf.nest.flatten(data), [])
            return train_step(data)

        model.train_step = recorded_train_step
        if models is not None:
            models.append(model)
        return model

    patch.setattr(run, "compile_model", compile_and_record)


def record_batches_to_file(path):
    """`_record_batches` in a `keras-attention train` process: one line per batch."""
    file = open(path, "a", buffering=1)
    _record_batches(pytest.MonkeyPatch(), lambda fingerprint: file.write(fingerprint + "\n"))


def _stop_at(patch, epoch: int, steps: int):
    """Make `train` raise KeyboardInterrupt (Ctrl-C) once `steps` batches of
    `epoch` are trained (at the start of the epoch for 0)."""
    import keras

    from keras_attention.training import run

    class StopAt(keras.callbacks.Callback):
        def on_epoch_begin(self, begun, logs=None):
            self.epoch = begun
            if (begun, 0) == (epoch, steps):
                raise KeyboardInterrupt(f"stopped at the start of epoch {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch + 1) == (epoch, steps):
                raise KeyboardInterrupt(f"stopped after {steps} batches of epoch {epoch}")

    fit_callbacks = run.fit_callbacks
    # After the checkpoint callback: a checkpoint due at this batch is written first.
    patch.setattr(run, "fit_callbacks", lambda *args, **kwargs: fit_callbacks(*args, **kwargs) + [StopAt()])


def _checkpoint_position(out, steps_per_epoch: int) -> int:
    """The batch (counted from the run's first) the checkpoint resumes at."""
    metadata = json.loads((out / ".train-in-progress" / "backup" / "training_metadata.json").read_text())
    return metadata["epoch"] * steps_per_epoch + metadata.get("step", 0)


def _train_and_record(out, options, stop=None):
    """`(batches trained, the model)` of one `train` into `out`, stopped at
    `(epoch, steps)` when `stop` is given."""
    from keras_attention.training.run import train

    batches, models = [], []
    with pytest.MonkeyPatch.context() as patch:
        _record_batches(patch, batches.append, models)
        recipe = (ROOT / "models" / "dates.toml", out, TINY["translation"] + options)
        if stop is None:
            train(*recipe, log=lambda *_: None)
        else:
            _stop_at(patch, *stop)
            with pytest.raises(KeyboardInterrupt):
                train(*recipe, log=lambda *_: None)
    return batches, models[-1]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """`uninterrupted(*options)`: `(batches, optimizer iterations, weights)` of a
    run with RESUMED and `options` that nothing stopped (each trained once)."""
    runs = {}

    def run(*options):
        if options not in runs:
            batches, model = _train_and_record(tmp_path_factory.mktemp("uninterrupted"), RESUMED + list(options))
            runs[options] = batches, int(model.optimizer.iterations), model.get_weights()
        return runs[options]

    return run


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, stops",
    [
        ([], [(0, 7)]),  # in the first epoch
        ([], [(1, 0)]),  # at the end of the first epoch
        ([], [(0, 13), (2, 6)]),  # mid first epoch, and again mid last epoch after the resume
        # Accumulated updates: checkpoints in the middle of an update's micro-batches.
        (["training.gradient_accumulation_steps=2", "training.checkpoint_every=3"], [(1, 5)]),
    ],
    ids=["mid-first-epoch", "epoch-boundary", "twice", "accumulation"],
)
def test_an_interrupted_run_resumes_at_its_checkpoints_batch(uninterrupted, tmp_path, options, stops):
    """Resumed, a run trains the batches after its checkpoint, in the order of
    an uninterrupted run: across all its attempts it trains each batch of that
    run once, with as many optimizer updates, to the same weights."""
    straight, iterations, weights = uninterrupted(*options)
    epochs, accumulation = 3, 2 if options else 1
    steps_per_epoch = len(straight) // epochs
    assert len(straight) == epochs * steps_per_epoch and iterations == len(straight) // accumulation
    out = tmp_path / "run"
    trained, start = [], 0
    for stop in stops:
        batches, _ = _train_and_record(out, RESUMED + options, stop)
        position = _checkpoint_position(out, steps_per_epoch)
        stopped = stop[0] * steps_per_epoch + stop[1]
        assert stopped - 4 < position <= stopped  # at most checkpoint_every batches lost
        trained += batches[: position - start]
        start = position
    batches, model = _train_and_record(out, RESUMED + options)
    trained += batches
    assert trained == straight
    assert int(model.optimizer.iterations) == iterations
    for resumed, uninterrupted_weights in zip(model.get_weights(), weights):
        np.testing.assert_allclose(resumed, uninterrupted_weights, rtol=1e-5, atol=1e-6)
    history = out / "history.csv"
    assert [int(line.split(",")[0]) for line in history.read_text().splitlines()[1:]] == [0, 1, 2]


RECORDED_TRAIN = """
import sys
from tests.training.test_run import record_batches_to_file
record_batches_to_file(sys.argv[1])
from keras_attention.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_training_killed_with_sigkill_resumes_from_its_checkpoint(uninterrupted, tmp_path):
    """`keras-attention train` killed with SIGKILL in the middle of its second
    epoch (of 30 batches, not a whole pass over the data): run again, it
    resumes at the checkpoint's batch and trains what an uninterrupted run
    does after it, ending with its optimizer updates and weights."""
    import keras

    out = tmp_path / "run"
    options = ["training.steps_per_epoch=30", "training.checkpoint_every=5"]
    straight, iterations, weights = uninterrupted(*options)
    command = [sys.executable, "-c", RECORDED_TRAIN, None, "train", str(ROOT / "models" / "dates.toml"),
               "--out", str(out), *sets(TINY["translation"] + RESUMED + options)]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    killed, resumed = tmp_path / "killed.txt", tmp_path / "resumed.txt"
    process = subprocess.Popen([*command[:3], str(killed), *command[4:]], env=environment, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A run trains in RUN/.train-in-progress; its outputs move into RUN at the end.
    metadata = out / ".train-in-progress" / "backup" / "training_metadata.json"
    deadline = time.time() + 300
    # Kill it once a checkpoint in the middle of the second epoch exists.
    while time.time() < deadline and process.poll() is None:
        if metadata.exists() and json.loads(metadata.read_text())["epoch"] == 1:
            if json.loads(metadata.read_text()).get("step", 0) > 0:
                break
        time.sleep(0.05)
    assert process.poll() is None, "training ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "model.keras").exists()
    position = _checkpoint_position(out, 30)
    assert 30 < position < 60
    first_epochs = [int(line.split(",")[0]) for line in (out / ".train-in-progress" / "history.csv").read_text().splitlines()[1:]]
    assert first_epochs == [0]

    finished = subprocess.run([*command[:3], str(resumed), *command[4:]], env=environment, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "Resuming the interrupted run" in finished.stdout
    assert killed.read_text().split()[:position] == straight[:position]
    assert resumed.read_text().split() == straight[position:]
    model = keras.saving.load_model(out / "model.keras")
    assert int(model.optimizer.iterations) == iterations == 90
    for resumed_weights, uninterrupted_weights in zip(model.get_weights(), weights):
        np.testing.assert_allclose(resumed_weights, uninterrupted_weights, rtol=1e-4, atol=1e-5)
    epochs = [int(line.split(",")[0]) for line in (out / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2]
    assert (out / "model.keras").exists() and not (out / ".train-in-progress").exists()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_multi_worker_training_on_localhost_ends_with_identical_weights(tmp_path):
    import keras

    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    out = tmp_path / "run"
    options = ["training.strategy=multi_worker", "training.epochs=1", "training.steps_per_epoch=4",
               "training.batch_size=8", "training.warmup_steps=10", "evaluation.max_examples=4",
               "data.validation_fraction=0.0"]
    processes = []
    for index in range(2):
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                           TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(_train_command(out, *options), env=environment,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief = keras.saving.load_model(out / "model.keras")
    other = keras.saving.load_model(out / "model.keras")
    other.load_weights(out / "worker-1" / "model.weights.h5")
    for a, b in zip(chief.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_a_recipe_can_bring_its_own_tokenizer(tmp_path):
    from keras_attention import data

    tokenizer = data.WordPieceTokenizer.train(
        [s + " " + t for s, t in data.date_pairs(300, seed=2)], vocabulary_size=150, show_progress=False
    )
    tokenizer.save(tmp_path / "my_tokenizer")
    out = tmp_path / "run"
    options = TINY["translation"] + COMMON + [f"data.tokenizer={json.dumps(str(tmp_path / 'my_tokenizer'))}"]
    assert main(["train", str(ROOT / "models" / "dates.toml"), "--out", str(out), *sets(options)]) == 0
    assert data.load_tokenizer(out / "tokenizer").vocabulary == tokenizer.vocabulary


@pytest.mark.slow
def test_a_diverging_run_stops_with_an_error_and_exports_nothing(tmp_path, capsys):
    """A learning rate of 1e30 turns the weights to inf within a step or two:
    training stops at the first NaN loss, the command fails, and no model,
    metrics or SavedModel claims to be the result."""
    out = tmp_path / "diverged"
    recipe = ROOT / "models" / "dates.toml"
    options = TINY["translation"] + COMMON + ["training.learning_rate=1e30", "training.steps_per_epoch=20"]
    assert main(["train", str(recipe), "--out", str(out), *sets(options)]) == 2
    error = capsys.readouterr().err
    assert "loss became NaN" in error and "training.learning_rate" in error
    for name in ("model.keras", "metrics.json", "export"):
        assert not (out / name).exists(), name


RUN_OUTPUTS = ("model.keras", "metrics.json", "history.csv", "recipe.toml")


def _snapshot(run):
    """What a finished run holds: its outputs' bytes and its export's files."""
    files = {name: (run / name).read_bytes() for name in RUN_OUTPUTS}
    files["export"] = sorted(str(p.relative_to(run)) for p in (run / "export").rglob("*"))
    files["listing"] = sorted(p.name for p in run.iterdir() if not p.name.startswith("."))
    return files


@pytest.mark.slow
def test_a_failed_retrain_leaves_the_finished_run_intact(trained, tmp_path, capsys):
    """A re-train into a finished run's directory replaces its outputs only
    once the new ones are complete: a bad `model.overrides` value or a run
    that diverges mid-training leaves the old run as it was."""
    out = Path(shutil.copytree(trained("dates")[0], tmp_path / "run"))  # a finished run
    train = ["train", str(ROOT / "models" / "dates.toml"), "--out", str(out)]
    before = _snapshot(out)
    bad_overrides = "model.overrides={hidden_dim = 32, intermediate_dim = 64, num_heads = 0}"
    assert main([*train, *sets(TINY["translation"] + COMMON + [bad_overrides])]) == 2
    assert "num_heads" in capsys.readouterr().err
    assert _snapshot(out) == before
    diverging = ["training.learning_rate=1e30", "training.steps_per_epoch=20"]
    assert main([*train, *sets(TINY["translation"] + COMMON + diverging)]) == 2
    assert "loss became NaN" in capsys.readouterr().err
    assert _snapshot(out) == before
    # A re-train that succeeds replaces the outputs, all together.
    assert main([*train, *sets(TINY["translation"] + COMMON + ["training.epochs=2"])]) == 0
    after = _snapshot(out)
    assert len(after["history.csv"].decode().splitlines()) == 3  # header + 2 epochs
    assert b"epochs = 2" in after["recipe.toml"] and after["model.keras"] != before["model.keras"]
    # Its export is the next version; the earlier run's stays, as TF Serving expects.
    assert sorted(p.name for p in (out / "export").iterdir()) == ["1", "2"]
    assert set(before["export"]) < set(after["export"])
    assert (out / "export" / "2" / "assets" / "keras_attention_export.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["evaluation", "export"])
def test_a_run_killed_after_fit_resumes_at_evaluation(tmp_path, capsys, monkeypatch, stage):
    """A run that dies during evaluation or export does not train again."""
    import keras

    from keras_attention.export import saved_model
    from keras_attention.tasks import TranslationTask

    out = tmp_path / "run"
    command = ["train", str(ROOT / "models" / "dates.toml"), "--out", str(out), *sets(TINY["translation"] + COMMON)]

    def killed(*args, **kwargs):
        raise KeyboardInterrupt(f"killed during {stage}")

    with monkeypatch.context() as patch:
        if stage == "evaluation":
            patch.setattr(TranslationTask, "evaluate", killed)
        else:
            patch.setattr(saved_model, "_write_version", killed)
        with pytest.raises(KeyboardInterrupt):
            main(command)
    assert not (out / "metrics.json").exists()

    def fit(*args, **kwargs):
        raise AssertionError("fit ran again")

    monkeypatch.setattr(keras.Model, "fit", fit)
    assert main(command) == 0
    assert "training had finished" in capsys.readouterr().out
    assert len((out / "history.csv").read_text().splitlines()) == 2  # header + 1 epoch
    assert (out / "metrics.json").exists() and (out / "export" / "1" / "saved_model.pb").exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert sorted(p.name for p in (out / "export").iterdir()) == ["1"]


HOLD_LOCK = """
import fcntl, os, sys, time
file = open(sys.argv[1], "a+")
fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
file.write(f"pid {os.getpid()}\\n"); file.flush()
print("locked", flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_a_second_train_into_a_busy_directory_is_refused(tmp_path, capsys):
    """Two `train` commands into one directory: the second says which process
    holds it; a lock left by a killed process is taken over."""
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        command = ["train", str(ROOT / "models" / "dates.toml"), "--out", str(out),
                   *sets(TINY["translation"] + COMMON)]
        assert main(command) == 2
        error = capsys.readouterr().err
        assert f"keras-attention train: error: {out} is in use by" in error and f"pid {holder.pid}" in error
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    finally:
        holder.kill()
        holder.wait()
    assert main(command) == 0  # the dead process's lock is taken over
    assert (out / "model.keras").exists() and not (out / ".lock").exists()


def test_train_refuses_a_directory_it_did_not_write(tmp_path, capsys):
    """`train --out DIR` never replaces files this library did not write: a
    directory that is not a run but holds names a run writes, or an `export/`
    without the export marker, is refused before anything changes."""
    command = ["train", str(ROOT / "models" / "dates.toml"), *sets(TINY["translation"] + COMMON), "--out"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "recipe.toml").write_text("my own recipe\n")
    (mine / "history.csv").write_text("my own numbers\n")
    assert main([*command, str(mine)]) == 2
    error = capsys.readouterr().err
    assert f"{mine} is not a keras-attention run directory" in error and "recipe.toml, history.csv" in error
    assert sorted(p.name for p in mine.iterdir()) == ["history.csv", "recipe.toml"]
    assert (mine / "recipe.toml").read_text() == "my own recipe\n"

    foreign = tmp_path / "run" / "export"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("keep me")
    assert main([*command, str(foreign.parent)]) == 2
    assert f"Refusing to export into {foreign}: it holds notes.txt" in capsys.readouterr().err
    assert sorted(str(p.relative_to(tmp_path)) for p in foreign.parent.rglob("*")) == ["run/export", "run/export/notes.txt"]


def test_an_interrupted_install_is_finished_by_the_next_run(tmp_path):
    """Killed while moving a complete run into place, the rerun finishes the
    move: the directory never keeps a mix of two runs."""
    from keras_attention.training import run

    out = tmp_path / "run"
    work = out / ".train-in-progress"
    (out / "source_tokenizer").mkdir(parents=True)  # the earlier run's, not written by the new one
    (work / "tokenizer").mkdir(parents=True)
    for name in ("model.keras", "recipe.toml", "metrics.json"):
        (out / name).write_text("old")
        (work / name).write_text("new")
    (out / "notes.txt").write_text("the user's")
    (work / "installing.json").write_text(json.dumps(["model.keras", "recipe.toml", "metrics.json", "tokenizer"]))
    for name in ("model.keras", "recipe.toml"):  # moved before the kill
        os.replace(work / name, out / name)
    assert run._staging(out, "new", chief=True) == (work, "installed")
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.keras", "notes.txt", "recipe.toml", "tokenizer"]
    assert {name: (out / name).read_text() for name in ("model.keras", "recipe.toml", "metrics.json")} == dict.fromkeys(
        ("model.keras", "recipe.toml", "metrics.json"), "new")


def _fake_export(directory, name):
    (directory / "assets").mkdir(parents=True)
    (directory / "saved_model.pb").write_text(name)
    (directory / "assets" / "keras_attention_export.json").write_text("{}")


def test_install_adds_the_new_export_as_the_next_version(tmp_path):
    """A re-train's export joins the run's base of versions as N+1 (older
    versions stay); killed after the move, the rerun does not add it twice."""
    from keras_attention.training import run

    out = tmp_path / "run"
    work = out / ".train-in-progress"
    for version in ("1", "2"):
        _fake_export(out / "export" / version, f"old {version}")
    _fake_export(work / "export" / "1", "new")
    (work / "model.keras").write_text("new")
    (work / "installing.json").write_text(json.dumps(["model.keras", "export"]))
    os.rename(work / "export" / "1", out / "export" / "3")  # moved before a kill
    run._install(work, out)
    assert not work.exists()
    assert {p.name: (p / "saved_model.pb").read_text() for p in (out / "export").iterdir()} == {
        "1": "old 1", "2": "old 2", "3": "new"}
    # The next re-train adds 4.
    _fake_export(work / "export" / "1", "newer")
    run._install(work, out)
    assert sorted(p.name for p in (out / "export").iterdir()) == ["1", "2", "3", "4"]
    assert (out / "export" / "4" / "saved_model.pb").read_text() == "newer"


def test_install_replaces_an_unversioned_export_by_a_base_of_versions(tmp_path):
    """A run exported by an earlier keras-attention holds its SavedModel in
    `export/` itself: a re-train replaces it by `export/1/`."""
    from keras_attention.training import run

    out = tmp_path / "run"
    work = out / ".train-in-progress"
    _fake_export(out / "export", "old")
    _fake_export(work / "export" / "1", "new")
    run._install(work, out)
    assert sorted(str(p.relative_to(out)) for p in (out / "export").iterdir()) == ["export/1"]
    assert (out / "export" / "1" / "saved_model.pb").read_text() == "new"


def test_only_a_single_process_run_skips_fit_when_resumed(tmp_path):
    """After fit a run resumes at evaluation; a multi-worker job fits again,
    since its workers fit together and none may skip `fit` alone."""
    from keras_attention.training import run

    out = tmp_path / "run"
    work = out / ".train-in-progress"
    for skip_fit, state in ((True, "fitted"), (False, "fresh")):
        work.mkdir(parents=True, exist_ok=True)
        (work / "recipe.toml").write_text("recipe")
        (work / "fit.json").write_text('{"training_seconds": 1.0}')
        assert run._staging(out, "recipe", chief=True, skip_fit=skip_fit) == (work, state)
    assert list(work.iterdir()) == []  # the fresh attempt starts empty


def _tiny_train(out, *options):
    return ["train", str(ROOT / "models" / "dates.toml"), "--out", str(out),
            *sets(TINY["translation"] + COMMON + list(options))]


@pytest.mark.slow
def test_cli_training_controls_reach_the_keras_optimizer(tmp_path):
    """AdamW with weight decay, clipping, gradient accumulation and the cosine
    schedule, set as recipe keys on the command line, are the optimizer that
    trained the saved model."""
    out = tmp_path / "run"
    controls = ["training.optimizer=adamw", "training.weight_decay=0.02", "training.clipnorm=0.5",
                "training.gradient_accumulation_steps=2", "training.schedule=cosine",
                "training.learning_rate=0.003", "training.warmup_steps=2", "training.epochs=2"]
    assert main(_tiny_train(out, *controls)) == 0
    import keras

    from keras_attention.training.accumulation import AccumulatingAdamW

    optimizer = keras.saving.load_model(out / "model.keras").optimizer
    # AdamW whose accumulated update is one big batch's (its micro-batches weighted by tokens).
    assert type(optimizer) is AccumulatingAdamW
    config = optimizer.get_config()
    assert (config["weight_decay"], config["clipnorm"], config["gradient_accumulation_steps"]) == (0.02, 0.5, 2)
    schedule = config["learning_rate"]["config"]
    # 2 epochs of 3 batches, one update every 2: 3 updates, 2 of warmup to
    # 0.003, then the last, at rate 0.
    assert config["learning_rate"]["class_name"] == "CosineSchedule"
    assert schedule == {"learning_rate": 0.003, "warmup_steps": 2, "total_steps": 3}
    assert int(optimizer.iterations) == 3
    recipe = (out / "recipe.toml").read_text()
    assert 'optimizer = "adamw"' in recipe and 'schedule = "cosine"' in recipe


@pytest.mark.slow
def test_early_stopping_keeps_the_best_epochs_model(tmp_path, capsys):
    """A constant learning rate of 0.1 makes the validation loss rise within a
    few epochs; with patience 1 training stops there, model.keras holds the
    weights of the epoch with the lowest validation loss in history.csv (its
    validation loss, measured again here, is that epoch's), and metrics.json
    names the epoch."""
    import csv

    import keras

    from keras_attention.tasks import get_task
    from keras_attention.training.recipe import load_recipe

    out = tmp_path / "run"
    assert main(_tiny_train(
        out, "training.schedule=constant", "training.learning_rate=0.1", "training.epochs=10",
        "training.early_stopping_patience=1", "data.validation_fraction=0.1",
    )) == 0
    with (out / "history.csv").open() as file:
        losses = [float(row["val_loss"]) for row in csv.DictReader(file)]
    metrics = json.loads((out / "metrics.json").read_text())
    best = min(range(len(losses)), key=losses.__getitem__)
    assert len(losses) < 10, "early stopping did not stop the run"
    assert metrics["best_epoch"] == best + 1 and metrics["stopped_epoch"] == len(losses) == best + 2
    assert metrics["best_val_loss"] == pytest.approx(losses[best])
    assert f"Kept the weights of epoch {best + 1}" in capsys.readouterr().out

    # The saved model's validation loss is the best epoch's, not the last one's.
    task = get_task(load_recipe(out / "recipe.toml"))
    task.load_data()
    task.load_tokenizers(out)
    _, validation = task.datasets()
    model = keras.saving.load_model(out / "model.keras")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")  # bucketed: no known length
        loss = model.evaluate(validation, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(losses[best], rel=1e-4)
    assert loss != pytest.approx(losses[-1], rel=1e-4)


BAD_CONTROLS = [
    ("training.optimizer=sgd", "`training.optimizer` must be one of ['adam', 'adamw']. Received: 'sgd'"),
    ("training.weight_decay=0.01", "`training.weight_decay` applies to `training.optimizer = \"adamw\"` only"),
    ("training.clipnorm=-1", "`training.clipnorm` must be a finite number > 0. Received: -1"),
    ("training.gradient_accumulation_steps=0", "`training.gradient_accumulation_steps` must be >= 1. Received: 0"),
    ("training.schedule=cosine", "`training.schedule = \"cosine\"` needs `training.learning_rate`"),
    ("training.schedule=warmup", "`training.schedule` must be one of ['transformer', 'cosine', 'constant']"),
    ("training.early_stopping_patience=0", "`training.early_stopping_patience` must be >= 1. Received: 0"),
]


@pytest.mark.parametrize("option, message", BAD_CONTROLS, ids=[o.split("=")[0] for o, _ in BAD_CONTROLS])
def test_a_bad_training_control_is_a_clear_error_and_writes_nothing(tmp_path, capsys, option, message):
    out = tmp_path / "run"
    assert main(_tiny_train(out, option)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_early_stopping_without_validation_data_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_tiny_train(out, "training.early_stopping_patience=2", "data.validation_fraction=0")) == 2
    error = capsys.readouterr().err
    assert "`training.early_stopping_patience` watches the validation loss" in error
    assert "`data.validation_fraction` > 0" in error
    assert not out.exists()


def test_a_cosine_warmup_longer_than_the_run_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    options = ["training.schedule=cosine", "training.learning_rate=0.001", "training.warmup_steps=100"]
    assert main(_tiny_train(out, *options)) == 2
    assert "`training.warmup_steps` must be < the run's steps" in capsys.readouterr().err
    assert not out.exists()


# Recipe values each shipped recipe cannot train with: refused before anything
# is written, the error naming the full key. (bert-topics starts from the
# bert-mini run's tokenizer, so its `data.vocabulary_size` does not apply.)
TOO_SMALL = [
    ("dates", "data.vocabulary_size=1", "`data.vocabulary_size` must be at least 264 for a sentencepiece"),
    ("docsum", "data.vocabulary_size=263", "`data.vocabulary_size` must be at least 264 for a sentencepiece"),
    ("transformer-base", "data.vocabulary_size=1", "`data.vocabulary_size` must be at least 264"),
    ("gpt-mini", "data.vocabulary_size=1", "`data.vocabulary_size` must be at least 264 for a sentencepiece"),
    ("bert-mini", "data.vocabulary_size=1", "`data.vocabulary_size` must be at least 8 for a wordpiece"),
    ("dates", "data.tokenizer=wordpiece;data.vocabulary_size=7", "at least 8 for a wordpiece"),
    ("dates", "data.max_length=1", "`data.max_length` must be at least 2 for a translation task"),
    ("docsum", "data.max_length=1", "`data.max_length` must be at least 2 for a translation task"),
    ("bert-mini", "data.max_length=2", "`data.max_length` must be at least 3 for a masked_lm task"),
    ("bert-topics", "data.max_length=2", "`data.max_length` must be at least 3 for a classification task"),
    ("gpt-mini", "data.max_length=0", "`data.max_length` must be >= 1. Received: 0"),
    ("dates", "data.vocabulary_size=-5", "`data.vocabulary_size` must be >= 1. Received: -5"),
    ("dates", "data.test_fraction=0", "`data.test_fraction` (0.0) leaves no test examples"),
    ("gpt-mini", "data.test_fraction=0.001", "`data.test_fraction` (0.001) leaves no test examples"),
]


@pytest.mark.parametrize("recipe, option, message", TOO_SMALL, ids=[f"{r}-{o}" for r, o, _ in TOO_SMALL])
def test_a_value_a_recipe_cannot_train_with_is_refused_before_anything_is_written(
    tmp_path, capsys, recipe, option, message
):
    out = tmp_path / "new" / "run"
    options = [*TINY[kind_of(ROOT / "models" / f"{recipe}.toml")], *COMMON, *option.split(";")]
    command = ["train", str(ROOT / "models" / f"{recipe}.toml"), "--out", str(out), *sets(options)]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert message in error, error
    assert list(tmp_path.iterdir()) == []


def test_a_failed_train_into_a_new_directory_leaves_no_directory(tmp_path, capsys):
    """A model the recipe describes that cannot be built fails once the
    tokenizer is learned: the run directory made for it (and its parents) go."""
    out = tmp_path / "new" / "run"
    bad_overrides = "model.overrides={hidden_dim = 32, intermediate_dim = 64, num_heads = 3}"
    assert main(_tiny_train(out, bad_overrides)) == 2
    assert "num_heads" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_retrain_refused_for_a_recipe_value_leaves_no_staging_directory(trained, tmp_path, capsys):
    """`--set data.vocabulary_size=1` on a finished run: refused, the run as it
    was, and no `.train-in-progress/` left in it."""
    out = Path(shutil.copytree(trained("dates")[0], tmp_path / "run"))
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    for option in ("data.vocabulary_size=1", "model.overrides.num_heads=3"):
        assert main(_tiny_train(out, option)) == 2
        capsys.readouterr()
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
