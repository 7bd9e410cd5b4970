"""The optimizer and schedule of a recipe: today's defaults build what they
built before, and each training key becomes Keras' own argument."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_attention.training import TransformerSchedule
from keras_attention.training.optimizers import build_optimizer, count_batches, total_steps
from keras_attention.training.recipe import validate_recipe


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
    assert isinstance(optimizer, keras.optimizers.AdamW)
    config = optimizer.get_config()
    assert config["weight_decay"] == 0.01 and config["clipnorm"] == 1.0
    assert config["gradient_accumulation_steps"] == 4
    assert (config["beta_1"], config["beta_2"], config["epsilon"]) == (0.9, 0.98, 1e-9)
    # AdamW without weight_decay: Keras' default; accumulation 1: none.
    plain = build_optimizer(_training(optimizer="adamw"), hidden_dim=32).get_config()
    assert plain["weight_decay"] == keras.optimizers.AdamW().weight_decay
    assert plain["gradient_accumulation_steps"] is None and plain["clipnorm"] is None


def test_cosine_warms_up_linearly_then_decays_to_zero_at_the_last_step():
    training = _training(schedule="cosine", learning_rate=0.01, warmup_steps=10, epochs=2, steps_per_epoch=50)
    steps = total_steps(training)
    assert steps == 100
    schedule = build_optimizer(training, hidden_dim=32, steps=steps)._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    # 0 -> 0.01 over 10 steps, half way down at 55, 0 at the last step.
    assert rates == pytest.approx([0.0, 0.005, 0.01, 0.005, 0.0], abs=1e-6)


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
