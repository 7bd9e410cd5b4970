"""TransformerEncoderBlock, and the arguments both blocks share."""

import numpy as np
import pytest

from keras import ops

from keras_attention.layers import (
    MultiHeadAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from tests.layer_contract import check_layer_contract

BATCH, LENGTH, HIDDEN = 2, 5, 16


def _x(rng, length=LENGTH):
    return rng.standard_normal((BATCH, length, HIDDEN)).astype("float32")


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"normalize_first": True, "norm": "rms", "activation": "swiglu"},
        {"dropout": 0.1, "attention_dropout": 0.1, "attention_window": 2, "seed": 1},
        {"query_chunk_size": 2},
    ],
)
def test_encoder_contract(rng, tmp_path, kwargs):
    check_layer_contract(
        lambda **extra: TransformerEncoderBlock(2, 32, **kwargs, **extra),
        _x(rng),
        tmp_path,
    )


def test_post_ln_wiring_matches_the_paper(rng):
    """x1 = LN(x + Attention(x)); y = LN(x1 + FFN(x1))   (paper §3.1)."""
    x = _x(rng)
    block = TransformerEncoderBlock(2, 32)
    outputs = _np(block(x))
    x1 = block.self_attention_norm(x + block.self_attention(x))
    expected = block.feed_forward_norm(x1 + block.feed_forward(x1))
    np.testing.assert_allclose(outputs, _np(expected), atol=1e-5)


def test_pre_ln_wiring(rng):
    """x1 = x + Attention(LN(x)); y = x1 + FFN(LN(x1))."""
    x = _x(rng)
    block = TransformerEncoderBlock(2, 32, normalize_first=True)
    outputs = _np(block(x))
    x1 = x + block.self_attention(block.self_attention_norm(x))
    expected = x1 + block.feed_forward(block.feed_forward_norm(x1))
    np.testing.assert_allclose(outputs, _np(expected), atol=1e-5)


@pytest.mark.parametrize("block_class", [TransformerEncoderBlock, TransformerDecoderBlock])
def test_query_chunk_size_reaches_every_attention_layer(rng, block_class):
    x = _x(rng)
    full, chunked = block_class(2, 32), block_class(2, 32, query_chunk_size=2)
    expected = full(x)
    chunked(x)
    chunked.set_weights(full.get_weights())
    np.testing.assert_allclose(_np(chunked(x)), _np(expected), atol=1e-5)
    attention = [
        layer for layer in chunked._flatten_layers() if isinstance(layer, MultiHeadAttention)
    ]
    assert attention and all(layer.query_chunk_size == 2 for layer in attention)


def test_layer_norm_normalises_each_token_across_features(rng):
    """Unlike batch norm, every token of every example is normalised on its own."""
    x = _x(rng) * 10 + 3
    block = TransformerEncoderBlock(2, 32)
    outputs = _np(block(x))
    np.testing.assert_allclose(outputs.mean(-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(outputs.std(-1), 1.0, atol=1e-2)
    single = _np(block(x[:1]))  # batch size does not change a token's output
    np.testing.assert_allclose(single, outputs[:1], atol=1e-5)


def test_encoder_padding_hides_padded_tokens(rng):
    x = _x(rng)
    block = TransformerEncoderBlock(2, 32)
    padding = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    changed = x.copy()
    changed[0, 3:] = 100.0  # what sits under the padding must not matter
    a = _np(block(x, padding_mask=padding))
    b = _np(block(changed, padding_mask=padding))
    np.testing.assert_allclose(a[0, :3], b[0, :3], atol=1e-5)


def test_encoder_returns_attention_scores(rng):
    outputs, scores = TransformerEncoderBlock(2, 32)(_x(rng), return_attention_scores=True)
    assert tuple(scores.shape) == (BATCH, 2, LENGTH, LENGTH)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"norm": "batch"}, "norm='batch'"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"attention_dropout": -0.5}, "attention_dropout=-0.5"),
        ({"norm_epsilon": 0}, "norm_epsilon=0"),
        ({"intermediate_dim": 0}, "intermediate_dim=0"),
        ({"attention_window": 0}, "attention_window=0"),
    ],
)
@pytest.mark.parametrize("block_class", [TransformerEncoderBlock, TransformerDecoderBlock])
def test_bad_arguments(block_class, kwargs, message):
    arguments = {"num_heads": 2, "intermediate_dim": 8}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        block_class(**arguments)


def test_bad_inputs(rng):
    with pytest.raises(ValueError, match=r"inputs.shape=\(2, 16\)"):
        TransformerEncoderBlock(2, 8)(np.zeros((2, 16), "float32"))
    with pytest.raises(ValueError, match="hidden size=16, num_heads=3"):
        TransformerEncoderBlock(3, 8)(_x(rng))
