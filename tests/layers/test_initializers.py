"""`clone_initializer`: a fresh initializer per weight, seeds kept as Keras keeps them."""

import keras
import numpy as np

from keras_attention.layers._initializers import clone_initializer


def _draw(initializer):
    return keras.ops.convert_to_numpy(initializer((4, 4)))


def test_clones_of_an_unseeded_initializer_draw_differently():
    initializer = keras.initializers.GlorotUniform()
    first, second = clone_initializer(initializer), clone_initializer(initializer)
    assert first is not initializer and type(first) is keras.initializers.GlorotUniform
    assert not np.allclose(_draw(first), _draw(second))


def test_a_name_or_config_is_accepted():
    assert isinstance(clone_initializer("he_normal"), keras.initializers.HeNormal)
    clone = clone_initializer({"class_name": "RandomNormal", "config": {"stddev": 0.02}})
    assert clone.get_config()["stddev"] == 0.02


def test_an_int_seed_is_kept_and_a_seed_generator_is_shared():
    seeded = keras.initializers.RandomNormal(seed=3)
    np.testing.assert_array_equal(_draw(clone_initializer(seeded)), _draw(clone_initializer(seeded)))
    stateful = keras.initializers.RandomNormal(seed=keras.random.SeedGenerator(3))
    assert clone_initializer(stateful) is stateful
