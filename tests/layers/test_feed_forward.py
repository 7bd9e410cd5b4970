import numpy as np
import pytest

from keras import ops

from keras_attention.layers import FeedForward
from tests.layer_contract import check_layer_contract


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_approximate", "swiglu"])
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


def test_gelu_approximate_matches_the_tanh_formula(rng):
    # Wide inputs, where tanh GELU and exact GELU differ by up to ~1e-3.
    x = (rng.standard_normal((2, 3, 8)) * 3).astype("float32")
    layer = FeedForward(16, activation="gelu_approximate")
    outputs = ops.convert_to_numpy(layer(x))
    w1, b1, w2, b2 = (np.array(w, "float64") for w in layer.get_weights())
    h = x.astype("float64") @ w1 + b1
    tanh_gelu = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))
    np.testing.assert_allclose(outputs, tanh_gelu @ w2 + b2, atol=1e-5)
    layer_exact = FeedForward(16, activation="gelu")
    layer_exact.build(x.shape)
    layer_exact.set_weights(layer.get_weights())
    exact = ops.convert_to_numpy(layer_exact(x))
    assert np.abs(exact - outputs).max() > 1e-5  # not the exact GELU


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
