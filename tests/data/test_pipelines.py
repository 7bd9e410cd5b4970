import re

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data import (
    WordPieceTokenizer,
    classification_dataset,
    date_pairs,
    language_model_dataset,
    masked_lm_dataset,
    padding_fraction,
    python_docstrings,
    seq2seq_dataset,
)

START, END, MASK, CLS, SEP = 2, 3, 4, 5, 6


@pytest.fixture(scope="module")
def pairs():
    return date_pairs(2000)


@pytest.fixture(scope="module")
def date_tokenizer(pairs):
    texts = [text for pair in pairs for text in pair]
    return WordPieceTokenizer.train(texts, 300, show_progress=False)


@pytest.fixture(scope="module")
def texts():
    return python_docstrings()[:300]


@pytest.fixture(scope="module")
def text_tokenizer(texts):
    return WordPieceTokenizer.train(texts, 600, show_progress=False)


def as_numpy(dataset, num_batches=1):
    return list(dataset.take(num_batches).as_numpy_iterator())


def test_seq2seq_batches_shift_targets_by_one(pairs, date_tokenizer):
    dataset = seq2seq_dataset(pairs[:64], date_tokenizer, date_tokenizer, 16, 8)
    for inputs, targets in dataset.as_numpy_iterator():
        encoder, decoder = inputs["encoder_token_ids"], inputs["decoder_token_ids"]
        assert encoder.dtype == decoder.dtype == targets.dtype == np.int32
        assert encoder.shape[0] == decoder.shape[0] == targets.shape[0] <= 16
        assert decoder.shape == targets.shape and decoder.shape[1] <= 7
        assert encoder.shape[1] <= 8
        assert (decoder[:, 0] == START).all()
        # Targets end in [END] where the decoder input pads (rows differ in length).
        np.testing.assert_array_equal(decoder[:, 1:], np.where(targets == END, 0, targets)[:, :-1])
        assert not (decoder == END).any()
        assert not np.isin(encoder, [START, END]).any()


def test_seq2seq_targets_end_and_pad_with_zero(pairs, date_tokenizer):
    dataset = seq2seq_dataset(pairs[:32], date_tokenizer, date_tokenizer, 32, 32, shuffle=False, bucket=False)
    (inputs, targets), = as_numpy(dataset)
    lengths = (targets != 0).sum(axis=1)
    for row, length in zip(targets, lengths):
        assert row[length - 1] == END and not row[length:].any()
    iso = [target for _, target in pairs[:32]]
    assert date_tokenizer.detokenize(targets).numpy().astype(str).tolist() == iso
    encoder = inputs["encoder_token_ids"]
    lengths = (encoder != 0).sum(axis=1)
    for row, length in zip(encoder, lengths):
        assert row[:length].all() and not row[length:].any()
    np.testing.assert_array_equal(
        encoder[0, : lengths[0]], date_tokenizer.tokenize(pairs[0][0])
    )


def test_seq2seq_truncates_to_max_length(pairs, date_tokenizer):
    (inputs, targets), = as_numpy(
        seq2seq_dataset(pairs[:8], date_tokenizer, date_tokenizer, 8, 4, shuffle=False)
    )
    assert inputs["encoder_token_ids"].shape[1] <= 4
    assert targets.shape[1] == 3  # [START] a b c ... cut to 4 ids, then shifted
    assert not (targets == END).any()


def test_bucketing_reduces_padding(pairs, date_tokenizer):
    def fraction(bucket):
        dataset = seq2seq_dataset(pairs, date_tokenizer, date_tokenizer, 32, 24, bucket=bucket)
        return padding_fraction(dataset)

    bucketed, unbucketed = fraction(True), fraction(False)
    assert bucketed < 0.7 * unbucketed


def test_seq2seq_is_deterministic_for_a_seed(pairs, date_tokenizer):
    def first_targets(seed):
        dataset = seq2seq_dataset(
            pairs[:200], date_tokenizer, date_tokenizer, 16, 16, bucket=False, seed=seed
        )
        return as_numpy(dataset)[0][1]

    np.testing.assert_array_equal(first_targets(1), first_targets(1))
    assert not np.array_equal(first_targets(1), first_targets(2))


def test_language_model_windows_follow_the_stream(texts, text_tokenizer):
    dataset = language_model_dataset(texts[:20], text_tokenizer, 16, 4, shuffle=False)
    batches = dataset.as_numpy_iterator()
    token_ids, next_token_ids = next(batches)
    assert token_ids.shape == next_token_ids.shape == (4, 16)
    assert token_ids.dtype == next_token_ids.dtype == np.int32
    np.testing.assert_array_equal(token_ids[:, 1:], next_token_ids[:, :-1])
    np.testing.assert_array_equal(token_ids[1:, 0], next_token_ids[:-1, -1])
    stream = np.concatenate(
        [np.append(text_tokenizer.tokenize(text).numpy(), END) for text in texts[:20]]
    )
    np.testing.assert_array_equal(token_ids.reshape(-1), stream[:64])
    assert (stream == END).sum() == 20 and not (token_ids == 0).any()


def test_masked_lm_masks_like_bert(texts, text_tokenizer):
    dataset = masked_lm_dataset(texts, text_tokenizer, 64, 300, seed=3)
    (inputs, mask_ids, mask_weights), = as_numpy(dataset)
    token_ids, positions = inputs["token_ids"], inputs["mask_positions"]
    assert token_ids.shape == inputs["segment_ids"].shape == (300, 64)
    assert positions.shape == mask_ids.shape == mask_weights.shape == (300, 10)
    assert token_ids.dtype == positions.dtype == mask_ids.dtype == np.int32
    assert mask_weights.dtype == np.float32 and not inputs["segment_ids"].any()
    assert (token_ids[:, 0] == CLS).all()

    chosen = mask_weights > 0
    maskable = (token_ids != 0).sum() - 2 * len(token_ids)
    assert 0.12 < chosen.sum() / maskable < 0.2
    # Padded prediction slots have id 0 and weight 0.
    assert not mask_ids[~chosen].any() and not positions[~chosen].any()
    originals = mask_ids[chosen]
    assert not np.isin(originals, [0, CLS, SEP]).any()
    replaced = np.take_along_axis(token_ids, positions, axis=1)[chosen]
    masked = (replaced == MASK).mean()
    unchanged = (replaced == originals).mean()
    assert 0.7 < masked < 0.9 and 0.05 < unchanged < 0.15
    randomised = replaced[(replaced != MASK) & (replaced != originals)]
    assert 0.05 < len(randomised) / len(replaced) < 0.15
    assert (randomised >= 7).all()  # random tokens are never reserved


def test_masked_lm_is_deterministic_for_a_seed(texts, text_tokenizer):
    def first_batch(seed):
        dataset = masked_lm_dataset(texts[:64], text_tokenizer, 32, 64, seed=seed)
        inputs, mask_ids, _ = as_numpy(dataset)[0]
        return inputs["token_ids"], mask_ids

    first, again, other = first_batch(5), first_batch(5), first_batch(6)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def _streams(pairs, date_tokenizer, texts, text_tokenizer):
    """`{name: build(start)}`: each pipeline's stream of passes (repeat=True)."""
    return {
        "seq2seq (bucketed)": lambda start: seq2seq_dataset(
            pairs[:90], date_tokenizer, date_tokenizer, 8, 16, seed=3, repeat=True, start=start),
        "language model": lambda start: language_model_dataset(
            texts[:30], text_tokenizer, 16, 8, seed=3, repeat=True, start=start),
        "masked LM": lambda start: masked_lm_dataset(
            texts[:60], text_tokenizer, 16, 8, seed=3, repeat=True, start=start),
        "classification": lambda start: classification_dataset(
            texts[:60], [i % 3 for i in range(60)], text_tokenizer, 12, 8, seed=3, repeat=True, start=start),
    }


def _batches(dataset, num_batches):
    return [tf.nest.flatten(batch) for batch in as_numpy(dataset, num_batches)]


@pytest.mark.parametrize("name", ["seq2seq (bucketed)", "language model", "masked LM", "classification"])
def test_a_stream_started_late_is_the_tail_of_the_stream(name, pairs, date_tokenizer, texts, text_tokenizer):
    """A stream of passes that starts at batch `start` (a resumed run's data)
    yields the batches of the stream from 0 after its first `start`, passes
    after the first included; each pass is in another order."""
    build = _streams(pairs, date_tokenizer, texts, text_tokenizer)[name]
    whole = _batches(build(0), 40)
    for start in (5, 17, 29):
        for late, batch in zip(_batches(build(start), 40 - start), whole[start:], strict=True):
            for a, b in zip(late, batch, strict=True):
                np.testing.assert_array_equal(a, b)
    first, second = (np.concatenate([np.ravel(batch[0]) for batch in whole[i::2]]) for i in (0, 1))
    assert not np.array_equal(first, second)


def test_classification_maps_string_labels(texts, text_tokenizer):
    labels = ["b", "a", "c", "a"] * 5
    dataset = classification_dataset(texts[:20], labels, text_tokenizer, 12, 8, shuffle=False)
    (inputs, label_ids), = as_numpy(dataset)
    assert inputs["token_ids"].shape == inputs["segment_ids"].shape == (8, 12)
    assert label_ids.dtype == np.int32 and label_ids.tolist() == [1, 0, 2, 0] * 2
    token_ids = inputs["token_ids"]
    assert (token_ids[:, 0] == CLS).all()
    lengths = (token_ids != 0).sum(axis=1)
    assert (token_ids[np.arange(8), lengths - 1] == SEP).all()
    named = classification_dataset(
        texts[:4], ["x", "y", "x", "y"], text_tokenizer, 12, 4, label_names=["y", "x"], shuffle=False
    )
    assert as_numpy(named)[0][1].tolist() == [1, 0, 1, 0]


def test_padding_fraction_counts_token_id_entries():
    dataset = tf.data.Dataset.from_tensors(
        ({"token_ids": [[5, 0]], "segment_ids": [[0, 0]], "mask_positions": [[0]]}, [1])
    ).repeat(3)
    assert padding_fraction(dataset, num_batches=2) == 0.5


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda p, t: seq2seq_dataset(p, t, t, 0, 8), "batch_size=0"),
        (lambda p, t: seq2seq_dataset(p, t, t, 8, 1), "max_length=1"),
        (lambda p, t: seq2seq_dataset([], t, t, 8, 8), "pairs=[]"),
        (lambda p, t: seq2seq_dataset([("a",)], t, t, 8, 8), "('a',)"),
        (lambda p, t: language_model_dataset([], t, 8, 8), "texts=[]"),
        (lambda p, t: masked_lm_dataset(["a"], t, 8, 8, mask_rate=1.0), "mask_rate=1.0"),
        (lambda p, t: masked_lm_dataset(["a"], t, 8, 8, max_predictions=0), "max_predictions=0"),
        (lambda p, t: classification_dataset(["a"], ["x"], t, 8, 8, label_names=["y"]), "'x'"),
        (lambda p, t: classification_dataset(["a"], [3], t, 8, 8, label_names=["y"]), "label 3"),
        (lambda p, t: classification_dataset(["a", "b"], [0], t, 8, 8), "1 labels for 2 texts"),
        (lambda p, t: seq2seq_dataset(p, t, t, 8, 8, start=3), "`start` needs `repeat=True`"),
        (lambda p, t: seq2seq_dataset(p, t, t, 8, 8, repeat=True, start=-1), "start=-1"),
    ],
)
def test_arguments_are_validated(pairs, date_tokenizer, build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build(pairs, date_tokenizer)


def test_pipelines_batch_what_the_preprocessors_make(pairs, date_tokenizer, texts, text_tokenizer):
    from keras_attention.data import (
        BertPreprocessor,
        LanguageModelPreprocessor,
        Seq2SeqPreprocessor,
    )

    dataset = seq2seq_dataset(
        pairs[:16], date_tokenizer, date_tokenizer, 16, 10, shuffle=False, bucket=False
    )
    (inputs, targets), = as_numpy(dataset)
    expected_inputs, expected_targets = Seq2SeqPreprocessor(
        date_tokenizer, date_tokenizer, 10
    ).teacher_forcing([s for s, _ in pairs[:16]], [t for _, t in pairs[:16]])
    for key in ("encoder_token_ids", "decoder_token_ids"):
        np.testing.assert_array_equal(inputs[key], expected_inputs[key].to_tensor())
    np.testing.assert_array_equal(targets, expected_targets.to_tensor())

    dataset = classification_dataset(texts[:8], [0] * 8, text_tokenizer, 12, 8, shuffle=False)
    (inputs, _), = as_numpy(dataset)
    features, _ = BertPreprocessor(text_tokenizer, 12)(texts[:8])
    np.testing.assert_array_equal(inputs["token_ids"], features["token_ids"])
    np.testing.assert_array_equal(inputs["segment_ids"], features["segment_ids"])

    dataset = language_model_dataset(texts[:20], text_tokenizer, 16, 4, shuffle=False)
    (token_ids, _), = as_numpy(dataset)
    stream = LanguageModelPreprocessor(text_tokenizer, 16).encode(texts[:20]).flat_values
    np.testing.assert_array_equal(token_ids, np.reshape(stream[:64], (4, 16)))  # windows every 16 ids
