"""The optimizer and schedule of a recipe: today's defaults build what they
built before, and each training key becomes Keras' own argument."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_attention.training import TransformerSchedule
from keras_attention.training.accumulation import AccumulatingAdam, AccumulatingAdamW
from keras_attention.training.optimizers import build_optimizer, count_batches, total_steps
from keras_attention.training.recipe import validate_recipe
from keras_attention.training.schedules import CosineSchedule
from tests.reference.schedules import cosine_learning_rate


def _training(**values):
    return validate_recipe({"training": values}).training


def _config(optimizer):
    """The serialized optimizer, less its name (Keras numbers each new one)."""
    config = keras.optimizers.serialize(optimizer)
    del config["config"]["name"]
    return config


def test_the_default_recipe_builds_the_optimizer_it_built_before():
    # What `train` built before the training keys: the paper's Adam on the
    # paper's schedule, or on a constant rate when `learning_rate` is set.
    before = keras.optimizers.Adam(
        TransformerSchedule(64, 4000, 1.0), beta_1=0.9, beta_2=0.98, epsilon=1e-9
    )
    assert _config(build_optimizer(_training(), hidden_dim=64)) == _config(before)
    constant = keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    assert _config(build_optimizer(_training(learning_rate=1e-3), hidden_dim=64)) == _config(constant)
    scaled = _training(warmup_steps=600, schedule_scale=0.7)
    schedule = build_optimizer(scaled, hidden_dim=64)._learning_rate
    assert schedule.get_config() == {"hidden_dim": 64, "warmup_steps": 600, "scale": 0.7}


def test_each_key_is_the_keras_argument():
    optimizer = build_optimizer(
        _training(optimizer="adamw", weight_decay=0.01, clipnorm=1.0, gradient_accumulation_steps=4),
        hidden_dim=32,
    )
    assert isinstance(optimizer, AccumulatingAdamW) and isinstance(optimizer, keras.optimizers.AdamW)
    config = optimizer.get_config()
    assert config["weight_decay"] == 0.01 and config["clipnorm"] == 1.0
    assert config["gradient_accumulation_steps"] == 4
    assert (config["beta_1"], config["beta_2"], config["epsilon"]) == (0.9, 0.98, 1e-9)
    # AdamW without weight_decay: Keras' default; accumulation 1: none.
    plain = build_optimizer(_training(optimizer="adamw"), hidden_dim=32)
    assert type(plain) is keras.optimizers.AdamW
    assert plain.get_config()["weight_decay"] == keras.optimizers.AdamW().weight_decay
    assert plain.get_config()["gradient_accumulation_steps"] is None and plain.get_config()["clipnorm"] is None
    adam = build_optimizer(_training(gradient_accumulation_steps=2), hidden_dim=32)
    assert isinstance(adam, AccumulatingAdam) and adam.get_config()["gradient_accumulation_steps"] == 2


def test_cosine_warms_up_linearly_then_decays_to_zero_at_the_last_update():
    training = _training(schedule="cosine", learning_rate=0.01, warmup_steps=10, epochs=2, steps_per_epoch=50)
    steps = total_steps(training)
    assert steps == 100
    schedule = build_optimizer(training, hidden_dim=32, steps=steps)._learning_rate
    assert isinstance(schedule, CosineSchedule)
    # The optimizer's iterations: the first update (0) has a rate, the 10th
    # (9) the peak, the last (99) rate 0.
    updates = (0, 4, 9, 54, 98, 99)
    rates = [float(schedule(update)) for update in updates]
    expected = [cosine_learning_rate(update, 0.01, 10, 100) for update in updates]
    assert rates == pytest.approx(expected, rel=1e-5, abs=1e-9)
    assert rates[0] == pytest.approx(0.001) and rates[2] == pytest.approx(0.01)
    assert rates[0] > 0 and rates[-1] == 0.0 and rates[-2] > 0


def test_steps_are_updates_with_gradient_accumulation():
    """An update every N batches, counted across epochs; a last group short
    of N batches is no update."""
    training = _training(epochs=3, steps_per_epoch=5, gradient_accumulation_steps=4)
    assert total_steps(training) == 3  # 15 batches
    data = tf.data.Dataset.from_tensor_slices(np.arange(10)).batch(2)  # 5 batches
    assert total_steps(_training(epochs=3, gradient_accumulation_steps=2), data) == 7
    assert total_steps(_training(epochs=3, gradient_accumulation_steps=2), batches_per_epoch=5) == 7


def test_constant_is_the_learning_rate_and_transformer_ignores_none():
    assert build_optimizer(_training(schedule="constant", learning_rate=0.002), 32).get_config()[
        "learning_rate"
    ] == pytest.approx(0.002)
    assert isinstance(build_optimizer(_training(schedule="transformer"), 32)._learning_rate, TransformerSchedule)


def test_cosine_needs_more_steps_than_its_warmup():
    training = _training(schedule="cosine", learning_rate=0.01, warmup_steps=500)
    with pytest.raises(ValueError, match="`training.warmup_steps` = 500 .* the run has 40 steps"):
        build_optimizer(training, hidden_dim=32, steps=40)


def test_an_epoch_without_steps_per_epoch_is_one_pass_over_the_data():
    data = tf.data.Dataset.from_tensor_slices(np.arange(10)).batch(3)
    assert count_batches(data) == 4
    unknown = data.filter(lambda x: tf.reduce_all(x >= 0))  # cardinality unknown, as bucketed batches
    assert count_batches(unknown) == 4
    assert total_steps(_training(epochs=3), unknown) == 12
