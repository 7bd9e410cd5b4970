"""`convert._gpt2_mapping`: the canonical tensor names of a `GPTDecoder`, the
vocabulary check, and loading hand-made tensors into a built decoder, each
variable compared with the array it was given."""

import numpy as np
import pytest

from keras_attention.convert._bert_mapping import ConversionError, SourceTensor
from keras_attention.convert._gpt2_mapping import (
    GPT2Checkpoint,
    _decoder_variables,
    check_vocabulary,
    decoder_tensor_names,
    load_decoder_weights,
)
from keras_attention.models import GPTDecoder

CONFIG = dict(vocabulary_size=11, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
              max_sequence_length=6, position="learned", pad_token_id=None)


def _decoder():
    decoder = GPTDecoder(**CONFIG)
    decoder(np.array([[1, 2, 3]]))
    return decoder


def _checkpoint(decoder, rng, drop=None, vocabulary=None):
    """Random tensors shaped as the decoder's variables, named canonically."""
    tensors = {
        name: SourceTensor(f"source/{name}", rng.normal(size=tuple(variable.shape)).astype("float32"))
        for name, variable in _decoder_variables(decoder).items() if name != drop
    }
    return GPT2Checkpoint(source="dir", format="huggingface", config=dict(CONFIG), tensors=tensors,
                          weights_file="dir/model.safetensors", vocabulary=vocabulary,
                          vocabulary_file="dir/vocab.json")


def test_tensor_names_run_from_embeddings_through_every_block_to_the_final_norm():
    one, two = decoder_tensor_names(1), decoder_tensor_names(2)
    assert one[:2] == ["embeddings.token", "embeddings.position"]
    assert one[-2:] == two[-2:] == ["final_norm.gamma", "final_norm.beta"]
    per_block = len(one) - 4
    assert per_block > 0 and len(two) == 4 + 2 * per_block and len(set(two)) == len(two)
    assert all(name.startswith("layers.1.") for name in two[2 + per_block: -2])


def test_every_variable_gets_its_own_tensor():
    rng = np.random.default_rng(0)
    decoder = _decoder()
    checkpoint = _checkpoint(decoder, rng)
    load_decoder_weights(decoder, checkpoint)
    variables = _decoder_variables(decoder)
    assert set(variables) == set(decoder_tensor_names(CONFIG["num_layers"]))
    for name, variable in variables.items():
        np.testing.assert_array_equal(np.asarray(variable), checkpoint.tensors[name].value, err_msg=name)


def test_a_missing_tensor_is_named_with_the_file():
    decoder = _decoder()
    checkpoint = _checkpoint(decoder, np.random.default_rng(1), drop="final_norm.gamma")
    with pytest.raises(ConversionError, match=r"dir/model.safetensors: missing tensor for final_norm.gamma"):
        load_decoder_weights(decoder, checkpoint)


def test_the_vocabulary_must_fill_the_embedding_rows_once_each():
    decoder = _decoder()
    rng = np.random.default_rng(2)
    check_vocabulary(_checkpoint(decoder, rng))  # no vocabulary: nothing to check
    check_vocabulary(_checkpoint(decoder, rng, vocabulary={f"t{i}": i for i in range(11)}))
    with pytest.raises(ConversionError, match="dir/vocab.json has 10 tokens, but .* 11 rows"):
        check_vocabulary(_checkpoint(decoder, rng, vocabulary={f"t{i}": i for i in range(10)}))
    gap = {f"t{i}": i for i in range(10)} | {"last": 12}
    with pytest.raises(ConversionError, match=r"ids must be 0 .. 10, each once"):
        check_vocabulary(_checkpoint(decoder, rng, vocabulary=gap))
