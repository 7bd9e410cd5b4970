"""A seeded block draws a different dropout mask at every site, and the same
seed draws the same masks again.

A site's mask is observed as its dropout layer applied to ones (training on):
kept positions are nonzero. Two independent masks at rate 0.5 agree on about
half the positions; two from one stream agree everywhere (or on a prefix, when
the shapes differ).
"""

import itertools

import keras
import numpy as np
import pytest

from keras_attention.layers import TransformerDecoderBlock, TransformerEncoderBlock

BATCH, LENGTH, HIDDEN, HEADS, INTERMEDIATE = 2, 6, 32, 4, 64
RATES = dict(dropout=0.5, attention_dropout=0.5, activation_dropout=0.5)


def build(kind, seed):
    if kind == "encoder":
        block = TransformerEncoderBlock(HEADS, INTERMEDIATE, seed=seed, **RATES)
        block.build((BATCH, LENGTH, HIDDEN))
    else:
        block = TransformerDecoderBlock(HEADS, INTERMEDIATE, seed=seed, **RATES)
        block.build((BATCH, LENGTH, HIDDEN), (BATCH, LENGTH, HIDDEN))
    return block


def site_masks(block):
    """`{site: first mask drawn}` for every dropout of a freshly built block."""
    residual = (BATCH, LENGTH, HIDDEN)
    scores = (BATCH, HEADS, LENGTH, LENGTH)
    sites = {
        "self_attention residual": (block.self_attention_dropout, residual),
        "self_attention weights": (block.self_attention._dropout_layer, scores),
        "feed_forward residual": (block.feed_forward_dropout, residual),
        "feed_forward hidden": (
            block.feed_forward._dropout_layer,
            (BATCH, LENGTH, INTERMEDIATE),
        ),
    }
    if isinstance(block, TransformerDecoderBlock):
        sites["cross_attention residual"] = (block.cross_attention_dropout, residual)
        sites["cross_attention weights"] = (block.cross_attention._dropout_layer, scores)
    return {
        site: keras.ops.convert_to_numpy(layer(np.ones(shape, "float32"), training=True))
        != 0
        for site, (layer, shape) in sites.items()
    }


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_every_dropout_site_draws_its_own_mask(kind):
    masks = site_masks(build(kind, seed=7))
    for (site_a, a), (site_b, b) in itertools.combinations(masks.items(), 2):
        size = min(a.size, b.size)
        agreement = np.mean(a.ravel()[:size] == b.ravel()[:size])
        assert agreement < 0.75, f"{site_a} and {site_b} masks agree at {agreement:.0%}"


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_the_same_seed_draws_the_same_masks(kind):
    first, second = site_masks(build(kind, seed=7)), site_masks(build(kind, seed=7))
    for site in first:
        np.testing.assert_array_equal(first[site], second[site], err_msg=site)
    other = site_masks(build(kind, seed=8))
    assert not np.array_equal(first["feed_forward residual"], other["feed_forward residual"])


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_the_same_seed_reproduces_a_training_forward_pass(kind, rng):
    block = build(kind, seed=7)
    clone = block.__class__.from_config(block.get_config())
    shape = (BATCH, LENGTH, HIDDEN)
    inputs = [rng.standard_normal(shape).astype("float32")]
    if kind == "decoder":
        inputs.append(rng.standard_normal(shape).astype("float32"))
    clone.build(*[x.shape for x in inputs])
    clone.set_weights(block.get_weights())
    outputs = keras.ops.convert_to_numpy(block(*inputs, training=True))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(clone(*inputs, training=True)), outputs
    )
    # Dropout was on: inference differs.
    assert not np.allclose(keras.ops.convert_to_numpy(block(*inputs)), outputs)
