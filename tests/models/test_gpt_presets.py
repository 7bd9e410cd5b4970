"""GPT presets: the published architectures' exact parameter counts."""

import pytest

from keras_attention.models import GPTDecoder
from keras_attention.models.gpt_presets import GPT_PRESETS


def test_every_preset_is_offered_by_the_model():
    assert set(GPT_PRESETS) == set(GPTDecoder.presets)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gpt2_small", "gpt2_medium"])
def test_published_parameter_counts(name):
    model = GPTDecoder.from_preset(name)
    assert model.count_params() == GPTDecoder.presets[name]["published_params"]
