"""PresetMixin, and the preset tables of every family (presets are data)."""

import pytest

from keras_attention.models import BertEncoder, GPTDecoder, Seq2SeqTransformer
from keras_attention.models.bert_presets import BERT_PRESETS
from keras_attention.models.gpt_presets import GPT_PRESETS
from keras_attention.models.seq2seq_presets import SEQ2SEQ_PRESETS


@pytest.mark.parametrize(
    "model_class, presets",
    [(BertEncoder, BERT_PRESETS), (GPTDecoder, GPT_PRESETS), (Seq2SeqTransformer, SEQ2SEQ_PRESETS)],
)
def test_every_preset_entry_is_complete(model_class, presets):
    assert model_class.presets is presets
    assert model_class.preset_names() == sorted(presets)
    for name, entry in presets.items():
        assert set(entry) == {"description", "published_params", "config"}, name
        assert entry["description"] and isinstance(entry["config"], dict)


def test_overrides_win_and_the_table_is_not_changed():
    model = GPTDecoder.from_preset("gpt_tiny", num_layers=1, vocabulary_size=50)
    assert (model.num_layers, model.vocabulary_size) == (1, 50)
    assert GPT_PRESETS["gpt_tiny"]["config"]["num_layers"] == 2


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="Received: name='gpt9'. Known presets: gpt2_medium"):
        GPTDecoder.from_preset("gpt9")
