from pathlib import Path

import pytest

from keras_attention.training.recipe import (
    Recipe,
    RecipeError,
    dump_recipe,
    load_recipe,
    parse_override,
    validate_recipe,
)

RECIPES = sorted((Path(__file__).parents[2] / "models").glob("*.toml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_every_shipped_recipe_is_valid(path):
    assert isinstance(load_recipe(path), Recipe)


def test_defaults_fill_in_and_overrides_win(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[training]\nepochs = 3\n[model]\npreset = "transformer_tiny"\n')
    recipe = load_recipe(path, ["training.epochs=5", "data.source=my_pairs.tsv", "model.overrides.dropout=0.2"])
    assert recipe.training.epochs == 5
    assert recipe.training.batch_size == Recipe().training.batch_size == 64
    assert recipe.data.source == "my_pairs.tsv"
    assert recipe.model.overrides == {"dropout": 0.2}


def test_dump_and_load_round_trip(tmp_path):
    recipe = validate_recipe({"model": {"preset": "x", "overrides": {"hidden_dim": 32}}})
    path = tmp_path / "dumped.toml"
    path.write_text(dump_recipe(recipe))
    assert load_recipe(path) == recipe


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({"training": {"batch_sise": 3}}, "Unknown recipe key `training.batch_sise`. Allowed keys in \\[training\\]"),
        ({"trainig": {}}, "Unknown recipe key `trainig`"),
        ({"training": {"mixed_precision": "fp8"}}, "`training.mixed_precision` must be one of \\['float32', 'mixed_float16', 'mixed_bfloat16'\\]. Received: 'fp8'"),
        ({"training": {"epochs": "ten"}}, "`training.epochs` must be of type int. Received: 'ten'"),
        ({"training": {"batch_size": 0}}, "`training.batch_size` must be >= 1"),
        ({"data": {"test_fraction": 0.7}}, "`data.test_fraction` must be in \\[0, 0.5\\)"),
        ({"training": 3}, "`training` must be a table"),
        ({"evaluation": {"baseline": "lead_3"}}, "`evaluation.baseline` must be one of \\['first_sentence'\\]. Received: 'lead_3'"),
    ],
)
def test_invalid_recipes_name_the_key(recipe, message):
    with pytest.raises(RecipeError, match=message):
        validate_recipe(recipe)


def test_override_parsing():
    assert parse_override("training.learning_rate=1e-3") == (["training", "learning_rate"], 0.001)
    assert parse_override("data.source=embedded:dates") == (["data", "source"], "embedded:dates")
    assert parse_override("training.jit_compile=true") == (["training", "jit_compile"], True)
    with pytest.raises(RecipeError, match="table.key=value"):
        parse_override("epochs")


def test_missing_and_malformed_recipe_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_recipe(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[training\n")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(bad)


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({"training": {"learning_rate": float("nan")}}, "`training.learning_rate` must be a finite number >= 0. Received: nan"),
        ({"training": {"learning_rate": float("inf")}}, "`training.learning_rate` must be a finite number >= 0"),
        ({"training": {"learning_rate": -1e-3}}, "`training.learning_rate` must be a finite number >= 0"),
        ({"training": {"steps_per_epoch": -5}}, "`training.steps_per_epoch` must be >= 0. Received: -5"),
        ({"training": {"schedule_scale": 0.0}}, "`training.schedule_scale` must be a finite number > 0"),
        ({"evaluation": {"length_penalty": float("nan")}}, "`evaluation.length_penalty` must be a finite number >= 0"),
        ({"evaluation": {"temperature": -1.0}}, "`evaluation.temperature` must be a finite number >= 0"),
        ({"evaluation": {"top_p": 0.0}}, "`evaluation.top_p` must be in \\(0, 1\\]. Received: 0.0"),
        ({"evaluation": {"top_k": -2}}, "`evaluation.top_k` must be >= 0"),
        ({"evaluation": {"max_new_tokens": 0}}, "`evaluation.max_new_tokens` must be >= 1"),
        ({"evaluation": {"num_samples": -1}}, "`evaluation.num_samples` must be >= 0"),
        ({"model": {"overrides": {"hidden_dim": float("nan")}}}, "`model.overrides.hidden_dim` must be finite"),
    ],
)
def test_nonsense_numbers_are_refused_by_name(recipe, message):
    with pytest.raises(RecipeError, match=message):
        validate_recipe(recipe)


def test_a_recipe_is_typed_and_unset_is_none():
    recipe = validate_recipe({})
    assert isinstance(recipe, Recipe)
    assert recipe.training.steps_per_epoch is None  # one pass over the data
    assert recipe.training.learning_rate is None  # the paper's schedule
    assert recipe.data.tokenizer is None and recipe.data.num_examples is None
    assert recipe.evaluation.top_k is None and recipe.evaluation.top_p is None
    assert recipe.evaluation.output_constraint is None
    with pytest.raises(AttributeError):
        recipe.training.epochs = 3  # frozen: changed only through `replace`, which validates


@pytest.mark.parametrize(
    "table, key, legacy",
    [
        ("data", "num_examples", 0),
        ("data", "tokenizer", ""),
        ("training", "steps_per_epoch", 0),
        ("training", "learning_rate", 0.0),
        ("evaluation", "top_k", 0),
        ("evaluation", "top_p", 1.0),
        ("evaluation", "output_constraint", ""),
    ],
)
def test_the_old_not_set_values_read_as_none(tmp_path, table, key, legacy):
    recipe = validate_recipe({table: {key: legacy}})
    assert getattr(getattr(recipe, table), key) is None
    # ... and a recipe with them dumps (without the key) and loads back equal.
    path = tmp_path / "recipe.toml"
    path.write_text(dump_recipe(recipe))
    assert f"{key} =" not in path.read_text() and load_recipe(path) == recipe


def test_set_values_keep_their_type(tmp_path):
    recipe = validate_recipe({
        "training": {"steps_per_epoch": 50, "learning_rate": 1, "schedule_scale": 2},
        "evaluation": {"top_k": 5, "top_p": 0.9, "output_constraint": "iso_date"},
        "data": {"tokenizer": "my_tokenizer"},
    })
    assert recipe.training.steps_per_epoch == 50
    assert recipe.training.learning_rate == 1.0 and isinstance(recipe.training.learning_rate, float)
    assert isinstance(recipe.training.schedule_scale, float)
    assert (recipe.evaluation.top_k, recipe.evaluation.top_p) == (5, 0.9)
    assert recipe.data.tokenizer == "my_tokenizer"
    path = tmp_path / "recipe.toml"
    path.write_text(dump_recipe(recipe))
    assert load_recipe(path) == recipe


def test_replace_checks_what_it_changes():
    recipe = validate_recipe({})
    assert recipe.replace(training={"epochs": 3}).training.epochs == 3
    assert recipe.training.epochs == 10  # the original is unchanged
    with pytest.raises(RecipeError, match="`training.batch_size` must be >= 1"):
        recipe.replace(training={"batch_size": 0})
    with pytest.raises(RecipeError, match="Unknown recipe key `training.batch_sise`"):
        recipe.replace(training={"batch_sise": 3})
    assert recipe.replace(training={"steps_per_epoch": 5}).replace(
        training={"steps_per_epoch": None}) == recipe


def test_init_from_is_an_optional_model_path_that_round_trips(tmp_path):
    assert Recipe().model.init_from is None  # random initialisation
    recipe = validate_recipe({"model": {"preset": "bert_mini", "init_from": "runs/bert-mini"}})
    assert recipe.model.init_from == "runs/bert-mini"
    path = tmp_path / "dumped.toml"
    path.write_text(dump_recipe(recipe))
    assert 'init_from = "runs/bert-mini"' in path.read_text()
    assert load_recipe(path) == recipe
    assert load_recipe(path, ['model.init_from=""']).model.init_from is None  # unset from --set
    assert recipe.replace(model={"init_from": None}).model.init_from is None
    with pytest.raises(RecipeError, match="`model.init_from` must be of type str. Received: 3"):
        validate_recipe({"model": {"init_from": 3}})


# Every training control: a bad value is refused by name, with what was received.
BAD_TRAINING_CONTROLS = [
    ({"optimizer": "sgd"}, "`training.optimizer` must be one of \\['adam', 'adamw'\\]. Received: 'sgd'"),
    ({"optimizer": "adamw", "weight_decay": -0.1}, "`training.weight_decay` must be a finite number >= 0. Received: -0.1"),
    ({"weight_decay": 0.01}, "`training.weight_decay` applies to `training.optimizer = \"adamw\"` only. "
     "Received: weight_decay=0.01 with optimizer='adam'"),
    ({"clipnorm": 0}, "`training.clipnorm` must be a finite number > 0. Received: 0"),
    ({"clipnorm": "1"}, "`training.clipnorm` must be of type float. Received: '1'"),
    ({"gradient_accumulation_steps": 0}, "`training.gradient_accumulation_steps` must be >= 1. Received: 0"),
    ({"gradient_accumulation_steps": 2.5}, "`training.gradient_accumulation_steps` must be of type int. Received: 2.5"),
    ({"schedule": "linear"}, "`training.schedule` must be one of \\['transformer', 'cosine', 'constant'\\]. Received: 'linear'"),
    ({"schedule": "cosine"}, "`training.schedule = \"cosine\"` needs `training.learning_rate`"),
    ({"schedule": "constant"}, "`training.schedule = \"constant\"` needs `training.learning_rate`"),
    ({"schedule": "transformer", "learning_rate": 1e-3}, "`training.learning_rate` is not used by "
     "`training.schedule = \"transformer\"`.* Received: learning_rate=0.001"),
    ({"schedule": "cosine", "learning_rate": 1e-3, "epochs": 2, "steps_per_epoch": 5, "warmup_steps": 10},
     "`training.warmup_steps` must be < the run's steps .* = 10\\) .* Received: warmup_steps=10"),
    ({"early_stopping_patience": 0}, "`training.early_stopping_patience` must be >= 1. Received: 0"),
    ({"early_stopping_patience": True}, "`training.early_stopping_patience` must be of type int. Received: True"),
]


@pytest.mark.parametrize("values, message", BAD_TRAINING_CONTROLS)
def test_bad_training_controls_are_refused_by_name(values, message):
    with pytest.raises(RecipeError, match=message):
        validate_recipe({"training": values})


def test_training_controls_default_to_todays_training(tmp_path):
    training = Recipe().training
    assert (training.optimizer, training.weight_decay, training.clipnorm) == ("adam", None, None)
    assert training.gradient_accumulation_steps == 1 and training.early_stopping_patience is None
    assert training.schedule is None and training.schedule_kind == "transformer"
    # A recipe with only a learning rate keeps meaning a constant rate.
    assert validate_recipe({"training": {"learning_rate": 1e-3}}).training.schedule_kind == "constant"
    recipe = validate_recipe({"training": {
        "optimizer": "adamw", "weight_decay": 0.01, "clipnorm": 1.0, "gradient_accumulation_steps": 2,
        "schedule": "cosine", "learning_rate": 3e-4, "warmup_steps": 100, "early_stopping_patience": 3,
    }})
    path = tmp_path / "recipe.toml"
    path.write_text(dump_recipe(recipe))
    assert load_recipe(path) == recipe
