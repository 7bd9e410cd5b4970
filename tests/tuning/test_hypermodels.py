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


def _tiny_hypermodel(space=None, **training):
    from keras_attention.tasks import get_task

    recipe = validate_recipe({
        "model": {"preset": "transformer_tiny"},
        "data": {"num_examples": 200, "vocabulary_size": 400, "max_length": 20},
        "training": {"batch_size": 16, "epochs": 2, **training},
    })
    task = get_task(recipe)
    task.load_data()
    task.prepare_tokenizers(_tiny_hypermodel.directory, show_progress=False, reuse=True)
    space = {"hidden_dim": [32], "num_heads": [2], "num_layers": [1], **(space or {})}
    return TaskHyperModel(task, space)


@pytest.fixture
def tiny(tmp_path):
    _tiny_hypermodel.directory = tmp_path
    return _tiny_hypermodel


def _fixed(hp, **values):
    """`hp` with its values fixed (what an oracle would have sampled)."""
    for name, value in values.items():
        hp.values[name] = value
    return hp


def test_a_trial_compiles_through_the_recipe(tiny):
    """The recipe's constant learning rate, AdamW, clipping, accumulation and
    jit_compile reach a trial's compiled model, as they reach `train`'s."""
    hypermodel = tiny(optimizer="adamw", weight_decay=0.02, clipnorm=0.5, gradient_accumulation_steps=2,
                      learning_rate=0.002, jit_compile=True)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    config = model.optimizer.get_config()
    # AdamW whose accumulated update is one big batch's, its loss reporting the tokens.
    assert type(model.optimizer).__name__ == "AccumulatingAdamW"
    assert model.loss.token_count is model.optimizer.batch_weight
    assert config["learning_rate"] == pytest.approx(0.002)  # constant: not the paper's schedule
    assert (config["weight_decay"], config["clipnorm"], config["gradient_accumulation_steps"]) == (0.02, 0.5, 2)
    assert model.jit_compile is True
    # A constant rate has no warmup or scale to search.
    assert not {"schedule_scale", "warmup_steps"} & set(hp.values)


def test_searched_training_keys_replace_the_recipes(tiny):
    space = {"batch_size": [4, 8], "optimizer": ["adam", "adamw"], "weight_decay": [0.001, 0.1],
             "schedule": ["transformer", "cosine"], "learning_rate": [1e-4, 1e-2],
             "warmup_steps": [2, 4], "clipnorm": [1.0], "gradient_accumulation_steps": [1, 2]}
    hypermodel = tiny(space)
    hp = keras_tuner.HyperParameters()
    hypermodel._sample(hp)
    adamw_cosine = hypermodel.trial_recipe(_fixed(
        hp, batch_size=4, optimizer="adamw", weight_decay=0.01, schedule="cosine", learning_rate=0.001,
        warmup_steps=3, gradient_accumulation_steps=2)).training
    assert (adamw_cosine.batch_size, adamw_cosine.optimizer, adamw_cosine.weight_decay) == (4, "adamw", 0.01)
    assert (adamw_cosine.schedule, adamw_cosine.learning_rate, adamw_cosine.warmup_steps) == ("cosine", 0.001, 3)
    assert adamw_cosine.clipnorm == 1.0 and adamw_cosine.gradient_accumulation_steps == 2
    # Adam trials have no weight decay; transformer trials no learning rate, and a schedule scale.
    adam_transformer = hypermodel.trial_recipe(_fixed(hp, optimizer="adam", schedule="transformer",
                                                      schedule_scale=2.0)).training
    assert adam_transformer.weight_decay is None and adam_transformer.learning_rate is None
    assert adam_transformer.schedule_kind == "transformer" and adam_transformer.schedule_scale == 2.0


def test_a_trial_fits_at_its_batch_size(tiny):
    """The searched batch size is the batch size of the data a trial fits on
    (an endless stream of passes, an epoch `steps_per_epoch` of its batches)."""
    hypermodel = tiny({"batch_size": [4, 8]})
    hp = keras_tuner.HyperParameters()
    hypermodel._sample(hp)

    class Model:
        def fit(self, data, **kwargs):
            epoch = data.take(kwargs["steps_per_epoch"])
            self.sizes = {int(targets.shape[0]) for _, targets, *_ in epoch}
            self.kwargs = kwargs

    for batch_size in (4, 8):
        model = Model()
        hypermodel.fit(_fixed(hp, batch_size=batch_size), model, epochs=1)
        assert max(model.sizes) == batch_size
        assert model.kwargs["validation_data"] is not None


@pytest.mark.parametrize(
    "space, training, message",
    [
        ({"weight_decay": [0.0, 0.1]}, {}, "`space.weight_decay` needs AdamW"),
        ({"learning_rate": [1e-4, 1e-3]}, {"schedule": "transformer"}, "`space.learning_rate` is the rate of"),
        ({"schedule": ["transformer", "cosine"]}, {}, "need a learning rate"),
    ],
)
def test_a_training_space_the_recipe_cannot_use_is_refused(tiny, space, training, message):
    with pytest.raises(ValueError, match=message):
        tiny(space, **training)
