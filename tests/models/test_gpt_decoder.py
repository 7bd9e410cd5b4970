import numpy as np
import pytest

from keras_attention.models import GPTDecoder, Sampler
from tests.reference.ngrams import repeating_tokens
from tests.models.model_contract import (
    check_keras_round_trip,
    check_mixed_precision_jit_step,
    check_overfits,
)


def _tiny(**overrides):
    return GPTDecoder.from_preset("gpt_tiny", **overrides)


def _batch(rng, batch=4, length=12):
    ids = rng.integers(3, 100, (batch, length)).astype("int32")
    ids[1, 8:] = 0  # a padded row
    return ids[:, :-1], ids[:, 1:]


def test_trains_and_overfits_a_tiny_batch(rng):
    inputs, targets = _batch(rng)
    check_overfits(_tiny(), inputs, targets, steps=80)


def test_keras_round_trip(rng, tmp_path):
    inputs, _ = _batch(rng)
    restored = check_keras_round_trip(_tiny(position="rotary", num_key_value_heads=1), inputs, tmp_path)
    assert isinstance(restored, GPTDecoder)


def test_mixed_precision_and_jit(rng):
    inputs, targets = _batch(rng)
    check_mixed_precision_jit_step(_tiny, inputs, targets)


def _uncached_greedy(model, prompt, total_length, no_repeat_ngram_size=None):
    tokens = list(prompt)
    while len(tokens) < total_length:
        logits = np.array(model(np.array([tokens])))[0, -1]
        logits[0] = -np.inf  # the engine never emits padding
        if no_repeat_ngram_size:
            logits[list(repeating_tokens(tokens, no_repeat_ngram_size))] = -np.inf
        tokens.append(int(np.argmax(logits)))
    return tokens


def test_greedy_without_repeated_ngrams_equals_an_uncached_search():
    model = _tiny()
    prompts = np.array([[5, 6, 5, 6], [9, 10, 0, 0]])  # the prompt's bigrams count too
    generated = model.generate(prompts, max_new_tokens=8, no_repeat_ngram_size=2)
    for row, prompt in enumerate(([5, 6, 5, 6], [9, 10])):
        expected = _uncached_greedy(model, prompt, len(prompt) + 8 + (2 if row else 0), 2)
        assert generated[row].tolist() == expected
    assert model.generate(prompts, max_new_tokens=8).tolist() != generated.tolist()


@pytest.mark.parametrize("position", ["learned", "rotary"])
def test_cached_greedy_equals_uncached_greedy(position):
    model = _tiny(position=position)
    prompts = np.array([[5, 6, 7, 8], [9, 10, 0, 0]])
    generated = model.generate(prompts, max_new_tokens=6)
    assert generated.shape == (2, 10)
    for row, prompt in enumerate(([5, 6, 7, 8], [9, 10])):
        expected = _uncached_greedy(model, prompt, len(prompt) + 6 + (2 if row else 0))
        assert generated[row].tolist() == expected


def test_second_generate_call_does_not_retrace():
    model = _tiny()
    prompts = np.array([[5, 6, 7]])
    model.generate(prompts, max_new_tokens=4)
    (function,) = model._compiled._functions.values()
    traces = function.experimental_get_tracing_count()
    model.generate(np.array([[8, 9, 10]]), max_new_tokens=4)
    assert function.experimental_get_tracing_count() == traces == 1


def test_sampling_is_seedable_and_respects_top_k():
    model = _tiny()
    prompts = np.array([[5, 6, 7], [8, 9, 0]])
    sampler = dict(temperature=1.0, top_p=0.9, seed=7)
    first = model.generate(prompts, 8, sampler=Sampler(**sampler))
    second = model.generate(prompts, 8, sampler=sampler)
    np.testing.assert_array_equal(first, second)
    other = model.generate(prompts, 8, sampler=dict(sampler, seed=8))
    assert not np.array_equal(first, other)
    greedy = model.generate(prompts, 8)
    top_1 = model.generate(prompts, 8, sampler=Sampler(temperature=1.0, top_k=1, seed=3))
    np.testing.assert_array_equal(top_1, greedy)


def test_end_token_stops_a_row():
    model = _tiny()
    prompts = np.array([[5, 6, 7]])
    greedy = model.generate(prompts, 6)
    end = int(greedy[0, 4])  # pretend the second new token is the end token
    stopped = model.generate(prompts, 6, end_token_id=end)
    first_end = list(stopped[0, 3:]).index(end) + 3
    assert np.all(stopped[0, first_end + 1 :] == 0)


def _shared_weights(model, **overrides):
    """A tiny GPT with `overrides` and `model`'s weights."""
    other = _tiny(**overrides)
    other.set_weights(model.get_weights())
    return other


def test_without_a_pad_token_id_zero_is_an_ordinary_token():
    padded = _tiny()
    unpadded = _shared_weights(padded, pad_token_id=None)
    assert unpadded.get_config()["pad_token_id"] is None
    assert GPTDecoder.from_config(unpadded.get_config()).pad_token_id is None
    ids = np.array([[5, 0, 7]])
    with_pad, without_pad = np.asarray(padded(ids)), np.asarray(unpadded(ids))
    np.testing.assert_allclose(with_pad[:, :1], without_pad[:, :1], atol=1e-6)
    # With pad id 0 position 2 cannot see the "!" at position 1; without, it does.
    assert np.abs(with_pad[:, 2] - without_pad[:, 2]).max() > 1e-3
    # Another pad id masks that id instead.
    other = _shared_weights(padded, pad_token_id=7)
    np.testing.assert_allclose(
        np.asarray(other(np.array([[5, 6, 7]])))[:, :2], np.asarray(padded(np.array([[5, 6]]))), atol=1e-6
    )


def test_right_padding_without_a_pad_token_leaves_real_positions_alone():
    model = _tiny(pad_token_id=None)
    batch = np.array([[5, 6, 7, 8], [9, 10, 3, 0]])  # row 1: 2 real tokens, any padding ids
    logits = np.asarray(model(batch))
    np.testing.assert_allclose(logits[1, :2], np.asarray(model(batch[1:, :2]))[0], atol=1e-5)


def _prefers_token_zero(model):
    """Make every position's logits peak at token 0 (final norm outputs `v`, row 0 of
    the tied embedding is `10 v`)."""
    v = np.random.default_rng(0).standard_normal(model.hidden_dim).astype("float32")
    model.final_norm.gamma.assign(np.zeros_like(v))
    model.final_norm.beta.assign(v)
    table = model.embedding.token_embedding.embeddings
    table.assign(np.concatenate([10 * v[None], np.asarray(table)[1:]]))
    return model


def test_generate_can_emit_token_zero_without_a_pad_token():
    padded = _prefers_token_zero(_tiny())
    unpadded = _shared_weights(padded, pad_token_id=None)
    prompts = np.array([[5, 6, 7], [9, 10, 11]])
    assert 0 not in padded.generate(prompts, 3)[:, 3:]
    np.testing.assert_array_equal(unpadded.generate(prompts, 3)[:, 3:], 0)
    # The sampler forbids the pad id it is given, none when it is None.
    logits = np.asarray(unpadded(prompts))[:, -1]
    assert Sampler()(logits, pad_token_id=None).numpy().tolist() == [0, 0]
    assert 0 not in Sampler()(logits).numpy().tolist()


def test_generate_takes_a_padding_mask_without_a_pad_token():
    model = _tiny(pad_token_id=None)
    prompts = np.array([[5, 0, 7, 8], [9, 0, 3, 3]])  # id 0 is a real token here
    padding_mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]])
    generated = model.generate(prompts, max_new_tokens=4, padding_mask=padding_mask)
    for row, prompt in enumerate(([5, 0, 7, 8], [9, 0])):
        tokens = list(prompt)
        while len(tokens) < len(prompt) + 4:
            tokens.append(int(np.argmax(np.asarray(model(np.array([tokens])))[0, -1])))
        assert generated[row, : len(tokens)].tolist() == tokens
    with pytest.raises(ValueError, match="padding on the right only"):
        model.generate(prompts, 2, padding_mask=np.array([[1, 1, 1, 1], [0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="shape of `prompt_token_ids`"):
        model.generate(prompts, 2, padding_mask=np.ones((2, 3)))
    # No mask and no pad token: every position is prompt.
    assert model.generate(prompts, 2).shape == (2, 6)


def test_end_token_without_a_pad_token_fills_with_the_end_token():
    model = _tiny(pad_token_id=None)
    prompts = np.array([[5, 6, 7]])
    end = int(model.generate(prompts, 6)[0, 4])
    stopped = model.generate(prompts, 6, end_token_id=end)
    first_end = list(stopped[0, 3:]).index(end) + 3
    assert np.all(stopped[0, first_end:] == end)


def test_attention_scores_every_layer():
    model = _tiny()
    scores = model.attention_scores(np.array([[5, 6, 7, 0]]))
    assert sorted(scores) == ["decoder_layer_0", "decoder_layer_1"]
    for value in scores.values():
        value = np.array(value)
        assert value.shape == (1, 2, 4, 4)
        assert np.all(np.triu(value[0], k=1) == 0)


def test_bad_input():
    model = _tiny()
    with pytest.raises(ValueError, match="maximum length 64"):
        model.generate(np.ones((1, 60), "int32"), max_new_tokens=10)
    with pytest.raises(ValueError, match="Known presets: gpt2_medium, gpt2_small"):
        GPTDecoder.from_preset("gpt5")
    with pytest.raises(ValueError, match="top_p=1.5"):
        Sampler(temperature=1.0, top_p=1.5)
    with pytest.raises(ValueError, match="top_p=0"):
        Sampler(temperature=1.0, top_p=0)
    with pytest.raises(ValueError, match="max_new_tokens=0"):
        model.generate(np.array([[1, 2]]), max_new_tokens=0)
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(np.array([[0, 0]]), max_new_tokens=2)
    with pytest.raises(ValueError, match="pad_token_id=100"):
        _tiny(pad_token_id=100)


def test_dtype_policy_is_kept_through_saving(tmp_path):
    model = _tiny(dtype="mixed_bfloat16")
    assert model.dtype_policy.name == "mixed_bfloat16"
    model.save(tmp_path / "gpt.keras")
    import keras

    restored = keras.saving.load_model(tmp_path / "gpt.keras")
    assert restored.dtype_policy.name == "mixed_bfloat16"
    assert restored.blocks[0].compute_dtype == "bfloat16"
