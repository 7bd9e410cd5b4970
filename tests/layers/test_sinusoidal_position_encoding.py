"""SinusoidalPositionEncoding, and the contract of the three position layers."""

import math

import numpy as np
import pytest

from keras import ops

from keras_attention.layers import (
    PositionEmbedding,
    RotaryEmbedding,
    SinusoidalPositionEncoding,
)
from tests.layer_contract import check_layer_contract


def test_sinusoidal_matches_the_paper():
    length, dim = 50, 16
    outputs = ops.convert_to_numpy(
        SinusoidalPositionEncoding()(np.zeros((1, length, dim), "float32"))
    )[0]
    for pos in (0, 7, 49):
        for i in range(dim // 2):
            angle = pos / 10000 ** (2 * i / dim)
            assert outputs[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-5)
            assert outputs[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_start_index_continues_the_sequence():
    layer = SinusoidalPositionEncoding()
    full = ops.convert_to_numpy(layer(np.zeros((1, 10, 8), "float32")))
    tail = ops.convert_to_numpy(layer(np.zeros((1, 3, 8), "float32"), start_index=7))
    np.testing.assert_allclose(tail, full[:, 7:], atol=1e-6)


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda **extra: SinusoidalPositionEncoding(**extra),
        lambda **extra: PositionEmbedding(6, **extra),
        lambda **extra: RotaryEmbedding(**extra),
    ],
    ids=["sinusoidal", "learned", "rotary"],
)
def test_position_layer_contract(rng, tmp_path, make_layer):
    x = rng.standard_normal((2, 6, 8)).astype("float32")
    check_layer_contract(make_layer, x, tmp_path)
