"""Callbacks: crash-safe checkpoints for resumable training, and a stop at the first NaN loss."""

from __future__ import annotations

import json
import math
import os

import keras

__all__ = ["AtomicBackupAndRestore", "StopOnNaN", "TrainingDiverged"]


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose checkpoints survive a kill in the middle of a write.

    Keras writes `latest.weights.h5` in place, so a process killed while saving
    (SIGKILL, out of memory, a lost machine) can leave a truncated file that
    the next run cannot load. Here every file is written next to its target
    and renamed over it: a rename is atomic, so the backup directory always
    holds the previous complete checkpoint or the new one, never half of one.

    It also checkpoints at the end of every epoch, so a finished epoch is never
    trained again. Keras restarts an interrupted epoch from its first batch,
    with the weights and optimizer state of the last checkpoint (at most
    `save_freq` steps old).
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":  # the base class saved already otherwise
            self._save_model()

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        partial_weights = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(filepath=partial_weights, overwrite=True)
        os.replace(partial_weights, self._weights_path)
        partial_metadata = self._training_metadata_path + ".partial"
        with open(partial_metadata, "w") as file:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, file)
        os.replace(partial_metadata, self._training_metadata_path)


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
