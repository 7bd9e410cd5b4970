"""`write_run`: a checkpoint as a run directory (recipe, tokenizer, labels,
model), never written over what the library did not write, nothing written
when it fails."""

import json
import os

import keras
import numpy as np
import pytest

from keras_attention.convert import ConversionError
from keras_attention.convert.run_directory import write_run
from keras_attention.data import load_tokenizer
from keras_attention.models import BertClassifier, BertMaskedLM
from keras_attention.training.recipe import load_recipe
from tests.convert import checkpoints


@pytest.fixture
def masked_lm(tmp_path, rng):
    return checkpoints.write_huggingface(tmp_path / "hf", checkpoints.huggingface_tensors(rng))


@pytest.fixture
def classifier(tmp_path, rng):
    tensors = checkpoints.huggingface_tensors(rng, masked_lm=False, classifier=True)
    return checkpoints.write_huggingface(tmp_path / "hf-classifier", tensors,
                                         checkpoints.huggingface_config(classifier=True))


def _listing(directory):
    return sorted(path.name for path in directory.iterdir())


def test_a_masked_lm_checkpoint_becomes_a_masked_lm_run(tmp_path, masked_lm):
    logged = []
    out = write_run(masked_lm, str(tmp_path / "runs" / "bert"), log=logged.append)
    assert out == tmp_path / "runs" / "bert"  # parents made, a Path returned
    assert _listing(out) == ["model.keras", "recipe.toml", "tokenizer"]
    text = (out / "recipe.toml").read_text()
    assert text.startswith("# Converted by `keras-attention convert` from the huggingface checkpoint\n"
                           f"# {os.path.abspath(masked_lm)}: pretrained weights, not trained here.\n")
    recipe = load_recipe(out / "recipe.toml")
    assert recipe.task.kind == "masked_lm" and recipe.model.preset == "bert_base"
    assert recipe.data.source == f"converted:{os.path.abspath(masked_lm)}"
    assert (recipe.data.vocabulary_size, recipe.data.max_length, recipe.data.lower_case) == (
        checkpoints.VOCABULARY_SIZE, checkpoints.MAX_LENGTH, True)
    assert recipe.model.overrides["hidden_dim"] == checkpoints.HIDDEN_DIM
    assert recipe.model.overrides["num_layers"] == checkpoints.NUM_LAYERS
    assert "vocabulary_size" not in recipe.model.overrides  # it is data's
    tokenizer = load_tokenizer(out / "tokenizer")
    assert tokenizer.vocabulary == checkpoints.VOCABULARY and tokenizer.cls_id == 101
    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, BertMaskedLM) and model.encoder.hidden_dim == checkpoints.HIDDEN_DIM
    assert logged[-1].startswith(f"BertMaskedLM ({model.count_params():,} parameters) from the huggingface "
                                 f"checkpoint {masked_lm}, a masked_lm run in {out}")


def test_a_classifier_checkpoint_becomes_a_classification_run_with_its_labels(tmp_path, classifier, rng):
    out = write_run(classifier, tmp_path / "run", log=lambda *_: None)
    assert _listing(out) == ["label_names.json", "model.keras", "recipe.toml", "tokenizer"]
    assert json.loads((out / "label_names.json").read_text()) == ["negative", "neutral", "positive"]
    assert load_recipe(out / "recipe.toml").task.kind == "classification"
    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, BertClassifier)
    token_ids, segment_ids, _ = checkpoints.padded_batch(rng)
    fresh = BertClassifier.from_pretrained(classifier)
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids}
    np.testing.assert_allclose(model(inputs), fresh(inputs), atol=1e-6)  # the weights were saved


def test_a_checkpoint_without_a_head_says_the_head_is_random(tmp_path, rng):
    source = checkpoints.write_huggingface(tmp_path / "bare", checkpoints.huggingface_tensors(rng, masked_lm=False))
    logged = []
    write_run(source, tmp_path / "run", log=logged.append)
    assert any(line.startswith("Note: ") and "no masked-LM head" in line for line in logged)


def test_an_empty_directory_is_filled(tmp_path, masked_lm):
    (tmp_path / "run").mkdir()
    write_run(masked_lm, tmp_path / "run", log=lambda *_: None)
    assert _listing(tmp_path / "run") == ["model.keras", "recipe.toml", "tokenizer"]


def test_refuses_a_file_or_a_directory_that_is_not_a_run(tmp_path, masked_lm):
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(FileExistsError, match="a-file exists and is not a directory"):
        write_run(masked_lm, tmp_path / "a-file", overwrite=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="mine is not a keras-attention run directory and is not empty"):
        write_run(masked_lm, tmp_path / "mine", overwrite=True)
    assert (tmp_path / "a-file").read_text() == "mine" and _listing(tmp_path / "mine") == ["notes.txt"]
    assert _listing(tmp_path) == ["a-file", "hf", "mine"]  # no scratch left beside them


def test_a_run_is_replaced_only_with_overwrite_and_keeps_other_files(tmp_path, masked_lm, classifier):
    out = write_run(masked_lm, tmp_path / "run", log=lambda *_: None)
    (out / "notes.txt").write_text("mine too")
    with pytest.raises(FileExistsError, match="holds a run; pass --overwrite to replace it"):
        write_run(classifier, out)
    assert load_recipe(out / "recipe.toml").task.kind == "masked_lm"
    write_run(classifier, out, overwrite=True, log=lambda *_: None)
    assert load_recipe(out / "recipe.toml").task.kind == "classification"
    assert (out / "notes.txt").read_text() == "mine too"
    assert _listing(tmp_path) == ["hf", "hf-classifier", "run"]


def test_a_bad_checkpoint_writes_nothing(tmp_path, rng):
    tensors = checkpoints.huggingface_tensors(rng)
    del tensors["bert.pooler.dense.bias"]
    source = checkpoints.write_huggingface(tmp_path / "hf", tensors)
    with pytest.raises(ConversionError, match="missing tensor 'bert.pooler.dense.bias'"):
        write_run(source, tmp_path / "run")
    assert _listing(tmp_path) == ["hf"]


def test_a_failure_while_writing_leaves_the_earlier_run_and_no_scratch(tmp_path, masked_lm, classifier, monkeypatch):
    out = write_run(masked_lm, tmp_path / "run", log=lambda *_: None)
    before = {name: (out / name).stat().st_mtime_ns for name in ("model.keras", "recipe.toml")}

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BertClassifier, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_run(classifier, out, overwrite=True, log=lambda *_: None)
    assert {name: (out / name).stat().st_mtime_ns for name in before} == before
    assert load_recipe(out / "recipe.toml").task.kind == "masked_lm"
    assert _listing(tmp_path) == ["hf", "hf-classifier", "run"]
