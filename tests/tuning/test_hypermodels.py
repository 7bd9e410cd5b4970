"""The hypermodel: the sampled values become each task's model arguments
(the task's hook), and each task samples only the choices its model has."""

import keras_tuner
import pytest

from keras_attention.tasks import get_task
from keras_attention.training.recipe import validate_recipe
from keras_attention.tuning import TaskHyperModel

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
PRESETS = {"translation": "transformer_tiny", "language_model": "gpt_tiny",
           "classification": "bert_test", "masked_lm": "bert_test"}


def hypermodel(kind):
    recipe = validate_recipe({"task": {"kind": kind}, "model": {"preset": PRESETS[kind]}})
    return TaskHyperModel(get_task(recipe))


def test_seq2seq_overrides_set_both_stacks_and_the_searched_choices():
    assert hypermodel("translation").model_overrides(VALUES) == {
        **COMMON,
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        "normalize_first": True,
        "position": "learned",
    }


def test_gpt_and_bert_keep_their_fixed_choices():
    values = dict(VALUES)
    del values["normalize_first"]  # GPT never samples it: always pre-LN
    assert hypermodel("language_model").model_overrides(values) == {
        **COMMON, "num_layers": 2, "position": "learned",
    }
    del values["position"]  # BERT samples neither
    assert hypermodel("classification").model_overrides(values) == {**COMMON, "num_layers": 2}


@pytest.mark.parametrize(
    "kind, sampled",
    [
        ("translation", {"normalize_first", "position"}),
        ("language_model", {"position"}),
        ("classification", set()),
    ],
)
def test_each_task_samples_only_its_choices(kind, sampled):
    values = hypermodel(kind)._sample(keras_tuner.HyperParameters())
    assert {"normalize_first", "position"} & set(values) == sampled


def test_no_search_space_for_masked_lm():
    with pytest.raises(ValueError, match="'masked_lm'"):
        hypermodel("masked_lm")
