"""BERT presets: exact parameter counts against the published models and the formula."""

import pytest

from keras_attention.models.bert_classifier import BertClassifier
from keras_attention.models.bert_encoder import BertEncoder
from keras_attention.models.bert_masked_lm import BertMaskedLM
from keras_attention.models.bert_presets import BERT_PRESETS

# The Hugging Face `BertModel` counts (with pooler, vocabulary 30522).
PUBLISHED = {"bert_base": 109_482_240, "bert_large": 335_141_888}
# Sizes quoted by the small-BERT release (Turc et al., 2019), in millions;
# they include the masked-LM head.
QUOTED_MILLIONS = {"bert_tiny": 4.4, "bert_mini": 11.3, "bert_small": 29.1, "bert_medium": 41.7}


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
