"""keras-hub preset -> BertEncoder: same outputs as keras-hub's BertBackbone,
BertMaskedLM and BertTextClassifier as they are (within 1e-5)."""

import keras
import numpy as np
import pytest

from keras_attention.convert import load_bert_tokenizer, read_bert_checkpoint
from keras_attention.models import BertClassifier, BertEncoder, BertMaskedLM
from tests.convert import checkpoints


@pytest.fixture
def preset(tmp_path, rng):
    backbone = checkpoints.keras_hub_backbone(rng)
    return backbone, checkpoints.write_keras_hub(tmp_path / "preset", backbone)


def _outputs(model_outputs):
    return (np.asarray(model_outputs["sequence_output"]), np.asarray(model_outputs["pooled_output"]))


def test_outputs_match_keras_hub_on_a_padded_batch(preset, rng):
    backbone, directory = preset
    token_ids, segment_ids, padding_mask = checkpoints.padded_batch(rng)
    encoder = BertEncoder.from_pretrained(directory)
    # keras-hub's BertBackbone: the tanh GELU, epsilon 1e-12 (bert_backbone.py).
    assert (encoder.activation, encoder.norm_epsilon) == ("gelu_approximate", 1e-12)
    sequence, pooled = _outputs(encoder({"token_ids": token_ids, "segment_ids": segment_ids}))
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    expected_sequence, expected_pooled = _outputs(backbone(inputs))

    real = padding_mask.astype(bool)  # padded rows: ours are defined as zero attention
    assert np.abs(sequence - expected_sequence)[real].max() < 1e-5
    np.testing.assert_allclose(pooled, expected_pooled, atol=1e-5, rtol=0)
    # A check that the comparison can fail: BERT's exact GELU is 1e-4 or more away.
    for layer in backbone.transformer_layers:
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu
    assert np.abs(sequence - _outputs(backbone(inputs))[0])[real].max() > 1e-4


def test_config_and_tokenizer_come_from_the_preset(preset):
    _, directory = preset
    checkpoint = read_bert_checkpoint(directory)
    assert checkpoint.format == "keras_hub"
    assert checkpoint.config["num_layers"] == checkpoint.config["num_segments"] == 2
    assert not checkpoint.has_masked_lm_head and not checkpoint.has_classifier_head
    tokenizer = load_bert_tokenizer(checkpoint)
    assert tokenizer.lower_case  # keras-hub's `lowercase=True`
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id) == (
        0, 100, 101, 102, 103
    )


def test_task_models_without_heads_warn_that_the_head_is_random(preset):
    _, directory = preset
    with pytest.warns(UserWarning, match="no masked-LM head"):
        masked_lm = BertMaskedLM.from_pretrained(directory)
    with pytest.warns(UserWarning, match="no classification head"):
        classifier = BertClassifier.from_pretrained(directory, num_classes=4)
    reference = BertEncoder.from_pretrained(directory)
    for model in (masked_lm, classifier):
        for ours, theirs in zip(model.encoder.weights, reference.weights):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match="num_classes"):
        BertClassifier.from_pretrained(directory)


def test_only_shape_free_arguments_can_be_overridden(preset):
    _, directory = preset
    assert BertEncoder.from_pretrained(directory, dropout=0.0).dropout == 0.0
    with pytest.raises(ValueError, match="hidden_dim"):
        BertEncoder.from_pretrained(directory, hidden_dim=64)


def _randomize(model, rng):
    for variable in model.weights:
        base = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(base + rng.standard_normal(tuple(variable.shape)).astype("float32") * 0.3)


def test_a_masked_lm_task_preset_brings_its_head(tmp_path, rng):
    import keras_hub

    task = keras_hub.models.BertMaskedLM(checkpoints.keras_hub_backbone(rng), preprocessor=None)
    _randomize(task, rng)
    checkpoints.write_keras_hub(tmp_path / "mlm", task)
    model = BertMaskedLM.from_pretrained(tmp_path / "mlm")  # no warning: the head is there
    # keras-hub's MaskedLMHead: Keras's "gelu" (exact) and epsilon 1e-5
    # (bert_masked_lm.py, masked_lm_head.py), under the tanh-GELU encoder.
    assert (model.head_activation, model.transform_norm.epsilon) == ("gelu", 1e-5)
    assert model.encoder.activation == "gelu_approximate"
    token_ids, segment_ids, padding_mask = checkpoints.padded_batch(rng)
    mask_positions = np.array([[1, 3], [2, 4], [0, 7]], "int32")
    logits = np.asarray(
        model({"token_ids": token_ids, "segment_ids": segment_ids, "mask_positions": mask_positions})
    )
    expected = np.asarray(
        task({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask,
              "mask_positions": mask_positions})
    )
    assert np.abs(expected).max() > 1.0  # logits of a real scale (~5), not all near zero
    np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=0)


def test_a_text_classifier_task_preset_brings_its_head(tmp_path, rng):
    import keras_hub

    task = keras_hub.models.BertTextClassifier(
        checkpoints.keras_hub_backbone(rng), num_classes=4, preprocessor=None
    )
    _randomize(task, rng)
    checkpoints.write_keras_hub(tmp_path / "classifier", task)
    checkpoint = read_bert_checkpoint(tmp_path / "classifier")
    assert checkpoint.label_names == ["LABEL_0", "LABEL_1", "LABEL_2", "LABEL_3"]
    model = BertClassifier.from_pretrained(checkpoint)
    token_ids, segment_ids, padding_mask = checkpoints.padded_batch(rng)
    logits = np.asarray(model({"token_ids": token_ids, "segment_ids": segment_ids}))
    expected = np.asarray(
        task({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask})
    )
    np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=0)
