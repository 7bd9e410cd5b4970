"""Callbacks: crash-safe checkpoints for resumable training."""

from __future__ import annotations

import json
import os

import keras

__all__ = ["AtomicBackupAndRestore"]


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
