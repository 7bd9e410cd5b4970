"""Every kernel and embedding of a layer starts from its own random draw, with
the spread its initializer promises.

Expected standard deviations are worked out here from the definitions, not read
from the layers: glorot_uniform draws from U(-l, l) with l = sqrt(6 / (fan_in +
fan_out)), so its std is l / sqrt(3) = sqrt(2 / (fan_in + fan_out)); U(a, b) has
std (b - a) / sqrt(12); a normal truncated at two standard deviations has std
sigma * sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)).
"""

import itertools
import math

import keras
import numpy as np
import pytest

from keras_attention.layers import (
    FeedForward,
    MultiHeadAttention,
    PositionEmbedding,
    TokenAndPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)


def glorot_uniform_std(shape):
    fan_in, fan_out = shape
    return math.sqrt(2.0 / (fan_in + fan_out))


def uniform_std(low, high):
    return (high - low) / math.sqrt(12.0)


def truncated_normal_std(stddev):
    density = math.exp(-2.0) / math.sqrt(2.0 * math.pi)  # phi(2)
    mass = math.erf(2.0 / math.sqrt(2.0))  # Phi(2) - Phi(-2)
    return stddev * math.sqrt(1.0 - 4.0 * density / mass)


def random_weights(owner):
    """`{path: values}` of the randomly initialised weights (kernels, embeddings)."""
    return {
        weight.path: keras.ops.convert_to_numpy(weight)
        for weight in owner.weights
        if weight.path.endswith("kernel") or weight.path.endswith("embeddings")
    }


def assert_independent(weights):
    """No two weights are equal or one a rescaled prefix of the other.

    Two independent draws of n values have a correlation of about
    N(0, 1/n); weights drawn from one seed correlate exactly (+-1).
    """
    assert len(weights) >= 2
    for (name_a, a), (name_b, b) in itertools.combinations(weights.items(), 2):
        size = min(a.size, b.size)
        a, b = a.ravel()[:size], b.ravel()[:size]
        assert not np.array_equal(a, b), f"{name_a} == {name_b}"
        correlation = abs(np.corrcoef(a, b)[0, 1])
        assert correlation < 5.0 / math.sqrt(size), (
            f"{name_a} and {name_b} share a random stream: "
            f"|correlation|={correlation:.3f} over {size} values"
        )


def assert_std(name, values, expected):
    # The sample std of n draws is within ~0.7/sqrt(n) (relative) of the true
    # std for a normal, less for a uniform: 3/sqrt(n) is over 4 standard errors.
    tolerance = 3.0 / math.sqrt(values.size)
    assert np.std(values) == pytest.approx(expected, rel=tolerance), name


def check(layer, build_shapes, count, expected_std):
    """Build `layer`; its `count` random weights are independent, each with
    `expected_std(shape)`."""
    layer.build(*build_shapes)
    weights = random_weights(layer)
    assert len(weights) == count
    assert_independent(weights)
    for name, values in weights.items():
        assert_std(name, values, expected_std(values.shape))


def test_attention_projections_start_different():
    layer = MultiHeadAttention(num_heads=4, key_dim=8)
    check(layer, [(2, 5, 32)], 4, glorot_uniform_std)


def test_cross_attention_and_grouped_heads_start_different():
    layer = MultiHeadAttention(
        num_heads=4, key_dim=8, num_key_value_heads=2, kernel_initializer="he_normal"
    )
    # He et al. 2015: std sqrt(2 / fan_in) (Keras widens the truncated normal
    # so that its std is exactly this).
    check(layer, [(2, 5, 32), (2, 7, 24)], 4, lambda shape: math.sqrt(2.0 / shape[0]))


@pytest.mark.parametrize("activation", ["relu", "swiglu"])
def test_feed_forward_kernels_start_different(activation):
    layer = FeedForward(64, activation=activation)
    check(layer, [(2, 5, 32)], 2, glorot_uniform_std)


def test_token_and_learned_position_embeddings_start_different():
    layer = TokenAndPositionEmbedding(100, 40, 32, position="learned")
    check(layer, [(2, 5)], 2, lambda shape: uniform_std(-0.05, 0.05))


def test_position_embedding_std():
    layer = PositionEmbedding(40)
    layer.build((2, 5, 32))
    values = keras.ops.convert_to_numpy(layer.position_embeddings)
    assert_std("embeddings", values, glorot_uniform_std(values.shape))


def test_a_stateful_seed_is_kept():
    # A SeedGenerator-seeded initializer advances on each call: sharing it
    # gives distinct weights, a clone (restarting the generator) would not.
    initializer = keras.initializers.GlorotUniform(seed=keras.random.SeedGenerator(3))
    layer = MultiHeadAttention(num_heads=4, key_dim=8, kernel_initializer=initializer)
    check(layer, [(2, 5, 32)], 4, glorot_uniform_std)


def test_encoder_block_kernels_start_different():
    block = TransformerEncoderBlock(num_heads=4, intermediate_dim=64)
    check(block, [(2, 5, 32)], 6, glorot_uniform_std)


def test_decoder_block_kernels_start_different():
    initializer = keras.initializers.RandomNormal(stddev=0.02)
    block = TransformerDecoderBlock(
        num_heads=4, intermediate_dim=64, kernel_initializer=initializer
    )
    check(block, [(2, 5, 32), (2, 7, 32)], 10, lambda shape: 0.02)
