"""A language model's padding is its model's configuration: with GPT-2's
`pad_token_id=None`, id 0 (`"!"`) is a token that the loss, the accuracy and
the held-out cross-entropy count, and padding is what the sample weights mark;
a model with pad id 0 trains exactly as before. Each value is checked against
a masked mean cross-entropy written here in numpy."""

import inspect

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.models import GPTDecoder
from keras_attention.tasks import get_task
from keras_attention.tasks.language_model import mean_token_cross_entropy
from keras_attention.training import MaskedSparseCategoricalCrossentropy
from keras_attention.training.recipe import validate_recipe

VOCABULARY_SIZE = 23
TINY = dict(vocabulary_size=VOCABULARY_SIZE, num_layers=1, num_heads=2, hidden_dim=16,
            intermediate_dim=32, max_sequence_length=16, dropout=0.0)


def _task(label_smoothing=0.0, preset="gpt2_small", overrides=None):
    return get_task(validate_recipe({
        "task": {"kind": "language_model"},
        "model": {"preset": preset, "overrides": overrides or {}},
        "training": {"label_smoothing": label_smoothing},
    }))


def _gpt2():
    """A tiny GPTDecoder configured as GPT-2: no pad token."""
    return GPTDecoder(**TINY, activation="gelu_approximate", pad_token_id=None)


def _batch(rng):
    """Right-padded rows whose real targets include id 0; the padding (marked
    by `mask`) holds random ids, 0 among them."""
    ids = rng.integers(0, VOCABULARY_SIZE, (3, 9)).astype("int32")
    ids[:, 2] = 0
    ids[0, 6:] = 0  # padding that happens to be id 0
    lengths = np.array([6, 4, 9])
    mask = (np.arange(8)[None, :] < (lengths - 1)[:, None]).astype("float32")
    return ids[:, :-1], ids[:, 1:], mask


def _reference(targets, logits, weights, label_smoothing=0.0):
    """sum(w * cross-entropy) / sum(w), in float64; with label smoothing the
    target puts 1 - eps on the token and eps evenly on every other token."""
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    vocabulary = log_probs.shape[-1]
    target = np.full(log_probs.shape, label_smoothing / (vocabulary - 1))
    np.put_along_axis(target, targets[..., None], 1.0 - label_smoothing, axis=-1)
    losses = -(target * log_probs).sum(-1)
    weights = np.asarray(weights, "float64")
    return float((weights * losses).sum() / weights.sum())


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_the_loss_counts_real_id_0_targets_and_not_the_padding(label_smoothing, rng):
    model = _gpt2()
    inputs, targets, mask = _batch(rng)
    logits = np.asarray(model(inputs))
    loss = _task(label_smoothing).loss(model)
    assert loss.pad_id is None

    expected = _reference(targets, logits, mask, label_smoothing)
    assert float(loss(targets, logits, sample_weight=mask)) == pytest.approx(expected, rel=1e-5)
    # The reference without the real id-0 targets is another number: they count.
    real_zeros = (targets == 0) & (mask > 0)
    assert real_zeros.sum() >= 3
    assert _reference(targets, logits, mask * ~real_zeros, label_smoothing) != pytest.approx(expected, rel=1e-3)

    # Whatever the padding holds, it changes nothing.
    other = targets.copy()
    other[mask == 0] = (other[mask == 0] + 5) % VOCABULARY_SIZE
    assert float(loss(other, logits, sample_weight=mask)) == pytest.approx(expected, rel=1e-5)


def test_fit_and_evaluate_count_id_0_with_the_tasks_loss_and_accuracy(rng):
    model = _gpt2()
    task = _task(0.1)
    inputs, targets, mask = _batch(rng)
    model.compile(optimizer="sgd", loss=task.loss(model), weighted_metrics=task.metrics(model))
    logits = np.asarray(model(inputs))
    evaluated = model.evaluate(inputs, targets, sample_weight=mask, batch_size=3, verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(_reference(targets, logits, mask, 0.1), rel=1e-5)
    correct = (logits.argmax(-1) == targets) * mask
    assert evaluated["accuracy"] == pytest.approx(correct.sum() / mask.sum(), rel=1e-5)
    computed = float(model.compute_loss(inputs, targets, model(inputs), mask))
    assert computed == pytest.approx(evaluated["loss"], rel=1e-5)


def test_held_out_cross_entropy_counts_id_0_targets(rng):
    """`mean_token_cross_entropy` (metrics.json's cross_entropy and
    perplexity) with the model's pad id: None counts every unmasked target."""
    model = _gpt2()
    first, second = _batch(rng), _batch(rng)
    dataset = tf.data.Dataset.from_tensors(first).concatenate(tf.data.Dataset.from_tensors(second))
    targets = np.concatenate([first[1], second[1]])
    logits = np.concatenate([np.asarray(model(first[0])), np.asarray(model(second[0]))])
    mask = np.concatenate([first[2], second[2]])
    task = _task()
    pad_id = task.target_pad_id(model)
    assert pad_id is None
    assert mean_token_cross_entropy(model, dataset, pad_id) == pytest.approx(
        _reference(targets, logits, mask), rel=1e-5
    )
    # A stream without padding (what language_model_dataset yields): every target.
    unpadded = tf.data.Dataset.from_tensors((first[0], first[1]))
    assert mean_token_cross_entropy(model, unpadded, pad_id) == pytest.approx(
        _reference(first[1], np.asarray(model(first[0])), np.ones(first[1].shape)), rel=1e-5
    )


def test_a_pad_id_0_model_trains_exactly_as_before(rng):
    """The project's own GPTs (pad id 0): the task's loss is the one it built
    before the pad id came from the model, and id-0 targets are padding."""
    model = GPTDecoder.from_preset("gpt_tiny", dropout=0.0)
    ids = rng.integers(3, 60, (3, 9)).astype("int32")
    ids[0, 5:], ids[1, 3:] = 0, 0
    inputs, targets = ids[:, :-1], ids[:, 1:]
    task = _task(0.1, preset="gpt_tiny")
    loss = task.loss(model)
    before = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)  # what loss() built before
    assert loss.get_config() == before.get_config()
    logits = model(inputs)
    assert float(loss(targets, logits)) == float(before(targets, logits))
    assert task.metrics(model)[0].get_config()["pad_id"] == 0

    # The numpy reference without the id-0 (padding) targets, eps over the non-pad tokens.
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    others = (-log_probs[..., 1:].sum(-1) + np.take_along_axis(log_probs, targets[..., None], -1)[..., 0])
    per_token = 0.9 * -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0] + 0.1 * others / (
        log_probs.shape[-1] - 2
    )
    weights = targets != 0
    expected = (per_token * weights).sum() / weights.sum()
    assert float(loss(targets, model(inputs))) == pytest.approx(expected, rel=1e-5)


def test_the_gpt2_presets_are_gpt2_as_published():
    """No pad token and the tanh GELU, as a converted checkpoint has them, so
    a recipe naming the preset matches a converted GPT-2 run's settings."""
    from keras_attention.convert._gpt2_mapping import GPT2_ARCHITECTURE

    for name in ("gpt2_small", "gpt2_medium"):
        config = GPTDecoder.presets[name]["config"]
        for key, value in GPT2_ARCHITECTURE.items():
            default = inspect.signature(GPTDecoder.__init__).parameters[key].default
            assert config.get(key, default) == value, (name, key)
    assert GPTDecoder.presets["gpt_tiny"]["config"].get("pad_token_id", 0) == 0


# === "none" in model.overrides ===


def test_none_in_model_overrides_is_none():
    task = _task(preset="gpt_tiny", overrides={"pad_token_id": "none", "num_layers": 1})
    assert task.model_overrides() == {"pad_token_id": None, "num_layers": 1}
    assert _task(preset="gpt_tiny", overrides={"pad_token_id": "None"}).model_overrides() == {"pad_token_id": None}
    assert _task(preset="gpt_tiny", overrides={"pad_token_id": 3}).model_overrides() == {"pad_token_id": 3}


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"pad_token_id": "nothing"}, '`model.overrides.pad_token_id` must be an integer or "none" '
         "\\(None: TOML has no null\\). Received: 'nothing'"),
        ({"pad_token_id": True}, "`model.overrides.pad_token_id` must be an integer or \"none\""),
        ({"num_layers": "none"}, '`model.overrides.num_layers` cannot be "none" \\(None\\): '
         "GPTDecoder's `num_layers` takes no None"),
    ],
)
def test_a_bad_none_override_names_its_key(overrides, expected):
    with pytest.raises(ValueError, match=expected):
        _task(preset="gpt_tiny", overrides=overrides)
