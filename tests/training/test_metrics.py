"""Masked accuracy, exact match, perplexity, ROUGE and the first-sentence baseline."""

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import keras


from keras_attention.training import (
    MaskedAccuracy,
    exact_match,
    first_sentence,
    perplexity,
    rouge,
)


def test_masked_accuracy_counts_real_tokens_only():
    metric = MaskedAccuracy()
    y_true = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])
    predictions = np.eye(5)[np.array([[1, 2, 0, 4], [4, 1, 1, 1]])]
    metric.update_state(y_true, predictions)
    assert float(metric.result()) == pytest.approx(3 / 4)


def test_exact_match_and_perplexity():
    assert exact_match(["a", "b "], ["a", "b"]) == 1.0
    with pytest.raises(ValueError, match="equal length"):
        exact_match(["a"], ["a", "b"])
    assert perplexity(math.log(7.0)) == pytest.approx(7.0)


def test_rouge_by_hand():
    # "the cat sat" against "the cat sat on the mat": 3 of 6 unigrams and 2 of 5
    # bigrams found, all predicted ones right; the longest common subsequence is 3.
    # "dogs run" against "a bird flies": nothing in common.
    scores = rouge(["the cat sat", "dogs run"], ["the cat sat on the mat", "a bird flies"])
    f_unigrams = 2 * 1.0 * 0.5 / 1.5
    f_bigrams = 2 * 1.0 * 0.4 / 1.4
    assert scores == pytest.approx({"rouge1": f_unigrams / 2, "rouge2": f_bigrams / 2, "rougeL": f_unigrams / 2})


def test_rouge_is_rouge_score_s_mean_f_measure_with_stemming():
    from rouge_score import rouge_scorer

    predictions = ["Returns the values of the list.", "Close the file now", "", "Set up a new logger."]
    references = ["Return the value in the lists.", "Close this file.", "Read a file.", "Create a logger object"]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    direct = [scorer.score(reference, prediction) for prediction, reference in zip(predictions, references)]
    expected = {name: float(np.mean([scores[name].fmeasure for scores in direct]))
                for name in ("rouge1", "rouge2", "rougeL")}
    assert rouge(predictions, references) == pytest.approx(expected)
    assert rouge(["Returns the values"], ["Return the value"])["rougeL"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal length"):
        rouge(["a"], [])


@pytest.mark.parametrize(
    "text, sentence",
    [
        ("Return the value. It is cached.", "Return the value."),
        ("  Is it\n  cached?   Yes, always.", "Is it cached?"),
        ("Stop now! Then go.", "Stop now!"),
        ("Use a key, e.g. the name. Then stop", "Use a key, e.g. the name."),
        ("New in version 3.11. See PEP 654.", "New in version 3.11."),
        ("Call f() on it. 'x' is kept.", "Call f() on it."),
        ("Ends the text.", "Ends the text."),
        ("No full stop at all", "No full stop at all"),
        ("", ""),
    ],
)
def test_first_sentence(text, sentence):
    assert first_sentence(text) == sentence


def _all_right_but_the_padded_slots(model, inputs):
    """Labels equal to the model's own predictions at real slots; the last slot of every
    row is a padded prediction slot (label 0, weight 0) that the model gets wrong."""
    predictions = np.argmax(np.asarray(model(inputs)), axis=-1)
    labels, weights = predictions.copy(), np.ones(predictions.shape, "float32")
    labels[..., -1], weights[..., -1] = 0, 0.0
    assert np.all(predictions[..., -1] != 0)  # unweighted, these slots would count as wrong
    return labels, weights


def test_masked_lm_accuracy_in_fit_counts_real_predictions_only(tmp_path, monkeypatch, rng):
    """`train` compiles the masked-LM accuracy as a weighted metric: padded prediction slots
    (weight 0) do not count, so a batch whose real predictions are all right scores 1.0."""
    from keras_attention.training.run import train
    from tests.tiny import overrides

    compiled = []

    def stop_before_fitting(model, *args, **kwargs):
        compiled.append(model)
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "fit", stop_before_fitting)
    recipe = Path(__file__).parents[2] / "models" / "bert-mini.toml"
    with pytest.raises(KeyboardInterrupt):
        train(recipe, tmp_path, overrides("masked_lm"), log=lambda *_: None)
    model = compiled[0]
    token_ids = rng.integers(5, 100, (4, 16)).astype("int32")
    token_ids[0, 9:] = 0
    inputs = {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "mask_positions": np.tile(np.arange(1, 4, dtype="int32"), (4, 1)),
    }
    labels, weights = _all_right_but_the_padded_slots(model, inputs)
    results = model.evaluate(inputs, labels, sample_weight=weights, verbose=0, return_dict=True)
    assert results["accuracy"] == 1.0


def test_classifier_hypermodel_weights_its_accuracy(rng):
    """A tuned classifier's accuracy honours sample weights like its loss does."""
    import keras_tuner

    from keras_attention.training.recipe import validate_recipe
    from keras_attention.tasks import get_task
    from keras_attention.tuning.hypermodels import TaskHyperModel

    task = get_task(validate_recipe({"task": {"kind": "classification"}, "model": {"preset": "bert_test"}}))
    task.tokenizers["tokenizer"] = SimpleNamespace(vocabulary_size=100)
    task.label_names = [str(label) for label in range(7)]
    model = TaskHyperModel(task).build(keras_tuner.HyperParameters())
    token_ids = rng.integers(5, 100, (6, 8)).astype("int32")
    inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)}
    predictions = np.argmax(np.asarray(model(inputs)), axis=-1)
    labels = predictions.copy()
    labels[-1] = (predictions[-1] + 1) % 7  # wrong, but weighted out
    weights = np.array([1, 1, 1, 1, 1, 0], "float32")
    results = model.evaluate(inputs, labels, sample_weight=weights, verbose=0, return_dict=True)
    assert results["accuracy"] == 1.0
