import json
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data import (
    RESERVED_TOKENS,
    WordPieceTokenizer,
    date_pairs,
    load_tokenizer,
)

SENTENCES = [
    "Hello, world.",
    "Is it (really) done? Yes!",
    "We met at 10:30; it's late.",
    "Read the notes [1], then the input/output guide.",
    "The well-known fox jumps over the lazy dog.",
]


@pytest.fixture(scope="module")
def date_tokenizer():
    texts = [text for pair in date_pairs(500) for text in pair]
    return WordPieceTokenizer.train(texts, vocabulary_size=300, show_progress=False)


@pytest.fixture(scope="module")
def sentence_tokenizer():
    return WordPieceTokenizer.train(SENTENCES * 3, vocabulary_size=200, show_progress=False)


def decoded(strings):
    return [text.decode("utf-8") for text in np.atleast_1d(strings.numpy())]


def test_reserved_tokens_come_first_with_fixed_ids(date_tokenizer):
    assert date_tokenizer.vocabulary[: len(RESERVED_TOKENS)] == RESERVED_TOKENS
    ids = [
        date_tokenizer.pad_id,
        date_tokenizer.unk_id,
        date_tokenizer.start_id,
        date_tokenizer.end_id,
        date_tokenizer.mask_id,
        date_tokenizer.cls_id,
        date_tokenizer.sep_id,
    ]
    assert ids == list(range(7))
    assert date_tokenizer.token_to_id("[MASK]") == 4
    assert date_tokenizer.id_to_token(5) == "[CLS]"
    assert date_tokenizer.vocabulary_size == len(date_tokenizer.vocabulary) <= 300


def test_dates_round_trip(date_tokenizer):
    pairs = date_pairs(200, seed=1)
    targets = [target for _, target in pairs]
    assert decoded(date_tokenizer.detokenize(date_tokenizer.tokenize(targets))) == targets
    # Dotted numbers ("2024.03.05", "05.03.2024") are the source formats the
    # spacing rules cannot restore.
    sources = [source for source, _ in pairs if not re.search(r"\d\.\d", source)]
    assert decoded(date_tokenizer.detokenize(date_tokenizer.tokenize(sources))) == sources


def test_sentences_with_punctuation_round_trip(sentence_tokenizer):
    token_ids = sentence_tokenizer.tokenize(SENTENCES)
    assert decoded(sentence_tokenizer.detokenize(token_ids)) == SENTENCES


def test_tokenize_shapes_and_dtypes(sentence_tokenizer):
    token_ids = sentence_tokenizer.tokenize(tf.constant(SENTENCES[:2]))
    assert isinstance(token_ids, tf.RaggedTensor)
    assert token_ids.dtype == tf.int32
    assert token_ids.shape.as_list() == [2, None]
    single = sentence_tokenizer.tokenize("Hello, world.")
    assert single.shape.rank == 1
    np.testing.assert_array_equal(single, token_ids[0])
    assert sentence_tokenizer.detokenize(single).numpy() == b"Hello, world."
    assert not np.isin(token_ids.flat_values, [2, 3]).any()  # no START/END added


def test_detokenize_drops_reserved_tokens_and_padding(sentence_tokenizer):
    token_ids = sentence_tokenizer.tokenize(SENTENCES[:3])
    framed = tf.concat(
        [tf.fill([3, 1], 2), token_ids, tf.fill([3, 1], 3)], axis=1
    ).to_tensor()  # [START] ids [END], padded with 0
    assert decoded(sentence_tokenizer.detokenize(framed)) == SENTENCES[:3]


def test_unknown_words_become_unk(date_tokenizer):
    # A word of letters the dates never hold (they hold made-up Latin words,
    # so any Latin word is spelled in pieces).
    token_ids = date_tokenizer.tokenize(["ζέβρα March"]).flat_values.numpy()
    assert date_tokenizer.unk_id in token_ids
    assert decoded(date_tokenizer.detokenize([token_ids])) == ["March"]


def test_works_inside_tf_data_and_tf_function(sentence_tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(SENTENCES).map(sentence_tokenizer.tokenize)
    first = next(iter(dataset))
    np.testing.assert_array_equal(first, sentence_tokenizer.tokenize(SENTENCES[0]))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(strings):
        return sentence_tokenizer.detokenize(sentence_tokenizer.tokenize(strings))

    assert decoded(round_trip(tf.constant(SENTENCES))) == SENTENCES


def test_survives_a_saved_model(sentence_tokenizer, tmp_path):
    module = tf.Module()
    module.tokenizer = sentence_tokenizer
    module.round_trip = tf.function(
        lambda strings: sentence_tokenizer.detokenize(sentence_tokenizer.tokenize(strings)),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    assert decoded(restored.round_trip(tf.constant(SENTENCES))) == SENTENCES


def test_save_and_load_give_the_same_ids(date_tokenizer, tmp_path):
    date_tokenizer.save(tmp_path)
    assert json.loads((tmp_path / "tokenizer.json").read_text()) == {
        "type": "wordpiece",
        "lower_case": False,
    }
    lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert lines == date_tokenizer.vocabulary
    loaded = load_tokenizer(tmp_path)
    assert isinstance(loaded, WordPieceTokenizer)
    texts = [source for source, _ in date_pairs(20, seed=2)]
    assert loaded.tokenize(texts).to_list() == date_tokenizer.tokenize(texts).to_list()


def test_training_is_deterministic_and_accepts_datasets():
    texts = [source for source, _ in date_pairs(100, seed=3)]
    first = WordPieceTokenizer.train(texts, 150, show_progress=False)
    second = WordPieceTokenizer.train(
        tf.data.Dataset.from_tensor_slices(texts), 150, show_progress=False
    )
    assert first.vocabulary == second.vocabulary


def test_training_shows_progress(capsys):
    WordPieceTokenizer.train(["one two", "three"], 50, show_progress=True)
    captured = capsys.readouterr()
    assert "batch" in captured.out + captured.err


def test_lower_case_is_saved(tmp_path):
    tokenizer = WordPieceTokenizer.train(["Hello World"], 50, lower_case=True, show_progress=False)
    assert decoded(tokenizer.detokenize(tokenizer.tokenize(["HELLO"]))) == ["hello"]
    tokenizer.save(tmp_path)
    assert load_tokenizer(tmp_path).lower_case


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: WordPieceTokenizer(["a", "b"]), "must start with the reserved tokens"),
        (lambda: WordPieceTokenizer(RESERVED_TOKENS + ["a", "a"]), "must not repeat"),
        (lambda: WordPieceTokenizer.train([], show_progress=False), "at least one word"),
        (lambda: WordPieceTokenizer.train("a text", show_progress=False), "not a single string"),
        (lambda: WordPieceTokenizer.train(["a"], vocabulary_size=7), "vocabulary_size=7"),
        (lambda: WordPieceTokenizer(RESERVED_TOKENS).token_to_id("zz"), "token='zz'"),
        (lambda: WordPieceTokenizer(RESERVED_TOKENS).id_to_token(7), "i=7"),
        (lambda: WordPieceTokenizer(RESERVED_TOKENS).tokenize([[b"a"]]), "1-D string"),
    ],
)
def test_errors_name_the_problem(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
