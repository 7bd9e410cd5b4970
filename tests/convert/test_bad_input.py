"""Checkpoints that cannot be converted: a clear error naming the file or
tensor, exit 2 from the CLI, and nothing written."""

import json

import numpy as np
import pytest

from keras_attention.cli import main
from keras_attention.convert import ConversionError, read_bert_checkpoint
from keras_attention.models import BertEncoder
from tests.convert import checkpoints


@pytest.fixture
def tensors(rng):
    return checkpoints.huggingface_tensors(rng)


def _refused(capsys, tmp_path, source, match):
    """The CLI exits 2 with `match` in its message and leaves no trace next to --out."""
    before = sorted(path.name for path in tmp_path.iterdir())
    assert main(["convert", str(source), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "keras-attention convert: error:" in error and match in error, error
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    with pytest.raises(ConversionError, match=match.replace("(", r"\(").replace(")", r"\)")):
        BertEncoder.from_pretrained(source)


def test_a_huggingface_checkpoint_of_another_architecture(tmp_path, capsys):
    source = tmp_path / "roberta"
    source.mkdir()
    (source / "config.json").write_text(
        json.dumps({"model_type": "roberta", "architectures": ["RobertaForMaskedLM"]})
    )
    (source / "model.safetensors").write_bytes(b"")
    _refused(capsys, tmp_path, source, "'roberta' model (RobertaForMaskedLM)")


def test_a_gpt2_checkpoint_is_no_bert(tmp_path):
    source = tmp_path / "gpt2"
    source.mkdir()
    (source / "config.json").write_text(
        json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2})
    )
    (source / "model.safetensors").write_bytes(b"")
    with pytest.raises(ConversionError, match=r"'gpt2' model \(GPT2LMHeadModel\); only BERT"):
        BertEncoder.from_pretrained(source)
    preset = tmp_path / "gpt2-preset"
    preset.mkdir()
    (preset / "config.json").write_text(json.dumps({"class_name": "GPT2Backbone", "config": {}}))
    (preset / "model.weights.h5").write_bytes(b"")
    with pytest.raises(ConversionError, match="keras-hub 'GPT2Backbone'; only BertBackbone"):
        BertEncoder.from_pretrained(preset)


def test_a_keras_hub_preset_of_another_backbone(tmp_path, capsys):
    source = tmp_path / "roberta-preset"
    source.mkdir()
    (source / "config.json").write_text(json.dumps({"class_name": "RobertaBackbone", "config": {}}))
    (source / "model.weights.h5").write_bytes(b"")
    _refused(capsys, tmp_path, source, "keras-hub 'RobertaBackbone'")


def test_a_missing_tensor(tmp_path, capsys, tensors):
    del tensors["bert.encoder.layer.1.output.dense.bias"]
    source = checkpoints.write_huggingface(tmp_path / "hf", tensors)
    _refused(capsys, tmp_path, source, "missing tensor 'bert.encoder.layer.1.output.dense.bias'")


def test_a_tensor_of_the_wrong_shape(tmp_path, capsys, tensors):
    name = "bert.encoder.layer.0.intermediate.dense.weight"
    tensors[name] = tensors[name][:48]  # (out, in) = (48, 32); the config says 64 out
    source = checkpoints.write_huggingface(tmp_path / "hf", tensors)
    _refused(capsys, tmp_path, source, f"tensor '{name}' has shape (48, 32); expected (64, 32)")


def test_more_layers_than_the_config_says(tmp_path, capsys):
    tensors = checkpoints.huggingface_tensors(np.random.default_rng(1), num_layers=3)
    source = checkpoints.write_huggingface(tmp_path / "hf", tensors)
    _refused(capsys, tmp_path, source, "'bert.encoder.layer.2.attention.self.query.weight' is beyond")


def test_a_vocabulary_that_does_not_match_the_embedding(tmp_path, capsys, tensors):
    source = checkpoints.write_huggingface(
        tmp_path / "hf", tensors, vocabulary=checkpoints.VOCABULARY[:-5]
    )
    _refused(capsys, tmp_path, source, "vocab.txt has 135 tokens, but the checkpoint's token embedding has 140 rows")


def test_a_keras_hub_preset_with_a_missing_vocabulary(tmp_path, capsys, rng):
    source = tmp_path / "preset"
    checkpoints.keras_hub_backbone(rng).save_to_preset(str(source))
    _refused(capsys, tmp_path, source, "assets/tokenizer/vocabulary.txt")


def test_a_directory_that_is_no_checkpoint(tmp_path, capsys):
    source = tmp_path / "empty"
    source.mkdir()
    with pytest.raises(ConversionError, match="neither model.safetensors"):
        read_bert_checkpoint(source)
    assert main(["convert", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()


def test_an_untied_output_projection(tmp_path, capsys, tensors):
    tensors["cls.predictions.decoder.weight"] = tensors["cls.predictions.decoder.weight"] + 1
    source = checkpoints.write_huggingface(tmp_path / "hf", tensors)
    _refused(capsys, tmp_path, source, "'cls.predictions.decoder.weight' differs from the word embeddings")


def test_a_keras_hub_preset_with_a_missing_tensor(tmp_path, capsys, rng):
    import h5py

    source = checkpoints.write_keras_hub(tmp_path / "preset", checkpoints.keras_hub_backbone(rng))
    name = "layers/transformer_encoder_1/_feedforward_output_dense/vars/1"
    with h5py.File(source / "model.weights.h5", "r+") as file:
        del file[name]
    _refused(capsys, tmp_path, source, f"missing tensor {name!r}")
