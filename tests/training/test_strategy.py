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
