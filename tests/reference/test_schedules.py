"""TransformerSchedule against the paper's formula (tests/reference/schedules.py), as the
optimizer sees it: its iteration counter starts at 0, the paper's step_num at 1."""

import numpy as np
import pytest

import keras

from keras_attention.training import TransformerSchedule
from tests.reference.schedules import learning_rate


@pytest.mark.parametrize("hidden_dim, warmup_steps, scale", [(512, 4000, 1.0), (64, 100, 2.0), (32, 1, 0.5)])
def test_schedule_is_the_papers_formula(hidden_dim, warmup_steps, scale):
    schedule = TransformerSchedule(hidden_dim, warmup_steps, scale)
    for step_num in (1, 2, warmup_steps - 1, warmup_steps, warmup_steps + 1, 10 * warmup_steps, 100000):
        if step_num >= 1:
            expected = learning_rate(step_num, hidden_dim, warmup_steps, scale)
            assert float(schedule(step_num - 1)) == pytest.approx(expected, rel=1e-5)


def test_the_peak_is_at_warmup_steps():
    rates = [learning_rate(step, 512, 4000) for step in range(3990, 4011)]
    assert int(np.argmax(rates)) + 3990 == 4000
    schedule = TransformerSchedule(512, 4000)
    assert float(schedule(3999)) == pytest.approx(max(rates), rel=1e-6)
    assert float(schedule(3999)) == pytest.approx((512 * 4000) ** -0.5, rel=1e-6)


def test_optimizer_updates_use_step_num_from_one():
    """The first update uses step_num = 1, the n-th step_num = n."""
    schedule = TransformerSchedule(64, 10, scale=2.0)
    optimizer = keras.optimizers.SGD(schedule)
    weight = keras.Variable(np.zeros(()), dtype="float32")
    values = []
    for _ in range(12):
        before = float(weight.numpy())
        optimizer.apply_gradients([(keras.ops.ones(()), weight)])
        values.append(before - float(weight.numpy()))  # SGD: the step is the learning rate
    expected = [learning_rate(step, 64, 10, 2.0) for step in range(1, 13)]
    np.testing.assert_allclose(values, expected, rtol=1e-5)
