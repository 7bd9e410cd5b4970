"""Compiled decoders follow every argument of every call.

A model keeps its compiled generate functions between calls; a function
traced for one call must not answer a later call whose arguments differ. Each
test decodes once with some arguments (compiling), then with one argument
changed, and compares with what a fresh copy of the model decodes for the
changed arguments alone: uncompiled where decoding is deterministic, its own
first compiled call where it samples.
"""

import numpy as np
import pytest

import keras

from keras_attention.models import GPTDecoder, Seq2SeqTransformer
from keras_attention.models.generation import Sampler

SOURCES = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]], "int32")
SAMPLING = {"temperature": 1.0, "seed": 0}


def _fresh_copy(model):
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _greedy(next_logits, tokens, length, end_token_id):
    """Greedy continuation of `tokens` to `length` by full forward passes
    (`next_logits(tokens)` -> the next token's logits), without the
    generation engine; padded with 0 after `end_token_id`."""
    tokens = list(tokens)
    while len(tokens) < length:
        logits = np.array(next_logits(tokens), "float64")
        logits[0] = -np.inf  # the engine never emits padding
        tokens.append(int(np.argmax(logits)))
        if tokens[-1] == end_token_id:
            break
    return tokens + [0] * (length - len(tokens))


def _seq2seq_greedy(model, sources, start_token_id, end_token_id, max_length):
    def next_logits(source):
        return lambda tokens: model(
            {"encoder_token_ids": source[None], "decoder_token_ids": np.array([tokens])}
        )[0, -1]

    return np.array(
        [
            _greedy(next_logits(source), [start_token_id], max_length, end_token_id)
            for source in sources
        ]
    )


@pytest.fixture
def seq2seq():
    return Seq2SeqTransformer.from_preset("transformer_tiny")


def _end_token(model):
    # A token greedy decoding produces early, so ending on it changes the output.
    return int(model.generate(SOURCES, 1, max_length=4)[0, 2])


@pytest.mark.parametrize(
    "change",
    [
        {"start_token_id": 3},
        {"end_token_id": "produced"},
        {"max_length": 8},
    ],
    ids=lambda change: next(iter(change)),
)
def test_seq2seq_generate_follows_changed_arguments(seq2seq, change):
    first = {"start_token_id": 1, "end_token_id": None, "max_length": 6}
    if change.get("end_token_id") == "produced":
        change = {"end_token_id": _end_token(seq2seq)}
    second = {**first, **change}
    fresh = _fresh_copy(seq2seq)
    before = seq2seq.generate(SOURCES, **first)
    after = seq2seq.generate(SOURCES, **second)
    expected = _seq2seq_greedy(fresh, SOURCES, **second)
    np.testing.assert_array_equal(after, expected)
    assert after.shape != before.shape or not np.array_equal(after, before)


SAMPLER_CHANGES = pytest.mark.parametrize(
    "first_sampler, second_sampler",
    [
        ("greedy", SAMPLING),
        (SAMPLING, {**SAMPLING, "top_k": 2}),
        ({**SAMPLING, "top_k": 2}, {**SAMPLING, "top_k": 2, "seed": 1}),
        (SAMPLING, {**SAMPLING, "top_p": 0.1}),
        (SAMPLING, {**SAMPLING, "temperature": 0.01}),
    ],
    ids=["greedy-to-sampling", "top_k", "seed", "top_p", "temperature"],
)


def _check_sampler_change(model, generate, first_sampler, second_sampler):
    """`generate(model, sampler)` after another sampler equals a fresh copy's first call."""
    fresh = _fresh_copy(model)
    before = generate(model, first_sampler)
    after = generate(model, Sampler(**second_sampler))
    np.testing.assert_array_equal(after, generate(fresh, second_sampler))
    assert not np.array_equal(after, before)


@SAMPLER_CHANGES
def test_seq2seq_generate_follows_changed_sampler(seq2seq, first_sampler, second_sampler):
    def generate(model, sampler):
        return model.generate(SOURCES, 1, max_length=8, sampler=sampler)

    _check_sampler_change(seq2seq, generate, first_sampler, second_sampler)


@pytest.mark.parametrize(
    "change",
    [
        {"start_token_id": 3},
        {"end_token_id": "produced"},
        {"max_length": 8},
        {"beam_size": 3},
        {"length_penalty": 0.0},
    ],
    ids=lambda change: next(iter(change)),
)
def test_seq2seq_beam_search_follows_changed_arguments(seq2seq, change):
    first = {
        "start_token_id": 1, "end_token_id": None, "max_length": 6, "beam_size": 2,
        "length_penalty": 0.6,
    }
    if change.get("end_token_id") == "produced":
        change = {"end_token_id": _end_token(seq2seq)}
    second = {**first, **change}
    fresh = _fresh_copy(seq2seq)
    before = seq2seq.beam_search(SOURCES, **first)
    sequences, scores = seq2seq.beam_search(SOURCES, **second)
    # Uncompiled decoding on the fresh copy.
    expected_sequences, expected_scores = fresh.decode_beams(
        keras.ops.convert_to_tensor(SOURCES), **second
    )
    np.testing.assert_array_equal(sequences, np.asarray(expected_sequences))
    np.testing.assert_allclose(scores, np.asarray(expected_scores), atol=1e-5)
    assert scores.shape != before[1].shape or not np.allclose(scores, before[1])


def _gpt_greedy(model, prompts, max_new_tokens, end_token_id):
    def next_logits(tokens):
        return model(np.array([tokens]))[0, -1]

    width = prompts.shape[1] + max_new_tokens
    prompts = [[token for token in prompt if token != 0] for prompt in prompts]
    return np.array([_greedy(next_logits, prompt, width, end_token_id) for prompt in prompts])


@pytest.fixture
def gpt():
    return GPTDecoder.from_preset("gpt_tiny")


PROMPTS = np.array([[5, 6, 7], [8, 9, 0]], "int32")


@pytest.mark.parametrize(
    "change",
    [
        {"prompt_token_ids": np.array([[5, 6, 0], [8, 9, 0]], "int32")},
        {"end_token_id": "produced"},
        {"max_new_tokens": 6},
    ],
    ids=["shorter-prompts", "end_token_id", "max_new_tokens"],
)
def test_gpt_generate_follows_changed_arguments(gpt, change):
    first = {"prompt_token_ids": PROMPTS, "max_new_tokens": 4, "end_token_id": None}
    if change.get("end_token_id") == "produced":
        change = {"end_token_id": int(gpt.generate(PROMPTS, 4)[0, 4])}
    second = {**first, **change}
    fresh = _fresh_copy(gpt)
    before = gpt.generate(**first)
    after = gpt.generate(**second)
    expected = _gpt_greedy(
        fresh, second["prompt_token_ids"], second["max_new_tokens"], second["end_token_id"]
    )
    np.testing.assert_array_equal(after, expected)
    assert after.shape != before.shape or not np.array_equal(after, before)


@SAMPLER_CHANGES
def test_gpt_generate_follows_changed_sampler(gpt, first_sampler, second_sampler):
    def generate(model, sampler):
        return model.generate(PROMPTS, 8, sampler=sampler)

    _check_sampler_change(gpt, generate, first_sampler, second_sampler)
