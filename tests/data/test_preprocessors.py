import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.data import (
    RESERVED_TOKENS,
    BertPreprocessor,
    LanguageModelPreprocessor,
    Seq2SeqPreprocessor,
    SentencePieceTokenizer,
    WordPieceTokenizer,
    python_docstrings,
)

PAD, START, END, CLS, SEP = 0, 2, 3, 5, 6
# A vocabulary of whole words: "the" is 7, "cat" 8, ... "mat" 11.
WORDS = ["the", "cat", "sat", "on", "mat"]
THE, CAT, SAT, ON, MAT = range(7, 12)
TEXT_SPEC = [tf.TensorSpec([None], tf.string)]


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(RESERVED_TOKENS + WORDS)


@pytest.fixture(scope="module")
def texts():
    return python_docstrings()[:60] + [""]


# Not module-scoped: a SentencePiece model's resource does not outlive the
# `keras.backend.clear_session()` that tests/conftest.py runs after each test.
@pytest.fixture(params=["wordpiece", "sentencepiece"])
def trained_tokenizer(request, texts, tmp_path_factory):
    if request.param == "wordpiece":
        return WordPieceTokenizer.train(texts, 400, show_progress=False)
    from tests.data.test_sentencepiece_tokenizer import PROJECT_IDS, _train_sentencepiece

    model_file = _train_sentencepiece(tmp_path_factory.mktemp("spm") / "spm", **PROJECT_IDS)
    return SentencePieceTokenizer(model_file)


def words(count):
    """A text of `count` known words, and its ids."""
    cycle = (WORDS * count)[:count]
    return " ".join(cycle), [7 + WORDS.index(word) for word in cycle]


def padded(rows, length):
    array = np.zeros((len(rows), length), np.int32)
    for index, row in enumerate(rows):
        array[index, : len(row)] = row
    return array


def reference_ids(tokenizer, texts):
    """The tokenizer's own ids, as Python lists."""
    return [tokenizer.tokenize(text).numpy().tolist() for text in texts]


# === Seq2SeqPreprocessor ===


def test_seq2seq_source_is_cut_at_max_length(tokenizer):
    preprocessor = Seq2SeqPreprocessor(tokenizer, tokenizer, max_length=4)
    (four, four_ids), (five, five_ids) = words(4), words(5)
    texts = [four, five, "", "the cat"]
    token_ids, truncated = preprocessor.encode_source(texts)
    assert token_ids.dtype == tf.int32
    assert token_ids.to_list() == [four_ids, five_ids[:4], [], [THE, CAT]]
    assert truncated.numpy().tolist() == [False, True, False, False]
    dense, dense_truncated = preprocessor.encoder_token_ids(texts)
    assert dense.dtype == tf.int32
    np.testing.assert_array_equal(dense, padded([four_ids, five_ids[:4], [], [THE, CAT]], 4))
    np.testing.assert_array_equal(dense_truncated, truncated)


def test_seq2seq_target_is_wrapped_then_cut(tokenizer):
    preprocessor = Seq2SeqPreprocessor(tokenizer, tokenizer, max_length=5)
    (three, three_ids), (four, four_ids) = words(3), words(4)
    token_ids, truncated = preprocessor.encode_target([three, four, ""])
    assert token_ids.to_list() == [
        [START] + three_ids + [END],  # exactly max_length ids
        [START] + four_ids[:4],  # one more: loses its [END]
        [START, END],
    ]
    assert truncated.numpy().tolist() == [False, True, False]


def test_seq2seq_teacher_forcing_shifts_by_one(tokenizer):
    preprocessor = Seq2SeqPreprocessor(tokenizer, tokenizer, max_length=4)
    inputs, labels = preprocessor.teacher_forcing(
        ["the cat sat on mat", ""], ["cat sat", "the cat sat on"]
    )
    assert inputs["encoder_token_ids"].to_list() == [[THE, CAT, SAT, ON], []]
    assert inputs["decoder_token_ids"].to_list() == [[START, CAT, SAT], [START, THE, CAT]]
    assert labels.to_list() == [[CAT, SAT, END], [THE, CAT, SAT]]
    assert preprocessor.detokenize(labels).numpy().tolist() == [b"cat sat", b"the cat sat"]


def test_seq2seq_matches_the_tokenizer_on_real_text(trained_tokenizer, texts):
    length = 12
    preprocessor = Seq2SeqPreprocessor(trained_tokenizer, trained_tokenizer, length)
    expected = reference_ids(trained_tokenizer, texts)
    source, truncated = preprocessor.encoder_token_ids(texts)
    np.testing.assert_array_equal(source, padded([ids[:length] for ids in expected], length))
    assert truncated.numpy().tolist() == [len(ids) > length for ids in expected]
    inputs, labels = preprocessor.teacher_forcing(texts, texts)
    wrapped = [([START] + ids + [END])[:length] for ids in expected]
    assert inputs["decoder_token_ids"].to_list() == [ids[:-1] for ids in wrapped]
    assert labels.to_list() == [ids[1:] for ids in wrapped]


# === BertPreprocessor ===


def test_bert_wraps_and_cuts_at_sequence_length(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=6)
    (four, four_ids), (five, five_ids) = words(4), words(5)
    texts = [four, five, "", "sat"]
    token_ids, truncated = preprocessor.encode(texts)
    expected = [[CLS] + four_ids + [SEP], [CLS] + five_ids[:4] + [SEP], [CLS, SEP], [CLS, SAT, SEP]]
    assert token_ids.to_list() == expected
    assert truncated.numpy().tolist() == [False, True, False, False]
    features, dense_truncated = preprocessor(texts)
    assert sorted(features) == ["segment_ids", "token_ids"]
    assert features["token_ids"].dtype == features["segment_ids"].dtype == tf.int32
    np.testing.assert_array_equal(features["token_ids"], padded(expected, 6))
    np.testing.assert_array_equal(features["segment_ids"], np.zeros((4, 6)))
    np.testing.assert_array_equal(dense_truncated, truncated)


def test_bert_matches_the_tokenizer_on_real_text(trained_tokenizer, texts):
    length = 10
    features, truncated = BertPreprocessor(trained_tokenizer, length)(texts)
    expected = reference_ids(trained_tokenizer, texts)
    wrapped = [[CLS] + ids[: length - 2] + [SEP] for ids in expected]
    np.testing.assert_array_equal(features["token_ids"], padded(wrapped, length))
    assert truncated.numpy().tolist() == [len(ids) > length - 2 for ids in expected]


# === LanguageModelPreprocessor ===


def test_language_model_pieces_end_with_end(tokenizer):
    preprocessor = LanguageModelPreprocessor(tokenizer, sequence_length=2)
    assert preprocessor.encode(["the cat sat on mat", ""]).to_list() == [
        [THE, CAT, SAT, ON, MAT, END],  # never cut
        [END],
    ]
    windows = tf.constant([[THE, CAT, SAT], [SAT, ON, MAT]])
    inputs, labels = preprocessor.next_token_split(windows)
    np.testing.assert_array_equal(inputs, [[THE, CAT], [SAT, ON]])
    np.testing.assert_array_equal(labels, [[CAT, SAT], [ON, MAT]])


def test_language_model_prompts_are_cut_and_never_empty(tokenizer):
    preprocessor = LanguageModelPreprocessor(tokenizer, sequence_length=4)
    (four, four_ids), (five, five_ids) = words(4), words(5)
    token_ids, lengths, truncated = preprocessor.encode_prompts([four, five, "", "cat"])
    np.testing.assert_array_equal(
        token_ids, [four_ids, five_ids[:4], [END, 0, 0, 0], [CAT, 0, 0, 0]]
    )
    assert lengths.dtype == tf.int32 and lengths.numpy().tolist() == [4, 4, 1, 1]
    assert truncated.numpy().tolist() == [False, True, False, False]


def test_language_model_generation_inputs(tokenizer):
    preprocessor = LanguageModelPreprocessor(tokenizer, sequence_length=4)
    inputs = preprocessor.generation_inputs(["the cat sat", "", "mat"], max_new_tokens=3)
    np.testing.assert_array_equal(
        inputs["token_ids"],
        [[THE, CAT, SAT, 0, 0, 0], [END, 0, 0, 0, 0, 0], [MAT, 0, 0, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        inputs["prompt_mask"],
        np.arange(6)[None, :] < np.array([[3], [1], [1]]),
    )
    assert int(inputs["start_index"]) == 1
    assert inputs["truncated"].numpy().tolist() == [False, False, False]
    # New tokens are at least 1 and fit in max_length with the widest prompt.
    limited = preprocessor.generation_inputs(["the cat sat"], max_new_tokens=9, max_length=5)
    assert limited["token_ids"].shape == (1, 5)
    assert preprocessor.generation_inputs(["the"], max_new_tokens=0)["token_ids"].shape == (1, 2)


def test_language_model_prompts_match_the_tokenizer_on_real_text(trained_tokenizer, texts):
    length = 8
    preprocessor = LanguageModelPreprocessor(trained_tokenizer, length)
    token_ids, lengths, truncated = preprocessor.encode_prompts(texts)
    expected = [ids[:length] or [END] for ids in reference_ids(trained_tokenizer, texts)]
    np.testing.assert_array_equal(token_ids, padded(expected, length))
    assert lengths.numpy().tolist() == [len(ids) for ids in expected]
    assert truncated.numpy().tolist() == [
        len(ids) > length for ids in reference_ids(trained_tokenizer, texts)
    ]
    stream = preprocessor.encode(texts).to_list()
    assert stream == [ids + [END] for ids in reference_ids(trained_tokenizer, texts)]


# === Tracing, saving, validation ===


class Preprocessing(tf.Module):
    """All three preprocessors in one module, one traced function each."""

    def __init__(self, tokenizer):
        super().__init__()
        self.seq2seq = Seq2SeqPreprocessor(tokenizer, tokenizer, max_length=4)
        self.bert = BertPreprocessor(tokenizer, sequence_length=5)
        self.language_model = LanguageModelPreprocessor(tokenizer, sequence_length=3)

    @tf.function(input_signature=TEXT_SPEC)
    def seq2seq_outputs(self, texts):
        source, truncated = self.seq2seq.encoder_token_ids(texts)
        inputs, labels = self.seq2seq.teacher_forcing(texts, texts)
        return {
            "source": source,
            "truncated": truncated,
            "decoder": inputs["decoder_token_ids"].to_tensor(),
            "labels": labels.to_tensor(),
            "text": self.seq2seq.detokenize(labels),
        }

    @tf.function(input_signature=TEXT_SPEC)
    def bert_outputs(self, texts):
        features, truncated = self.bert(texts)
        return {**features, "truncated": truncated}

    @tf.function(input_signature=TEXT_SPEC)
    def language_model_outputs(self, texts):
        inputs = self.language_model.generation_inputs(texts, 2, 6)
        return {**inputs, "stream": self.language_model.encode(texts).to_tensor()}


SAVE_TEXTS = ["the cat sat on mat", "", "the cat", "mat mat mat mat mat mat"]


def _outputs(module, texts):
    texts = tf.constant(texts)
    return {
        f"{name}/{key}": value.numpy()
        for name in ("seq2seq", "bert", "language_model")
        for key, value in getattr(module, f"{name}_outputs")(texts).items()
    }


def test_traced_once_for_any_batch_size(tokenizer):
    module = Preprocessing(tokenizer)
    for batch in (SAVE_TEXTS, SAVE_TEXTS[:1], SAVE_TEXTS * 3):
        outputs = _outputs(module, batch)
        assert outputs["bert/token_ids"].shape == (len(batch), 5)
    for function in (module.seq2seq_outputs, module.bert_outputs, module.language_model_outputs):
        assert function.experimental_get_tracing_count() == 1
    signature = module.bert_outputs.get_concrete_function().structured_outputs
    assert signature["token_ids"].shape.as_list() == [None, 5]


def test_saved_and_loaded_in_another_process_gives_the_same_outputs(tokenizer, tmp_path):
    module = Preprocessing(tokenizer)
    expected = _outputs(module, SAVE_TEXTS)
    tf.saved_model.save(module, str(tmp_path / "saved"))
    del module
    script = textwrap.dedent(
        f"""
        import numpy as np, tensorflow as tf
        import tensorflow_text  # noqa: F401 (registers the tokenizer ops)
        loaded = tf.saved_model.load({str(tmp_path / "saved")!r})
        texts = tf.constant({SAVE_TEXTS!r})
        np.savez({str(tmp_path / "outputs.npz")!r}, **{{
            f"{{name}}/{{key}}": value.numpy()
            for name in ("seq2seq", "bert", "language_model")
            for key, value in getattr(loaded, f"{{name}}_outputs")(texts).items()
        }})
        """
    )
    # No keras_attention import in the child: the SavedModel needs only TF.
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    with np.load(tmp_path / "outputs.npz", allow_pickle=True) as loaded:
        assert sorted(loaded.files) == sorted(expected)
        for key, value in expected.items():
            np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    assert expected["bert/truncated"].tolist() == [True, False, False, True]
    assert expected["seq2seq/text"].tolist() == [b"the cat sat", b"", b"the cat", b"mat mat mat"]


def test_tracked_by_an_export_archive(tokenizer, tmp_path):
    import keras

    preprocessor = BertPreprocessor(tokenizer, sequence_length=4)
    archive = keras.export.ExportArchive()
    archive.track(preprocessor)
    archive.add_endpoint("serve", lambda texts: preprocessor(texts)[0], input_signature=TEXT_SPEC)
    archive.write_out(str(tmp_path / "export"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    outputs = loaded.serve(tf.constant(["the cat sat", ""]))
    np.testing.assert_array_equal(outputs["token_ids"], [[CLS, THE, CAT, SEP], [CLS, SEP, 0, 0]])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda t: Seq2SeqPreprocessor(t, t, 1), "max_length=1"),
        (lambda t: BertPreprocessor(t, 2), "sequence_length=2"),
        (lambda t: LanguageModelPreprocessor(t, 0), "sequence_length=0"),
        (lambda t: BertPreprocessor(t, 8)(tf.constant("the cat")), "shape ()"),
        (lambda t: BertPreprocessor(t, 8)(tf.constant([1, 2])), "dtype int32"),
    ],
)
def test_arguments_are_validated(tokenizer, build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build(tokenizer)


class _NoSpecialIds:
    start_id = end_id = cls_id = sep_id = None


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda t: Seq2SeqPreprocessor(t, _NoSpecialIds(), 8), "start_id"),
        (lambda t: BertPreprocessor(_NoSpecialIds(), 8), "cls_id"),
        (lambda t: LanguageModelPreprocessor(_NoSpecialIds(), 8), "end_id"),
    ],
)
def test_special_ids_are_required(tokenizer, build, name):
    with pytest.raises(ValueError, match=f"`{name}`.*_NoSpecialIds"):
        build(tokenizer)


def test_generation_inputs_feed_gpt_decoder_decode(tokenizer):
    from keras_attention.models import GPTDecoder, Sampler

    model = GPTDecoder.from_preset("gpt_tiny")
    preprocessor = LanguageModelPreprocessor(tokenizer, sequence_length=4)

    @tf.function(input_signature=TEXT_SPEC)
    def continue_prompts(prompts):
        inputs = preprocessor.generation_inputs(prompts, 3, model.max_sequence_length)
        return model.decode(
            inputs["token_ids"], inputs["prompt_mask"], inputs["start_index"], Sampler()
        )

    prompts = ["the cat sat", "", "mat on"]
    generated = continue_prompts(tf.constant(prompts)).numpy()
    expected = model.generate(padded([[THE, CAT, SAT], [END], [MAT, ON]], 3), max_new_tokens=3)
    np.testing.assert_array_equal(generated, expected)
