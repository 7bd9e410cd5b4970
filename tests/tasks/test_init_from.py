"""`model.init_from`: a finished run's weights (matched by path and shape) and
tokenizers initialise a new model; runs that cannot are refused before
anything is written."""

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_attention.cli import main
from keras_attention.data import WordPieceTokenizer
from keras_attention.models import GPTDecoder, Seq2SeqTransformer
from keras_attention.runs import Run
from keras_attention.tasks import get_task
from keras_attention.training.recipe import dump_recipe, load_recipe, validate_recipe
from tests.tiny import overrides, sets

ROOT = Path(__file__).parents[2]
TOPICS = ROOT / "models" / "bert-topics.toml"


@pytest.fixture(scope="module")
def pretrained(trained):
    """A tiny masked-LM run of models/bert-mini.toml: the session's (tests/conftest.py),
    which the export tests and bert-topics' run use too. Only read here."""
    return trained("bert-mini")[0]


def _init_from(path) -> str:
    return f"model.init_from={json.dumps(str(path))}"


def _task(recipe: Path, kind: str, init_from, *extra: str):
    task = get_task(load_recipe(recipe, overrides(kind) + [_init_from(init_from), *extra]))
    task.load_data()
    return task


def _values(model) -> dict:
    return {weight.path: keras.ops.convert_to_numpy(weight) for weight in model.weights}


def _fake_run(directory: Path, model, kind: str, tokenizers: dict) -> Path:
    """A run directory as `train` leaves it, as far as `model.init_from` reads one."""
    directory.mkdir()
    model.save(directory / "model.keras")
    (directory / "recipe.toml").write_text(dump_recipe(validate_recipe({"task": {"kind": kind}})))
    for name, tokenizer in tokenizers.items():
        tokenizer.save(directory / name)
    return directory


@pytest.mark.slow
def test_classifier_encoder_starts_as_the_masked_lm_encoder(pretrained, tmp_path):
    task = _task(TOPICS, "classification", pretrained)
    task.prepare_tokenizers(tmp_path, show_progress=False)
    for name in ("vocab.txt", "tokenizer.json"):  # the run's tokenizer, not a new one
        assert (tmp_path / "tokenizer" / name).read_bytes() == (pretrained / "tokenizer" / name).read_bytes()
    logs = []
    model = task.build_model(log=logs.append)
    source = Run.load(pretrained).model
    expected, values = _values(source), _values(model)

    encoder = {weight.path for weight in model.encoder.weights}
    assert {path for path in values if path in expected} == encoder  # exactly the encoder
    for path in encoder:
        np.testing.assert_array_equal(values[path], expected[path], err_msg=path)
    assert logs == [
        f"Initialised {len(encoder)} of {len(values)} weight tensors from `model.init_from` "
        f"{str(pretrained)!r} (a masked_lm run); initialised afresh: logits/kernel, logits/bias"
    ]
    inputs, _ = task.preprocessor(tf.constant(["Return a logger with the specified name.", "Fail."]))
    ours, theirs = model.encoder(inputs), source.encoder(inputs)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(theirs[key]))


@pytest.mark.slow
def test_masked_lm_continues_from_a_masked_lm_run_with_every_weight(pretrained, tmp_path):
    task = _task(ROOT / "models" / "bert-mini.toml", "masked_lm", pretrained)
    task.prepare_tokenizers(tmp_path, show_progress=False)
    logs = []
    values = _values(task.build_model(log=logs.append))
    expected = _values(Run.load(pretrained).model)
    assert values.keys() == expected.keys()
    for path, value in values.items():
        np.testing.assert_array_equal(value, expected[path], err_msg=path)
    assert logs[0].startswith(f"Initialised {len(values)} of {len(values)} weight tensors")
    assert "afresh" not in logs[0]


@pytest.mark.slow
def test_classifier_head_loads_only_for_the_same_labels(pretrained, tmp_path):
    """From a classification run, the logits load when the labels are the same,
    and start afresh (the encoder still loads) when they are not."""
    task = _task(TOPICS, "classification", pretrained)
    task.prepare_tokenizers(tmp_path / "first", show_progress=False)
    classifier = task.build_model()
    run = _fake_run(tmp_path / "classifier", classifier, "classification", task.tokenizers)
    (run / "label_names.json").write_text(json.dumps(task.label_names))

    logs = []
    again = _task(TOPICS, "classification", run)
    again.prepare_tokenizers(tmp_path / "second", show_progress=False)
    values, expected = _values(again.build_model(log=logs.append)), _values(classifier)
    np.testing.assert_array_equal(values["logits/kernel"], expected["logits/kernel"])
    assert "afresh" not in logs[0]

    (run / "label_names.json").write_text(json.dumps(["a", "b", "c", "d"]))
    logs = []
    values = _values(again.build_model(log=logs.append))
    assert not np.array_equal(values["logits/kernel"], expected["logits/kernel"])
    np.testing.assert_array_equal(values["pooler/kernel"], expected["pooler/kernel"])
    assert logs[0].endswith("initialised afresh: logits/kernel, logits/bias")


@pytest.mark.slow
def test_data_tokenizer_may_name_the_runs_own_tokenizer(pretrained):
    task = _task(TOPICS, "classification", pretrained, f"data.tokenizer={json.dumps(str(pretrained / 'tokenizer'))}")
    task.check_init_from()  # no error
    assert task.tokenizer.vocabulary_size == Run.load(pretrained).task.tokenizer.vocabulary_size


def _language_model_run(directory, pretrained):
    tokenizer = Run.load(pretrained).task.tokenizer
    model = GPTDecoder.from_preset("gpt_tiny", vocabulary_size=tokenizer.vocabulary_size, max_sequence_length=16)
    return _fake_run(directory, model, "language_model", {"tokenizer": tokenizer})


def _translation_run(directory, pretrained):
    tokenizer = Run.load(pretrained).task.tokenizer
    size = tokenizer.vocabulary_size
    model = Seq2SeqTransformer.from_preset(
        "transformer_tiny", encoder_vocabulary_size=size, decoder_vocabulary_size=size
    )
    tokenizers = {"source_tokenizer": tokenizer, "target_tokenizer": tokenizer}
    return _fake_run(directory, model, "translation", tokenizers)


def _other_tokenizer(directory, pretrained):
    texts = ["a completely different vocabulary", "of other words"] * 20
    WordPieceTokenizer.train(texts, vocabulary_size=60, show_progress=False).save(directory)
    return directory


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "`model.init_from` '.*missing' is not a directory"),
        ("not a run", "is not a finished run directory: it has no model.keras and no recipe.toml"),
        ("language model", "\\(a language_model run\\), a GPTDecoder, cannot initialise this "
         "BertClassifier: .* Not in the run: segment_embedding/embeddings; embeddings_norm/gamma"),
        ("translation", "\\(a translation run\\) has no tokenizer/ tokenizer"),
        ("hidden size", "a BertMaskedLM, cannot initialise this BertClassifier: .* Shapes differ: "
         "embedding/token_embedding/embeddings: \\(\\d+, 32\\) in the run, \\(\\d+, 64\\) here"),
        ("vocabulary size", "Shapes differ: embedding/token_embedding/embeddings: "
         "\\(\\d+, 32\\) in the run, \\(7, 32\\) here"),
        ("other tokenizer", "`data.tokenizer` '.*other' is not the tokenizer of `model.init_from`"),
    ],
)


def test_a_run_that_cannot_initialise_the_model_exits_2_and_writes_nothing(
    case, expected, pretrained, tmp_path, capsys
):
    init_from, extra = pretrained, []
    if case == "missing":
        init_from = tmp_path / "missing"
    elif case == "not a run":
        init_from = tmp_path / "empty"
        init_from.mkdir()
    elif case == "language model":
        init_from = _language_model_run(tmp_path / "gpt", pretrained)
    elif case == "translation":
        init_from = _translation_run(tmp_path / "translation", pretrained)
    elif case == "hidden size":
        extra = ["model.overrides.hidden_dim=64"]
    elif case == "vocabulary size":
        extra = ["model.overrides.vocabulary_size=7"]
    elif case == "other tokenizer":
        extra = [f"data.tokenizer={json.dumps(str(_other_tokenizer(tmp_path / 'other', pretrained)))}"]
    out = tmp_path / "out"
    options = overrides("classification") + [_init_from(init_from), *extra]
    assert main(["train", str(TOPICS), "--out", str(out), *sets(options)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-attention train: error: `")

    assert re.search(expected, error), error
    assert not out.exists()
