"""BertMaskedLM: the head tied to the token embeddings, training, saving."""

import keras
import numpy as np
import pytest

from keras_attention.models.bert_encoder import BertEncoder
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
    hidden = _np(model.transform_norm(keras.ops.gelu(model.transform(gathered), approximate=False)))
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


def _head_output(model, inputs):
    """What the head's layer norm outputs for the masked tokens."""
    sequence_output = model.encoder(encoder_inputs(inputs))["sequence_output"]
    gathered = np.take_along_axis(_np(sequence_output), inputs["mask_positions"][:, :, None], 1)
    return _np(model.transform(gathered)), model.transform_norm


def test_head_activation_and_epsilon_are_its_own(bert_batch):
    inputs, _ = bert_batch
    encoder = BertEncoder.from_preset("bert_test", norm_epsilon=1e-12)
    model = BertMaskedLM(encoder, head_activation="gelu_approximate", head_norm_epsilon=0.5)
    transformed, norm = _head_output(model, inputs)
    assert norm.epsilon == 0.5
    hidden = _np(norm(keras.ops.gelu(transformed, approximate=True)))
    expected = hidden @ _np(encoder.embedding.token_embedding.embeddings).T + _np(model.output_bias.bias)
    np.testing.assert_allclose(_np(model(inputs)), expected, atol=1e-5)
    config = model.get_config()
    assert (config["head_activation"], config["head_norm_epsilon"]) == ("gelu_approximate", 0.5)
    restored = BertMaskedLM.from_config(config)
    restored.set_weights(model.get_weights())
    np.testing.assert_allclose(_np(restored(inputs)), _np(model(inputs)), atol=1e-6)


def test_a_config_saved_before_the_head_arguments_keeps_its_head(bert_batch):
    """Old configs lack `head_activation` and `head_norm_epsilon`: the exact GELU and the encoder's epsilon."""
    model = BertMaskedLM(BertEncoder.from_preset("bert_test", norm_epsilon=1e-3))
    config = model.get_config()
    del config["head_activation"], config["head_norm_epsilon"]
    restored = BertMaskedLM.from_config(config)
    assert restored.head_activation == "gelu" and restored.transform_norm.epsilon == 1e-3


@pytest.mark.parametrize(
    "arguments, message",
    [({"head_activation": "swiglu"}, "head_activation='swiglu'"), ({"head_norm_epsilon": 0.0}, "head_norm_epsilon=0.0")],
)
def test_bad_head_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        BertMaskedLM(BertEncoder.from_preset("bert_test"), **arguments)


def test_needs_an_encoder():
    with pytest.raises(ValueError, match="encoder=None"):
        BertMaskedLM(None)
