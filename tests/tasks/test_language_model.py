"""`LanguageModelTask`: its preprocessor, model arguments, sampler, perplexity,
`predict` (each prompt continued on its own) and serving signatures."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
from keras_attention.models import Sampler
from keras_attention.tasks import LanguageModelTask, get_task
from keras_attention.tasks.language_model import mean_token_cross_entropy
from keras_attention.training.recipe import validate_recipe

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran"]
VOCABULARY_SIZE = len(RESERVED_TOKENS) + len(WORDS)
TEXTS = ["the cat sat on the mat", "a dog ran", "the dog sat on a cat", "a cat ran on the mat"]


def _task(evaluation=None) -> LanguageModelTask:
    recipe = validate_recipe({
        "task": {"kind": "language_model"},
        "data": {"max_length": 6},
        "model": {"preset": "gpt_tiny", "overrides": {"num_layers": 1, "hidden_dim": 16}},
        "evaluation": {"max_new_tokens": 3, **(evaluation or {})},
    })
    task = get_task(recipe)
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS + WORDS)}
    return task


def _ids(text):
    return [(RESERVED_TOKENS + WORDS).index(word) for word in text.split()]


def _greedy_text(task, model, prompt, max_new_tokens):
    """`prompt` continued by full forward passes (not the generation engine), as text."""
    ids = _ids(prompt)
    for _ in range(max_new_tokens):
        logits = np.array(model(np.array([ids], "int32"))[0, -1])
        logits[0] = -np.inf  # padding is never generated
        ids.append(int(np.argmax(logits)))
    return task.tokenizer.detokenize([ids]).numpy()[0].decode()


def test_the_preprocessor_gives_the_tokenizers_ids():
    task = _task()
    token_ids, lengths, truncated = task.preprocessor.encode_prompts(
        tf.constant(["the cat sat", "", "the cat sat on the mat a dog"])
    )
    end = task.tokenizer.end_id
    assert token_ids.numpy().tolist() == [_ids("the cat sat") + [0, 0, 0], [end, 0, 0, 0, 0, 0],
                                          _ids("the cat sat on the mat")]
    assert lengths.numpy().tolist() == [3, 1, 6] and truncated.numpy().tolist() == [False, False, True]
    assert task.preprocessor.encode(["a dog"]).to_list() == [_ids("a dog") + [end]]


def test_model_arguments_leave_room_for_the_new_tokens():
    task = _task()
    assert task.model_arguments() == {"vocabulary_size": VOCABULARY_SIZE, "max_sequence_length": 6 + 3}
    model = task.build_model()
    assert (model.vocabulary_size, model.max_sequence_length, model.num_layers) == (VOCABULARY_SIZE, 9, 1)


def test_decoding_keys_and_what_a_search_may_change():
    task = _task()
    assert task.decoding_keys == ("max_new_tokens", "temperature", "top_k", "top_p")
    assert not task.searches_normalization and task.searches_position  # always pre-LN, as GPT-2
    values = {"num_layers": 2, "hidden_dim": 32, "num_heads": 4, "intermediate_multiplier": 4, "dropout": 0.0}
    assert task.tuned_arguments({**values, "position": "rotary"})["position"] == "rotary"


def test_the_sampler_is_greedy_at_temperature_zero():
    greedy = _task().sampler()
    assert isinstance(greedy, Sampler) and (greedy.temperature, greedy.top_k, greedy.top_p) == (0.0, None, None)
    sampler = _task({"temperature": 0.7, "top_k": 3, "top_p": 0.9, "seed": 11}).sampler()
    assert (sampler.temperature, sampler.top_k, sampler.top_p, sampler.seed) == (0.7, 3, 0.9, 11)


def test_mean_token_cross_entropy_of_hand_made_predictions():
    """A stand-in model that gives token 7 probability 1/2 and spreads the
    rest evenly: the mean is computed here from the targets alone."""
    task = _task()
    dataset = task.dataset(TEXTS, shuffle=False)
    probabilities = np.full(VOCABULARY_SIZE, 0.5 / (VOCABULARY_SIZE - 1))
    probabilities[7] = 0.5

    def model(inputs, training=False):
        return tf.broadcast_to(tf.constant(np.log(probabilities), tf.float32), [*inputs.shape, VOCABULARY_SIZE])

    targets = np.concatenate([t.numpy().ravel() for _, t in dataset])
    expected = -np.log(probabilities[targets]).mean()
    assert np.sum(targets == 7) > 0 and np.sum(targets != 7) > 0
    assert mean_token_cross_entropy(model, dataset) == pytest.approx(expected, rel=1e-5)

    task.test_examples = TEXTS
    task.recipe = task.recipe.replace(evaluation={"num_samples": 0})
    metrics = task.evaluate(model, log=lambda *_: None)
    assert metrics["cross_entropy"] == pytest.approx(expected, rel=1e-5)
    assert metrics["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    assert metrics["samples"] == []


@pytest.fixture
def untrained():
    """The task and a randomly initialised tiny GPT for it."""
    task = _task()
    return task, task.build_model()


def test_predict_continues_each_prompt_on_its_own(untrained):
    """A short prompt in a batch gets as many new tokens as alone, and the
    same ones (greedy)."""
    task, model = untrained
    prompts = ["the cat sat on", "a dog"]
    assert task.predict(model, prompts) == [_greedy_text(task, model, prompt, 3) for prompt in prompts]


def test_predict_on_no_prompts_answers_nothing(untrained):
    # As the other tasks do: an empty list in, an empty list out.
    task, model = untrained
    assert task.predict(model, []) == []


def test_serving_default_decodes_row_by_row_with_its_own_settings(untrained):
    task, model = untrained
    signatures, tracked = task.serving_signatures(model)
    assert tracked[0] is task.preprocessor and len(tracked) == 2  # and the seed holder
    serve, specs = signatures["serving_default"]
    assert [(spec.name, spec.dtype) for spec in specs] == [
        ("prompt", tf.string), ("max_new_tokens", tf.int32), ("temperature", tf.float32),
        ("top_k", tf.int32), ("top_p", tf.float32),
    ]
    outputs = serve(tf.constant(["the cat sat on", "a dog"]), tf.constant([3, 1]),
                    tf.constant([0.0, 0.0]), tf.constant([0, 0]), tf.constant([1.0, 1.0]))
    assert sorted(outputs) == ["text", "truncated"]
    assert [text.decode() for text in outputs["text"].numpy()] == [
        _greedy_text(task, model, "the cat sat on", 3), _greedy_text(task, model, "a dog", 1)
    ]
    logits, logits_specs = signatures["token_ids_to_logits"]
    assert [spec.name for spec in logits_specs] == ["token_ids"]
    assert logits(tf.constant([[7, 8, 9]]))["logits"].shape.as_list() == [1, 3, VOCABULARY_SIZE]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"max_new_tokens": [0]}, "`max_new_tokens` must be >= 1"),
        ({"top_k": [-1]}, "`top_k` must be >= 0"),
        ({"temperature": [-0.5]}, "`temperature` must be a finite number >= 0"),
        ({"top_p": [1.5]}, r"`top_p` must be in \(0, 1\]"),
        ({"temperature": [0.0, 0.0]}, r"`temperature` must have one value per prompt"),
    ],
)
def test_serving_default_refuses_bad_settings(untrained, settings, message):
    task, model = untrained
    serve = task.serving_signatures(model)[0]["serving_default"][0]
    arguments = {"max_new_tokens": [2], "temperature": [0.0], "top_k": [0], "top_p": [1.0], **settings}
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(tf.constant(["a dog"]), tf.constant(arguments["max_new_tokens"]),
              tf.constant(arguments["temperature"]), tf.constant(arguments["top_k"]),
              tf.constant(arguments["top_p"]))


def test_serving_limits_say_the_lengths_and_the_seed(untrained):
    task, model = untrained
    limits = task.serving_limits(model)
    assert limits[0].startswith("Prompts are cut to their first 6 token ids")
    assert "maximum length is 9 tokens" in limits[1]
    assert "`evaluation.seed`, 0)" in limits[2]
    assert limits[3].startswith(f"Vocabulary (tokenizer): {VOCABULARY_SIZE} WordPieceTokenizer")
