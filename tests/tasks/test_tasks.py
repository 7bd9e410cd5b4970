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


def test_lower_cased_runs_score_against_equally_normalised_references(tmp_path):
    """With `data.lower_case`, what the model can emit is lower-cased and
    accent-stripped; a model that emits exactly that for every reference must
    score exact match 1.0 and BLEU 100, and metrics.json says how it compared."""
    pairs = tmp_path / "pairs.tsv"
    rows = [(f"source {i}", f"Café Olé Number {i} À Paris") for i in range(60)]
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in rows))
    recipe = validate_recipe({
        "data": {"source": str(pairs), "lower_case": True, "vocabulary_size": 120,
                 "test_fraction": 0.2, "validation_fraction": 0.1},
        "model": {"preset": "transformer_tiny"},
    })
    task = get_task(recipe)
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    references = dict(task.test_examples)
    # A perfect model: it emits the tokens of the reference.
    tokenizer = task.target_tokenizer
    task.predict = lambda model, texts: [
        tokenizer.detokenize(tokenizer.tokenize([references[text]])).numpy()[0].decode()
        for text in texts
    ]
    metrics = task.evaluate(model=None, log=lambda *_: None)
    assert metrics["exact_match"] == 1.0
    assert metrics["bleu"] == pytest.approx(100.0)
    assert "lower-cased" in metrics["normalization"]


class _FixedBeams:
    """A stand-in model whose beam search returns given texts, best first."""

    def __init__(self, tokenizer, beams):
        self.tokenizer, self.beams = tokenizer, beams

    def decode_beams(self, source_ids, start_id, end_id, max_length, beam_size, length_penalty):
        import tensorflow as tf

        rows = []
        for texts in self.beams:
            ids = self.tokenizer.tokenize(texts).to_tensor(shape=[len(texts), max_length - 2])
            start = tf.fill([len(texts), 1], start_id)
            end = tf.fill([len(texts), 1], end_id)
            rows.append(tf.concat([start, ids, end], axis=1))
        scores = -tf.range(len(self.beams[0]), dtype=tf.float32)[None] - tf.zeros([len(self.beams), 1])
        return tf.stack(rows), scores


def test_iso_date_constraint_answers_with_the_best_real_date_or_nothing(tmp_path):
    """The best beam that is a calendar date wins over better-scored impossible
    ones; when no beam is a date, the answer is "" and `valid` is false."""
    import tensorflow as tf

    recipe = validate_recipe({
        "data": {"num_examples": 300, "vocabulary_size": 200},
        "evaluation": {"beam_size": 3, "output_constraint": "iso_date"},
    })
    task = get_task(recipe)
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    model = _FixedBeams(task.target_tokenizer, [
        ["2020-06-31", "2020-06-30", "2020-06-01"],   # the second beam is the first real date
        ["2021-02-29", "2021-13-01", "2021-00-10"],   # none is
        ["1999-12-25", "1999-12-26", "2000-02-30"],   # the best one is
    ])
    outputs = task.translate(model, tf.constant(["a", "b", "c"]))
    assert [t.decode() for t in outputs["translation"].numpy()] == ["2020-06-30", "", "1999-12-25"]
    assert outputs["valid"].numpy().tolist() == [True, False, True]
    assert outputs["score"].numpy().tolist() == [-1.0, 0.0, 0.0]  # the chosen beam's
    task.recipe = task.recipe.replace(evaluation={"output_constraint": None})
    outputs = task.translate(model, tf.constant(["a", "b", "c"]))
    assert [t.decode() for t in outputs["translation"].numpy()] == ["2020-06-31", "2021-02-29", "1999-12-25"]
