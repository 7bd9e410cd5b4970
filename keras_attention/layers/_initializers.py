"""A fresh initializer per weight (as Keras `MultiHeadAttention` does)."""

from __future__ import annotations

import keras


def clone_initializer(initializer):
    """A copy of `initializer` for one weight.

    An unseeded Keras 3 initializer fixes its seed when it is created, so one
    object used for several weights gives them all the same values (or, for
    different shapes, the same random stream). Each clone picks its own seed.

    A clone of an initializer seeded with an int has that same seed: weights
    of one shape initialised from it are equal, as in Keras. For reproducible
    yet distinct weights, pass an unseeded initializer and call
    `keras.utils.set_random_seed`. An initializer seeded with a
    `keras.random.SeedGenerator` is returned as is: its generator already
    advances on every call, and a clone would restart it.

    Args:
        initializer: anything `keras.initializers.get` accepts.

    Returns:
        A `keras.initializers.Initializer`.
    """
    initializer = keras.initializers.get(initializer)
    if isinstance(getattr(initializer, "seed", None), keras.random.SeedGenerator):
        return initializer
    return initializer.__class__.from_config(initializer.get_config())
