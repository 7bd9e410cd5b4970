"""Shared by the BERT test modules: the task models and checks run on a masked batch
(the `bert_batch` fixture, in conftest.py)."""

import numpy as np
import keras
from keras import ops

from keras_attention.models.bert_classifier import BertClassifier
from keras_attention.models.bert_encoder import BertEncoder
from keras_attention.models.bert_masked_lm import BertMaskedLM
from tests.models.model_contract import check_keras_round_trip, check_mixed_precision_jit_step

BATCH, LENGTH = 4, 8


def encoder_inputs(inputs):
    return {"token_ids": inputs["token_ids"], "segment_ids": inputs["segment_ids"]}


def to_numpy(x):
    return ops.convert_to_numpy(x)


def classification_loss():
    # Class 0 is a real class here, so no `ignore_class=0` as in the token losses.
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def task_model(kind, **overrides):
    if kind == "masked_lm":
        return BertMaskedLM.from_preset("bert_test", **overrides)
    return BertClassifier.from_preset("bert_test", num_classes=2, **overrides)


def task_data(kind, batch):
    inputs, labels = batch
    if kind == "masked_lm":
        return inputs, labels, None
    return encoder_inputs(inputs), np.array([0, 1, 1, 0]), classification_loss()


def check_round_trip(kind, batch, tmp_path):
    inputs, _ = batch
    if kind == "encoder":
        model, inputs = BertEncoder.from_preset("bert_test"), encoder_inputs(inputs)
    else:
        model, inputs, _, _ = task_model(kind), *task_data(kind, batch)
    restored = check_keras_round_trip(model, inputs, tmp_path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()


def check_mixed_bfloat16_and_a_jit_compiled_step(kind, batch):
    inputs, targets, loss = task_data(kind, batch)
    models = []

    def make_model(**overrides):
        models.append(task_model(kind, **overrides))
        return models[-1]

    check_mixed_precision_jit_step(make_model, inputs, targets, loss=loss)
    model = models[0]
    assert model.dtype_policy.name == model.encoder.dtype_policy.name == "mixed_bfloat16"
    sequence_output = model.encoder(encoder_inputs(inputs))["sequence_output"]
    assert keras.backend.standardize_dtype(sequence_output.dtype) == "bfloat16"
    logits = model(inputs)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(to_numpy(logits)))
