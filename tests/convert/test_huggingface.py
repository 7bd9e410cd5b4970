"""Hugging Face checkpoint -> BertEncoder / BertMaskedLM / BertClassifier: the
same outputs as keras-hub's own Hugging Face converter and a numpy BERT."""

import json

import keras
import numpy as np
import pytest

from keras_attention.convert import ConversionError, load_bert_tokenizer, read_bert_checkpoint
from keras_attention.models import BertClassifier, BertEncoder, BertMaskedLM
from tests.convert import checkpoints


@pytest.fixture
def tensors(rng):
    return checkpoints.huggingface_tensors(rng)


@pytest.fixture
def directory(tmp_path, tensors):
    return checkpoints.write_huggingface(tmp_path / "hf", tensors)


def test_encoder_matches_keras_hubs_huggingface_converter(directory, rng):
    import keras_hub

    token_ids, segment_ids, padding_mask = checkpoints.padded_batch(rng)
    outputs = BertEncoder.from_pretrained(directory)({"token_ids": token_ids, "segment_ids": segment_ids})
    # keras-hub reads the same local directory with its own converter
    # (keras_hub/src/utils/transformers/convert_bert.py).
    backbone = keras_hub.models.BertBackbone.from_preset(str(directory))
    for layer in backbone.transformer_layers:  # keras-hub's BERT uses tanh GELU
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu
    expected = backbone({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask})
    real = padding_mask.astype(bool)
    difference = np.abs(np.asarray(outputs["sequence_output"]) - np.asarray(expected["sequence_output"]))
    assert difference[real].max() < 1e-5
    np.testing.assert_allclose(outputs["pooled_output"], expected["pooled_output"], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "hidden_act, layer_norm_eps",
    [
        ("gelu", 1e-12),  # BERT's: the exact (erf) GELU
        # The tanh GELU (2e-3 from the exact one in the logits here), and an
        # epsilon far enough from BERT's to count (1e-3: 1e-2 in the logits).
        ("gelu_new", 1e-3),
        ("gelu_pytorch_tanh", 1e-12),
    ],
)
def test_encoder_and_masked_lm_match_a_numpy_bert(tmp_path, tensors, rng, hidden_act, layer_norm_eps):
    """The config's `hidden_act` and `layer_norm_eps` reach the blocks, the
    embeddings' norm and the masked-LM head, as in Hugging Face's BertForMaskedLM."""
    config = checkpoints.huggingface_config(hidden_act=hidden_act, layer_norm_eps=layer_norm_eps)
    directory = checkpoints.write_huggingface(tmp_path / "hf", tensors, config)
    token_ids, segment_ids, padding_mask = checkpoints.padded_batch(rng)
    sequence, pooled = checkpoints.reference_bert(
        tensors, token_ids, segment_ids, hidden_act=hidden_act, layer_norm_eps=layer_norm_eps
    )
    model = BertMaskedLM.from_pretrained(directory)
    outputs = model.encoder({"token_ids": token_ids, "segment_ids": segment_ids})
    real = padding_mask.astype(bool)
    assert np.abs(np.asarray(outputs["sequence_output"]) - sequence)[real].max() < 1e-5
    assert np.abs(np.asarray(outputs["pooled_output"]) - pooled).max() < 1e-5
    mask_positions = np.array([[1, 3], [2, 4], [0, 7]], "int32")
    logits = model({"token_ids": token_ids, "segment_ids": segment_ids, "mask_positions": mask_positions})
    expected = checkpoints.reference_mlm_logits(
        tensors, np.take_along_axis(sequence, mask_positions[:, :, None], axis=1), hidden_act, layer_norm_eps
    )
    assert np.abs(expected).max() > 1.0  # logits of a real scale (~5), not all near zero
    np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-5, rtol=0)


def test_an_unknown_activation_is_refused(tmp_path, tensors):
    config = checkpoints.huggingface_config(hidden_act="quick_gelu")
    directory = checkpoints.write_huggingface(tmp_path / "hf", tensors, config)
    with pytest.raises(ConversionError, match=r"config\.json: hidden_act='quick_gelu' is not supported"):
        BertEncoder.from_pretrained(directory)


def test_classifier_head_and_labels_come_from_the_checkpoint(tmp_path, rng):
    tensors = checkpoints.huggingface_tensors(rng, masked_lm=False, classifier=True)
    directory = checkpoints.write_huggingface(
        tmp_path / "hf", tensors, checkpoints.huggingface_config(classifier=True)
    )
    checkpoint = read_bert_checkpoint(directory)
    assert checkpoint.label_names == ["negative", "neutral", "positive"]
    model = BertClassifier.from_pretrained(checkpoint)
    token_ids, segment_ids, _ = checkpoints.padded_batch(rng)
    _, pooled = checkpoints.reference_bert(tensors, token_ids, segment_ids)
    expected = pooled @ tensors["classifier.weight"].T + tensors["classifier.bias"]
    np.testing.assert_allclose(model({"token_ids": token_ids, "segment_ids": segment_ids}), expected, atol=1e-5)
    with pytest.raises(ValueError, match="3 classes"):
        BertClassifier.from_pretrained(checkpoint, num_classes=5)


def test_a_bare_bert_model_without_prefix_and_with_old_norm_names(tmp_path, tensors, rng):
    """`BertModel` checkpoints have no `bert.` prefix; TF-converted ones say gamma/beta."""
    renamed = {}
    for name, value in tensors.items():
        if name.startswith("bert."):
            name = name[len("bert."):].replace("LayerNorm.weight", "LayerNorm.gamma")
            renamed[name.replace("LayerNorm.bias", "LayerNorm.beta")] = value
    directory = checkpoints.write_huggingface(tmp_path / "bare", renamed)
    token_ids, segment_ids, padding_mask = checkpoints.padded_batch(rng)
    _, pooled = checkpoints.reference_bert(tensors, token_ids, segment_ids)
    outputs = BertEncoder.from_pretrained(directory)({"token_ids": token_ids, "segment_ids": segment_ids})
    np.testing.assert_allclose(outputs["pooled_output"], pooled, atol=1e-5)


def test_lower_casing_follows_the_tokenizer_config(tmp_path, tensors):
    directory = checkpoints.write_huggingface(tmp_path / "cased", tensors, lower_case=False)
    assert not load_bert_tokenizer(directory).lower_case
    (directory / "tokenizer_config.json").unlink()
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "do_lower_case": False}))
    assert not load_bert_tokenizer(directory).lower_case
