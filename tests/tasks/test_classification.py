"""`ClassificationTask`: reading labelled text, the label names a run keeps,
`classify` (the one path of evaluation and serving), accuracy and signatures."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
from keras_attention.data.readers import MalformedDataError
from keras_attention.models import BertClassifier
from keras_attention.tasks import ClassificationTask, get_task
from keras_attention.training.recipe import validate_recipe

WORDS = ["good", "bad", "film", "plot"]
LABELS = ["negative", "neutral", "positive"]


def _task(data=None) -> ClassificationTask:
    recipe = validate_recipe({
        "task": {"kind": "classification"},
        "data": {"max_length": 6, **(data or {})},
        "model": {"preset": "bert_test", "overrides": {"num_layers": 1, "hidden_dim": 16}},
        "evaluation": {"num_samples": 2},
    })
    task = get_task(recipe)
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS + WORDS)}
    task.label_names = LABELS
    return task


class _FixedLogits:
    """A stand-in classifier: the logits of row i are `logits[i]`, whatever the text."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, "float32")

    def __call__(self, inputs):
        return tf.constant(self.logits[: int(inputs["token_ids"].shape[0])])


def test_read_file_reads_labelled_rows_and_collects_the_label_names(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"good, really",positive\nbad plot,negative\nno label,\nfine,neutral\n')
    task = _task({"source": str(path)})
    assert task.read_examples() == [("good, really", "positive"), ("bad plot", "negative"), ("fine", "neutral")]
    assert task.label_names == LABELS  # sorted
    assert task.report.malformed == [(4, "empty field in column 2")]
    with pytest.raises(MalformedDataError, match=r"reviews.csv: 1 of 5 lines malformed: line 4"):
        _task({"source": str(path), "strict": True}).read_examples()


def test_the_embedded_topics_are_labelled_docstrings():
    task = _task({"source": "embedded:docstring_topics"})
    examples = task.read_examples()
    assert len(examples) > 10 and all(isinstance(text, str) and text for text, _ in examples)
    assert task.label_names == sorted({label for _, label in examples}) and len(task.label_names) > 1


def test_label_names_are_saved_with_the_tokenizer_and_read_back(tmp_path):
    task = _task({"source": "embedded:docstring_topics", "vocabulary_size": 200})
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    assert json.loads((tmp_path / "label_names.json").read_text()) == task.label_names
    loaded = _task()
    loaded.load_tokenizers(tmp_path)
    assert loaded.label_names == task.label_names
    assert loaded.tokenizer.vocabulary == task.tokenizer.vocabulary


def test_the_head_is_kept_only_for_the_same_labels(tmp_path):
    task, run = _task(), SimpleNamespace(directory=tmp_path)
    assert not task.keeps_head(run)  # no label_names.json
    (tmp_path / "label_names.json").write_text(json.dumps(LABELS))
    assert task.keeps_head(run)
    (tmp_path / "label_names.json").write_text(json.dumps(["negative", "positive"]))
    assert not task.keeps_head(run)


def test_the_model_has_one_logit_per_label():
    task = _task()
    assert task.model_arguments() == {"num_classes": 3, "vocabulary_size": 11, "max_sequence_length": 6}
    model = task.build_model()
    assert isinstance(model, BertClassifier) and task.head_layers == ("logits",)
    inputs, _ = task.preprocessor(tf.constant(["good film"]))
    assert model(inputs).shape == (1, 3)


def test_the_loss_counts_class_zero():
    # Class 0 is a label here, not padding: both rows count.
    loss = _task().loss()
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]], "float32"))
    expected = -(math.log(0.5) + math.log(0.6)) / 2
    assert float(loss(np.array([0, 2]), logits)) == pytest.approx(expected, rel=1e-5)
    assert [metric.name for metric in _task().metrics()] == ["accuracy"]


def test_classify_gives_softmax_probabilities_and_the_best_label():
    task = _task()
    logits = [[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]]
    outputs = task.classify(_FixedLogits(logits), tf.constant(["good film", "bad bad bad bad bad"]))
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, rtol=1e-6)
    assert outputs["label"].numpy().tolist() == [b"positive", b"negative"]
    assert outputs["truncated"].numpy().tolist() == [False, True]  # five words > 6 - 2 positions
    assert task.predict(_FixedLogits(logits), ["good film", "bad"]) == ["positive", "negative"]


def test_evaluate_counts_unknown_labels_as_wrong():
    task = _task()
    task.test_examples = [("good film", "positive"), ("bad plot", "negative"), ("film", "neutral"),
                          ("plot", "mixed")]
    # Predictions: positive, positive, neutral, neutral.
    model = _FixedLogits([[0, 0, 5], [0, 0, 5], [0, 5, 0], [0, 5, 0]])
    logged = []
    metrics = task.evaluate(model, log=logged.append)
    assert metrics["accuracy"] == pytest.approx(2 / 4) and metrics["test_examples"] == 4
    assert metrics["unknown_labels"] == {"mixed": 1}
    assert metrics["samples"] == [{"text": "good film", "prediction": "positive", "label": "positive"},
                                  {"text": "bad plot", "prediction": "positive", "label": "negative"}]
    assert logged[0] == "Held-out accuracy: 0.5000 (4 test examples, 3 classes)"


def test_serving_signatures_classify_text_and_give_logits_for_ids():
    task = _task()
    model = task.build_model()
    signatures, tracked = task.serving_signatures(model)
    assert tracked == [task.preprocessor] and task.decoding_keys == ()
    serve, specs = signatures["serving_default"]
    assert [(spec.name, spec.dtype) for spec in specs] == [("text", tf.string)]
    outputs = serve(tf.constant(["good film", "bad plot"]))
    assert outputs["probabilities"].shape.as_list() == [2, 3]
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert {label.decode() for label in outputs["label"].numpy()} <= set(LABELS)
    logits, logits_specs = signatures["token_ids_to_logits"]
    assert [spec.name for spec in logits_specs] == ["token_ids", "segment_ids"]
    inputs, _ = task.preprocessor(tf.constant(["good film"]))
    result = logits(inputs["token_ids"], inputs["segment_ids"])
    np.testing.assert_allclose(result["logits"].numpy(), model(inputs).numpy(), atol=1e-6)


def test_serving_limits_list_the_labels():
    limits = _task().serving_limits(model=None)
    assert limits[0] == ("`label` is one of the 3 labels seen in training: negative, neutral, positive; "
                         "`probabilities` follow that order.")
    assert limits[1].startswith("Texts are cut to their first 4 token ids")
