"""RotaryEmbedding: positions as rotations of queries and keys."""


import numpy as np
import pytest

from keras import ops

from keras_attention.layers import (
    RotaryEmbedding,
)


def test_rotary_scores_depend_only_on_relative_position(rng):
    rope = RotaryEmbedding()
    query = rng.standard_normal((1, 1, 1, 8)).astype("float32")
    key = rng.standard_normal((1, 1, 1, 8)).astype("float32")

    def score(query_position, key_position):
        q = ops.convert_to_numpy(rope(query, start_index=query_position))
        k = ops.convert_to_numpy(rope(key, start_index=key_position))
        return float((q * k).sum())

    assert score(5, 3) == pytest.approx(score(12, 10), abs=1e-4)
    assert score(5, 3) != pytest.approx(score(5, 4), abs=1e-3)
    # Rotation preserves norms.
    rotated = ops.convert_to_numpy(rope(query, start_index=9))
    assert np.linalg.norm(rotated) == pytest.approx(np.linalg.norm(query), rel=1e-5)


def test_rotary_needs_even_dim():
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding()(np.zeros((1, 2, 3), "float32"))
