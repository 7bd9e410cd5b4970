"""GPT-2 checkpoints -> GPTDecoder: keras-hub presets and Hugging Face
checkpoints give keras-hub's logits and greedy continuations."""

import json

import numpy as np
import pytest

from keras_attention.convert import ConversionError, read_gpt2_checkpoint
from keras_attention.models import GPTDecoder
from tests.convert import gpt2_checkpoints as checkpoints


def _max_difference(ours, theirs, padding_mask):
    """The largest difference on real positions (padding's logits are not compared)."""
    return float(np.abs(np.asarray(ours) - theirs)[padding_mask.astype(bool)].max())


@pytest.fixture
def preset(tmp_path, rng):
    backbone = checkpoints.keras_hub_backbone(rng)
    return backbone, checkpoints.write_keras_hub(tmp_path / "preset", backbone)


def test_keras_hub_preset_logits_match_on_a_padded_batch(preset, rng):
    backbone, directory = preset
    model = GPTDecoder.from_pretrained(directory)
    assert model.pad_token_id is None and model.activation == "gelu_approximate"
    token_ids, padding_mask = checkpoints.padded_batch(rng)
    expected = checkpoints.keras_hub_logits(backbone, token_ids, padding_mask)
    assert np.abs(expected).max() > 1.0  # logits of a real scale, not all near zero
    assert _max_difference(model(token_ids), expected, padding_mask) < 1e-5


def test_keras_hub_preset_greedy_continuation_matches_gpt2_causal_lm(preset, rng):
    import keras_hub

    backbone, directory = preset
    model = GPTDecoder.from_pretrained(directory)
    token_ids, padding_mask = checkpoints.padded_batch(rng)
    new_tokens = 8
    ours = model.generate(token_ids, new_tokens, padding_mask=padding_mask)

    causal_lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    causal_lm.compile(sampler="greedy")
    buffer = np.concatenate([token_ids * padding_mask, np.zeros((3, new_tokens), "int32")], axis=1)
    mask = np.concatenate([padding_mask, np.zeros((3, new_tokens), "int32")], axis=1)
    theirs = causal_lm.generate({"token_ids": buffer, "padding_mask": mask}, stop_token_ids=None)
    np.testing.assert_array_equal(ours, np.asarray(theirs["token_ids"]))
    # Every row generated something, past its own prompt.
    for row, length in enumerate(padding_mask.sum(axis=1)):
        assert ours[row, length:].size > 0


def test_keras_hub_preset_config_and_tokenizer_files(preset, tmp_path, rng):
    _, directory = preset
    checkpoint = read_gpt2_checkpoint(directory)
    assert checkpoint.format == "keras_hub"
    assert checkpoint.vocabulary == checkpoints.VOCABULARY
    assert checkpoint.merges == checkpoints.MERGES
    assert checkpoint.end_token_id == checkpoints.END_TOKEN_ID
    assert checkpoint.config["intermediate_dim"] == checkpoints.INTERMEDIATE_DIM
    # A backbone saved without its tokenizer still converts (no vocabulary to check).
    bare = checkpoints.write_keras_hub(tmp_path / "bare", checkpoints.keras_hub_backbone(rng), tokenizer=False)
    assert not read_gpt2_checkpoint(bare).has_tokenizer
    assert GPTDecoder.from_pretrained(bare, dropout=0.0).dropout == 0.0
    with pytest.raises(ValueError, match="hidden_dim"):
        GPTDecoder.from_pretrained(bare, hidden_dim=64)


@pytest.fixture
def tensors(rng):
    return checkpoints.huggingface_tensors(rng)


def test_huggingface_logits_match_keras_hubs_huggingface_converter(tmp_path, tensors, rng):
    import keras_hub

    directory = checkpoints.write_huggingface(tmp_path / "hf", tensors)
    model = GPTDecoder.from_pretrained(directory)
    # keras-hub reads the same local directory with its own converter
    # (keras_hub/src/utils/transformers/convert_gpt2.py).
    backbone = keras_hub.models.GPT2Backbone.from_preset(str(directory))
    token_ids, padding_mask = checkpoints.padded_batch(rng)
    expected = checkpoints.keras_hub_logits(backbone, token_ids, padding_mask)
    assert _max_difference(model(token_ids), expected, padding_mask) < 1e-5
    # The same weights as the keras-hub preset route: that backbone, saved, converts too.
    backbone.save_to_preset(str(tmp_path / "resaved"))
    resaved = GPTDecoder.from_pretrained(tmp_path / "resaved")
    np.testing.assert_allclose(resaved(token_ids), model(token_ids), atol=1e-5)


def test_huggingface_without_prefix_and_with_a_tied_lm_head(tmp_path, rng):
    """`GPT2Model` checkpoints have no `transformer.` prefix; `lm_head.weight`, when
    stored, equals the token embedding."""
    tensors = checkpoints.huggingface_tensors(rng, prefix="", lm_head=True)
    directory = checkpoints.write_huggingface(tmp_path / "bare", tensors)
    checkpoint = read_gpt2_checkpoint(directory)
    assert checkpoint.format == "huggingface" and checkpoint.end_token_id == checkpoints.END_TOKEN_ID
    model = GPTDecoder.from_pretrained(checkpoint)
    np.testing.assert_array_equal(
        model.embedding.token_embedding.embeddings.numpy(), tensors["wte.weight"]
    )
    block = model.blocks[1]
    hidden = checkpoints.HIDDEN_DIM
    np.testing.assert_array_equal(
        block.self_attention.value_kernel.numpy(), tensors["h.1.attn.c_attn.weight"][:, 2 * hidden :]
    )


def test_huggingface_activation_and_epsilon_come_from_the_config(tmp_path, tensors, rng):
    """`activation_function` "gelu" (exact) and `layer_norm_epsilon` 1e-3 reach
    every block and the final norm. keras-hub's converter fixes the tanh GELU and
    1e-5, so its backbone is given the config's settings to serve as the reference."""
    import keras
    import keras_hub

    config = checkpoints.huggingface_config(activation_function="gelu", layer_norm_epsilon=1e-3, n_inner=128)
    directory = checkpoints.write_huggingface(tmp_path / "hf", tensors, config)
    model = GPTDecoder.from_pretrained(directory)
    assert (model.activation, model.norm_epsilon) == ("gelu", 1e-3)
    backbone = keras_hub.models.GPT2Backbone.from_preset(str(directory))
    token_ids, padding_mask = checkpoints.padded_batch(rng)
    as_converted = checkpoints.keras_hub_logits(backbone, token_ids, padding_mask)
    for layer in backbone.transformer_layers:
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu
        layer._self_attention_layer_norm.epsilon = layer._feedforward_layer_norm.epsilon = 1e-3
    backbone.layer_norm.epsilon = 1e-3
    expected = checkpoints.keras_hub_logits(backbone, token_ids, padding_mask)
    assert _max_difference(model(token_ids), expected, padding_mask) < 1e-5
    # A check that the comparison can fail: the settings keras-hub fixes are 1e-4 or more away.
    assert _max_difference(model(token_ids), as_converted, padding_mask) > 1e-4


# === Bad input: a clear error naming the tensor or file ===


def _refused(source, match):
    with pytest.raises(ConversionError, match=match.replace("(", r"\(").replace(")", r"\)")):
        GPTDecoder.from_pretrained(source)


def test_a_bert_checkpoint_is_refused(tmp_path):
    from tests.convert import checkpoints as bert_checkpoints

    bert = bert_checkpoints.write_huggingface(
        tmp_path / "bert", bert_checkpoints.huggingface_tensors(np.random.default_rng(0))
    )
    _refused(bert, "'bert' model (BertForMaskedLM); only GPT-2 checkpoints (model_type 'gpt2')")
    preset = tmp_path / "bert-preset"
    preset.mkdir()
    (preset / "config.json").write_text(json.dumps({"class_name": "BertBackbone", "config": {}}))
    (preset / "model.weights.h5").write_bytes(b"")
    _refused(preset, "keras-hub 'BertBackbone'; only GPT2Backbone presets convert to GPTDecoder")


def test_a_missing_tensor(tmp_path, tensors):
    del tensors["transformer.h.1.mlp.c_proj.bias"]
    _refused(checkpoints.write_huggingface(tmp_path / "hf", tensors),
             "missing tensor 'transformer.h.1.mlp.c_proj.bias'")


def test_a_transposed_conv1d_weight(tmp_path, tensors):
    name = "transformer.h.0.mlp.c_fc.weight"
    tensors[name] = tensors[name].T  # (out, in), as a Linear layer would store it
    _refused(checkpoints.write_huggingface(tmp_path / "hf", tensors),
             f"tensor '{name}' has shape (128, 32); expected (32, 128)")


def test_a_misshapen_attention_matrix(tmp_path, tensors):
    name = "transformer.h.1.attn.c_attn.weight"
    tensors[name] = tensors[name][:, :64]
    _refused(checkpoints.write_huggingface(tmp_path / "hf", tensors),
             f"tensor '{name}' has shape (32, 64); expected (32, 96)")


def test_more_layers_than_the_config_says(tmp_path):
    tensors = checkpoints.huggingface_tensors(np.random.default_rng(1), num_layers=3)
    _refused(checkpoints.write_huggingface(tmp_path / "hf", tensors),
             "'transformer.h.2.ln_1.weight' is beyond n_layer=2")


def test_an_untied_lm_head(tmp_path, rng):
    tensors = checkpoints.huggingface_tensors(rng, lm_head=True)
    tensors["lm_head.weight"] = tensors["lm_head.weight"] + 1
    _refused(checkpoints.write_huggingface(tmp_path / "hf", tensors),
             "'lm_head.weight' differs from the token embedding")


def test_a_vocabulary_that_does_not_match_the_embedding(tmp_path, tensors):
    vocabulary = dict(list(checkpoints.VOCABULARY.items())[:-3])
    _refused(checkpoints.write_huggingface(tmp_path / "hf", tensors, vocabulary=vocabulary),
             f"vocab.json has {checkpoints.VOCABULARY_SIZE - 3} tokens, but the checkpoint's "
             f"token embedding has {checkpoints.VOCABULARY_SIZE} rows")


def test_missing_merges_and_unsupported_configs(tmp_path, tensors):
    directory = checkpoints.write_huggingface(tmp_path / "hf", tensors)
    (directory / "merges.txt").unlink()
    _refused(directory, "merges.txt is missing")
    for change, match in (
        ({"activation_function": "silu"}, "activation_function='silu' is not supported"),
        ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx=True is not supported"),
        ({"n_head": "two"}, "'n_head' must be an integer"),
    ):
        source = checkpoints.write_huggingface(
            tmp_path / f"hf-{len(change)}-{sorted(change)[0]}", tensors, checkpoints.huggingface_config(**change)
        )
        _refused(source, match)


def test_a_keras_hub_preset_with_a_missing_tensor(preset):
    import h5py

    _, directory = preset
    name = "layers/transformer_decoder_1/_self_attention_layer/value_dense/vars/0"
    with h5py.File(directory / "model.weights.h5", "r+") as file:
        del file[name]
    _refused(directory, f"missing tensor {name!r}")
