"""SentencePiece models as tokenizers: reserved ids, round trips, save and load."""

import re

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data import SentencePieceTokenizer, date_pairs, load_tokenizer


# The project's id convention (see `SentencePieceTokenizer`).
PROJECT_IDS = dict(
    pad_id=0,
    unk_id=1,
    bos_id=2,
    eos_id=3,
    user_defined_symbols=["[MASK]", "[CLS]", "[SEP]"],
)


def decoded(strings):
    return [text.decode("utf-8") for text in np.atleast_1d(strings.numpy())]


def _train_sentencepiece(path, **options):
    sentencepiece = pytest.importorskip("sentencepiece")
    texts = [text for pair in date_pairs(300) for text in pair]
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(path),
        vocab_size=100,
        minloglevel=2,
        **options,
    )
    return f"{path}.model"


def test_sentencepiece_tokenizer(tmp_path):
    model_file = _train_sentencepiece(tmp_path / "spm", **PROJECT_IDS)
    tokenizer = SentencePieceTokenizer(model_file)
    assert tokenizer.vocabulary_size == 100
    ids = [tokenizer.pad_id, tokenizer.unk_id, tokenizer.start_id, tokenizer.end_id]
    assert ids + [tokenizer.mask_id, tokenizer.cls_id, tokenizer.sep_id] == list(range(7))
    texts = [source for source, _ in date_pairs(20, seed=4)]
    token_ids = tokenizer.tokenize(texts)
    assert token_ids.dtype == tf.int32 and token_ids.shape.as_list() == [20, None]
    framed = tf.concat([tf.fill([20, 1], 2), token_ids, tf.fill([20, 1], 3)], 1)
    assert decoded(tokenizer.detokenize(framed.to_tensor())) == texts

    tokenizer.save(tmp_path / "saved")
    loaded = load_tokenizer(tmp_path / "saved")
    assert isinstance(loaded, SentencePieceTokenizer)
    assert loaded.tokenize(texts).to_list() == token_ids.to_list()


def test_sentencepiece_model_without_pad_at_zero_is_rejected(tmp_path):
    model_file = _train_sentencepiece(tmp_path / "spm")  # unk 0, bos 1, eos 2
    with pytest.raises(ValueError, match="padding piece at id 0"):
        SentencePieceTokenizer(model_file)


def test_id_to_token_matches_sentencepiece(tmp_path):
    sentencepiece = pytest.importorskip("sentencepiece")
    model_file = _train_sentencepiece(tmp_path / "spm", **PROJECT_IDS)
    tokenizer = SentencePieceTokenizer(model_file)
    # The reference is the sentencepiece package's own processor, not
    # tensorflow-text, which the tokenizer wraps.
    reference = sentencepiece.SentencePieceProcessor(model_file=model_file)
    ids = range(tokenizer.vocabulary_size)
    assert [tokenizer.id_to_token(i) for i in ids] == [reference.id_to_piece(i) for i in ids]
    assert tokenizer.id_to_token(np.int64(5)) == "[CLS]"
    for bad in (-1, tokenizer.vocabulary_size, 1.0, True):
        with pytest.raises(ValueError, match=re.escape(f"i={bad!r}")):
            tokenizer.id_to_token(bad)


def test_the_tokenizer_outlives_keras_clear_session():
    """`keras.backend.clear_session()` clears TensorFlow's kernel cache, which
    freed tensorflow-text's model ("Resource ... SentencepieceResource does
    not exist"): the tokenizer still works eagerly and in a `tf.data` map
    built afterwards."""
    import keras

    texts = [text for pair in date_pairs(200) for text in pair]
    tokenizer = SentencePieceTokenizer.train(texts, vocabulary_size=400, show_progress=False)
    expected = tokenizer.tokenize(texts[:4]).to_list()
    keras.backend.clear_session()
    assert tokenizer.tokenize(texts[:4]).to_list() == expected
    keras.backend.clear_session()
    dataset = tf.data.Dataset.from_tensor_slices(texts[:4]).map(tokenizer.tokenize)
    assert [ids.tolist() for ids in dataset.as_numpy_iterator()] == expected
    assert decoded(tokenizer.detokenize(tf.ragged.constant(expected))) == texts[:4]
    # A function traced before clear_session holds the freed model: trace_key
    # changes, so its owner (a task's cached decode function) traces again.
    key = tokenizer.trace_key()
    keras.backend.clear_session()
    assert tokenizer.trace_key() != key


def test_train_refuses_a_vocabulary_without_room_for_its_byte_pieces():
    with pytest.raises(ValueError, match=r"larger than the 263 special and byte pieces.*vocabulary_size=200"):
        SentencePieceTokenizer.train(["a b c"], vocabulary_size=200, show_progress=False)
