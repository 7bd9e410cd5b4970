"""The train / evaluate loop around `model.fit`, for any task and recipe.

A run directory holds everything a run produced and needs to resume:

    recipe.toml            the complete recipe (defaults filled in, overrides applied)
    tokenizer/ ...         the tokenizer(s)
    test_split.jsonl       the held-out examples (`evaluate` reads them back)
    logs/                  TensorBoard logs
    history.csv            per-epoch metrics
    training_curves.png    loss and accuracy per epoch
    model.keras            the trained model
    metrics.json           the held-out evaluation
    export/1/, 2/, ...     the SavedModels, text in, text out (keras_attention.export): one
                           numeric version per export, as TF Serving lays models out; a
                           re-train or `keras-attention export` adds the next, older stay
    .train-in-progress/    the run being trained (removed at the end): the same files,
                           BackupAndRestore state in backup/ while fitting, then
                           model.keras and fit.json once fit has finished
    .lock                  while a `train` or `evaluate` works here: its pid

A run trains in `.train-in-progress/` and its outputs replace an earlier run's
only once they are all complete, so a re-train that fails (a bad recipe value,
a bad data file, a diverging loss, a kill) leaves the finished run as it was.
Running the same command again resumes: from the last checkpoint while
fitting, at evaluation once fit has finished (except in a multi-worker job,
whose workers fit together: it trains again). A failure with nothing to
resume from removes `.train-in-progress/`, and the run directory too when
this `train` made it; recipe values the task cannot train with are refused
before anything is written. Files this library did not write are never
touched. Other workers of a multi-worker job train in `worker-N/`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path

import keras

from keras_attention._files import DirectoryLock, write_text_atomically
from keras_attention._progress import progress_verbosity
from keras_attention.export.saved_model import (
    add_version,
    check_export_base,
    export_task,
    export_versions,
)
from keras_attention.tasks import get_task
from keras_attention.training.callbacks import ResumableEarlyStopping, fit_callbacks, resume_batch
from keras_attention.training.optimizers import compile_model, total_steps
from keras_attention.training.recipe import Recipe, RecipeError, dump_recipe, load_recipe
from keras_attention.training.strategy import get_strategy, patch_keras_for_multi_worker

__all__ = ["plot_history", "train"]


def plot_history(history_csv: Path, output: Path) -> Path | None:
    """Draw loss and accuracy per epoch from a `CSVLogger` file into a PNG."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history_csv.exists():
        return None
    with history_csv.open() as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return None
    epochs = [int(row["epoch"]) + 1 for row in rows]
    panels = [name for name in ("loss", "accuracy") if name in rows[0]]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for axis, name in zip(axes[0], panels):
        for prefix, style in (("", "-o"), ("val_", "--s")):
            # CSVLogger writes "NA" for a metric an epoch did not report.
            points = [
                (epoch, float(row[prefix + name]))
                for epoch, row in zip(epochs, rows)
                if row.get(prefix + name) not in (None, "", "NA")
            ]
            if points:
                axis.plot(*zip(*points), style, label=("validation " if prefix else "training ") + name)
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output


def _worker_index() -> int:
    """This process's index in a multi-worker job (0, the chief, when alone)."""
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    return 0 if task.get("type") == "chief" else int(task.get("index", 0))


_STAGING = ".train-in-progress"
# The held-out examples, so `evaluate` needs neither the data file nor --data.
TEST_SPLIT = "test_split.jsonl"
_FIT_DONE = "fit.json"
_INSTALLING = "installing.json"
# What `train` writes into a run directory: the only names a re-train replaces.
# `model.keras` and `recipe.toml` first: with them, a directory is a run (see _is_run).
_OUTPUTS = (
    "model.keras", "recipe.toml", "tokenizer", "source_tokenizer", "target_tokenizer",
    "label_names.json", TEST_SPLIT, "logs", "history.csv", "training_curves.png", "metrics.json", "export",
)


def _is_run(run_dir: Path) -> bool:
    return (run_dir / "model.keras").is_file() and (run_dir / "recipe.toml").is_file()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _versioned(export: Path) -> bool:
    """Whether a run's `export` is a base of versions (not missing, not an
    unversioned export of an earlier keras-attention, which is replaced whole)."""
    return export.is_dir() and not export.is_symlink() and not (export / "saved_model.pb").exists()


def _install(work: Path, run_dir: Path) -> None:
    """Move the complete run in `work` into `run_dir`, replacing an earlier run's outputs.

    The names to install are noted first, so a process killed halfway through
    finishes the move when run again: `run_dir` never keeps a mix of two runs.
    """
    note = work / _INSTALLING
    if not note.exists():
        write_text_atomically(note, json.dumps([name for name in _OUTPUTS if (work / name).exists()]))
    produced = json.loads(note.read_text())
    retired = work / ".retired"
    retired.mkdir(exist_ok=True)
    for name in _OUTPUTS:
        new, old = work / name, run_dir / name
        if name in produced and not new.exists():
            continue  # installed before an interruption
        if name == "export" and name in produced and _versioned(old):
            # The new export is the next version of the run's; older versions stay.
            for version in sorted(export_versions(new)):
                add_version(new / str(version), old)
            continue
        if old.exists() or old.is_symlink():
            _remove(retired / name)  # left by an interrupted install
            os.replace(old, retired / name)
        if name in produced:
            os.replace(new, old)
    shutil.rmtree(work)


def _resumable(work: Path) -> bool:
    """Whether a failed attempt in `work` left something the next run of the
    same command resumes from: a checkpoint, a finished fit or a half-done install."""
    return any((work / name).exists() for name in ("backup", _FIT_DONE, _INSTALLING))


def _new_directories(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist yet, deepest first."""
    path = path.absolute()
    return [directory for directory in (path, *path.parents) if not directory.exists()]


def _remove_if_empty(directories: list[Path]) -> None:
    """Remove the empty ones of `directories` (deepest first), stopping at the
    first that holds anything: what a failed `train` made for nothing."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return


def _staging(run_dir: Path, recipe_text: str, chief: bool, skip_fit: bool = True) -> tuple[Path, str]:
    """`(directory to train in, how far an earlier attempt with this recipe got)`.

    The state is "fresh", "resume" (a checkpoint from fit), "fitted" (fit had
    finished; only with `skip_fit`) or "installed" (an interrupted install was
    just finished).
    """
    if not chief:  # other workers keep their own files in worker-N/
        return run_dir, "resume" if (run_dir / "backup").exists() else "fresh"
    work = run_dir / _STAGING
    same = (work / "recipe.toml").is_file() and (work / "recipe.toml").read_text() == recipe_text
    if (work / _INSTALLING).exists():  # complete outputs, half moved: finish first
        _install(work, run_dir)
        if (run_dir / "recipe.toml").read_text() == recipe_text:
            return work, "installed"
    elif same and skip_fit and (work / _FIT_DONE).exists():
        return work, "fitted"
    elif same and (work / "backup").exists():
        return work, "resume"
    clashes = [name for name in _OUTPUTS if (run_dir / name).exists()]
    if clashes and not _is_run(run_dir):
        raise FileExistsError(
            f"{run_dir} is not a keras-attention run directory, but holds "
            f"{', '.join(clashes)}, which a run there would replace. "
            "Choose another --out, or move them away."
        )
    shutil.rmtree(work, ignore_errors=True)  # an attempt with another recipe, or nothing to resume
    work.mkdir(parents=True)
    return work, "fresh"


def _fit(task, recipe: Recipe, strategy, work: Path, chief: bool, log) -> tuple[keras.Model, dict]:
    """Build, compile and fit the task's model in `work`; `(model, what fit
    did)`: its `training_seconds`, and with early stopping its best and last
    epochs."""
    training = recipe.training
    # The chief removes its checkpoint itself, once model.keras is saved.
    callbacks = fit_callbacks(training, str(work / "backup"), delete_checkpoint=not chief)
    steps_per_epoch = task.steps_per_epoch()
    # Resumed, the data continues at the checkpoint's batch.
    train_data, validation_data = task.datasets(start=resume_batch(callbacks, steps_per_epoch))
    steps = total_steps(training, batches_per_epoch=steps_per_epoch) if training.schedule_kind == "cosine" else None
    with strategy.scope():
        model = compile_model(task.build_model(log=log), task, training, steps)
    if training.strategy == "multi_worker":
        patch_keras_for_multi_worker(model, strategy)
    log(
        f"{type(model).__name__} from preset {recipe.model.preset!r}: "
        f"{model.count_params():,} parameters; {len(task.train_examples):,} training, "
        f"{len(task.validation_examples):,} validation, {len(task.test_examples):,} test examples"
    )
    if chief:
        callbacks += [
            keras.callbacks.CSVLogger(str(work / "history.csv"), append=True),
            keras.callbacks.TensorBoard(str(work / "logs")),
        ]
    started = time.time()
    with warnings.catch_warnings():
        # Bucketed validation data has no known length: Keras learns it at its end.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            train_data,
            validation_data=validation_data,
            epochs=training.epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipeline shuffles, deterministically
            # Live progress bars on a terminal, one line per epoch in logs.
            verbose=progress_verbosity() if chief else 0,
        )
    fitted = {"training_seconds": time.time() - started}
    for callback in callbacks:
        if isinstance(callback, ResumableEarlyStopping):  # the model holds its best epoch's weights
            fitted.update(callback.summary())
            log(
                f"Kept the weights of epoch {fitted['best_epoch']} (the lowest validation loss, "
                f"{fitted['best_val_loss']:.4f}); trained {fitted['epochs_trained']} of {training.epochs} epochs."
            )
    if chief:
        # Saved at once with a note that fit finished: a run killed later (in
        # evaluation or export) resumes there instead of training again.
        partial = work / "model.partial.keras"
        model.save(partial)
        os.replace(partial, work / "model.keras")
        write_text_atomically(work / _FIT_DONE, json.dumps(fitted))
        shutil.rmtree(work / "backup", ignore_errors=True)
    return model, fitted


def _train_in(work: Path, state: str, run_dir: Path, recipe: Recipe, recipe_text: str, task,
              strategy, chief: bool, log) -> tuple[dict, Path | None]:
    """Train (or resume, as `state` says) in the staging directory `work`,
    evaluate, export and install into `run_dir`; `(metrics, curves PNG)`."""
    if state == "resume":
        log(f"Resuming the interrupted run in {run_dir} from its last checkpoint.")
    if state == "fitted":
        log(f"Resuming the interrupted run in {run_dir}: training had finished; evaluating.")
    task.prepare_tokenizers(work, show_progress=chief, reuse=state != "fresh")
    if chief:
        task.save_test_split(work / TEST_SPLIT)
    write_text_atomically(work / "recipe.toml", recipe_text)
    if state == "fitted":
        model = keras.saving.load_model(work / "model.keras")
        fitted = json.loads((work / _FIT_DONE).read_text())
    else:
        model, fitted = _fit(task, recipe, strategy, work, chief, log)
    if not chief:  # other workers only help train; keep their weights to compare
        model.save_weights(work / "model.weights.h5")
        return {}, None
    curves = plot_history(work / "history.csv", work / "training_curves.png")
    metrics = task.evaluate(model, log=log)
    metrics["training_seconds"] = round(fitted.pop("training_seconds"), 1)
    metrics.update(fitted)  # with early stopping: best_epoch, best_val_loss, stopped_epoch...
    metrics["data"] = {
        "train_examples": len(task.train_examples),
        "validation_examples": len(task.validation_examples),
        "test_examples": len(task.test_examples),
    }
    if task.split_groups is not None:  # which groups (modules) each part holds
        metrics["data"]["split_groups"] = task.split_groups
    write_text_atomically(work / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    shutil.rmtree(work / "export", ignore_errors=True)  # a killed attempt's, never installed
    export_task(task, model, work / "export", metrics=metrics)
    _install(work, run_dir)
    return metrics, curves


def train(
    recipe_path: str | Path,
    run_dir: str | Path,
    overrides: list[str] = (),
    data_path: str | None = None,
    log=print,
) -> dict:
    """Train the recipe's model into `run_dir`, evaluate it, and return the metrics.

    The recipe, the data and the model are checked before anything in
    `run_dir` changes, and an earlier run's outputs there are replaced only
    once the new ones are complete. Running the same command again after an
    interruption resumes from the last checkpoint (at most
    `training.checkpoint_every` steps are lost), or at evaluation when fit had
    finished. A second `train` into a directory in use is refused.
    """
    recipe = load_recipe(recipe_path, overrides)
    recipe_text = dump_recipe(recipe)
    training = recipe.training
    keras.utils.set_random_seed(training.seed)
    keras.config.set_dtype_policy(training.mixed_precision)
    strategy = get_strategy(training.strategy)
    worker = _worker_index()
    chief = worker == 0
    # Other workers of a multi-worker job keep their files apart from the chief's.
    run_dir = Path(run_dir) if chief else Path(run_dir) / f"worker-{worker}"

    task = get_task(recipe)
    task.check_recipe()  # before any data is read
    task.load_data(data_path)
    if task.report is not None and task.report.malformed:
        log(task.report.summary())
    task.check_init_from()  # a run that cannot initialise this model stops us here
    if training.early_stopping_patience is not None and not task.validation_examples:
        raise RecipeError(
            "`training.early_stopping_patience` watches the validation loss, but there are no "
            "validation examples: set `data.validation_fraction` > 0."
        )
    if not task.test_examples:
        examples = len(task.train_examples) + len(task.validation_examples)
        raise RecipeError(
            f"`data.test_fraction` ({recipe.data.test_fraction}) leaves no test examples of the "
            f"{examples} examples read, and a finished run is scored on its test split: raise it."
        )
    if chief:  # a RUN/export that is not a base of export versions stops the run now
        check_export_base(run_dir / "export", overwrite=True)
    new_directories = _new_directories(run_dir)
    try:
        with DirectoryLock(run_dir, "keras-attention train"):
            # The workers of a multi-worker job fit together, so none may skip fit alone.
            work, state = _staging(run_dir, recipe_text, chief, skip_fit=training.strategy != "multi_worker")
            if state == "installed":
                log(f"The interrupted run in {run_dir} had finished; its outputs are now in place.")
                return json.loads((run_dir / "metrics.json").read_text())
            try:
                metrics, curves = _train_in(work, state, run_dir, recipe, recipe_text, task, strategy, chief, log)
            except BaseException:
                if chief and not _resumable(work):  # nothing the same command could resume from
                    shutil.rmtree(work, ignore_errors=True)
                raise
    except BaseException:
        _remove_if_empty(new_directories)  # a failure leaves no new, empty directory
        raise
    if not chief:
        return metrics
    export = run_dir / "export"
    newest = max(export_versions(export))
    log(f"Run directory: {run_dir}" + (f"  (curves: {curves.name})" if curves else ""))
    log(f"SavedModel (text in, text out): {export / str(newest)}  —  serve the newest version "
        f"with: keras-attention serve {export}")
    return metrics
