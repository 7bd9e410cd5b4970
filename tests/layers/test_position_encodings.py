"""Sinusoidal, learned and rotary positions, and the token+position embedding."""

import math

import numpy as np
import pytest

import keras
from keras import ops

from keras_attention.layers import (
    PositionEmbedding,
    RotaryEmbedding,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
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


def test_learned_positions_are_added_and_bounded(rng):
    layer = PositionEmbedding(sequence_length=8)
    x = rng.standard_normal((2, 5, 4)).astype("float32")
    outputs = ops.convert_to_numpy(layer(x))
    table = ops.convert_to_numpy(layer.position_embeddings)
    np.testing.assert_allclose(outputs, x + table[None, :5], atol=1e-6)
    with pytest.raises(ValueError, match="sequence_length=8"):
        layer(np.zeros((1, 6, 4), "float32"), start_index=3)


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


def test_token_and_position_embedding_scales_and_masks():
    layer = TokenAndPositionEmbedding(20, 8, 16, position="none", scale_embeddings=True)
    token_ids = np.array([[3, 4, 0]])
    outputs = ops.convert_to_numpy(layer(token_ids))
    table = ops.convert_to_numpy(layer.token_embedding.embeddings)
    np.testing.assert_allclose(outputs[0], table[[3, 4, 0]] * 4.0, atol=1e-6)
    mask = ops.convert_to_numpy(layer.compute_mask(token_ids))
    np.testing.assert_array_equal(mask, [[True, True, False]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"position": "absolute"}, "position='absolute'"),
        ({"vocabulary_size": 0}, "vocabulary_size=0"),
        ({"embedding_dim": -4}, "embedding_dim=-4"),
    ],
)
def test_token_and_position_embedding_bad_arguments(kwargs, message):
    arguments = {"vocabulary_size": 10, "sequence_length": 8, "embedding_dim": 4}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TokenAndPositionEmbedding(**arguments)


def test_token_ids_of_wrong_rank():
    with pytest.raises(ValueError, match=r"token_ids.shape=\(2, 3, 4\)"):
        TokenAndPositionEmbedding(10, 8, 4)(np.zeros((2, 3, 4), "int32"))


@pytest.mark.parametrize("position", ["sinusoidal", "learned", "rotary"])
def test_token_and_position_embedding_contract(tmp_path, position):
    token_ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")
    check_layer_contract(
        lambda **extra: TokenAndPositionEmbedding(10, 4, 8, position=position, **extra),
        token_ids,
        tmp_path,
    )


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
