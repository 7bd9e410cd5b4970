"""The summarisation recipe (models/docsum.toml) end to end on tiny settings:
train through the CLI, ROUGE and the first-sentence baseline in metrics.json,
a split by module recorded in the run, summaries, attention plots and the
SavedModel (text in, text out).

It trains from random weights: the pretraining run that docsum.toml starts
from (`model.init_from`, models/docsum-pretrain.toml) and the start itself are
run by docs/guides/summarisation.md's commands (tests/docs) and `init_from` is
tested in tests/tasks/test_init_from.py; none of the checks here depends on it."""

import json
from pathlib import Path

import pytest

from keras_attention.cli import main
from tests.tiny import COMMON, TINY, sets

ROOT = Path(__file__).parents[2]
TEXT = ("The argument may be a module, class, method, function, traceback, frame, or code object. "
        "The source code is returned as a single string.")


@pytest.mark.slow
def test_docsum_end_to_end(tmp_path, capsys):
    import tensorflow as tf

    from keras_attention.data import docstring_summaries
    from keras_attention.runs import Run

    out = tmp_path / "docsum"
    assert main(["train", str(ROOT / "models" / "docsum.toml"), "--out", str(out),
                 *sets(TINY["translation"] + COMMON + ['model.init_from=""'])]) == 0
    assert "Baseline 'first_sentence'" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    baseline = metrics["baseline_first_sentence"]
    for scores in (metrics, baseline):
        assert all(0.0 <= scores[name] <= 1.0 for name in ("rouge1", "rouge2", "rougeL"))
        assert 0.0 <= scores["bleu"] <= 100.0
    assert baseline["examples"] == metrics["test_examples"] == 8

    # The split by module, as recorded: no module in two parts, and every
    # example of the saved test split from a test module.
    groups = metrics["data"]["split_groups"]
    assert groups["by"] == "module"
    parts = [set(groups[part]) for part in ("train", "validation", "test")]
    assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    pairs, modules = docstring_summaries()
    module_of = dict(zip(pairs, modules))
    test_split = [tuple(json.loads(line)) for line in (out / "test_split.jsonl").read_text().splitlines()]
    assert len(test_split) == metrics["data"]["test_examples"]
    assert {module_of[example] for example in test_split} <= parts[2]

    assert main(["translate", str(out), TEXT]) == 0
    assert capsys.readouterr().out.startswith(TEXT + "\t")
    png = tmp_path / "attention.png"
    assert main(["attention", str(out), TEXT, "--out", str(png)]) == 0
    assert png.stat().st_size > 1000

    # The export serves what evaluation scored: text in, text out.
    texts = [TEXT, test_split[0][0], ""]
    served = tf.saved_model.load(str(out / "export" / "1")).signatures["serving_default"](text=tf.constant(texts))
    answers = [text.decode() for text in served["translation"].numpy()]
    assert answers == Run.load(out).predict(texts) and answers[2] == ""
