"""`read_bert_checkpoint` and `load_bert_tokenizer`: either format read into
one `BertCheckpoint`, its tokenizer, and the errors of a directory that is none."""

import numpy as np
import pytest

from keras_attention.convert import ConversionError
from keras_attention.convert.checkpoint import load_bert_tokenizer, read_bert_checkpoint
from tests.convert import checkpoints

CONFIG = {"vocabulary_size": checkpoints.VOCABULARY_SIZE, "num_layers": checkpoints.NUM_LAYERS,
          "num_heads": checkpoints.NUM_HEADS, "hidden_dim": checkpoints.HIDDEN_DIM,
          "intermediate_dim": checkpoints.INTERMEDIATE_DIM, "max_sequence_length": checkpoints.MAX_LENGTH}


@pytest.fixture
def huggingface(tmp_path, rng):
    return checkpoints.write_huggingface(tmp_path / "hf", checkpoints.huggingface_tensors(rng))


def test_a_huggingface_checkpoint(huggingface):
    checkpoint = read_bert_checkpoint(huggingface)
    assert (checkpoint.format, checkpoint.source) == ("huggingface", str(huggingface))
    assert {key: checkpoint.config[key] for key in CONFIG} == CONFIG
    assert checkpoint.vocabulary == checkpoints.VOCABULARY and checkpoint.lower_case
    assert checkpoint.vocabulary_file.endswith("vocab.txt")
    assert checkpoint.weights_file.endswith("model.safetensors")
    assert checkpoint.has_masked_lm_head and not checkpoint.has_classifier_head
    assert checkpoint.label_names is None


def test_a_keras_hub_preset(tmp_path, rng):
    backbone = checkpoints.keras_hub_backbone(rng)
    directory = checkpoints.write_keras_hub(tmp_path / "preset", backbone, lower_case=False)
    checkpoint = read_bert_checkpoint(str(directory))  # a str path as well as a Path
    assert checkpoint.format == "keras_hub"
    assert {key: checkpoint.config[key] for key in CONFIG} == CONFIG
    assert checkpoint.vocabulary == checkpoints.VOCABULARY and not checkpoint.lower_case
    assert checkpoint.vocabulary_file.endswith("assets/tokenizer/vocabulary.txt")
    embedding = backbone.get_layer("token_embedding").embeddings.numpy()
    np.testing.assert_array_equal(np.asarray(checkpoint.tensors["embeddings.token"].value), embedding)


def test_no_directory_or_no_checkpoint_in_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint directory at .*nowhere"):
        read_bert_checkpoint(tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(FileNotFoundError, match="No checkpoint directory"):
        read_bert_checkpoint(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConversionError, match="empty holds neither model.safetensors .* nor model.weights.h5"):
        read_bert_checkpoint(tmp_path / "empty")


def test_the_vocabulary_must_fit_the_token_embedding(tmp_path, rng):
    directory = checkpoints.write_huggingface(
        tmp_path / "hf", checkpoints.huggingface_tensors(rng), vocabulary=checkpoints.VOCABULARY + ["extra"]
    )
    with pytest.raises(ConversionError, match=r"vocab.txt has 141 tokens, but the checkpoint's token embedding has 140 rows"):
        read_bert_checkpoint(directory)


def test_the_tokenizer_takes_the_vocabulary_as_it_is(huggingface):
    checkpoint = read_bert_checkpoint(huggingface)
    tokenizer = load_bert_tokenizer(checkpoint)
    assert tokenizer.vocabulary == checkpoints.VOCABULARY and tokenizer.lower_case
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id) == (
        0, 100, 101, 102, 103
    )
    vocabulary = checkpoints.VOCABULARY
    assert tokenizer.tokenize(["The cat sat."]).to_list() == [[vocabulary.index(word) for word in
                                                               ("the", "cat", "sat", ".")]]
    # From the directory it is the same tokenizer.
    assert load_bert_tokenizer(str(huggingface)).vocabulary == tokenizer.vocabulary


def test_a_vocabulary_the_tokenizer_cannot_use_names_its_file(tmp_path, rng):
    vocabulary = list(checkpoints.VOCABULARY)
    vocabulary[0], vocabulary[1] = vocabulary[1], vocabulary[0]  # [PAD] is no longer id 0
    directory = checkpoints.write_huggingface(tmp_path / "hf", checkpoints.huggingface_tensors(rng),
                                              vocabulary=vocabulary)
    checkpoint = read_bert_checkpoint(directory)
    with pytest.raises(ConversionError, match=r"hf/vocab.txt: .*\[PAD\]"):
        load_bert_tokenizer(checkpoint)
