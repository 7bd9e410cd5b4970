"""`load_tokenizer` finds a saved tokenizer's class by the `type` it saved, for
every registered kind, and says clearly when it cannot."""

import json

import pytest

from keras_attention.data import (
    RESERVED_TOKENS,
    BytePairTokenizer,
    SentencePieceTokenizer,
    WordPieceTokenizer,
)
from keras_attention.data.tokenizer_registry import TOKENIZERS, load_tokenizer
from tests.data.test_sentencepiece_tokenizer import PROJECT_IDS, _train_sentencepiece

TEXTS = ["2024-03-05", "5 March 2024", "ab ba"]


def _tokenizer(kind, tmp_path):
    """A tiny tokenizer of each registered kind."""
    if kind == "wordpiece":
        return WordPieceTokenizer(RESERVED_TOKENS + ["a", "b", "##a", "##b", "5", "-"], lower_case=True)
    if kind == "byte_pair":
        pytest.importorskip("keras_hub")
        from tests.convert import gpt2_checkpoints

        return BytePairTokenizer(gpt2_checkpoints.VOCABULARY, gpt2_checkpoints.MERGES)
    return SentencePieceTokenizer(_train_sentencepiece(tmp_path / "spm", **PROJECT_IDS))


def test_the_registry_holds_every_kind_by_the_type_it_saves():
    assert TOKENIZERS == {
        "wordpiece": WordPieceTokenizer,
        "sentencepiece": SentencePieceTokenizer,
        "byte_pair": BytePairTokenizer,
    }


@pytest.mark.parametrize("kind", sorted(TOKENIZERS))
def test_load_tokenizer_round_trip(kind, tmp_path):
    tokenizer = _tokenizer(kind, tmp_path)
    tokenizer.save(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "tokenizer.json").read_text())["type"] == kind
    loaded = load_tokenizer(tmp_path / "saved")
    assert type(loaded) is TOKENIZERS[kind]
    assert loaded.vocabulary_size == tokenizer.vocabulary_size
    assert loaded.special_ids == tokenizer.special_ids
    assert loaded.tokenize(TEXTS).to_list() == tokenizer.tokenize(TEXTS).to_list()
    assert load_tokenizer(str(tmp_path / "saved")).tokenize(TEXTS).to_list() == tokenizer.tokenize(TEXTS).to_list()


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No tokenizer directory"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"type": "bpe"}')
    with pytest.raises(ValueError, match="type='bpe'"):
        load_tokenizer(tmp_path)


def test_an_unknown_or_missing_type_names_the_file_and_the_kinds(tmp_path):
    (tmp_path / "tokenizer.json").write_text('{"lower_case": true}')
    with pytest.raises(ValueError) as raised:
        load_tokenizer(tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "tokenizer.json") in message
    assert "'wordpiece' or 'sentencepiece'" in message and "Received: type=None" in message


@pytest.mark.parametrize("kind, missing", [("wordpiece", "vocab.txt"), ("sentencepiece", "spm.model")])
def test_a_saved_directory_missing_its_file_names_it(kind, missing, tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"type": kind}))
    with pytest.raises(FileNotFoundError, match=f"No {missing} in"):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize("content", ["{", "[]", '"wordpiece"'], ids=["broken", "a-list", "a-string"])
def test_a_tokenizer_json_that_is_no_object_names_the_file(tmp_path, content):
    (tmp_path / "tokenizer.json").write_text(content)
    with pytest.raises(ValueError, match=r"tokenizer\.json.* must hold a JSON object"):
        load_tokenizer(tmp_path)
