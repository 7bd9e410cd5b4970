"""PositionEmbedding: learned absolute positions."""


import numpy as np
import pytest

from keras import ops

from keras_attention.layers import (
    PositionEmbedding,
)


def test_learned_positions_are_added_and_bounded(rng):
    layer = PositionEmbedding(sequence_length=8)
    x = rng.standard_normal((2, 5, 4)).astype("float32")
    outputs = ops.convert_to_numpy(layer(x))
    table = ops.convert_to_numpy(layer.position_embeddings)
    np.testing.assert_allclose(outputs, x + table[None, :5], atol=1e-6)
    with pytest.raises(ValueError, match="sequence_length=8"):
        layer(np.zeros((1, 6, 4), "float32"), start_index=3)
