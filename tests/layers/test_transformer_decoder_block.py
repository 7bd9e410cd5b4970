"""TransformerDecoderBlock: causal self-attention, cross-attention, cache."""

import numpy as np
import pytest

import keras
from keras import ops

from keras_attention.layers import TransformerDecoderBlock, TransformerEncoderBlock
from tests.layer_contract import check_layer_contract

BATCH, LENGTH, HIDDEN = 2, 5, 16


def _x(rng, length=LENGTH):
    return rng.standard_normal((BATCH, length, HIDDEN)).astype("float32")


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "kwargs, with_encoder",
    [({}, True), ({"normalize_first": True, "use_rotary_embedding": True}, False)],
)
def test_decoder_contract(rng, tmp_path, kwargs, with_encoder):
    inputs = (_x(rng), _x(rng, 7)) if with_encoder else _x(rng)
    check_layer_contract(
        lambda **extra: TransformerDecoderBlock(2, 32, **kwargs, **extra), inputs, tmp_path
    )


def test_decoder_is_causal(rng):
    x = _x(rng)
    block = TransformerDecoderBlock(2, 32)
    changed = x.copy()
    changed[:, -1] += 5.0
    np.testing.assert_allclose(_np(block(x))[:, :-1], _np(block(changed))[:, :-1], atol=1e-5)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_cached_steps_equal_full_pass(rng, normalize_first):
    x, encoder = _x(rng), _x(rng, 7)
    encoder_padding = np.array([[1] * 7, [1, 1, 1, 1, 0, 0, 0]])
    block = TransformerDecoderBlock(2, 32, normalize_first=normalize_first)
    full = _np(block(x, encoder, encoder_padding_mask=encoder_padding))
    self_cache = block.self_attention.initial_cache(BATCH, LENGTH)
    cross_cache = block.cross_attention.project_key_value(encoder)
    steps = []
    for index in range(LENGTH):
        output, self_cache = block(
            x[:, index : index + 1],
            encoder_padding_mask=encoder_padding,
            self_attention_cache=self_cache,
            self_attention_cache_index=index,
            cross_attention_cache=cross_cache,
        )
        steps.append(_np(output))
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)


def test_decoder_scores_dict(rng):
    outputs, scores = TransformerDecoderBlock(2, 32)(
        _x(rng), _x(rng, 7), return_attention_scores=True
    )
    assert tuple(scores["self_attention"].shape) == (BATCH, 2, LENGTH, LENGTH)
    assert tuple(scores["cross_attention"].shape) == (BATCH, 2, LENGTH, 7)


def test_decoder_cached_step_returns_the_cache_then_the_scores(rng):
    x, encoder = _x(rng), _x(rng, 7)
    block = TransformerDecoderBlock(2, 32)
    block(x, encoder)
    cache = block.self_attention.initial_cache(BATCH, LENGTH + 2)
    outputs, cache, scores = block(
        x[:, :1],
        self_attention_cache=cache,
        self_attention_cache_index=0,
        cross_attention_cache=block.cross_attention.project_key_value(encoder),
        return_attention_scores=True,
    )
    assert tuple(outputs.shape) == (BATCH, 1, HIDDEN)
    assert tuple(cache.shape) == (BATCH, 2, 2, LENGTH + 2, HIDDEN // 2)
    assert tuple(scores["self_attention"].shape) == (BATCH, 2, 1, LENGTH + 2)
    assert tuple(scores["cross_attention"].shape) == (BATCH, 2, 1, 7)


def test_decoder_cache_and_cache_index_go_together(rng):
    block = TransformerDecoderBlock(2, 32)
    block(_x(rng))
    cache = block.self_attention.initial_cache(BATCH, LENGTH)
    with pytest.raises(ValueError, match="go together"):
        block(_x(rng)[:, :1], self_attention_cache=cache)
    with pytest.raises(ValueError, match="self_attention_cache_index=2"):
        block(_x(rng)[:, :1], self_attention_cache_index=2)


def test_decoder_cross_attention_misuse(rng):
    gpt_block = TransformerDecoderBlock(2, 32)
    gpt_block(_x(rng))
    with pytest.raises(ValueError, match="without cross-attention"):
        gpt_block(_x(rng), _x(rng))
    seq2seq_block = TransformerDecoderBlock(2, 32)
    seq2seq_block(_x(rng), _x(rng))
    with pytest.raises(ValueError, match="has cross-attention"):
        seq2seq_block(_x(rng))


def test_blocks_compose_into_a_functional_model(rng):
    token_ids = keras.Input((LENGTH,), dtype="int32")
    x = keras.layers.Embedding(10, HIDDEN, mask_zero=True)(token_ids)
    x = TransformerEncoderBlock(2, 32)(x)
    x = TransformerDecoderBlock(2, 32)(x)
    model = keras.Model(token_ids, keras.layers.Dense(10)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = rng.integers(1, 10, (8, LENGTH))
    history = model.fit(ids, ids, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
