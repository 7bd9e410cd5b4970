"""The summarisation recipe (models/docsum.toml) end to end on tiny settings:
train through the CLI, ROUGE and the first-sentence baseline in metrics.json,
a split by module recorded in the run, summaries, attention plots and the
SavedModel (text in, text out)."""

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
                 *sets(TINY["translation"] + COMMON)]) == 0
    assert "Baseline 'first_sentence'" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    # Decoded as the recipe says (and as the export serves), by a pointer-generator model.
    assert metrics["decoding"] == (
        "beam search (beam size 4, length penalty 0.6, no repeated 2-grams), as served"
    )
    assert Run.load(out).model.pointer_generator
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
    # The plot draws what was copied too: the pointer's one-head copy attention.
    copied = Run.load(out).attention(TEXT).scores["copy_attention"]
    assert copied.shape[1] == 1 and abs(float(copied.sum(-1).mean()) - 1.0) < 1e-5

    # The export serves what evaluation scored: text in, text out.
    texts = [TEXT, test_split[0][0], ""]
    served = tf.saved_model.load(str(out / "export" / "1")).signatures["serving_default"](text=tf.constant(texts))
    answers = [text.decode() for text in served["translation"].numpy()]
    assert answers == Run.load(out).predict(texts) and answers[2] == ""
