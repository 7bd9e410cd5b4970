"""Distribution strategies by name (the two-worker job itself runs in test_run)."""

import pytest
import tensorflow as tf

from keras_attention.training.strategy import get_strategy


def test_default_and_mirrored():
    assert get_strategy("default") is tf.distribute.get_strategy()
    mirrored = get_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync >= 1


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multi_worker")


def test_malformed_tf_config_fails_before_any_connection(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError):
        get_strategy("multi_worker")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Received: strategy='tpu'"):
        get_strategy("tpu")


def _requirement(name):
    import configparser
    from pathlib import Path

    from packaging.requirements import Requirement

    config = configparser.ConfigParser()
    config.read(Path(__file__).parents[2] / "setup.cfg")
    lines = config["options"]["install_requires"].split("\n")
    return next(Requirement(line) for line in lines if line.strip() and Requirement(line).name == name)


def test_the_installed_keras_is_one_the_multi_worker_patch_was_tested_with():
    import keras

    from keras_attention.training.strategy import TESTED_KERAS, _check_keras_version

    (first, last) = TESTED_KERAS
    try:
        _check_keras_version()
    except RuntimeError as error:
        pytest.fail(
            f"Keras {keras.__version__} is outside the range the multi-worker patch in "
            f"training/strategy.py was tested with ({first} to {last}, exclusive): run the "
            f"multi-worker test (tests/training/test_run.py) on it, then widen TESTED_KERAS "
            f"and setup.cfg's keras bound together. ({error})"
        )
    # setup.cfg keeps pip from installing a Keras the patch would refuse.
    specifier = _requirement("keras").specifier
    assert f"{last[0]}.{last[1]}" not in specifier and f"{last[0]}.{last[1] - 1}.99" in specifier, (
        f"setup.cfg's keras requirement ({specifier}) must stop below {last}, as TESTED_KERAS does."
    )
    assert keras.__version__ in specifier


@pytest.mark.parametrize("version", ["3.14.2", "3.16.0", "4.0.0", "nightly"])
def test_the_multi_worker_patch_refuses_an_untested_keras(monkeypatch, version):
    import keras

    from keras_attention.training.strategy import patch_keras_for_multi_worker

    monkeypatch.setattr(keras, "__version__", version)
    model = object()  # never touched: the check comes first
    with pytest.raises(RuntimeError, match=rf"Received: keras=={version}\. .*strategy='mirrored'"):
        patch_keras_for_multi_worker(model, strategy=None)
