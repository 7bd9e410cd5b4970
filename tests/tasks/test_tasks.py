"""The task registry, and every task's model and data contract."""

from pathlib import Path

import numpy as np
import pytest

from keras_attention.tasks import TASKS, get_task
from keras_attention.training.recipe import RecipeError, load_recipe, validate_recipe
from tests.tiny import kind_of, overrides


def test_unknown_kind_lists_the_available_ones():
    recipe = validate_recipe({"task": {"kind": "speech"}})
    with pytest.raises(ValueError, match="'speech'.*'classification'"):
        get_task(recipe)


def test_the_registry_checks_the_kind_as_a_recipe_error():
    # The recipe module knows no task names: the registry is the one list.
    with pytest.raises(RecipeError, match="`task.kind` 'vision' is not a task"):
        get_task(validate_recipe({"task": {"kind": "vision"}}))


# One shipped recipe per task kind (transformer-base needs a corpus of yours).
RECIPES = {
    kind_of(path): path
    for path in sorted((Path(__file__).parents[2] / "models").glob("*.toml"))
    if path.stem != "transformer-base"
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(TASKS))
def test_every_task_feeds_its_model(kind, tmp_path):
    """Tokenizers from the data, batches from `datasets`, a model that eats them."""
    # Random weights: bert-topics' `model.init_from` run is not trained here.
    task = get_task(load_recipe(RECIPES[kind], overrides(kind) + ['model.init_from=""']))
    assert task.kind == kind
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    assert all((tmp_path / name / "tokenizer.json").exists() for name in task.tokenizers)
    train, validation = task.datasets()
    assert validation is not None
    model = task.build_model()
    model.compile(optimizer="adam", loss=task.loss(), metrics=task.metrics())
    history = model.fit(train.take(2), validation_data=validation.take(1), verbose=0)
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["val_loss"][0])
