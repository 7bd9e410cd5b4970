"""Hypermodels: the sampled values become each family's model arguments."""

import keras_tuner
import pytest

from keras_attention.tuning import Seq2SeqHyperModel
from keras_attention.tuning.hypermodels import (
    BertClassifierHyperModel,
    GPTHyperModel,
    hypermodel_for,
)

VALUES = {
    "num_layers": 2,
    "hidden_dim": 32,
    "num_heads": 4,
    "intermediate_multiplier": 4,
    "dropout": 0.1,
    "normalize_first": True,
    "position": "learned",
    "schedule_scale": 1.0,
    "warmup_steps": 400,
}
COMMON = {"hidden_dim": 32, "num_heads": 4, "intermediate_dim": 128, "dropout": 0.1}


def test_seq2seq_overrides_set_both_stacks_and_the_searched_choices():
    assert Seq2SeqHyperModel(None).model_overrides(VALUES) == {
        **COMMON,
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        "normalize_first": True,
        "position": "learned",
    }


def test_gpt_and_bert_keep_their_fixed_choices():
    values = dict(VALUES)
    del values["normalize_first"]  # GPT never samples it: always pre-LN
    assert GPTHyperModel(None).model_overrides(values) == {
        **COMMON, "num_layers": 2, "position": "learned",
    }
    del values["position"]  # BERT samples neither
    assert BertClassifierHyperModel(None).model_overrides(values) == {**COMMON, "num_layers": 2}


@pytest.mark.parametrize(
    "hypermodel_class, sampled",
    [
        (Seq2SeqHyperModel, {"normalize_first", "position"}),
        (GPTHyperModel, {"position"}),
        (BertClassifierHyperModel, set()),
    ],
)
def test_each_family_samples_only_its_choices(hypermodel_class, sampled):
    values = hypermodel_class(None)._sample(keras_tuner.HyperParameters())
    assert {"normalize_first", "position"} & set(values) == sampled


def test_no_tunable_family_for_masked_lm():
    class Task:
        kind = "masked_lm"

    with pytest.raises(ValueError, match="'masked_lm'"):
        hypermodel_for(Task())
