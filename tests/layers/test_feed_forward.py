import numpy as np
import pytest

from keras import ops

from keras_attention.layers import FeedForward
from tests.layer_contract import check_layer_contract


@pytest.mark.parametrize("activation", ["relu", "gelu", "swiglu"])
def test_contract(rng, tmp_path, activation):
    check_layer_contract(
        lambda **extra: FeedForward(32, activation=activation, dropout=0.1, **extra),
        rng.standard_normal((2, 5, 8)).astype("float32"),
        tmp_path,
    )


def test_relu_matches_the_formula(rng):
    x = rng.standard_normal((2, 3, 8)).astype("float32")
    layer = FeedForward(16)
    outputs = ops.convert_to_numpy(layer(x))
    w1, b1, w2, b2 = (np.array(w) for w in layer.get_weights())
    np.testing.assert_allclose(outputs, np.maximum(x @ w1 + b1, 0) @ w2 + b2, atol=1e-5)


def test_swiglu_matches_the_formula(rng):
    x = rng.standard_normal((2, 3, 8)).astype("float32")
    layer = FeedForward(16, activation="swiglu")
    outputs = ops.convert_to_numpy(layer(x))
    w1, b1, w2, b2 = (np.array(w) for w in layer.get_weights())
    gate, up = np.split(x @ w1 + b1, 2, axis=-1)
    silu = gate / (1 + np.exp(-gate))
    np.testing.assert_allclose(outputs, (silu * up) @ w2 + b2, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"intermediate_dim": 0}, "intermediate_dim=0"),
        ({"intermediate_dim": 8, "activation": "tanh"}, "activation='tanh'"),
        ({"intermediate_dim": 8, "dropout": 1.5}, "dropout=1.5"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeedForward(**kwargs)
