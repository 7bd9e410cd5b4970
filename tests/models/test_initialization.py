"""Every kernel and embedding of a model starts from its own random draw, with
the spread of the initializer its paper prescribes (expected values worked out
in tests/layers/test_initialization.py's helpers, not read from the models)."""

import pytest

from keras_attention.models import (
    BertClassifier,
    BertEncoder,
    BertMaskedLM,
    GPTDecoder,
    Seq2SeqTransformer,
)
from tests.layers.test_initialization import (
    assert_independent,
    assert_std,
    glorot_uniform_std,
    random_weights,
    truncated_normal_std,
)


def check(model, expected_std):
    weights = random_weights(model)
    assert_independent(weights)
    for name, values in weights.items():
        assert_std(name, values, expected_std(name, values.shape))


@pytest.mark.parametrize("position", ["learned", "rotary"])
def test_gpt_decoder(position):
    # GPT-2: every weight matrix and embedding ~ N(0, 0.02).
    model = GPTDecoder.from_preset("gpt_tiny", position=position)
    check(model, lambda name, shape: 0.02)


@pytest.mark.parametrize(
    "make",
    [
        lambda: BertEncoder.from_preset("bert_test"),
        lambda: BertMaskedLM.from_preset("bert_test"),
        lambda: BertClassifier.from_preset("bert_test", num_classes=2),
    ],
    ids=["encoder", "masked_lm", "classifier"],
)
def test_bert(make):
    # BERT: every weight matrix and embedding ~ N(0, 0.02) truncated at 2 std.
    check(make(), lambda name, shape: truncated_normal_std(0.02))


PAPER_STAGE = {"position": "sinusoidal", "scale_embeddings": True, "embeddings_initializer": None}


@pytest.mark.parametrize(
    "overrides",
    [PAPER_STAGE, {**PAPER_STAGE, "position": "learned", "tie_embeddings": False}],
    ids=["sinusoidal_tied", "learned_untied"],
)
def test_seq2seq_transformer_paper_stage(overrides):
    model = Seq2SeqTransformer.from_preset("transformer_tiny", **overrides)
    hidden_dim = model.hidden_dim

    def expected_std(name, shape):
        # Embeddings ~ N(0, hidden_dim ** -0.5) (scaled by sqrt(hidden_dim) in
        # the forward pass, paper §3.4); every other matrix glorot_uniform.
        if name.endswith("embeddings"):
            return hidden_dim**-0.5
        return glorot_uniform_std(shape)

    check(model, expected_std)


@pytest.mark.parametrize("preset", ["transformer_tiny", "transformer_small"])
def test_seq2seq_transformer_small_presets(preset):
    # The small presets' stage: token and position embeddings ~ U(-0.05, 0.05),
    # whose standard deviation is 0.05 / sqrt(3); every other matrix glorot_uniform.
    model = Seq2SeqTransformer.from_preset(preset, encoder_vocabulary_size=500)

    def expected_std(name, shape):
        if name.endswith("embeddings"):
            return 0.05 / 3**0.5
        return glorot_uniform_std(shape)

    check(model, expected_std)
