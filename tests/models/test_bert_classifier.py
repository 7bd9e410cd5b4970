"""BertClassifier: training, saving, config round trip, argument checks."""

import pytest

from keras_attention.models.bert_classifier import BertClassifier
from keras_attention.models.bert_encoder import BertEncoder
from tests.models.bert_helpers import (
    check_mixed_bfloat16_and_a_jit_compiled_step,
    check_round_trip,
    task_data,
    task_model,
)
from tests.models.model_contract import check_overfits


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")  # the unused pooler
def test_trains_and_overfits_a_tiny_batch(bert_batch):
    inputs, targets, loss = task_data("classifier", bert_batch)
    check_overfits(task_model("classifier", dropout=0.0), inputs, targets, steps=40, loss=loss)


def test_keras_round_trip(bert_batch, tmp_path):
    check_round_trip("classifier", bert_batch, tmp_path)


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")
def test_mixed_bfloat16_and_a_jit_compiled_step(bert_batch):
    check_mixed_bfloat16_and_a_jit_compiled_step("classifier", bert_batch)


def test_task_config_round_trip_rebuilds_the_encoder():
    model = BertClassifier.from_preset("bert_test", num_classes=3, num_layers=1)
    clone = BertClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.encoder.num_layers == 1 and clone.count_params() == model.count_params()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: BertClassifier.from_preset("bert_test", num_classes=0), "num_classes=0"),
        (
            lambda: BertClassifier(BertEncoder.from_preset("bert_test"), num_classes=2.5),
            "num_classes=2.5",
        ),
        (lambda: BertClassifier("bert_test", num_classes=2), "encoder='bert_test'"),
    ],
)
def test_bad_arguments_name_the_received_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()
