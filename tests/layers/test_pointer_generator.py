"""PointerGenerator against the paper's formula computed in numpy (See et al., 2017, §2.2)."""

import numpy as np
import pytest

from keras_attention.layers import PointerGenerator


def _softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _reference(layer, states, logits, token_ids, encoder):
    """P(w) = p_gen softmax(logits)_w + (1 - p_gen) sum_{i: x_i = w} a_i, in float64."""
    attention = layer.attention
    w = {v.path.split("/")[-1]: np.asarray(v, "float64") for v in attention.weights}
    q = states @ w["query_kernel"] + w["query_bias"]
    k = encoder @ w["key_kernel"] + w["key_bias"]
    v = encoder @ w["value_kernel"] + w["value_bias"]
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    scores = np.where((token_ids != 0)[:, None, :], scores, -np.inf)
    a = _softmax(scores)
    context = (a @ v) @ w["output_kernel"] + w["output_bias"]
    kernel, bias = (np.asarray(x, "float64") for x in layer.gate.weights)
    p_gen = 1 / (1 + np.exp(-(np.concatenate([states, context], -1) @ kernel + bias)))
    copy = np.zeros(logits.shape)
    for b in range(token_ids.shape[0]):
        for i, token in enumerate(token_ids[b]):
            if token:
                copy[b, :, token] += a[b, :, i]
    return p_gen * _softmax(logits) + (1 - p_gen) * copy, a, p_gen[..., 0]


def _inputs(rng):
    """Decoder states, encoder outputs, logits (vocabulary 11) and source ids
    with repeated ids (their copy weights add up) and padding (never copied)."""
    states = rng.normal(size=(2, 3, 8)).astype("float32")
    encoder = rng.normal(size=(2, 5, 8)).astype("float32")
    logits = rng.normal(size=(2, 3, 11)).astype("float32")
    token_ids = np.array([[4, 7, 4, 9, 0], [3, 3, 3, 10, 2]], "int32")
    return states, encoder, logits, token_ids


def test_matches_the_papers_mixture(rng):
    layer = PointerGenerator()
    states, encoder, logits, token_ids = _inputs(rng)
    layer(states, logits, token_ids, encoder_sequence=encoder)  # build
    # A gate that is not 0.5 everywhere.
    layer.gate.set_weights([rng.normal(size=(16, 1)), np.array([0.3])])

    log_probs, scores = layer(
        states, logits, token_ids, encoder_sequence=encoder, return_attention_scores=True
    )
    expected, a, p_gen = _reference(
        layer, *(x.astype("float64") for x in (states, logits)), token_ids, encoder.astype("float64")
    )
    np.testing.assert_allclose(np.exp(np.asarray(log_probs)), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(scores["copy_attention"])[:, 0], a, atol=1e-5)
    np.testing.assert_allclose(np.asarray(scores["generation_probability"]), p_gen, atol=1e-5)
    np.testing.assert_allclose(np.exp(np.asarray(log_probs)).sum(-1), 1.0, atol=1e-5)


def test_projected_keys_and_values_give_the_same_output(rng):
    layer = PointerGenerator()
    states, encoder, logits, token_ids = _inputs(rng)
    direct = layer(states, logits, token_ids, encoder_sequence=encoder)
    cached = layer(
        states, logits, token_ids, encoder_key_value=layer.attention.project_key_value(encoder)
    )
    np.testing.assert_allclose(np.asarray(cached), np.asarray(direct), atol=1e-6)


def test_needs_exactly_one_encoder_input(rng):
    layer = PointerGenerator()
    states = np.zeros((1, 2, 8), "float32")
    logits = np.zeros((1, 2, 11), "float32")
    with pytest.raises(ValueError, match="exactly one of `encoder_sequence` and `encoder_key_value`"):
        layer(states, logits, np.array([[3, 4]]))
