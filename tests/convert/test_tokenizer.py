"""WordPieceTokenizer on a pretrained vocab.txt: the ids keras-hub's BertTokenizer gives."""

import pytest

from keras_attention.data import WordPieceTokenizer, load_tokenizer
from tests.convert import checkpoints

SENTENCES = [
    "The cat sat on the mat.",
    "Hello, world!",
    "THE DOG'S running?",  # casing, an apostrophe
    "unable cats-dogs",  # continuation pieces, a hyphen
    "zebra the.",  # an unknown word
    "  the   cat  ",
]


@pytest.mark.parametrize("lower_case", [True, False])
def test_ids_match_keras_hub_bert_tokenizer(tmp_path, lower_case):
    import keras_hub

    path = tmp_path / "vocab.txt"
    checkpoints.write_vocabulary(path)
    ours = WordPieceTokenizer.from_vocabulary_file(path, lower_case=lower_case)
    theirs = keras_hub.models.BertTokenizer(vocabulary=str(path), lowercase=lower_case)
    expected = theirs(SENTENCES)
    expected = expected if isinstance(expected, list) else expected.to_list()
    assert ours.tokenize(SENTENCES).to_list() == expected
    assert 100 in expected[4]  # "zebra" is [UNK] = 100


def test_special_ids_are_looked_up_and_survive_save_and_load(tmp_path):
    path = tmp_path / "vocab.txt"
    checkpoints.write_vocabulary(path)
    tokenizer = WordPieceTokenizer.from_vocabulary_file(path, lower_case=True)
    ids = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    assert ids == (0, 100, 101, 102, 103)
    assert tokenizer.start_id is None and tokenizer.end_id is None
    assert tokenizer.vocabulary == checkpoints.VOCABULARY
    tokenizer.save(tmp_path / "saved")
    loaded = load_tokenizer(tmp_path / "saved")
    assert (loaded.pad_id, loaded.unk_id, loaded.cls_id, loaded.sep_id, loaded.mask_id) == ids
    assert loaded.lower_case and loaded.vocabulary == checkpoints.VOCABULARY
    assert loaded.tokenize(SENTENCES).to_list() == tokenizer.tokenize(SENTENCES).to_list()
    assert loaded.detokenize(tokenizer.tokenize(["The cat sat."])).numpy().tolist() == [b"the cat sat."]


def test_a_vocabulary_must_pad_with_id_zero_and_know_unk(tmp_path):
    path = tmp_path / "vocab.txt"
    checkpoints.write_vocabulary(path, ["[UNK]", "[PAD]", "a"])
    with pytest.raises(ValueError, match=r"vocab.txt.*\[PAD\]"):
        WordPieceTokenizer.from_vocabulary_file(path)
    checkpoints.write_vocabulary(path, ["[PAD]", "a"])
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        WordPieceTokenizer.from_vocabulary_file(path)
    with pytest.raises(FileNotFoundError):
        WordPieceTokenizer.from_vocabulary_file(tmp_path / "missing.txt")
