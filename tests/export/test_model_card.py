"""The model card: its facts from a task, model, traced endpoints and a run's
metrics, and the Markdown it renders (no training, no SavedModel written)."""

import datetime
import json

import keras
import pytest
import tensorflow as tf

import keras_attention
from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
from keras_attention.export.model_card import model_card_facts, render_model_card, signature_facts
from keras_attention.tasks import get_task
from keras_attention.training.recipe import validate_recipe

METRICS = {
    "accuracy": 0.123456,
    "test_examples": 12,
    "splits": {"random": {"accuracy": 0.5, "examples": 12}},
    "samples": [{"text": "good film", "prediction": "positive", "label": "positive"}],
    "per_class": [0.1, 0.2],
    "signatures": {"bleu": "nrefs:1|case:mixed|tok:13a"},
    "data": {"train_examples": 1200, "validation_examples": 30, "test_examples": 12},
}


@pytest.fixture(scope="module")
def exported():
    """`(task, model, endpoints)` of an untrained tiny classifier, as the export traces them."""
    task = get_task(validate_recipe({
        "task": {"kind": "classification"},
        "data": {"source": "reviews.csv", "max_length": 8, "vocabulary_size": 300},
        "model": {"preset": "bert_test", "overrides": {"num_layers": 1}},
        "training": {"epochs": 3, "batch_size": 16},
    }))
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS + ["good", "bad"], lower_case=True)}
    task.label_names = ["negative", "positive"]
    model = task.build_model()
    signatures, _ = task.serving_signatures(model)
    endpoints = {name: (tf.function(function), specs) for name, (function, specs) in signatures.items()}
    return task, model, endpoints


def test_signature_facts_give_each_endpoints_inputs_and_outputs(exported):
    _, _, endpoints = exported
    facts = signature_facts(endpoints)
    assert facts["serving_default"] == {
        "inputs": {"text": {"dtype": "string", "shape": ["batch"]}},
        "outputs": {"label": {"dtype": "string", "shape": ["batch"]},
                    "probabilities": {"dtype": "float32", "shape": ["batch", 2]},
                    "truncated": {"dtype": "bool", "shape": ["batch"]}},
    }
    assert facts["token_ids_to_logits"]["inputs"] == {
        "token_ids": {"dtype": "int32", "shape": ["batch", None]},
        "segment_ids": {"dtype": "int32", "shape": ["batch", None]},
    }


def test_the_facts_come_from_the_task_model_and_metrics(exported):
    task, model, endpoints = exported
    facts = model_card_facts(task, model, endpoints, METRICS)
    assert (facts["task"], facts["model"], facts["parameters"]) == ("classification", "BertClassifier",
                                                                   model.count_params())
    assert facts["recipe"] == task.recipe.to_dict()
    assert facts["data"] == {"source": "reviews.csv", "train_examples": 1200, "validation_examples": 30,
                             "test_examples": 12}
    # Samples and lists are left out; the rest is kept as it is.
    assert facts["metrics"] == {"accuracy": 0.123456, "test_examples": 12,
                                "splits": {"random": {"accuracy": 0.5, "examples": 12}},
                                "signatures": {"bleu": "nrefs:1|case:mixed|tok:13a"}}
    assert facts["limits"] == task.serving_limits(model)
    assert facts["versions"]["keras-attention"] == keras_attention.__version__
    assert (facts["versions"]["tensorflow"], facts["versions"]["keras"]) == (tf.__version__, keras.__version__)
    created = datetime.datetime.strptime(facts["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 600
    assert json.loads(json.dumps(facts)) == facts  # JSON-ready, for the export's marker
    assert "data" in METRICS  # the caller's metrics are not changed


def test_the_card_says_the_recipe_data_metrics_signatures_limits_and_versions(exported):
    task, model, endpoints = exported
    facts = model_card_facts(task, model, endpoints, METRICS)
    card = render_model_card(facts)
    assert card.startswith("# Model card: classification (bert_test)\n")
    assert f"A `BertClassifier` ({model.count_params():,} parameters) exported by keras-attention" in card
    assert '- model overrides: `{"num_layers": 1}`' in card
    assert "- data: max_length=8, vocabulary_size=300, shared_vocabulary=True, lower_case=False" in card
    assert "- training: epochs=3, " in card and "batch_size=16" in card
    assert "- source: `reviews.csv`" in card
    assert "- split sizes: 1,200 train, 30 validation, 12 test" in card
    assert "| accuracy | 0.1235 |" in card  # four significant digits
    assert "| splits.random.accuracy | 0.5 |" in card and "| splits.random.examples | 12 |" in card
    assert "samples" not in card and "per_class" not in card
    # sacreBLEU's signature keeps to its cell: its "|" would start new columns.
    assert "| signatures.bleu | `nrefs:1\\|case:mixed\\|tok:13a` |" in card
    assert "### `serving_default`" in card and "### `token_ids_to_logits`" in card
    assert '| output | `probabilities` | float32 | `["batch", 2]` |' in card
    assert '| input | `token_ids` | int32 | `["batch", null]` |' in card
    for limit in task.serving_limits(model):
        assert f"- {limit}" in card
    assert f"- keras-attention {keras_attention.__version__}" in card and f"- exported {facts['created']}" in card


def test_a_card_without_metrics_says_there_are_none(exported):
    task, model, endpoints = exported
    facts = model_card_facts(task, model, endpoints, None)
    assert facts["metrics"] == {} and facts["data"] == {"source": "reviews.csv"}
    card = render_model_card(facts)
    assert "None: this export does not come from a finished run with a `metrics.json`." in card
    assert "- split sizes: not recorded (the run's metrics.json has no `data` entry)" in card
