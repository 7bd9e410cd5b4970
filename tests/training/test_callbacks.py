"""AtomicBackupAndRestore: checkpoints are renamed into place, and every epoch end saves."""

import json

import numpy as np

import keras

from keras_attention.training.callbacks import AtomicBackupAndRestore


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
    assert names == ["latest.weights.h5", "training_metadata.json"]


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
