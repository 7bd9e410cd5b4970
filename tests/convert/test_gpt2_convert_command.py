"""`keras-attention convert` of a GPT-2 checkpoint: a language-model run that
`generate` and `export` accept; nothing written for a checkpoint it cannot use."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.cli import main
from keras_attention.convert import ConversionError, read_checkpoint
from keras_attention.data import BytePairTokenizer
from keras_attention.models import GPTDecoder
from keras_attention.runs import Run
from tests.convert import gpt2_checkpoints as checkpoints

PROMPTS = ["the cat sat!", "on the"]


def test_a_keras_hub_gpt2_preset_becomes_a_language_model_run(tmp_path, rng, capsys):
    source = checkpoints.write_keras_hub(tmp_path / "preset", checkpoints.keras_hub_backbone(rng))
    run_dir = tmp_path / "run"
    assert main(["convert", str(source), "--out", str(run_dir)]) == 0
    assert "language_model run" in capsys.readouterr().out
    assert "pad_token_id = None" in (run_dir / "recipe.toml").read_text()
    assert not (run_dir / "metrics.json").exists()  # nothing was evaluated

    run = Run.load(run_dir)
    assert isinstance(run.model, GPTDecoder) and run.model.pad_token_id is None
    tokenizer = run.task.tokenizer
    assert isinstance(tokenizer, BytePairTokenizer) and tokenizer.end_id == checkpoints.END_TOKEN_ID
    texts = run.predict(PROMPTS, max_new_tokens=5)

    # What the converted model generates from the tokenized prompts, id 0 ("!") included.
    reference = GPTDecoder.from_pretrained(source)
    for prompt, text in zip(PROMPTS, texts):
        ids = tokenizer.tokenize(prompt).numpy()[None]
        generated = reference.generate(ids, max_new_tokens=5)
        assert text == tokenizer.detokenize(generated[0]).numpy().decode()
    assert 0 in tokenizer.tokenize(PROMPTS[0]).numpy().tolist()

    assert main(["generate", str(run_dir), *PROMPTS, "--max-new-tokens", "5"]) == 0
    printed = capsys.readouterr().out
    assert all(text in printed for text in texts)

    assert main(["export", str(run_dir)]) == 0
    serve = tf.saved_model.load(str(run_dir / "export" / "1")).signatures["serving_default"]
    served = serve(
        prompt=tf.constant(PROMPTS), max_new_tokens=tf.constant([5, 5]),
        temperature=tf.constant([0.0, 0.0]), top_k=tf.constant([0, 0]), top_p=tf.constant([1.0, 1.0]),
    )
    assert [text.decode() for text in served["text"].numpy()] == texts


def test_a_huggingface_gpt2_directory_converts_too(tmp_path, rng, capsys):
    source = checkpoints.write_huggingface(tmp_path / "hf", checkpoints.huggingface_tensors(rng))
    assert isinstance(read_checkpoint(source).config, dict)
    assert main(["convert", str(source), "--out", str(tmp_path / "run")]) == 0
    run = Run.load(tmp_path / "run")
    token_ids = np.array([[5, 0, 7, 9]], "int32")
    np.testing.assert_allclose(run.model(token_ids), GPTDecoder.from_pretrained(source)(token_ids), atol=1e-6)


def test_a_gpt2_checkpoint_without_a_tokenizer_writes_nothing(tmp_path, rng, capsys):
    source = checkpoints.write_huggingface(
        tmp_path / "hf", checkpoints.huggingface_tensors(rng), tokenizer=False
    )
    assert main(["convert", str(source), "--out", str(tmp_path / "run")]) == 2
    assert "has no GPT-2 tokenizer" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hf"]
    GPTDecoder.from_pretrained(source)  # the weights alone convert


def test_a_gpt2_vocabulary_that_does_not_match_writes_nothing(tmp_path, rng, capsys):
    vocabulary = dict(list(checkpoints.VOCABULARY.items())[:-1])
    source = checkpoints.write_huggingface(
        tmp_path / "hf", checkpoints.huggingface_tensors(rng), vocabulary=vocabulary
    )
    assert main(["convert", str(source), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "vocab.json has" in error and "rows" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hf"]
    with pytest.raises(ConversionError, match="vocab.json"):
        read_checkpoint(source)
    (source / "config.json").write_text(json.dumps(checkpoints.huggingface_config(n_layer=3)))
    assert main(["convert", str(source), "--out", str(tmp_path / "run")]) == 2
    assert "transformer.h.2" in capsys.readouterr().err
