"""Fine-tuning a converted GPT-2 through a recipe: a tiny random keras-hub
`GPT2Backbone` preset -> `keras-attention convert` -> a language-model recipe
with `model.init_from` that run -> `train` -> a SavedModel that generates text;
recipes that conflict with the run are refused before anything is written."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

pytest.importorskip("keras_hub")

from keras_attention.cli import main  # noqa: E402
from keras_attention.data import WordPieceTokenizer  # noqa: E402
from keras_attention.models import GPTDecoder  # noqa: E402
from keras_attention.runs import Run  # noqa: E402
from keras_attention.tasks import get_task  # noqa: E402
from keras_attention.training.recipe import load_recipe  # noqa: E402
from tests.convert import gpt2_checkpoints as checkpoints  # noqa: E402
from tests.tiny import sets  # noqa: E402

# ASCII only (the tiny vocabulary spells printable ASCII), "!" (id 0) in every line.
LINES = ["the cat sat on the mat!", "the cat sat!", "on the mat, the cat sat!!", "a cat? the cat!"]
PROMPT = "the cat sat!"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """`(preset directory, converted run, text file)`."""
    root = tmp_path_factory.mktemp("gpt2")
    rng = np.random.default_rng(7)
    preset = checkpoints.write_keras_hub(root / "preset", checkpoints.keras_hub_backbone(rng))
    assert main(["convert", str(preset), "--out", str(root / "gpt2")]) == 0
    text = root / "text.txt"
    text.write_text("\n".join(LINES * 30) + "\n")
    return preset, root / "gpt2", text


def _options(run, text, *extra):
    """Fine-tune the converted run's own recipe (its architecture) on `text`, tiny."""
    return [
        f"model.init_from={json.dumps(str(run))}",
        f"data.source={json.dumps(str(text))}",
        "training.epochs=1",
        "training.steps_per_epoch=3",
        "training.batch_size=4",
        'training.schedule="constant"',
        "training.learning_rate=0.001",
        "evaluation.max_examples=8",
        "evaluation.num_samples=1",
        *extra,
    ]


def _values(model) -> dict:
    return {weight.path: keras.ops.convert_to_numpy(weight) for weight in model.weights}


def _cross_entropies(model, dataset):
    """Every target's cross-entropy, in float64 numpy (no target left out)."""
    losses, targets = [], []
    for inputs, batch_targets in dataset:
        logits = np.asarray(model(inputs), "float64")
        shifted = logits - logits.max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        batch_targets = np.asarray(batch_targets)
        losses.append(-np.take_along_axis(log_probs, batch_targets[..., None], -1)[..., 0].ravel())
        targets.append(batch_targets.ravel())
    return np.concatenate(losses), np.concatenate(targets)


# Called where keras_attention cannot be imported: the export needs TensorFlow and
# tensorflow-text alone.
_SERVE = """
import json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_attention":
            raise ImportError("keras_attention is not available here")
sys.meta_path.insert(0, Block())
import tensorflow as tf
import tensorflow_text  # noqa: F401  (the tokenizer's ops)
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(prompt=tf.constant([sys.argv[2]]), max_new_tokens=tf.constant([5]),
            temperature=tf.constant([0.0]), top_k=tf.constant([0]), top_p=tf.constant([1.0]))
print("TEXT " + json.dumps(out["text"].numpy()[0].decode()))
"""


@pytest.mark.slow
def test_a_converted_gpt2_fine_tunes_through_a_recipe(converted, tmp_path, capsys):
    preset, run, text = converted
    recipe = run / "recipe.toml"

    # Before training: the recipe's model is the converted checkpoint, logit for logit.
    task = get_task(load_recipe(recipe, _options(run, text)))
    task.load_data()
    task.prepare_tokenizers(tmp_path / "tokenizers", show_progress=False)
    model = task.build_model()
    assert (model.pad_token_id, model.activation) == (None, "gelu_approximate")
    token_ids, _ = checkpoints.padded_batch(np.random.default_rng(0))
    np.testing.assert_array_equal(np.asarray(model(token_ids)), np.asarray(Run.load(run).model(token_ids)))
    np.testing.assert_array_equal(
        np.asarray(model(token_ids)), np.asarray(GPTDecoder.from_pretrained(preset)(token_ids))
    )

    out = tmp_path / "tuned"
    assert main(["train", str(recipe), "--out", str(out), *sets(_options(run, text))]) == 0
    printed = capsys.readouterr().out
    assert f"Initialised 36 of 36 weight tensors from `model.init_from` {str(run)!r}" in printed

    tuned = Run.load(out)
    assert tuned.model.pad_token_id is None
    before, after = _values(Run.load(run).model), _values(tuned.model)
    assert any(not np.array_equal(before[path], after[path]) for path in before)  # it trained

    # metrics.json's held-out cross-entropy counts every target, "!" (id 0) included.
    metrics = json.loads((out / "metrics.json").read_text())
    losses, targets = _cross_entropies(tuned.model, tuned.task.dataset(tuned.task.test_split(), False))
    assert (targets == 0).sum() > 0
    assert metrics["cross_entropy"] == pytest.approx(losses.mean(), rel=1e-4)
    assert metrics["cross_entropy"] != pytest.approx(losses[targets != 0].mean(), rel=1e-3)
    assert metrics["perplexity"] == pytest.approx(np.exp(losses.mean()), rel=1e-4)

    # The SavedModel generates text, in a process without keras_attention.
    served = subprocess.run(
        [sys.executable, "-c", _SERVE, str(out / "export" / "1"), PROMPT],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert served.returncode == 0, served.stderr[-3000:]
    generated = json.loads(served.stdout.split("TEXT ", 1)[1])
    assert generated == tuned.predict([PROMPT], max_new_tokens=5)[0]
    assert generated.startswith(PROMPT) and len(generated) > len(PROMPT)


def _other_tokenizer(directory: Path) -> Path:
    WordPieceTokenizer.train(LINES * 10, vocabulary_size=60, show_progress=False).save(directory)
    return directory


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, expected",
    [
        ("other tokenizer", "`data.tokenizer` '.*other' is not the tokenizer of `model.init_from` "
         "'.*gpt2' \\(a language_model run\\)"),
        ("vocabulary size", "`model.overrides.vocabulary_size` is 60, not 107 as the data of "
         "`model.init_from` '.*gpt2' .* Shapes differ: embedding/token_embedding/embeddings: "
         "\\(107, 32\\) in the run, \\(60, 32\\) here"),
        ("pad token", "`model.overrides.pad_token_id` \\(from `model.preset` and `model.overrides`\\) "
         "differs from the model of `model.init_from` '.*gpt2' .*: pad_token_id=0 here, None in the "
         'run. Set pad_token_id = "none" in \\[model.overrides\\]'),
        ("own GPT preset", "`model.overrides.activation`, `model.overrides.pad_token_id` .* "
         "activation='gelu' here, 'gelu_approximate' in the run; pad_token_id=0 here, None in the run"),
        ("too long", "`data.max_length` \\(30\\) plus `evaluation.max_new_tokens` \\(12\\) is longer "
         "than the model of `model.init_from` '.*gpt2' .* can read \\(24 tokens\\)"),
        ("bad none", '`model.overrides.pad_token_id` must be an integer or "none"'),
    ],
)
def test_a_recipe_that_conflicts_with_the_gpt2_run_exits_2_and_writes_nothing(
    case, expected, converted, tmp_path, capsys
):
    _, run, text = converted
    recipe = run / "recipe.toml"
    extra = {
        "other tokenizer": [f"data.tokenizer={json.dumps(str(_other_tokenizer(tmp_path / 'other')))}"],
        "vocabulary size": ["model.overrides.vocabulary_size=60"],
        "pad token": ["model.overrides.pad_token_id=0"],
        "too long": ["data.max_length=30"],
        "bad none": ['model.overrides.pad_token_id="nothing"'],
    }.get(case, [])
    if case == "own GPT preset":  # the project's GPT, shaped as the run's: exact GELU, pad id 0
        recipe = tmp_path / "recipe.toml"
        text_of = (run / "recipe.toml").read_text()
        text_of = re.sub(r'activation = .*\n|pad_token_id = .*\n', "", text_of)
        recipe.write_text(text_of.replace('preset = "gpt2_small"', 'preset = "gpt_tiny"'))
    out = tmp_path / "out"
    before = sorted(path.name for path in tmp_path.iterdir())
    assert main(["train", str(recipe), "--out", str(out), *sets(_options(run, text, *extra))]) == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-attention train: error: `"), error
    assert re.search(expected, error), error
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == before
