"""TransformerSchedule against the paper's formula and CosineSchedule against its
definition (tests/reference/schedules.py), as the optimizer sees them: its
iteration counter starts at 0, the paper's step_num at 1."""

import numpy as np
import pytest

import keras

from keras_attention.training import TransformerSchedule
from keras_attention.training.schedules import CosineSchedule
from tests.reference.schedules import cosine_learning_rate, learning_rate


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


@pytest.mark.parametrize("learning_rate, warmup_steps, total_steps", [(0.01, 10, 100), (3e-4, 1, 2), (1.0, 0, 7), (5e-4, 7, 1234)])
def test_cosine_schedule_is_its_definition(learning_rate, warmup_steps, total_steps):
    schedule = CosineSchedule(learning_rate, warmup_steps, total_steps)
    updates = sorted({0, 1, max(warmup_steps - 1, 0), warmup_steps, total_steps // 2, total_steps - 2, total_steps - 1})
    for update in updates:
        expected = cosine_learning_rate(update, learning_rate, warmup_steps, total_steps)
        assert float(schedule(update)) == pytest.approx(expected, rel=1e-5, abs=1e-12)
    # The first update has a rate, the last one exactly 0 (and so does any after it).
    assert float(schedule(0)) > 0 and cosine_learning_rate(0, learning_rate, warmup_steps, total_steps) > 0
    assert float(schedule(total_steps - 1)) == 0.0 == cosine_learning_rate(total_steps - 1, learning_rate, warmup_steps, total_steps)
    assert float(schedule(total_steps + 5)) == 0.0


def test_cosine_updates_use_its_rates_from_the_first():
    """An SGD step is the rate: the first update's is the schedule's at 0, and
    the last update moves nothing."""
    optimizer = keras.optimizers.SGD(CosineSchedule(0.1, 2, 5))
    weight = keras.Variable(np.zeros(()), dtype="float32")
    steps = []
    for _ in range(5):
        optimizer.apply_gradients([(keras.ops.ones(()), weight)])
        steps.append(-float(weight.numpy()))
        weight.assign(0.0)
    np.testing.assert_allclose(steps, [cosine_learning_rate(update, 0.1, 2, 5) for update in range(5)], rtol=1e-5, atol=1e-9)
    assert steps[0] == pytest.approx(0.05) and steps[-1] == 0.0
