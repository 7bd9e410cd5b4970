"""`BaseTokenizer`: what every tokenizer gets from the base, on a toy subclass
(one id per letter), and the saved-directory helpers."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data.tokenizer_base import (
    BaseTokenizer,
    as_strings,
    as_token_ids,
    read_config,
    saved_file,
    write_config,
)

FIRST_LETTER = 4  # ids 0-3: [PAD], [UNK], [START], [END]


class Letters(BaseTokenizer):
    """Lower-case letters a-z as ids 4-29; the least a subclass implements."""

    kind = "letters"
    pad_id, unk_id, start_id, end_id = 0, 1, 2, 3
    mask_id = cls_id = sep_id = None

    @property
    def vocabulary_size(self):
        return FIRST_LETTER + 26

    def _id_to_token(self, i):
        return ["[PAD]", "[UNK]", "[START]", "[END]"][i] if i < FIRST_LETTER else chr(ord("a") + i - FIRST_LETTER)

    def _tokenize_batch(self, strings):
        return tf.strings.unicode_decode(strings, "UTF-8") - ord("a") + FIRST_LETTER

    def _detokenize_batch(self, token_ids):
        return tf.strings.unicode_encode(token_ids + ord("a") - FIRST_LETTER, "UTF-8")


@pytest.fixture
def letters():
    return Letters()


def _decoded(strings):
    return [text.decode() for text in np.atleast_1d(strings.numpy())]


def test_a_subclass_that_leaves_a_method_out_is_refused_when_it_is_used():
    class Incomplete(BaseTokenizer):
        pad_id = 0

    tokenizer = Incomplete()
    for call in (lambda: tokenizer.vocabulary_size, lambda: tokenizer.tokenize(["ab"]),
                 lambda: tokenizer.save("x"), lambda: Incomplete.from_saved("x", {})):
        with pytest.raises(NotImplementedError):
            call()


def test_tokenize_a_batch_or_a_scalar(letters):
    token_ids = letters.tokenize(["cab", "a"])
    assert isinstance(token_ids, tf.RaggedTensor) and token_ids.dtype == tf.int32
    assert token_ids.to_list() == [[6, 4, 5], [4]]
    single = letters.tokenize("cab")
    assert not isinstance(single, tf.RaggedTensor) and single.numpy().tolist() == [6, 4, 5]


def test_special_ids_are_the_set_ones_sorted(letters):
    assert letters.special_ids == [0, 1, 2, 3]
    letters.mask_id = 29
    assert letters.special_ids == [0, 1, 2, 3, 29]


@pytest.mark.parametrize(
    "token_ids",
    [
        [[2, 6, 4, 5, 3, 0, 0], [2, 4, 1, 3, 0, 0, 0]],  # dense, padded with 0
        tf.ragged.constant([[2, 6, 4, 5, 3], [2, 4, 1, 3]]),
        np.array([[2, 6, 4, 5, 3, 0, 0], [2, 4, 1, 3, 0, 0, 0]], "int64"),
    ],
    ids=["list", "ragged", "int64"],
)
def test_detokenize_drops_special_ids(letters, token_ids):
    assert _decoded(letters.detokenize(token_ids)) == ["cab", "a"]


def test_detokenize_a_single_sequence_gives_a_scalar(letters):
    text = letters.detokenize([2, 5, 4, 3, 0])
    assert text.shape.rank == 0 and text.numpy() == b"ba"


def test_detokenize_inside_a_tf_function(letters):
    detokenize = tf.function(letters.detokenize, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    assert _decoded(detokenize(tf.constant([[6, 0], [4, 5]]))) == ["c", "ab"]


def test_id_to_token_checks_the_id(letters):
    assert letters.id_to_token(4) == "a" and letters.id_to_token(np.int64(29)) == "z"
    for bad in (-1, 30, 4.0, True, "4"):
        with pytest.raises(ValueError, match=r"`i` must be an integer in \[0, 30\). Received: i="):
            letters.id_to_token(bad)


def test_normalize_changes_nothing_and_keeps_the_rank(letters):
    assert letters.normalize("Café").numpy() == "Café".encode()
    assert _decoded(letters.normalize(["A b", "C"])) == ["A b", "C"]


@pytest.mark.parametrize(
    "value, message",
    [
        ([[1.0, 2.0]], "must hold integers. Received: token_ids with dtype float32"),
        ([[[1]]], r"must have shape \(batch, length\) or \(length,\). Received: token_ids with shape \(1, 1, 1\)"),
    ],
)
def test_token_ids_of_the_wrong_dtype_or_rank_are_refused(letters, value, message):
    with pytest.raises(ValueError, match=message):
        letters.detokenize(value)
    with pytest.raises(ValueError, match=message):
        as_token_ids(value)


def test_as_token_ids_and_as_strings_say_what_they_added():
    ids, single = as_token_ids(np.array([5, 6], "int64"))
    assert single and ids.dtype == tf.int32 and ids.numpy().tolist() == [[5, 6]]
    assert as_token_ids([[5], [6]])[1] is False
    strings, scalar = as_strings("a")
    assert scalar and strings.numpy().tolist() == [b"a"]
    assert as_strings(["a", "b"])[1] is False
    with pytest.raises(ValueError, match="Received: strings with dtype int32 and shape"):
        as_strings([1, 2])
    with pytest.raises(ValueError, match=r"shape \(1, 1\)"):
        as_strings([["a"]])


def test_config_round_trip_and_missing_files(tmp_path):
    directory = tmp_path / "saved" / "tokenizer"  # created by write_config
    write_config(directory, {"type": "letters", "lower_case": True})
    assert json.loads((directory / "tokenizer.json").read_text()) == {"type": "letters", "lower_case": True}
    assert read_config(directory) == {"type": "letters", "lower_case": True}
    with pytest.raises(FileNotFoundError, match="No tokenizer directory at .*missing"):
        read_config(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="No tokenizer.json in .*not a saved tokenizer"):
        read_config(tmp_path)
    (directory / "vocab.txt").write_text("a\n")
    assert saved_file(directory, "vocab.txt") == str(directory / "vocab.txt")
    with pytest.raises(FileNotFoundError, match="No model.spm in"):
        saved_file(directory, "model.spm")


def test_progress_written_to_a_log_is_one_plain_line(capsys):
    from keras_attention.data.tokenizer_base import text_batches

    # Under pytest stdout is a file, as when a command's output goes to a log:
    # no colour codes or carriage returns, one line once the texts are read.
    batches = list(text_batches([f"text {i}" for i in range(3000)], show_progress=True)())
    assert sum(len(batch) for batch in batches) == 3000
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\r" not in printed and "\b" not in printed
    assert len(printed.splitlines()) == 1 and printed.startswith(f"{len(batches)}/{len(batches)}")
