"""TransformerSchedule (the paper's warmup / inverse-sqrt schedule) and CosineSchedule."""


import pytest

import keras

from keras_attention.training import (
    TransformerSchedule,
)
from keras_attention.training.schedules import CosineSchedule


def test_schedule_is_the_papers_formula():
    schedule = TransformerSchedule(hidden_dim=512, warmup_steps=4000)
    for step in (1, 100, 3999, 4000, 20000):
        expected = 512**-0.5 * min(step**-0.5, step * 4000**-1.5)
        assert float(schedule(step - 1)) == pytest.approx(expected, rel=1e-5)


def test_schedule_serializes():
    schedule = TransformerSchedule(64, 100, scale=2.0)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, TransformerSchedule)
    assert restored.get_config() == {"hidden_dim": 64, "warmup_steps": 100, "scale": 2.0}
    assert float(restored(50)) == float(schedule(50))


@pytest.mark.parametrize("kwargs", [{"hidden_dim": 0}, {"hidden_dim": 8, "warmup_steps": -1}, {"hidden_dim": 8, "scale": 0}])
def test_schedule_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        TransformerSchedule(**kwargs)


def test_cosine_schedule_serializes():
    schedule = CosineSchedule(3e-4, warmup_steps=10, total_steps=50)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, CosineSchedule)
    assert restored.get_config() == {"learning_rate": 3e-4, "warmup_steps": 10, "total_steps": 50}
    assert float(restored(20)) == float(schedule(20))


def test_a_saved_keras_cosine_decay_still_loads():
    """Runs saved before CosineSchedule hold Keras' CosineDecay: they load as it."""
    config = {"module": "keras.optimizers.schedules", "class_name": "CosineDecay", "config": {
        "initial_learning_rate": 0.0, "decay_steps": 4, "alpha": 0.0, "name": "CosineDecay",
        "warmup_target": 0.003, "warmup_steps": 2}, "registered_name": None}
    optimizer = keras.optimizers.AdamW.from_config({"learning_rate": config, "gradient_accumulation_steps": 2})
    assert isinstance(optimizer._learning_rate, keras.optimizers.schedules.CosineDecay)


@pytest.mark.parametrize("kwargs", [
    {"learning_rate": 0.0, "warmup_steps": 1, "total_steps": 2},
    {"learning_rate": 0.1, "warmup_steps": -1, "total_steps": 2},
    {"learning_rate": 0.1, "warmup_steps": 5, "total_steps": 5},
    {"learning_rate": 0.1, "warmup_steps": 1, "total_steps": 2.0},
])
def test_cosine_schedule_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        CosineSchedule(**kwargs)
