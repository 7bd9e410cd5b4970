"""BertMaskedLM: the head tied to the token embeddings, training, saving."""

import numpy as np
import pytest

from keras_attention.models.bert_masked_lm import BertMaskedLM
from tests.models.bert_helpers import (
    check_mixed_bfloat16_and_a_jit_compiled_step,
    check_round_trip,
    encoder_inputs,
    task_data,
    task_model,
)
from tests.models.bert_helpers import to_numpy as _np
from tests.models.model_contract import check_overfits


def test_masked_lm_head_is_tied_to_the_token_embedding(bert_batch):
    inputs, _ = bert_batch
    model = BertMaskedLM.from_preset("bert_test")
    sequence_output = _np(model.encoder(encoder_inputs(inputs))["sequence_output"])
    gathered = np.take_along_axis(sequence_output, inputs["mask_positions"][:, :, None], 1)
    hidden = _np(model.transform_norm(model.transform(gathered)))
    table = _np(model.encoder.embedding.token_embedding.embeddings)
    expected = hidden @ table.T + _np(model.output_bias.bias)
    logits = model(inputs)
    assert logits.dtype == "float32"
    np.testing.assert_allclose(_np(logits), expected, atol=1e-4)


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")  # the unused pooler
def test_trains_and_overfits_a_tiny_batch(bert_batch):
    inputs, targets, loss = task_data("masked_lm", bert_batch)
    check_overfits(task_model("masked_lm", dropout=0.0), inputs, targets, steps=40, loss=loss)


def test_keras_round_trip(bert_batch, tmp_path):
    check_round_trip("masked_lm", bert_batch, tmp_path)


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")
def test_mixed_bfloat16_and_a_jit_compiled_step(bert_batch):
    check_mixed_bfloat16_and_a_jit_compiled_step("masked_lm", bert_batch)


def test_needs_an_encoder():
    with pytest.raises(ValueError, match="encoder=None"):
        BertMaskedLM(None)
