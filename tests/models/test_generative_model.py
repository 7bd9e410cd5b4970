"""`GenerativeModel`: the key/value cache its subclasses decode on, and its
compiled functions (`CompiledFunctions`), keyed by every Python argument."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_attention.models import GPTDecoder, Seq2SeqTransformer
from keras_attention.models.generation import Sampler
from keras_attention.models.generative_model import CompiledFunctions, GenerativeModel

TOKEN_IDS = np.array([[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]], "int32")


@pytest.fixture
def gpt():
    return GPTDecoder.from_preset("gpt_tiny")


# === Key/value cache ===


def test_initial_cache_is_zeros_one_slice_per_cached_block():
    gpt = GPTDecoder.from_preset("gpt_tiny", num_layers=3, num_key_value_heads=1)
    cache = gpt.initial_cache(batch_size=4, max_length=10)
    # (batch, num_layers, keys/values, kv_heads, max_length, head_dim)
    assert tuple(cache.shape) == (4, 3, 2, 1, 10, 32 // 2)
    assert cache.dtype == "float32" and not np.any(ops.convert_to_numpy(cache))

    seq2seq = Seq2SeqTransformer.from_preset("transformer_tiny", num_encoder_layers=1, num_decoder_layers=3)
    assert seq2seq.cached_blocks == seq2seq.decoder_blocks
    assert tuple(seq2seq.initial_cache(2, 7).shape) == (2, 3, 2, 4, 7, 64 // 4)


def test_the_cache_follows_the_dtype_policy():
    model = GPTDecoder.from_preset("gpt_tiny", dtype="mixed_float16")
    assert isinstance(model, GenerativeModel) and model.dtype_policy.name == "mixed_float16"
    assert model.initial_cache(1, 4).dtype == "float16"


def test_stack_layers_puts_the_layer_on_axis_1(gpt):
    index = {id(block): i for i, block in enumerate(gpt.cached_blocks)}
    stacked = ops.convert_to_numpy(gpt.stack_layers(lambda block: ops.full((3, 5), index[id(block)] + 1.0)))
    assert stacked.shape == (3, 2, 5)
    np.testing.assert_array_equal(stacked[:, 0], 1.0)
    np.testing.assert_array_equal(stacked[:, 1], 2.0)


def test_a_subclass_must_name_its_cached_blocks():
    class NoCache(GenerativeModel):
        pass

    inputs = keras.Input((None,), dtype="int32")
    model = NoCache(inputs=inputs, outputs=keras.layers.Embedding(10, 4)(inputs))
    with pytest.raises(NotImplementedError, match="NoCache must define `cached_blocks`"):
        model.cached_blocks


def _gpt_cached_logits(model, token_ids, chunks, max_length):
    """Logits of `token_ids` fed through the cache in `chunks` (lengths), one call each."""
    cache, start, logits = model.initial_cache(token_ids.shape[0], max_length), 0, []
    for length in chunks:
        x = model.embedding(token_ids[:, start : start + length], start_index=start)
        x, cache = model.call_blocks_with_cache(x, cache, start)
        logits.append(model.embedding(model.final_norm(x), reverse=True))
        start += length
    return ops.convert_to_numpy(ops.concatenate(logits, axis=1)), ops.convert_to_numpy(cache)


def test_cached_decoding_equals_the_uncached_forward_pass(gpt):
    expected = ops.convert_to_numpy(gpt(TOKEN_IDS))
    # A prompt of 3, then one token at a time, as generation does.
    logits, cache = _gpt_cached_logits(gpt, TOKEN_IDS, [3, 1, 1, 1], max_length=9)
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    # Six positions written, the last three untouched.
    assert np.all(np.any(cache[:, :, :, :, :6] != 0, axis=-1))
    assert not np.any(cache[:, :, :, :, 6:])


def test_seq2seq_cached_decoding_with_a_cross_attention_cache_equals_the_forward_pass():
    model = Seq2SeqTransformer.from_preset("transformer_tiny")
    sources = np.array([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]], "int32")  # a padded source
    targets = TOKEN_IDS[:, :4]
    expected = ops.convert_to_numpy(model({"encoder_token_ids": sources, "decoder_token_ids": targets}))

    encoder_outputs, encoder_padding_mask = model._encode(sources)
    cross_cache = model.stack_layers(lambda block: block.cross_attention.project_key_value(encoder_outputs))
    cache, logits = model.initial_cache(2, 6), []
    for index in range(targets.shape[1]):
        x = model.decoder_embedding(targets[:, index : index + 1], start_index=index)
        x, cache = model.call_blocks_with_cache(
            x, cache, index, cross_cache, encoder_padding_mask=encoder_padding_mask
        )
        logits.append(ops.convert_to_numpy(model._logits(x, sources, encoder_padding_mask)))
    np.testing.assert_allclose(np.concatenate(logits, axis=1), expected, atol=1e-5)


# === Compiled functions ===


def test_compiled_functions_are_keyed_by_every_static_argument():
    def add(x, *, offset, scale=1):
        return x * scale + offset

    functions = CompiledFunctions()
    one = functions.get(add, offset=1)
    assert functions.get(add, offset=1) is one
    assert functions.get(add, offset=2) is not one
    assert functions.get(add, offset=1, scale=3) is not one
    assert float(functions.get(add, offset=2, scale=3)(np.float32(1.0))) == 5.0


def test_seed_generator_restarts_at_the_seed():
    functions = CompiledFunctions()
    first = np.asarray(functions.seed_generator(5).state)
    functions.seed_generator(5).next()
    assert np.array_equal(np.asarray(functions.seed_generator(5).state), first)


def _logits(token_ids, *, model, scale):
    return model(token_ids) * scale


def test_a_compiled_function_follows_its_arguments_and_reads_the_weights_when_called(gpt):
    double = gpt.compiled_function(_logits, model=gpt, scale=2.0)
    assert gpt.compiled_function(_logits, model=gpt, scale=2.0) is double
    triple = gpt.compiled_function(_logits, model=gpt, scale=3.0)
    eager = ops.convert_to_numpy(gpt(TOKEN_IDS))
    np.testing.assert_allclose(ops.convert_to_numpy(double(TOKEN_IDS)), 2 * eager, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ops.convert_to_numpy(triple(TOKEN_IDS)), 3 * eager, rtol=1e-4, atol=1e-4)
    # New weights after compiling: the program reads them, none is baked in.
    gpt.set_weights([weight * 1.5 for weight in gpt.get_weights()])
    changed = ops.convert_to_numpy(gpt(TOKEN_IDS))
    assert not np.allclose(changed, eager, atol=1e-3)
    np.testing.assert_allclose(ops.convert_to_numpy(double(TOKEN_IDS)), 2 * changed, rtol=1e-4, atol=1e-4)


def test_compiled_sampling_is_keyed_by_the_samplers_settings_not_its_seed(gpt):
    sampler = Sampler(temperature=1.0, top_k=5, seed=3)
    function = gpt.compiled_sampling(gpt.decode, sampler, end_token_id=None)
    assert gpt.compiled_sampling(gpt.decode, Sampler(temperature=1.0, top_k=5, seed=4), end_token_id=None) is function
    assert gpt.compiled_sampling(gpt.decode, Sampler(temperature=1.0, top_k=6, seed=3), end_token_id=None) is not function
    assert gpt.compiled_sampling(gpt.decode, sampler, end_token_id=2) is not function


def test_the_same_seed_samples_the_same_and_compiling_adds_no_variables(gpt):
    weights = len(gpt.weights)
    prompts = TOKEN_IDS[:, :2]
    first = gpt.generate(prompts, 8, sampler={"temperature": 1.0, "seed": 7})
    assert gpt.generate(prompts, 8, sampler={"temperature": 1.0, "seed": 7}).tolist() == first.tolist()
    assert gpt.generate(prompts, 8, sampler={"temperature": 1.0, "seed": 8}).tolist() != first.tolist()
    assert len(gpt.weights) == weights
