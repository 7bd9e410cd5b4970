"""Callbacks: crash-safe checkpoints for resumable training, early stopping
that survives a resume, a stop at the first NaN loss, and the list of them a
recipe asks for (`fit_callbacks`)."""

from __future__ import annotations

import json
import math
import os

import keras
import numpy as np

__all__ = [
    "AtomicBackupAndRestore",
    "ResumableEarlyStopping",
    "StopOnNaN",
    "TrainingDiverged",
    "fit_callbacks",
    "resume_batch",
]


def _write_json_atomically(path: str, value) -> None:
    partial = path + ".partial"
    with open(partial, "w") as file:
        json.dump(value, file)
    os.replace(partial, path)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose checkpoints survive a kill in the middle of a
    write, and whose resume continues at the checkpoint's step.

    Keras writes `latest.weights.h5` in place, so a process killed while saving
    (SIGKILL, out of memory, a lost machine) can leave a truncated file that
    the next run cannot load. Here every file is written next to its target
    and renamed over it: a rename is atomic, so the backup directory always
    holds the previous complete checkpoint or the new one, never half of one.

    A checkpoint records where the run is: its epoch and the steps of that
    epoch already trained (`saved_position`). Keras restarts an interrupted
    epoch from its first step; here a resumed `fit` lets the steps the
    checkpoint has trained go by without training (its callbacks still see
    their batch numbers), so it trains only the steps after the checkpoint
    (at most `save_freq` steps were lost) and ends with the optimizer updates
    of an uninterrupted run. The data must continue there too: give `fit` a
    stream that starts at `resume_batch` (the tasks' `datasets(start=...)`).
    The end of every epoch is checkpointed as well, so a finished epoch is
    never trained again (and a checkpoint due at an epoch's last step waits
    for that one). The `History` that a resumed `fit` returns holds the
    epochs before the interruption too (kept in `history.json`), so what
    reads it (Keras Tuner's score of a trial) sees every epoch; the resumed
    epoch's training metrics cover its steps after the checkpoint.
    """

    def saved_position(self) -> tuple[int, int]:
        """`(epoch, step)` where the checkpoint in `backup_dir` resumes: the
        epoch (0-based) and how many of its steps are trained; `(0, 0)`
        without a checkpoint."""
        if not os.path.exists(self._training_metadata_path):
            return 0, 0
        with open(self._training_metadata_path) as file:
            metadata = json.load(file)
        return metadata["epoch"], metadata.get("step", 0)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        resumed_at, self._step = self.saved_position()
        self._train_function = None
        if self._step:
            self._pass_over(self._step)
        self._epochs = []
        path = os.path.join(self.backup_dir, "history.json")
        if os.path.exists(path):
            with open(path) as file:  # only the epochs the checkpoint has finished
                self._epochs = [row for row in json.load(file) if row["epoch"] < resumed_at]
        self._resumed_epochs = len(self._epochs)

    def _pass_over(self, steps: int):
        """Make the model's next `steps` steps train nothing and read no data:
        the checkpoint has trained them, and the data starts after them.
        (A step is one call of `train_function`: `steps_per_execution` 1.)"""
        self._train_function = self.model.train_function
        left = steps

        def passed_over(iterator):
            nonlocal left
            left -= 1
            if not left:
                self._stop_passing_over()
            return {}

        self.model.train_function = passed_over

    def _stop_passing_over(self):
        if self._train_function is not None:
            self.model.train_function, self._train_function = self._train_function, None

    def on_epoch_begin(self, epoch, logs=None):
        # A checkpoint taken in this epoch resumes it (Keras counts from 0
        # in a resumed fit otherwise, and a second resume would start over).
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if batch < self._step:  # trained before the checkpoint
            self._last_batch_seen = batch
            return
        self._step = batch + 1
        # Not at an epoch's last step: its end, after validation, is saved.
        if self._should_save_on_batch(batch) and self._step != self.params.get("steps"):
            self._save_model()

    def on_epoch_end(self, epoch, logs=None):
        self._epochs.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        os.makedirs(self.backup_dir, exist_ok=True)
        _write_json_atomically(os.path.join(self.backup_dir, "history.json"), self._epochs)
        self._step = 0  # of the next epoch
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":  # the base class saved already otherwise
            self._save_model()

    def on_train_end(self, logs=None):
        self._stop_passing_over()  # when fit stopped before the checkpoint's step
        history = getattr(self.model, "history", None)
        earlier = self._epochs[: self._resumed_epochs]
        if earlier and isinstance(history, keras.callbacks.History):
            history.epoch = [row["epoch"] for row in earlier] + list(history.epoch)
            for key in history.history:
                history.history[key] = [row.get(key) for row in earlier] + history.history[key]
        super().on_train_end(logs)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        partial_weights = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(filepath=partial_weights, overwrite=True)
        os.replace(partial_weights, self._weights_path)
        _write_json_atomically(self._training_metadata_path, {"epoch": self._current_epoch, "step": self._step})


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` on the validation loss that keeps the best epoch's
    weights, and whose state survives an interrupted, resumed `fit`.

    At the end of every epoch its state (best loss, best epoch, epochs
    waited) and, when the epoch is the best so far, the weights are written
    atomically into `state_dir` (the run's backup directory); a resumed `fit`
    reads them back, so the weights restored at the end are the best of the
    whole run, not of the part after the interruption.

    Args:
        patience: int, epochs without a lower validation loss before training stops.
        state_dir: str or None, where the state is kept (None: in memory only).

    Attributes (after `fit`): `best_epoch` (0-based), `best`, the best
    validation loss, `stopped_epoch` (0-based; 0 when training ran every epoch),
    `last_epoch` (0-based).
    """

    def __init__(self, patience: int, state_dir: str | None = None):
        super().__init__(monitor="val_loss", mode="min", patience=patience, restore_best_weights=True)
        self.state_dir = state_dir
        self.last_epoch = -1

    def _paths(self):
        return (
            os.path.join(self.state_dir, "early_stopping.json"),
            os.path.join(self.state_dir, "early_stopping_best.npz"),
        )

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.state_dir is None or not os.path.exists(self._paths()[0]):
            return
        state_path, weights_path = self._paths()
        with open(state_path) as file:
            state = json.load(file)
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.last_epoch = state["last_epoch"]
        with np.load(weights_path) as saved:
            self.best_weights = [saved[f"w{i}"] for i in range(len(saved.files))]

    def on_epoch_end(self, epoch, logs=None):
        best_epoch = self.best_epoch if self.best is not None else None
        super().on_epoch_end(epoch, logs)
        self.last_epoch = epoch
        if self.state_dir is None or self.best is None:
            return
        os.makedirs(self.state_dir, exist_ok=True)
        state_path, weights_path = self._paths()
        if self.best_epoch != best_epoch:  # a new best: keep its weights
            partial = weights_path + ".partial.npz"
            np.savez(partial, **{f"w{i}": w for i, w in enumerate(self.best_weights)})
            os.replace(partial, weights_path)
        _write_json_atomically(
            state_path,
            {"best": float(self.best), "best_epoch": self.best_epoch, "wait": self.wait, "last_epoch": epoch},
        )

    def summary(self) -> dict:
        """`best_epoch`, `best_val_loss`, `stopped_epoch` (1-based, None: it
        did not stop early) and `epochs_trained`, for metrics.json."""
        return {
            "best_epoch": self.best_epoch + 1,
            "best_val_loss": None if self.best is None else float(self.best),
            "stopped_epoch": self.stopped_epoch + 1 if self.stopped_epoch > 0 else None,
            "epochs_trained": self.last_epoch + 1,
        }


def fit_callbacks(training, backup_dir: str, delete_checkpoint: bool = True) -> list:
    """The callbacks a recipe's `[training]` table asks `fit` for, in order:
    a stop at the first NaN loss (first, so no checkpoint holds a NaN step's
    weights), early stopping when `early_stopping_patience` is set (its state
    kept in `backup_dir`), and the crash-safe checkpoint every
    `checkpoint_every` steps in `backup_dir`. `train` and every tuning trial
    use them."""
    callbacks = [
        StopOnNaN("Lower `training.learning_rate` (or `training.schedule_scale`), or check the data.")
    ]
    if training.early_stopping_patience is not None:
        callbacks.append(ResumableEarlyStopping(training.early_stopping_patience, state_dir=backup_dir))
    callbacks.append(
        AtomicBackupAndRestore(
            backup_dir, save_freq=training.checkpoint_every, delete_checkpoint=delete_checkpoint
        )
    )
    return callbacks


def resume_batch(callbacks: list, steps_per_epoch: int, initial_epoch: int = 0) -> int:
    """The batch of a run's training data at which a `fit` with `callbacks`
    starts: that of the checkpoint of their `AtomicBackupAndRestore`
    (`epoch * steps_per_epoch + step`), else the first of `initial_epoch`.
    Give `fit` the data from there (`Task.datasets(start=...)`)."""
    for callback in callbacks:
        if isinstance(callback, AtomicBackupAndRestore):
            epoch, step = callback.saved_position()
            if (epoch, step) != (0, 0):
                return epoch * steps_per_epoch + step
    return initial_epoch * steps_per_epoch


class TrainingDiverged(RuntimeError):
    """Training produced a NaN or infinite loss; nothing was saved as its result."""


class StopOnNaN(keras.callbacks.Callback):
    """Raise `TrainingDiverged` at the first batch whose loss is not finite.

    Unlike `keras.callbacks.TerminateOnNaN`, which lets `fit` return as if it
    had finished, this ends `fit` with an error, so no model, metrics or export
    is written from NaN weights. Put it first in the callback list: callbacks
    after it (a checkpoint, say) never see the diverged batch.
    """

    def __init__(self, hint: str = ""):
        super().__init__()
        self.hint = hint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(
                f"Training stopped: the loss became {'NaN' if math.isnan(float(loss)) else 'infinite'}"
                f" at epoch {self._epoch + 1}, "
                f"batch {batch + 1}. Nothing was saved or exported from this run."
                + (f" {self.hint}" if self.hint else "")
            )
