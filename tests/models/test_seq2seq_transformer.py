import numpy as np
import pytest

from keras_attention.models import Seq2SeqTransformer
from tests.reference.ngrams import repeating_tokens
from tests.models.model_contract import (
    check_keras_round_trip,
    check_mixed_precision_jit_step,
    check_overfits,
)

START, END = 1, 2


def _tiny(**overrides):
    return Seq2SeqTransformer.from_preset("transformer_tiny", **overrides)


def _copy_task(rng, batch=4, length=7):
    """Target = source: the decoder must read the encoder through cross-attention."""
    source = rng.integers(3, 100, (batch, length)).astype("int32")
    source[1, 5:] = 0
    target = np.concatenate([np.full((batch, 1), START), source, np.zeros((batch, 1))], 1)
    target = target.astype("int32")
    for row in range(batch):
        target[row, (source[row] != 0).sum() + 1] = END
    inputs = {"encoder_token_ids": source, "decoder_token_ids": target[:, :-1]}
    return inputs, target[:, 1:]


def test_trains_and_overfits_a_tiny_batch(rng):
    inputs, targets = _copy_task(rng)
    check_overfits(_tiny(), inputs, targets, steps=80)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"normalize_first": True, "position": "learned", "tie_embeddings": False},
        {"decoder_vocabulary_size": 50, "position": "rotary"},
        {"pointer_generator": True, "normalize_first": True},
    ],
)
def test_keras_round_trip(rng, tmp_path, overrides):
    inputs, _ = _copy_task(rng)
    inputs["decoder_token_ids"] = np.minimum(inputs["decoder_token_ids"], 49)
    restored = check_keras_round_trip(_tiny(**overrides), inputs, tmp_path)
    assert isinstance(restored, Seq2SeqTransformer)


@pytest.mark.parametrize("overrides", [{}, {"pointer_generator": True}])
def test_mixed_precision_and_jit(rng, overrides):
    inputs, targets = _copy_task(rng)
    check_mixed_precision_jit_step(lambda **kwargs: _tiny(**overrides, **kwargs), inputs, targets)


def test_shared_embeddings_are_one_table():
    shared = _tiny(share_embeddings=True)
    separate = _tiny()
    assert shared.encoder_embedding is shared.decoder_embedding
    # One token table (100 ids) and, with the preset's learned positions,
    # one position table (40 positions), each 64 wide.
    assert separate.position == "learned"
    assert separate.count_params() - shared.count_params() == 100 * 64 + 40 * 64


def _uncached_greedy(model, source, length, no_repeat_ngram_size=None):
    tokens = [START]
    n = no_repeat_ngram_size
    while len(tokens) < length:
        logits = np.array(
            model({"encoder_token_ids": source[None], "decoder_token_ids": np.array([tokens])})
        )[0, -1]
        logits[0] = -np.inf
        if n:
            logits[list(repeating_tokens(tokens, n))] = -np.inf
        tokens.append(int(np.argmax(logits)))
    return tokens


SOURCES = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]])


@pytest.mark.parametrize(
    "overrides",
    [{}, {"normalize_first": True, "position": "rotary"}, {"pointer_generator": True}],
)
def test_cached_greedy_equals_uncached_greedy(overrides):
    model = _tiny(**overrides)
    generated = model.generate(SOURCES, START, max_length=9)
    for row, source in enumerate(SOURCES):
        assert generated[row].tolist() == _uncached_greedy(model, source, 9)


@pytest.mark.parametrize("overrides", [{}, {"pointer_generator": True}])
def test_beam_size_one_equals_greedy(overrides):
    model = _tiny(**overrides)
    greedy = model.generate(SOURCES, START, END, max_length=9)
    sequences, scores = model.beam_search(SOURCES, START, END, max_length=9, beam_size=1)
    np.testing.assert_array_equal(sequences[:, 0], greedy)
    assert scores.shape == (2, 1)


def test_beam_search_ranks_and_scores_beams():
    model = _tiny()
    sequences, scores = model.beam_search(SOURCES, START, max_length=7, beam_size=4, length_penalty=0.0)
    assert sequences.shape == (2, 4, 7) and scores.shape == (2, 4)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    # With alpha = 0 a score is the sum of the tokens' log-probabilities.
    for row in range(2):
        tokens = sequences[row, 0].tolist()
        log_probability = 0.0
        for index in range(1, 7):
            logits = np.array(
                model({"encoder_token_ids": SOURCES[row : row + 1], "decoder_token_ids": np.array([tokens[:index]])})
            )[0, -1].astype("float64")
            logits[0] = -np.inf
            log_probs = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
            log_probability += log_probs[tokens[index]]
        assert scores[row, 0] == pytest.approx(log_probability, abs=1e-3)
    # Beam search finds a sequence at least as likely as greedy's.
    greedy_sequences, greedy_scores = model.beam_search(SOURCES, START, max_length=7, beam_size=1, length_penalty=0.0)
    assert np.all(scores[:, 0] >= greedy_scores[:, 0] - 1e-5)


def test_second_call_does_not_retrace():
    model = _tiny()
    model.beam_search(SOURCES, START, END, max_length=6, beam_size=2)
    (function,) = model._compiled._functions.values()
    model.beam_search(SOURCES[::-1], START, END, max_length=6, beam_size=2)
    assert function.experimental_get_tracing_count() == 1


def test_attention_scores_every_layer_and_kind():
    model = _tiny()
    target = np.array([[1, 5, 6], [1, 7, 0]])
    scores = model.attention_scores({"encoder_token_ids": SOURCES, "decoder_token_ids": target})
    assert np.array(scores["encoder_layer_1"]).shape == (2, 4, 6, 6)
    assert np.array(scores["decoder_layer_0/self_attention"]).shape == (2, 4, 3, 3)
    cross = np.array(scores["decoder_layer_1/cross_attention"])
    assert cross.shape == (2, 4, 3, 6)
    assert np.all(cross[0, :, :, 4:] == 0)  # padded source tokens get no attention


def test_bad_input():
    with pytest.raises(ValueError, match="decoder_vocabulary_size=50"):
        _tiny(share_embeddings=True, decoder_vocabulary_size=50)
    model = _tiny(position="learned")
    with pytest.raises(ValueError, match="beam_size=0"):
        model.beam_search(SOURCES, START, beam_size=0)
    with pytest.raises(ValueError, match="max_length=41"):
        model.generate(SOURCES, START, max_length=41)
    with pytest.raises(ValueError, match="Known presets: transformer_base"):
        Seq2SeqTransformer.from_preset("transformer_huge")
    with pytest.raises(ValueError, match="length_penalty=-1"):
        model.beam_search(SOURCES, START, length_penalty=-1)


def test_dtype_policy_is_kept_through_saving(tmp_path):
    import keras

    model = _tiny(dtype="mixed_float16")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    model.save(tmp_path / "s2s.keras")
    restored = keras.saving.load_model(tmp_path / "s2s.keras")
    assert restored.dtype_policy.name == "mixed_float16"


def test_embedding_stage_is_configurable_and_round_trips():
    """`scale_embeddings=False` with a uniform initializer (keras-hub's
    TokenAndPositionEmbedding defaults) instead of the paper's scaled N(0, 1/d)."""
    import numpy as np

    from keras_attention.models import Seq2SeqTransformer

    model = Seq2SeqTransformer.from_preset(
        "transformer_tiny", encoder_vocabulary_size=50, scale_embeddings=False,
        embeddings_initializer="random_uniform", position="learned",
    )
    inputs = {"encoder_token_ids": np.array([[5, 6, 7, 0]]), "decoder_token_ids": np.array([[1, 8, 9]])}
    logits = model(inputs)
    table = [v for v in model.weights if "token_embedding" in v.path][0].numpy()
    assert np.abs(table).max() <= 0.05 and table.std() > 0.02  # uniform in [-0.05, 0.05]
    clone = Seq2SeqTransformer.from_config(model.get_config())
    clone(inputs)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(inputs), logits, atol=1e-6)
    assert clone.scale_embeddings is False
    paper = Seq2SeqTransformer.from_preset(
        "transformer_tiny", encoder_vocabulary_size=50, scale_embeddings=True,
        embeddings_initializer=None, position="sinusoidal",
    )
    paper(inputs)
    table = [v for v in paper.weights if "token_embedding" in v.path][0].numpy()
    assert abs(table.std() - paper.hidden_dim**-0.5) < 0.1 * paper.hidden_dim**-0.5


def test_pointer_generator_scores_and_checks_the_vocabulary():
    model = _tiny(pointer_generator=True)
    target = np.array([[1, 5, 6], [1, 7, 0]])
    scores = model.attention_scores({"encoder_token_ids": SOURCES, "decoder_token_ids": target})
    copy = np.array(scores["copy_attention"])
    assert copy.shape == (2, 1, 3, 6)
    assert np.all(copy[0, :, :, 4:] == 0)  # padding is never copied
    gate = np.array(scores["generation_probability"])
    assert gate.shape == (2, 3) and np.all((gate > 0) & (gate < 1))
    # The outputs are log-probabilities: they sum to one (at real target tokens).
    log_probs = np.array(model({"encoder_token_ids": SOURCES, "decoder_token_ids": target}))
    np.testing.assert_allclose(np.exp(log_probs).sum(-1)[target != 0], 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="one vocabulary.*decoder_vocabulary_size=50"):
        _tiny(pointer_generator=True, decoder_vocabulary_size=50)


def _copy_batch(rng, low, high, batch=32, length=6):
    source = rng.integers(low, high, (batch, length)).astype("int32")
    decoder = np.concatenate([np.full((batch, 1), START), source], 1).astype("int32")
    target = np.concatenate([source, np.full((batch, 1), END)], 1).astype("int32")
    return {"encoder_token_ids": source, "decoder_token_ids": decoder}, target


@pytest.mark.slow
def test_pointer_generator_copies_tokens_it_never_generated(rng):
    """Trained to copy ids 3-49 only, the pointer copies ids 50-99 it never saw as
    targets (its copy side reads ids, not embeddings it learned); the same model
    without the pointer cannot produce them."""
    import keras

    from tests.models.model_contract import masked_loss

    inputs, targets = _copy_batch(rng, 3, 50, batch=2048)
    unseen, expected = _copy_batch(rng, 50, 100, batch=64)
    accuracy = {}
    for pointer in (True, False):
        keras.utils.set_random_seed(0)
        model = _tiny(pointer_generator=pointer, dropout=0.0)
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=masked_loss())
        model.fit(inputs, targets, batch_size=64, epochs=4, verbose=0)
        generated = model.generate(unseen["encoder_token_ids"], START, max_length=7)
        accuracy[pointer] = np.mean(generated[:, 1:] == expected[:, :-1])
    assert accuracy[True] > 0.9 and accuracy[False] < 0.2, accuracy


@pytest.mark.parametrize("n", [1, 2])
def test_greedy_without_repeated_ngrams_equals_an_uncached_search(n):
    # A random tiny model repeats itself at once; here it must not.
    model = _tiny()
    generated = model.generate(SOURCES, START, max_length=9, no_repeat_ngram_size=n)
    for row, source in enumerate(SOURCES):
        assert generated[row].tolist() == _uncached_greedy(model, source, 9, n)
    assert model.generate(SOURCES, START, max_length=9).tolist() != generated.tolist()
    with pytest.raises(ValueError, match="`no_repeat_ngram_size` must be a positive integer or None"):
        model.beam_search(SOURCES, START, no_repeat_ngram_size=0)
