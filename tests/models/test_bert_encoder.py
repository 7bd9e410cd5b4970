"""BertEncoder: outputs, pooler, segments, padding, attention scores."""

import numpy as np
import pytest

from keras_attention.models.bert_encoder import BertEncoder
from tests.models.bert_helpers import BATCH, LENGTH, check_round_trip, encoder_inputs
from tests.models.bert_helpers import to_numpy as _np


def test_outputs_and_pooler(bert_batch):
    inputs, _ = bert_batch
    encoder = BertEncoder.from_preset("bert_test")
    outputs = encoder(encoder_inputs(inputs))
    sequence_output = _np(outputs["sequence_output"])
    assert sequence_output.shape == (BATCH, LENGTH, 32)
    expected = np.tanh(
        sequence_output[:, 0] @ _np(encoder.pooler.kernel) + _np(encoder.pooler.bias)
    )
    np.testing.assert_allclose(_np(outputs["pooled_output"]), expected, atol=1e-5)


def test_segment_ids_change_the_outputs(bert_batch):
    inputs, _ = bert_batch
    encoder = BertEncoder.from_preset("bert_test")
    first = _np(encoder(encoder_inputs(inputs))["sequence_output"])
    flipped = {**encoder_inputs(inputs), "segment_ids": 1 - inputs["segment_ids"]}
    second = _np(encoder(flipped)["sequence_output"])
    assert not np.allclose(first, second, atol=1e-3)


def test_appended_padding_leaves_real_positions_unchanged(bert_batch):
    inputs, _ = bert_batch
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


def test_attention_scores_cover_every_layer(bert_batch):
    inputs, _ = bert_batch
    encoder = BertEncoder.from_preset("bert_test", num_layers=3)
    scores = encoder.attention_scores(encoder_inputs(inputs))
    assert list(scores) == ["encoder_layer_0", "encoder_layer_1", "encoder_layer_2"]
    real = inputs["token_ids"] != 0
    for layer_scores in scores.values():
        layer_scores = _np(layer_scores)
        assert layer_scores.shape == (BATCH, 2, LENGTH, LENGTH)
        # (bert_batch, heads, query) sums: one on real queries, zero on padded ones.
        sums = layer_scores.sum(-1)
        np.testing.assert_allclose(sums.transpose(0, 2, 1)[real], 1.0, atol=1e-5)
        np.testing.assert_allclose(sums.transpose(0, 2, 1)[~real], 0.0, atol=1e-6)
        # Padded keys get no weight.
        np.testing.assert_array_equal(np.where(real[:, None, None, :], 0.0, layer_scores), 0.0)


def test_keras_round_trip(bert_batch, tmp_path):
    check_round_trip("encoder", bert_batch, tmp_path)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: BertEncoder.from_preset("bert_test", num_layers=0), "num_layers=0"),
        (lambda: BertEncoder.from_preset("bert_test", num_segments=0), "num_segments=0"),
        (lambda: BertEncoder.from_preset("bert_test", dropout=1.0), "dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_received_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()
