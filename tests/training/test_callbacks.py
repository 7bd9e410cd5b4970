"""AtomicBackupAndRestore: checkpoints are renamed into place, every epoch
end saves, and a resumed fit continues at the checkpoint's step;
ResumableEarlyStopping keeps the best epoch across a resume."""

import json

import numpy as np
import pytest
import tensorflow as tf

import keras

from keras_attention.training.callbacks import AtomicBackupAndRestore, ResumableEarlyStopping, resume_batch


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


class _StopAfter(keras.callbacks.Callback):
    """Ctrl-C once `steps` batches of `epoch` are trained (at its start for 0)."""

    def __init__(self, epoch, steps):
        super().__init__()
        self.stop = (epoch, steps)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.stop == (epoch, 0):
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch, logs=None):
        if self.stop == (self.epoch, batch + 1):
            raise KeyboardInterrupt


def _fit_steps(backup_dir, stop=None):
    """3 epochs of 5 steps on a stream whose batch k is filled with k, from
    the checkpoint's batch (`resume_batch`), a checkpoint every 2 steps:
    `(the batches trained, the model)`."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    trained = []
    train_step = model.train_step

    def record(x):
        trained.append(int(x[0, 0]))

    def recorded_train_step(data):
        tf.py_function(record, [data[0]], [])
        return train_step(data)

    model.train_step = recorded_train_step
    callbacks = [AtomicBackupAndRestore(str(backup_dir), save_freq=2)] + ([_StopAfter(*stop)] if stop else [])
    stream = tf.data.Dataset.counter(resume_batch(callbacks, 5)).map(
        lambda k: (tf.fill([2, 3], tf.cast(k, tf.float32)), tf.ones([2, 1]))
    )
    model.fit(stream, epochs=3, steps_per_epoch=5, callbacks=callbacks, shuffle=False, verbose=0)
    return trained, model


@pytest.mark.parametrize(
    "stops, positions",
    [([(0, 3)], [2]), ([(1, 0)], [5]), ([(1, 4)], [8]), ([(0, 3), (2, 4)], [2, 14])],
    ids=["mid-first-epoch", "epoch-boundary", "mid-later-epoch", "twice"],
)
def test_a_resumed_fit_continues_at_the_checkpoints_step(tmp_path, stops, positions):
    """Stopped, then fitted again, training goes on at the checkpoint's step
    (saved every 2 steps and at each epoch's end, not mid-epoch at an
    epoch's last step) with the batch after it, and ends with the batches,
    updates and weights of an uninterrupted fit."""
    straight, uninterrupted = _fit_steps(tmp_path / "straight")
    assert straight == list(range(15)) and int(uninterrupted.optimizer.iterations) == 15
    trained, start = [], 0
    for stop, position in zip(stops, positions):
        with pytest.raises(KeyboardInterrupt):
            batches, _ = _fit_steps(tmp_path / "backup", stop)
        metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
        assert metadata == {"epoch": position // 5, "step": position % 5}
    batches, model = _fit_steps(tmp_path / "backup")
    assert batches == list(range(positions[-1], 15))
    assert int(model.optimizer.iterations) == 15
    for resumed, straight_weights in zip(model.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_allclose(resumed, straight_weights, rtol=1e-6)
    assert not (tmp_path / "backup").exists()  # removed at the end, as Keras does


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
