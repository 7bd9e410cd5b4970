"""`MaskedLMTask`: the `[CLS] text [SEP]` preprocessor, its model, loss and
metrics on hand-made predictions, and the encoder it serves."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
from keras_attention.models import BertMaskedLM
from keras_attention.tasks import MaskedLMTask, get_task
from keras_attention.training.recipe import validate_recipe

WORDS = ["the", "cat", "sat", "on", "mat"]
VOCABULARY_SIZE = len(RESERVED_TOKENS) + len(WORDS)


def _task() -> MaskedLMTask:
    recipe = validate_recipe({
        "task": {"kind": "masked_lm"},
        "data": {"max_length": 6},
        "model": {"preset": "bert_test", "overrides": {"num_layers": 1, "hidden_dim": 16}},
        "training": {"label_smoothing": 0.2},
    })
    task = get_task(recipe)
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS + WORDS)}
    return task


def test_the_preprocessor_wraps_the_tokenizers_ids_in_cls_and_sep():
    task = _task()
    cls, sep = task.tokenizer.cls_id, task.tokenizer.sep_id
    vocabulary = RESERVED_TOKENS + WORDS
    the, cat, sat, on, mat = (vocabulary.index(word) for word in WORDS)
    inputs, truncated = task.preprocessor(tf.constant(["the cat", "the cat sat on the mat"]))
    # Six positions: a long text keeps its first four ids, between [CLS] and [SEP].
    assert inputs["token_ids"].numpy().tolist() == [[cls, the, cat, sep, 0, 0], [cls, the, cat, sat, on, sep]]
    assert not np.any(inputs["segment_ids"].numpy())
    assert truncated.numpy().tolist() == [False, True]


def test_the_model_is_a_masked_lm_sized_by_the_data():
    task = _task()
    assert task.model_arguments() == {"vocabulary_size": VOCABULARY_SIZE, "max_sequence_length": 6}
    model = task.build_model()
    assert isinstance(model, BertMaskedLM) and task.model_class() is BertMaskedLM
    assert (model.encoder.vocabulary_size, model.encoder.hidden_dim) == (VOCABULARY_SIZE, 16)
    assert not task.tunable and task.decoding_keys == ()
    assert set(task.head_layers) <= {layer.name for layer in model.layers}


def test_the_loss_has_no_label_smoothing_whatever_the_recipe_says():
    loss = _task().loss()
    targets = np.array([[2, 0]])
    logits = np.log(np.array([[[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]], "float32"))
    # The padded slot (target 0, weight 0) counts for nothing.
    assert float(loss(targets, logits, sample_weight=np.array([[1.0, 0.0]]))) == pytest.approx(-math.log(0.7), rel=1e-5)


def test_evaluate_on_hand_made_predictions():
    """Three weighted slots (one right) and a padded one, worked out by hand."""
    task = _task()
    task.test_examples = ["the cat"]
    probabilities = np.array([
        [[0.1, 0.6, 0.2, 0.1], [0.4, 0.2, 0.3, 0.1]],  # targets 1 (right), 2 (wrong)
        [[0.1, 0.1, 0.1, 0.7], [0.9, 0.05, 0.03, 0.02]],  # target 2 (wrong), a padded slot
    ], "float32")
    targets = np.array([[1, 2], [2, 0]], "int32")
    weights = np.array([[1, 1], [1, 0]], "float32")
    task.dataset = lambda examples, shuffle: tf.data.Dataset.from_tensors(({"token_ids": targets}, targets, weights))
    metrics = task.evaluate(lambda inputs, training: np.log(probabilities), log=lambda *_: None)
    cross_entropy = -(math.log(0.6) + math.log(0.3) + math.log(0.1)) / 3
    assert metrics["masked_accuracy"] == pytest.approx(1 / 3)
    assert metrics["cross_entropy"] == pytest.approx(cross_entropy, rel=1e-5)
    assert metrics["perplexity"] == pytest.approx(math.exp(cross_entropy), rel=1e-5)


def test_a_masked_lm_run_does_not_predict():
    with pytest.raises(ValueError, match="fine-tune it with a classification recipe"):
        _task().predict(None, ["the cat"])


def test_serving_signatures_give_the_encoders_outputs():
    task = _task()
    model = task.build_model()
    signatures, tracked = task.serving_signatures(model)
    assert tracked == [task.preprocessor]
    serve, specs = signatures["serving_default"]
    assert [(spec.name, spec.dtype) for spec in specs] == [("text", tf.string)]
    outputs = serve(tf.constant(["the cat", "the cat sat on the mat"]))
    assert outputs["pooled_output"].dtype == tf.float32 and outputs["pooled_output"].shape.as_list() == [2, 16]
    assert outputs["truncated"].numpy().tolist() == [False, True]
    inputs, _ = task.preprocessor(tf.constant(["the cat"]))
    np.testing.assert_allclose(outputs["pooled_output"].numpy()[:1],
                               model.encoder(inputs)["pooled_output"].numpy(), atol=1e-6)
    logits, logits_specs = signatures["token_ids_to_logits"]
    assert [spec.name for spec in logits_specs] == ["token_ids", "segment_ids"]
    result = logits(inputs["token_ids"], inputs["segment_ids"])
    assert result["sequence_output"].shape.as_list() == [1, 6, 16]


def test_attention_is_over_cls_text_sep():
    task = _task()
    scores, query_tokens, key_tokens, title = task.attention(task.build_model(), "the cat")
    assert query_tokens == key_tokens == ["[CLS]", "the", "cat", "[SEP]"]
    assert title == "'the cat'"
    assert [tuple(value.shape) for value in scores.values()] == [(1, 2, 4, 4)]  # one layer, two heads


def test_serving_limits_say_what_fits_between_cls_and_sep():
    limits = _task().serving_limits(model=None)
    assert limits[0].startswith("Texts are cut to their first 4 token ids, so that `[CLS] text [SEP]` fits "
                                "the model's 6 positions")
    assert limits[1].startswith(f"Vocabulary (tokenizer): {VOCABULARY_SIZE} WordPieceTokenizer")
