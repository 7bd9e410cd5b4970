"""Gradient accumulation equals one big batch: micro-batches padded
differently, with different real-token counts, give the big batch's update,
and schedules count updates, not micro-batches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_attention.training import MaskedSparseCategoricalCrossentropy, TransformerSchedule
from keras_attention.training.accumulation import AccumulatingAdam, TokenWeightedAccumulation
from keras_attention.training.optimizers import build_optimizer, compile_model, total_steps
from keras_attention.training.recipe import validate_recipe
from tests.reference import schedules
from tests.reference.accumulation import sgd_step

VOCABULARY, HIDDEN = 6, 4

# Two micro-batches of two sequences, padded to different lengths (as length
# bucketing pads them), with 6 and 3 real targets.
MICRO_BATCHES = [
    (np.array([[1, 2, 3, 4], [2, 3, 0, 0]]), np.array([[2, 3, 4, 5], [3, 1, 0, 0]])),
    (np.array([[4, 1, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0]]), np.array([[1, 2, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0]])),
]


class AccumulatingSGD(TokenWeightedAccumulation, keras.optimizers.SGD):
    pass


def _training(**values):
    return validate_recipe({"training": values}).training


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(VOCABULARY, HIDDEN)).astype("float32"),
        rng.normal(size=(HIDDEN, VOCABULARY)).astype("float32"),
        rng.normal(size=(VOCABULARY,)).astype("float32"),
    )


def _model(weights, dense=False):
    """logits = embeddings[x] @ kernel + bias, as tests/reference/accumulation.py.

    `dense`: the embeddings as a one-hot product, whose gradient is dense
    (Keras' Adam squares the slices of a sparse embedding gradient before
    adding up a token's repeats, so its big-batch step is not the
    mathematical one).
    """
    embeddings, kernel, bias = weights
    constant = keras.initializers.Constant(embeddings)
    lookup = (
        [keras.layers.Lambda(lambda ids: keras.ops.one_hot(ids, VOCABULARY)),
         keras.layers.Dense(HIDDEN, use_bias=False, kernel_initializer=constant)]
        if dense
        else [keras.layers.Embedding(VOCABULARY, HIDDEN, embeddings_initializer=constant)]
    )
    return keras.Sequential([
        keras.Input((None,), dtype="int32"),
        *lookup,
        keras.layers.Dense(VOCABULARY, kernel_initializer=keras.initializers.Constant(kernel),
                           bias_initializer=keras.initializers.Constant(bias)),
    ])


def _dataset(batches):
    """The micro-batches as `fit` gets bucketed batches: each padded to its own length."""
    return tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=(tf.TensorSpec((None, None), tf.int32),) * 2
    )


def _big_batch(batches):
    """All micro-batches in one batch, padded to the longest."""
    length = max(inputs.shape[1] for inputs, _ in batches)
    pad = lambda array: np.pad(array, ((0, 0), (0, length - array.shape[1])))  # noqa: E731
    return tuple(np.concatenate([pad(part[i]) for part in batches]) for i in (0, 1))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_an_accumulated_sgd_update_is_the_update_of_one_big_batch(jit_compile):
    weights = _weights()
    model = _model(weights)
    optimizer = AccumulatingSGD(0.5, gradient_accumulation_steps=2)
    loss = MaskedSparseCategoricalCrossentropy()
    loss.token_count = optimizer.batch_weight  # as compile_model connects them
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile)
    history = model.fit(_dataset(MICRO_BATCHES), verbose=0)
    assert int(optimizer.iterations) == 1
    expected = sgd_step(*weights, *_big_batch(MICRO_BATCHES), learning_rate=0.5)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # The reported loss is still the mean per token of each micro-batch, averaged
    # over the micro-batches' examples, as without accumulation.
    plain = _model(weights)
    plain.compile(optimizer=keras.optimizers.SGD(0.0), loss=MaskedSparseCategoricalCrossentropy())
    means = [plain.evaluate(inputs, targets, verbose=0) for inputs, targets in MICRO_BATCHES]
    assert history.history["loss"][0] == pytest.approx(np.mean(means), rel=1e-5)


def test_compile_model_accumulates_as_adam_on_the_big_batches():
    """Two updates of two micro-batches each, through `compile_model`: the
    weights of Keras' Adam on the two big batches (Adam's second update
    depends on the relative size of the first two gradients)."""

    class Task:
        def loss(self, model):
            return MaskedSparseCategoricalCrossentropy()

        def metrics(self, model):
            return []

        def model_width(self, model):
            return HIDDEN

    later = [(inputs[::-1], targets[::-1]) for inputs, targets in MICRO_BATCHES[::-1]]
    training = _training(learning_rate=0.01, gradient_accumulation_steps=2, label_smoothing=0.0)
    weights = _weights(1)
    model = compile_model(_model(weights, dense=True), Task(), training)
    assert isinstance(model.optimizer, AccumulatingAdam)
    assert model.loss.token_count is model.optimizer.batch_weight
    model.fit(_dataset(MICRO_BATCHES + later), verbose=0)

    reference = _model(weights, dense=True)
    reference.compile(
        optimizer=keras.optimizers.Adam(0.01, beta_1=0.9, beta_2=0.98, epsilon=1e-9),
        loss=MaskedSparseCategoricalCrossentropy(),
    )
    reference.fit(_dataset([_big_batch(MICRO_BATCHES), _big_batch(later)]), verbose=0)
    assert int(model.optimizer.iterations) == 2  # (Keras counts a step more: the end of the data)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)


def _rates_of_updates(optimizer, batches: int) -> list[float]:
    """The step of each update of `batches` micro-batches of gradient 1 on one
    weight: Adam's step is its learning rate (a constant gradient makes the
    bias-corrected m / sqrt(v) 1)."""
    weight = keras.Variable(0.0, dtype="float32")
    rates = []
    for _ in range(batches):
        optimizer.apply_gradients([(keras.ops.ones(()), weight)])
        if float(weight.numpy()) != 0.0:  # an update (of a non-zero rate)
            rates.append(-float(weight.numpy()))
            weight.assign(0.0)
    return rates


def test_the_cosine_schedule_counts_updates_from_a_first_rate_to_zero_at_the_last():
    training = _training(schedule="cosine", learning_rate=0.01, warmup_steps=3,
                         gradient_accumulation_steps=2, epochs=2, steps_per_epoch=10)
    steps = total_steps(training)
    assert steps == 10  # 20 micro-batches, an update every 2
    rates = _rates_of_updates(build_optimizer(training, hidden_dim=HIDDEN, steps=steps), batches=20)
    expected = [schedules.cosine_learning_rate(update, 0.01, 3, 10) for update in range(10)]
    # The last update, at rate 0, moves nothing.
    assert len(rates) == 9 and expected[-1] == 0.0
    np.testing.assert_allclose(rates, expected[:-1], rtol=1e-5, atol=1e-9)
    assert rates[0] == pytest.approx(0.01 / 3, rel=1e-5)


def test_the_transformer_schedule_counts_updates():
    training = _training(warmup_steps=4, gradient_accumulation_steps=3)
    optimizer = build_optimizer(training, hidden_dim=16)
    assert isinstance(optimizer._learning_rate, TransformerSchedule)
    rates = _rates_of_updates(optimizer, batches=24)
    expected = [schedules.learning_rate(update + 1, 16, 4) for update in range(8)]
    np.testing.assert_allclose(rates, expected, rtol=1e-5)


def test_an_accumulating_optimizer_round_trips():
    optimizer = build_optimizer(
        _training(optimizer="adamw", weight_decay=0.01, gradient_accumulation_steps=4), hidden_dim=8
    )
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is type(optimizer)
    assert restored.get_config() == optimizer.get_config()
