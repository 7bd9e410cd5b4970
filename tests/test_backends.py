"""Layers and model forward passes are `keras.ops` only, so they run on JAX too.

Each case is built and run here (TensorFlow backend); its config, weights,
inputs and outputs go to a child process with `KERAS_BACKEND=jax`, which
rebuilds it from the config, loads the weights and must give the same outputs,
without importing TensorFlow. The child also trains a small model one
XLA-compiled step (JAX always compiles). Generation is checked on JAX in
tests/models/test_generation_jax.py; export stays on TensorFlow (SavedModel).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras

from keras_attention.layers import (
    FeedForward,
    MultiHeadAttention,
    PointerGenerator,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from keras_attention.models import BertEncoder, GPTDecoder, Seq2SeqTransformer

pytest.importorskip("jax")


def _cases(rng):
    x = rng.standard_normal((2, 6, 16)).astype("float32")
    context = rng.standard_normal((2, 4, 16)).astype("float32")
    ids = rng.integers(1, 40, (2, 6)).astype("int32")
    ids[1, 4:] = 0
    padding = (ids != 0).astype("int32")
    return {
        "attention: RoPE, grouped heads, window, causal": (
            MultiHeadAttention(4, num_key_value_heads=2, attention_window=2, use_rotary_embedding=True),
            {"query": x, "padding_mask": padding},
            {"use_causal_mask": True},
        ),
        "attention: query chunks": (
            MultiHeadAttention(4, query_chunk_size=4), {"query": x}, {"use_causal_mask": True},
        ),
        "cross-attention": (
            MultiHeadAttention(2), {"query": x, "context": context}, {},
        ),
        "decoder block, cached prefill: RoPE, grouped heads": (
            TransformerDecoderBlock(2, 32, num_key_value_heads=1, use_rotary_embedding=True),
            {"decoder_sequence": x[:, :4], "self_attention_cache": np.zeros((2, 2, 1, 6, 8), "float32")},
            {"self_attention_cache_index": 1},
        ),
        "encoder block: pre-LN, RMS, SwiGLU": (
            TransformerEncoderBlock(4, 32, normalize_first=True, norm="rms", activation="swiglu"),
            {"inputs": x, "padding_mask": padding},
            {},
        ),
        "decoder block with cross-attention": (
            TransformerDecoderBlock(2, 32), {"decoder_sequence": x, "encoder_sequence": context}, {},
        ),
        "feed-forward": (FeedForward(32, activation="gelu"), {"inputs": x}, {}),
        "pointer-generator": (
            PointerGenerator(),
            {"decoder_sequence": x, "logits": x[..., :12], "encoder_token_ids": ids[:, :4] % 12,
             "encoder_sequence": context},
            {},
        ),
        "sinusoidal positions": (SinusoidalPositionEncoding(), {"inputs": x}, {}),
        "token and learned positions": (
            TokenAndPositionEmbedding(40, 8, 16, position="learned", scale_embeddings=True),
            {"inputs": ids},
            {},
        ),
        "GPT decoder": (
            GPTDecoder(vocabulary_size=40, num_layers=2, hidden_dim=16, num_heads=2,
                       intermediate_dim=32, max_sequence_length=8),
            {"token_ids": ids},
            {},
        ),
        "BERT encoder": (
            BertEncoder(vocabulary_size=40, num_layers=2, hidden_dim=16, num_heads=2,
                        intermediate_dim=32, max_sequence_length=8),
            {"token_ids": ids, "segment_ids": np.zeros_like(ids)},
            {},
        ),
        "seq2seq transformer": (
            Seq2SeqTransformer(encoder_vocabulary_size=40, num_encoder_layers=1,
                               num_decoder_layers=1, num_heads=2, hidden_dim=16,
                               intermediate_dim=32, max_sequence_length=8),
            {"encoder_token_ids": ids, "decoder_token_ids": ids[:, :5]},
            {},
        ),
        "seq2seq transformer with a pointer-generator": (
            Seq2SeqTransformer(encoder_vocabulary_size=40, num_encoder_layers=1,
                               num_decoder_layers=1, num_heads=2, hidden_dim=16,
                               intermediate_dim=32, max_sequence_length=8,
                               pointer_generator=True),
            {"encoder_token_ids": ids, "decoder_token_ids": ids[:, :5]},
            {},
        ),
    }


def _call(obj, inputs, options):
    """One input positionally; several as a dict (models) or keywords (layers)."""
    if len(inputs) == 1:
        return obj(*inputs.values(), **options)
    if isinstance(obj, keras.Model):
        return obj(inputs, **options)
    return obj(**inputs, **options)


CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_attention  # registers the serializable classes
    assert keras.backend.backend() == "jax"

    folder = sys.argv[1]
    cases = json.load(open(f"{folder}/cases.json"))
    arrays = np.load(f"{folder}/arrays.npz")
    errors = {}
    for index, (name, case) in enumerate(cases.items()):
        obj = keras.saving.deserialize_keras_object(case["config"])
        inputs = {key: arrays[f"{index}/input/{key}"] for key in case["inputs"]}
        def call(i):  # as the parent called it
            if len(i) == 1:
                return obj(*i.values(), **case["options"])
            return obj(i, **case["options"]) if case["model"] else obj(**i, **case["options"])
        call(inputs)  # build
        obj.set_weights([arrays[f"{index}/weight/{n}"] for n in range(case["num_weights"])])
        outputs = keras.tree.flatten(call(inputs))
        errors[name] = max(
            float(np.max(np.abs(np.asarray(out) - arrays[f"{index}/output/{n}"])))
            for n, out in enumerate(outputs)
        )

    # One XLA-compiled training step of a model made of our layers.
    tokens = keras.Input((None,), dtype="int32")
    hidden = keras_attention.layers.TokenAndPositionEmbedding(40, 8, 16)(tokens)
    hidden = keras_attention.layers.TransformerEncoderBlock(2, 32, query_chunk_size=4)(hidden)
    model = keras.Model(tokens, keras.layers.Dense(40)(hidden))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    ids = np.random.default_rng(0).integers(1, 40, (4, 8)).astype("int32")
    loss = model.fit(ids, ids, epochs=1, verbose=0).history["loss"][0]
    print(json.dumps({"errors": errors, "loss": loss, "tensorflow": "tensorflow" in sys.modules}))
    """
)


@pytest.mark.slow
def test_layers_and_models_give_the_same_outputs_on_jax(rng, tmp_path):
    cases, arrays = {}, {}
    for index, (name, (obj, inputs, options)) in enumerate(_cases(rng).items()):
        outputs = keras.tree.flatten(_call(obj, inputs, options))
        weights = obj.get_weights()
        cases[name] = {
            "config": keras.saving.serialize_keras_object(obj),
            "inputs": list(inputs),
            "options": options,
            "model": isinstance(obj, keras.Model),
            "num_weights": len(weights),
        }
        arrays.update({f"{index}/input/{k}": v for k, v in inputs.items()})
        arrays.update({f"{index}/weight/{n}": w for n, w in enumerate(weights)})
        arrays.update({f"{index}/output/{n}": np.asarray(o) for n, o in enumerate(outputs)})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    np.savez(tmp_path / "arrays.npz", **arrays)

    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        env={**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for name, error in report["errors"].items():
        assert error < 1e-4, f"{name}: JAX differs from TensorFlow by {error}"
    assert set(report["errors"]) == set(cases)
    assert np.isfinite(report["loss"])
    assert not report["tensorflow"], "the layers and models imported TensorFlow"
