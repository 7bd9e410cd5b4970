"""Transformer presets: the paper's base and big models, by parameter count."""

import pytest

from keras_attention.models import Seq2SeqTransformer
from keras_attention.models.seq2seq_presets import SEQ2SEQ_PRESETS


def test_every_preset_is_offered_by_the_model():
    assert set(SEQ2SEQ_PRESETS) == set(Seq2SeqTransformer.presets)


@pytest.mark.parametrize(
    "name, published",
    [("transformer_base", 65_000_000), ("transformer_big", 213_000_000)],
)
def test_paper_parameter_counts(name, published):
    # The paper rounds to the million and does not give its exact vocabulary
    # bookkeeping; our exact counts (63.08M, 214.25M) are within 3%.
    count = Seq2SeqTransformer.from_preset(name).count_params()
    assert abs(count - published) / published < 0.03, count
