"""`keras-attention convert`: a run directory that `classify`, `attention` and
`export` accept; never written over what the library did not write."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.cli import main
from keras_attention.runs import Run
from tests.convert import checkpoints


@pytest.fixture
def classifier_checkpoint(tmp_path, rng):
    tensors = checkpoints.huggingface_tensors(rng, masked_lm=False, classifier=True)
    return checkpoints.write_huggingface(
        tmp_path / "hf", tensors, checkpoints.huggingface_config(classifier=True)
    )


def test_a_keras_hub_preset_becomes_a_masked_lm_run(tmp_path, rng, capsys):
    source = checkpoints.write_keras_hub(tmp_path / "preset", checkpoints.keras_hub_backbone(rng))
    run_dir = tmp_path / "run"
    assert main(["convert", str(source), "--out", str(run_dir)]) == 0
    assert "no masked-LM head" in capsys.readouterr().out  # the random head is said
    assert sorted(path.name for path in run_dir.iterdir()) == ["model.keras", "recipe.toml", "tokenizer"]
    run = Run.load(run_dir)
    assert run.kind == "masked_lm" and run.recipe.data.lower_case
    assert run.recipe.model.overrides["hidden_dim"] == checkpoints.HIDDEN_DIM
    assert run.task.tokenizer.cls_id == 101
    png = tmp_path / "attention.png"
    assert main(["attention", str(run_dir), "The cat sat.", "--out", str(png)]) == 0
    assert png.stat().st_size > 0


@pytest.mark.slow
def test_a_classifier_run_classifies_and_exports(tmp_path, classifier_checkpoint, capsys):
    run_dir = tmp_path / "run"
    assert main(["convert", str(classifier_checkpoint), "--out", str(run_dir)]) == 0
    assert json.loads((run_dir / "label_names.json").read_text()) == ["negative", "neutral", "positive"]
    assert not (run_dir / "metrics.json").exists()  # nothing was evaluated
    run = Run.load(run_dir)
    texts = ["the cat sat on the mat.", "hello, world!"]
    labels = run.predict(texts)
    assert main(["export", str(run_dir)]) == 0
    served = tf.saved_model.load(str(run_dir / "export" / "1")).signatures["serving_default"](
        text=tf.constant(texts)
    )
    assert [label.decode() for label in served["label"].numpy()] == labels
    inputs, _ = run.task.preprocessor(tf.constant(texts))
    np.testing.assert_allclose(
        served["probabilities"].numpy(), tf.nn.softmax(run.model(inputs)).numpy(), atol=1e-5
    )


def test_never_writes_over_what_the_library_did_not_write(tmp_path, classifier_checkpoint, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["convert", str(classifier_checkpoint), "--out", str(out), "--overwrite"]) == 2
    assert "not a keras-attention run directory" in capsys.readouterr().err
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]

    run_dir = tmp_path / "run"
    assert main(["convert", str(classifier_checkpoint), "--out", str(run_dir)]) == 0
    (run_dir / "notes.txt").write_text("mine too")
    assert main(["convert", str(classifier_checkpoint), "--out", str(run_dir)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(classifier_checkpoint), "--out", str(run_dir), "--overwrite"]) == 0
    assert (run_dir / "notes.txt").read_text() == "mine too"  # only the run's own files replaced
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hf", "mine", "run"]  # no scratch left
