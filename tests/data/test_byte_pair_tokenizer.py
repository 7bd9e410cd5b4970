"""BytePairTokenizer: GPT-2's byte-level BPE from a vocab.json and merges.txt, the
ids keras-hub's GPT2Tokenizer gives, in the package's tokenizer contract."""

import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("keras_hub")

from keras_attention.data import BytePairTokenizer, load_tokenizer  # noqa: E402
from tests.convert import gpt2_checkpoints  # noqa: E402

TEXTS = ["the cat sat on the mat!", "The  cat!!", "", "on<|endoftext|>the", "tab\there\nnew line"]


@pytest.fixture
def tokenizer():
    return BytePairTokenizer(gpt2_checkpoints.VOCABULARY, gpt2_checkpoints.MERGES)


def test_ids_match_keras_hub_gpt2_tokenizer(tokenizer):
    import keras_hub

    theirs = keras_hub.models.GPT2Tokenizer(
        vocabulary=dict(gpt2_checkpoints.VOCABULARY), merges=list(gpt2_checkpoints.MERGES)
    )
    expected = theirs(TEXTS)
    expected = expected if isinstance(expected, list) else expected.to_list()
    ours = tokenizer.tokenize(TEXTS).to_list()
    assert ours == [list(map(int, row)) for row in expected]
    assert 0 in ours[0]  # "!" is id 0, an ordinary token
    assert gpt2_checkpoints.END_TOKEN_ID in ours[3]  # <|endoftext|> is not split


def test_special_ids_and_detokenize(tokenizer):
    assert tokenizer.pad_id is None and tokenizer.unk_id is None
    assert tokenizer.end_id == gpt2_checkpoints.END_TOKEN_ID
    assert tokenizer.special_ids == [gpt2_checkpoints.END_TOKEN_ID]
    assert tokenizer.vocabulary_size == gpt2_checkpoints.VOCABULARY_SIZE
    assert tokenizer.id_to_token(0) == "!"
    ids = tokenizer.tokenize(TEXTS[:2])
    assert tokenizer.detokenize(ids).numpy().tolist() == [b"the cat sat on the mat!", b"The  cat!!"]
    # The end of text is dropped; a single sequence gives a scalar.
    end = gpt2_checkpoints.END_TOKEN_ID
    the = tokenizer.tokenize("the!").numpy().tolist()
    assert tokenizer.detokenize(np.array(the + [end], "int32")).numpy() == b"the!"


def test_save_load_and_a_traced_round_trip(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "saved")
    loaded = load_tokenizer(tmp_path / "saved")
    assert isinstance(loaded, BytePairTokenizer)
    assert loaded.vocabulary == gpt2_checkpoints.VOCABULARY and loaded.merges == gpt2_checkpoints.MERGES
    assert loaded.tokenize(TEXTS).to_list() == tokenizer.tokenize(TEXTS).to_list()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(texts):
        return loaded.detokenize(loaded.tokenize(texts))

    assert round_trip(tf.constant(TEXTS[:2])).numpy().tolist() == [b"the cat sat on the mat!", b"The  cat!!"]


def test_a_vocabulary_with_gaps_is_refused():
    with pytest.raises(ValueError, match="ids 0 .. N-1"):
        BytePairTokenizer({"a": 0, "b": 2}, [])
