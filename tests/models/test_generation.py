"""The generation engine's pieces: samplers, length penalty, seed handling."""

import numpy as np
import pytest

import keras

from keras_attention.models.generation import RowSampler, Sampler, TemperatureSampler, length_penalty

LOGITS = np.log(np.array([[0.05, 0.1, 0.6, 0.25], [0.4, 0.1, 0.2, 0.3]], "float32"))


def test_greedy_never_picks_padding():
    # Row 2's most likely token is 0 (padding): the next best is taken.
    assert np.asarray(Sampler()(LOGITS)).tolist() == [2, 3]


def test_top_k_and_top_p_restrict_the_draw():
    generator = keras.random.SeedGenerator(0)
    for _ in range(20):
        assert set(np.asarray(Sampler(1.0, top_k=1)(LOGITS, generator)).tolist()) <= {2, 3}
        draws = np.asarray(Sampler(1.0, top_p=0.5)(LOGITS, generator)).tolist()
        assert draws[0] == 2  # 0.6 alone reaches top_p


def test_temperature_sampler_is_greedy_at_zero():
    assert np.asarray(TemperatureSampler(0.0)(LOGITS)).tolist() == [2, 3]


@pytest.mark.parametrize(
    "settings",
    [{"temperature": 0.7}, {"temperature": 1.3, "top_k": 2}, {"temperature": 2.0, "top_p": 0.5},
     {"temperature": 1.0, "top_k": 3, "top_p": 0.9}],
)
def test_row_sampler_draws_what_the_sampler_draws(settings):
    """A served model's per-row settings go through `Sampler`'s sampling code:
    the same logits and seed state give the same tokens."""
    logits = np.random.default_rng(0).normal(size=(16, 11)).astype("float32") * 3
    rows = {name: np.full((16,), value, "int32" if name == "top_k" else "float32")
            for name, value in settings.items()}
    expected = Sampler(**settings)(logits, keras.random.SeedGenerator(3))
    served = RowSampler(rows.pop("temperature"), rows.get("top_k"), rows.get("top_p"))
    np.testing.assert_array_equal(served(logits, keras.random.SeedGenerator(3)), expected)


def test_row_sampler_applies_each_rows_settings():
    """Greedy where temperature is 0, top-k and top-p per row, 0 / 1 turning them off."""
    logits = np.log(np.array([[0.05, 0.1, 0.6, 0.25]] * 4, "float32"))
    sampler = RowSampler(np.array([0.0, 1.0, 1.0, 1.0], "float32"), top_k=np.array([0, 1, 0, 2], "int32"),
                         top_p=np.array([1.0, 1.0, 0.5, 1.0], "float32"))
    generator = keras.random.SeedGenerator(0)
    draws = np.array([np.asarray(sampler(logits, generator)) for _ in range(200)])
    assert set(draws[:, 0]) == {2} and set(draws[:, 1]) == {2} and set(draws[:, 2]) == {2}
    assert set(draws[:, 3]) == {2, 3}  # the two most likely, padding excluded
    unrestricted = RowSampler(np.ones((4,), "float32"), np.zeros((4,), "int32"), np.ones((4,), "float32"))
    assert {int(t) for _ in range(100) for t in np.asarray(unrestricted(logits, generator))} == {1, 2, 3}


def test_length_penalty_is_gnmts():
    assert float(length_penalty(1, 0.6)) == pytest.approx(1.0)
    assert float(length_penalty(7, 0.6)) == pytest.approx((12 / 6) ** 0.6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -1}, "temperature=-1"),
        ({"temperature": 1.0, "top_k": 0}, "top_k=0"),
        ({"temperature": 1.0, "top_p": 0}, "top_p=0"),
        ({"top_k": 5}, "need sampling"),
    ],
)
def test_bad_sampler_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sampler(**kwargs)


def test_sampler_get():
    assert Sampler.get("greedy").temperature == 0
    assert Sampler.get({"temperature": 0.5}).temperature == 0.5
    with pytest.raises(ValueError, match="sampler="):
        Sampler.get("beam")


def test_sample_loop_draws_the_seed_generators_stream_one_seed_per_step():
    from keras import ops

    from keras_attention.models.generation import sample_loop

    logits = np.zeros((2, 6), "float32")
    tokens = np.zeros((2, 6), "int32")
    tokens[:, 0] = 1
    prompt_mask = np.arange(6)[None, :] < np.ones((2, 1))

    def step(token_ids, cache, index):
        return ops.convert_to_tensor(logits), cache

    generator = keras.random.SeedGenerator(7)
    sampled = sample_loop(
        step, tokens, prompt_mask, ops.zeros((1,)), 1, Sampler(1.0), seed_generator=generator
    )
    # What the sampler draws when it advances a generator itself, step by step.
    reference = keras.random.SeedGenerator(7)
    expected = [np.asarray(Sampler(1.0)(logits, reference)) for _ in range(5)]
    np.testing.assert_array_equal(np.asarray(sampled)[:, 1:], np.stack(expected, axis=1))
    assert np.asarray(generator.state).tolist() == [7, 5]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_repeated_ngram_tokens_match_a_brute_force_search(n):
    import tensorflow as tf

    from keras_attention.models.generation import repeated_ngram_tokens
    from tests.reference.ngrams import repeating_tokens

    rng = np.random.default_rng(n)
    tokens = rng.integers(1, 4, (6, 12)).astype("int32")  # 3 tokens: many repeats
    compiled = tf.function(
        lambda t, i: repeated_ngram_tokens(t, i, n, 5),
        input_signature=[tf.TensorSpec((None, 12), tf.int32), tf.TensorSpec((), tf.int32)],
    )
    for index in range(0, 13):
        for banned in (repeated_ngram_tokens(tokens, index, n, 5), compiled(tokens, index)):
            banned = np.asarray(banned)
            assert banned.shape == (6, 5)
            for row in range(6):
                assert set(np.flatnonzero(banned[row])) == repeating_tokens(tokens[row][:index], n)
