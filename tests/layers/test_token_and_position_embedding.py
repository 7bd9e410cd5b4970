"""TokenAndPositionEmbedding: token ids to embeddings plus positions."""


import numpy as np
import pytest

from keras import ops

from keras_attention.layers import (
    TokenAndPositionEmbedding,
)
from tests.layer_contract import check_layer_contract


def test_token_and_position_embedding_scales_and_masks():
    layer = TokenAndPositionEmbedding(20, 8, 16, position="none", scale_embeddings=True)
    token_ids = np.array([[3, 4, 0]])
    outputs = ops.convert_to_numpy(layer(token_ids))
    table = ops.convert_to_numpy(layer.token_embedding.embeddings)
    np.testing.assert_allclose(outputs[0], table[[3, 4, 0]] * 4.0, atol=1e-6)
    mask = ops.convert_to_numpy(layer.compute_mask(token_ids))
    np.testing.assert_array_equal(mask, [[True, True, False]])


def test_the_pad_token_id_is_configurable():
    token_ids = np.array([[3, 0, 5, 5]])
    masked = TokenAndPositionEmbedding(20, 8, 4, pad_token_id=5)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(masked.compute_mask(token_ids)), [[True, True, False, False]]
    )
    unmasked = TokenAndPositionEmbedding(20, 8, 4, pad_token_id=None)
    assert unmasked.compute_mask(token_ids) is None
    assert TokenAndPositionEmbedding.from_config(unmasked.get_config()).pad_token_id is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"position": "absolute"}, "position='absolute'"),
        ({"pad_token_id": 10}, r"in \[0, 10\). Received: pad_token_id=10"),
        ({"pad_token_id": True}, "pad_token_id=True"),
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
