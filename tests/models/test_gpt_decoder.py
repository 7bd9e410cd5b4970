import numpy as np
import pytest

from keras_attention.models import GPTDecoder, Sampler
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


def _uncached_greedy(model, prompt, total_length):
    tokens = list(prompt)
    while len(tokens) < total_length:
        logits = np.array(model(np.array([tokens])))[0, -1]
        logits[0] = -np.inf  # the engine never emits padding
        tokens.append(int(np.argmax(logits)))
    return tokens


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


def test_dtype_policy_is_kept_through_saving(tmp_path):
    model = _tiny(dtype="mixed_bfloat16")
    assert model.dtype_policy.name == "mixed_bfloat16"
    model.save(tmp_path / "gpt.keras")
    import keras

    restored = keras.saving.load_model(tmp_path / "gpt.keras")
    assert restored.dtype_policy.name == "mixed_bfloat16"
    assert restored.blocks[0].compute_dtype == "bfloat16"
