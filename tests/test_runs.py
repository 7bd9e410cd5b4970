"""A run directory as an object: `Run.load` gives the recipe, task, tokenizers,
model and the saved test split, so evaluation needs neither the data file nor
`--data`; attention plots work for every tokenizer."""

import json
from pathlib import Path

import pytest

from keras_attention.cli import main
from keras_attention.data import date_pairs
from keras_attention.runs import Run
from tests.data.test_sentencepiece_tokenizer import PROJECT_IDS, _train_sentencepiece
from tests.tiny import COMMON, TINY, sets

ROOT = Path(__file__).parents[1]


def test_loading_a_directory_that_is_not_a_run_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a finished run directory"):
        Run.load(tmp_path)


@pytest.mark.slow
def test_a_run_on_a_file_evaluates_after_the_file_is_gone(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    pairs = date_pairs(300, seed=3)
    corpus.write_text("".join(f"{source}\t{target}\n" for source, target in pairs))
    out = tmp_path / "run"
    train = ["train", str(ROOT / "models" / "dates.toml"), "--out", str(out), "--data", str(corpus)]
    assert main([*train, *sets(TINY["translation"] + COMMON)]) == 0
    trained = json.loads((out / "metrics.json").read_text())
    corpus.unlink()  # the run keeps its own test split

    run = Run.load(out)
    assert run.kind == "translation"
    # The test split as training made it: data.test_fraction of the pairs,
    # every one from the file.
    fraction = run.recipe.data.test_fraction
    assert len(run.task.test_examples) == round(fraction * len(pairs)) > 0
    assert set(run.task.test_examples) <= set(pairs)
    assert main(["evaluate", str(out)]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["test_examples"] == trained["test_examples"]
    assert again["exact_match"] == trained["exact_match"] and again["bleu"] == trained["bleu"]
    # What train recorded for the model card (split sizes, training time) stays.
    assert again["data"] == trained["data"] and again["data"]["test_examples"] == len(run.task.test_examples)
    assert again["training_seconds"] == trained["training_seconds"]
    # Predictions come from the one decode path that evaluation scored.
    sources = [sample["source"] for sample in trained["samples"]]
    assert run.predict(sources) == [sample["prediction"] for sample in trained["samples"]]


@pytest.mark.slow
def test_attention_of_a_run_with_a_sentencepiece_tokenizer(tmp_path):
    model_file = _train_sentencepiece(tmp_path / "spm", **PROJECT_IDS)
    out = tmp_path / "run"
    options = TINY["translation"] + COMMON + [f"data.tokenizer={json.dumps(model_file)}"]
    assert main(["train", str(ROOT / "models" / "dates.toml"), "--out", str(out), *sets(options)]) == 0
    path, title = Run.load(out).attention("March 5, 2024", tmp_path / "attention.png")
    assert path.stat().st_size > 1000 and title.startswith("'March 5, 2024' -> ")
