"""BertEncoder, BertMaskedLM and BertClassifier: presets, training, saving, masks."""

import numpy as np
import pytest

import keras
from keras import ops

from keras_attention.models.bert_classifier import BertClassifier
from keras_attention.models.bert_encoder import BertEncoder
from keras_attention.models.bert_masked_lm import BertMaskedLM
from keras_attention.models.bert_presets import BERT_PRESETS
from tests.models.model_contract import (
    check_keras_round_trip,
    check_mixed_precision_jit_step,
    check_overfits,
)

# The Hugging Face `BertModel` counts (with pooler, vocabulary 30522).
PUBLISHED = {"bert_base": 109_482_240, "bert_large": 335_141_888}
# Sizes quoted by the small-BERT release (Turc et al., 2019), in millions;
# they include the masked-LM head.
QUOTED_MILLIONS = {"bert_tiny": 4.4, "bert_mini": 11.3, "bert_small": 29.1, "bert_medium": 41.7}

BATCH, LENGTH = 4, 8


def bert_params(vocabulary_size, num_layers, hidden_dim, intermediate_dim,
                max_sequence_length, num_segments, **_):
    """BertModel parameters: embeddings, encoder layers, pooler."""
    h, i = hidden_dim, intermediate_dim
    embeddings = (vocabulary_size + max_sequence_length + num_segments) * h + 2 * h
    attention = 4 * (h * h + h) + 2 * h  # query, key, value, output; layer norm
    feed_forward = (h * i + i) + (i * h + h) + 2 * h  # two dense; layer norm
    pooler = h * h + h
    return embeddings + num_layers * (attention + feed_forward) + pooler


def mlm_head_params(vocabulary_size, hidden_dim, **_):
    """Transform dense, layer norm and output bias (the projection is tied)."""
    return hidden_dim * hidden_dim + hidden_dim + 2 * hidden_dim + vocabulary_size


@pytest.fixture
def batch(rng):
    """A masked batch: inputs (with `[MASK]` = 1 at `mask_positions`) and labels."""
    token_ids = rng.integers(4, 100, (BATCH, LENGTH)).astype("int32")
    token_ids[0, 6:] = 0
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, 4:] = 1
    segment_ids[token_ids == 0] = 0
    mask_positions = np.array([[1, 3], [2, 5], [0, 7], [4, 6]], "int32")
    labels = np.take_along_axis(token_ids, mask_positions, axis=1)
    masked = token_ids.copy()
    np.put_along_axis(masked, mask_positions, 1, axis=1)
    inputs = {"token_ids": masked, "segment_ids": segment_ids, "mask_positions": mask_positions}
    return inputs, labels


def encoder_inputs(inputs):
    return {"token_ids": inputs["token_ids"], "segment_ids": inputs["segment_ids"]}


def _np(x):
    return ops.convert_to_numpy(x)


# === Presets ===


@pytest.mark.parametrize("name", sorted(QUOTED_MILLIONS))
def test_small_bert_presets_match_the_architecture(name):
    config = BERT_PRESETS[name]["config"]
    expected = bert_params(**config)
    assert BERT_PRESETS[name]["published_params"] == expected
    model = BertMaskedLM.from_preset(name)
    assert model.encoder.count_params() == expected
    assert model.count_params() == expected + mlm_head_params(**config)
    assert round(model.count_params() / 1e6, 1) == QUOTED_MILLIONS[name]


def test_test_preset_matches_the_formula():
    model = BertEncoder.from_preset("bert_test")
    assert model.count_params() == bert_params(**BERT_PRESETS["bert_test"]["config"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_presets_match_published_counts(name):
    config = BERT_PRESETS[name]["config"]
    assert BERT_PRESETS[name]["published_params"] == PUBLISHED[name] == bert_params(**config)
    assert BertEncoder.from_preset(name).count_params() == PUBLISHED[name]


# === Architecture ===


def test_outputs_and_pooler(batch):
    inputs, _ = batch
    encoder = BertEncoder.from_preset("bert_test")
    outputs = encoder(encoder_inputs(inputs))
    sequence_output = _np(outputs["sequence_output"])
    assert sequence_output.shape == (BATCH, LENGTH, 32)
    expected = np.tanh(
        sequence_output[:, 0] @ _np(encoder.pooler.kernel) + _np(encoder.pooler.bias)
    )
    np.testing.assert_allclose(_np(outputs["pooled_output"]), expected, atol=1e-5)


def test_segment_ids_change_the_outputs(batch):
    inputs, _ = batch
    encoder = BertEncoder.from_preset("bert_test")
    first = _np(encoder(encoder_inputs(inputs))["sequence_output"])
    flipped = {**encoder_inputs(inputs), "segment_ids": 1 - inputs["segment_ids"]}
    second = _np(encoder(flipped)["sequence_output"])
    assert not np.allclose(first, second, atol=1e-3)


def test_masked_lm_head_is_tied_to_the_token_embedding(batch):
    inputs, _ = batch
    model = BertMaskedLM.from_preset("bert_test")
    sequence_output = _np(model.encoder(encoder_inputs(inputs))["sequence_output"])
    gathered = np.take_along_axis(sequence_output, inputs["mask_positions"][:, :, None], 1)
    hidden = _np(model.transform_norm(model.transform(gathered)))
    table = _np(model.encoder.embedding.token_embedding.embeddings)
    expected = hidden @ table.T + _np(model.output_bias.bias)
    logits = model(inputs)
    assert logits.dtype == "float32"
    np.testing.assert_allclose(_np(logits), expected, atol=1e-4)


def test_appended_padding_leaves_real_positions_unchanged(batch):
    inputs, _ = batch
    encoder = BertEncoder.from_preset("bert_test")
    outputs = encoder(encoder_inputs(inputs))
    padded = {key: np.pad(value, ((0, 0), (0, 5))) for key, value in encoder_inputs(inputs).items()}
    padded_outputs = encoder(padded)
    real = inputs["token_ids"] != 0
    np.testing.assert_allclose(
        _np(padded_outputs["sequence_output"])[:, :LENGTH][real],
        _np(outputs["sequence_output"])[real],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        _np(padded_outputs["pooled_output"]), _np(outputs["pooled_output"]), atol=1e-5
    )


def test_attention_scores_cover_every_layer(batch):
    inputs, _ = batch
    encoder = BertEncoder.from_preset("bert_test", num_layers=3)
    scores = encoder.attention_scores(encoder_inputs(inputs))
    assert list(scores) == ["encoder_layer_0", "encoder_layer_1", "encoder_layer_2"]
    real = inputs["token_ids"] != 0
    for layer_scores in scores.values():
        layer_scores = _np(layer_scores)
        assert layer_scores.shape == (BATCH, 2, LENGTH, LENGTH)
        # (batch, heads, query) sums: one on real queries, zero on padded ones.
        sums = layer_scores.sum(-1)
        np.testing.assert_allclose(sums.transpose(0, 2, 1)[real], 1.0, atol=1e-5)
        np.testing.assert_allclose(sums.transpose(0, 2, 1)[~real], 0.0, atol=1e-6)
        # Padded keys get no weight.
        np.testing.assert_array_equal(np.where(real[:, None, None, :], 0.0, layer_scores), 0.0)


# === Training, saving, mixed precision (the shared model contract) ===


def _classification_loss():
    # Class 0 is a real class here, so no `ignore_class=0` as in the token losses.
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _task(kind, **overrides):
    if kind == "masked_lm":
        return BertMaskedLM.from_preset("bert_test", **overrides)
    return BertClassifier.from_preset("bert_test", num_classes=2, **overrides)


def _task_data(kind, batch):
    inputs, labels = batch
    if kind == "masked_lm":
        return inputs, labels, None
    return encoder_inputs(inputs), np.array([0, 1, 1, 0]), _classification_loss()


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")  # the unused pooler
@pytest.mark.parametrize("kind", ["masked_lm", "classifier"])
def test_task_trains_and_overfits_a_tiny_batch(kind, batch):
    inputs, targets, loss = _task_data(kind, batch)
    check_overfits(_task(kind, dropout=0.0), inputs, targets, steps=40, loss=loss)


@pytest.mark.parametrize("kind", ["encoder", "masked_lm", "classifier"])
def test_keras_round_trip(kind, batch, tmp_path):
    inputs, _ = batch
    if kind == "encoder":
        model, inputs = BertEncoder.from_preset("bert_test"), encoder_inputs(inputs)
    else:
        model, inputs, _, _ = _task(kind), *_task_data(kind, batch)
    restored = check_keras_round_trip(model, inputs, tmp_path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()


def test_task_config_round_trip_rebuilds_the_encoder():
    model = BertClassifier.from_preset("bert_test", num_classes=3, num_layers=1)
    clone = BertClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.encoder.num_layers == 1 and clone.count_params() == model.count_params()


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")
@pytest.mark.parametrize("kind", ["masked_lm", "classifier"])
def test_mixed_bfloat16_and_a_jit_compiled_step(kind, batch):
    inputs, targets, loss = _task_data(kind, batch)
    models = []

    def make_model(**overrides):
        models.append(_task(kind, **overrides))
        return models[-1]

    check_mixed_precision_jit_step(make_model, inputs, targets, loss=loss)
    model = models[0]
    assert model.dtype_policy.name == model.encoder.dtype_policy.name == "mixed_bfloat16"
    sequence_output = model.encoder(encoder_inputs(inputs))["sequence_output"]
    assert keras.backend.standardize_dtype(sequence_output.dtype) == "bfloat16"
    logits = model(inputs)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(_np(logits)))


# === Errors ===


@pytest.mark.parametrize(
    "build",
    [
        lambda: BertEncoder.from_preset("bert_huge"),
        lambda: BertMaskedLM.from_preset("bert_huge"),
        lambda: BertClassifier.from_preset("bert_huge", num_classes=2),
    ],
)
def test_unknown_preset_lists_the_known_ones(build):
    with pytest.raises(ValueError, match="name='bert_huge'") as error:
        build()
    for name in BERT_PRESETS:
        assert name in str(error.value)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: BertClassifier.from_preset("bert_test", num_classes=0), "num_classes=0"),
        (
            lambda: BertClassifier(BertEncoder.from_preset("bert_test"), num_classes=2.5),
            "num_classes=2.5",
        ),
        (lambda: BertClassifier("bert_test", num_classes=2), "encoder='bert_test'"),
        (lambda: BertMaskedLM(None), "encoder=None"),
        (lambda: BertEncoder.from_preset("bert_test", num_layers=0), "num_layers=0"),
        (lambda: BertEncoder.from_preset("bert_test", num_segments=0), "num_segments=0"),
        (lambda: BertEncoder.from_preset("bert_test", dropout=1.0), "dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_received_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()
