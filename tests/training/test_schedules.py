"""TransformerSchedule: the paper's warmup / inverse-sqrt schedule."""


import pytest

import keras

from keras_attention.training import (
    TransformerSchedule,
)


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
