"""AtomicBackupAndRestore: checkpoints are renamed into place, and every epoch
end saves; ResumableEarlyStopping keeps the best epoch across a resume."""

import json

import numpy as np
import pytest

import keras

from keras_attention.training.callbacks import AtomicBackupAndRestore, ResumableEarlyStopping


def _fit(backup_dir, epochs, save_freq):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    callback = AtomicBackupAndRestore(str(backup_dir), save_freq=save_freq, delete_checkpoint=False)
    model.fit(x, y, batch_size=2, epochs=epochs, callbacks=[callback], verbose=0)
    return model


def test_checkpoints_leave_no_partial_files(tmp_path):
    _fit(tmp_path / "backup", epochs=2, save_freq=3)
    names = sorted(p.name for p in (tmp_path / "backup").iterdir())
    assert names == ["history.json", "latest.weights.h5", "training_metadata.json"]


def test_every_epoch_end_is_checkpointed(tmp_path):
    # 4 batches an epoch, save every 100: only the epoch-end saves happen.
    _fit(tmp_path / "backup", epochs=2, save_freq=100)
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2


def test_a_new_run_resumes_from_the_checkpoint(tmp_path):
    trained = _fit(tmp_path / "backup", epochs=2, save_freq=100)
    resumed = _fit(tmp_path / "backup", epochs=2, save_freq=100)  # nothing left to train
    for a, b in zip(trained.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Interrupt(keras.callbacks.Callback):
    """Ctrl-C at the start of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class _ValidationLosses(keras.callbacks.Callback):
    """Replace the validation loss of each epoch by a given sequence."""

    def __init__(self, losses):
        super().__init__()
        self.losses = losses

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.losses[epoch]


def _early_stopping_fit(backup_dir, interrupt_at=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    weights = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))
    stopping = ResumableEarlyStopping(patience=2, state_dir=str(backup_dir))
    callbacks = [_ValidationLosses([3.0, 1.0, 2.0, 2.5, 0.5, 0.1]), record, stopping,
                 AtomicBackupAndRestore(str(backup_dir), save_freq=100)]
    if interrupt_at is not None:
        callbacks.insert(0, _Interrupt(interrupt_at))
    history = model.fit(x, y, batch_size=2, epochs=6, validation_data=(x, y), callbacks=callbacks, verbose=0)
    return model, stopping, history, weights


def test_early_stopping_keeps_the_best_epoch_across_a_resume(tmp_path):
    """Validation losses 3, 1, 2, 2.5: epoch 2 (1-based) is the best, and two
    epochs without improvement stop the run after epoch 4. Interrupted at the
    start of epoch 4 and resumed, the run keeps epoch 2's weights all the same."""
    model, stopping, history, weights = _early_stopping_fit(tmp_path / "straight")
    assert stopping.summary() == {"best_epoch": 2, "best_val_loss": 1.0, "stopped_epoch": 4, "epochs_trained": 4}
    for kept, best in zip(model.get_weights(), weights[1]):
        np.testing.assert_array_equal(kept, best)

    backup = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        _early_stopping_fit(backup, interrupt_at=3)
    model, stopping, history, weights = _early_stopping_fit(backup)
    assert len(weights) == 1  # only epoch 4 ran again
    assert stopping.summary() == {"best_epoch": 2, "best_val_loss": 1.0, "stopped_epoch": 4, "epochs_trained": 4}
    straight, *_ = _early_stopping_fit(tmp_path / "again")
    for kept, best in zip(model.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(kept, best)
    # The History a resumed fit returns holds the epochs before the interruption.
    assert history.epoch == [0, 1, 2, 3] and history.history["val_loss"] == [3.0, 1.0, 2.0, 2.5]
