"""SavedModel export: every task kind, reloaded where keras_attention cannot be imported."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

# Run in a subprocess in which `import keras_attention` fails: the export
# must need only TensorFlow and tensorflow-text.
ISOLATED = """
import json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_attention":
            raise ImportError("keras_attention is not available here")
sys.meta_path.insert(0, Block())
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (tokenizer ops)
model = tf.saved_model.load(sys.argv[1])
inputs = json.loads(sys.argv[2])
outputs = model.signatures["serving_default"](**{
    name: tf.constant(value, dtype=tf.string if isinstance(value, list) and value and isinstance(value[0], str) else None)
    for name, value in inputs.items()})
def plain(value):
    value = value.numpy()
    return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()] if value.ndim else value.item()
print(json.dumps({name: plain(value) for name, value in outputs.items()}))
"""


def _isolated(export, inputs):
    result = subprocess.run(
        [sys.executable, "-c", ISOLATED, str(export), json.dumps(inputs)],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(trained):
    return {name: trained(name) for name in ("dates", "gpt-mini", "bert-topics", "bert-mini")}


TEXTS = ["Tuesday, March 5, 2024", "the 27th of July, 2044", ""]


def test_translation_export_matches_in_process_decoding(runs):
    out, task, model = runs["dates"]
    exported = _isolated(out / "export", {"text": TEXTS})
    expected = task.predict(model, TEXTS[:2])
    assert exported["translation"][:2] == expected
    assert exported["translation"][2] == ""
    assert exported["truncated"] == [False, False, False]
    assert all(np.isfinite(exported["score"]))


def test_translation_reports_truncation(runs):
    out, _, _ = runs["dates"]
    exported = _isolated(out / "export", {"text": ["5 " * 100, "May 1, 2000"]})
    assert exported["truncated"] == [True, False]


def test_language_model_export_matches_generate(runs):
    out, task, model = runs["gpt-mini"]
    prompts = ["Return the", "A new list of"]
    exported = _isolated(out / "export", {"prompt": prompts, "max_new_tokens": 5, "temperature": 0.0})
    ragged = task.tokenizer.tokenize(np.array(prompts, dtype=object)).to_list()
    buffer = np.zeros((2, max(map(len, ragged))), "int32")
    for row, ids in enumerate(ragged):
        buffer[row, : len(ids)] = ids
    greedy = model.generate(buffer, 5)  # in-process, XLA-compiled, greedy
    expected = [text.decode() for text in task.tokenizer.detokenize(greedy).numpy()]
    assert exported["text"] == expected
    sampled = _isolated(out / "export", {"prompt": prompts, "max_new_tokens": 5, "temperature": 1.0})
    assert len(sampled["text"]) == 2


def test_classifier_export_matches_predict(runs):
    out, task, model = runs["bert-topics"]
    texts = ["Return a logger with the specified name.", "Fail the test unless the expression is true."]
    exported = _isolated(out / "export", {"text": texts})
    assert exported["label"] == task.predict(model, texts)
    probabilities = np.array(exported["probabilities"])
    assert probabilities.shape == (2, len(task.label_names))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_encoder_export_gives_pooled_embeddings(runs):
    out, task, model = runs["bert-mini"]
    exported = _isolated(out / "export", {"text": ["Return a new dictionary."]})
    ids = task.tokenizer.tokenize(np.array(["Return a new dictionary."], dtype=object)).to_list()[0]
    token_ids = np.zeros((1, 16), "int32")
    row = [task.tokenizer.cls_id] + ids[:14] + [task.tokenizer.sep_id]
    token_ids[0, : len(row)] = row
    expected = model.encoder({"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)})["pooled_output"]
    np.testing.assert_allclose(np.array(exported["pooled_output"]), np.array(expected), atol=1e-5)


def test_token_ids_endpoint(runs):
    import tensorflow as tf

    out, _, model = runs["gpt-mini"]
    loaded = tf.saved_model.load(str(out / "export"))
    ids = np.array([[5, 6, 7]], "int32")
    logits = loaded.signatures["token_ids_to_logits"](token_ids=tf.constant(ids))["logits"]
    np.testing.assert_allclose(logits.numpy(), np.array(model(ids)), atol=1e-5)


def test_saved_model_cli_runs_the_signature(runs):
    out, _, _ = runs["dates"]
    command = (
        "import sys, tensorflow_text\n"
        "from tensorflow.python.tools import saved_model_cli\n"
        "sys.argv = ['saved_model_cli'] + sys.argv[1:]\n"
        "saved_model_cli.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", command, "run", "--dir", str(out / "export"), "--tag_set", "serve",
         "--signature_def", "serving_default", "--input_exprs", 'text=["March 5, 2024"]'],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Result for output key translation" in result.stdout


def test_existing_target_is_kept_unless_overwrite(runs, tmp_path):
    from keras_attention.runs import export_run

    out, _, _ = runs["dates"]
    target = tmp_path / "exported"
    export_run(out, target)
    with pytest.raises(FileExistsError, match="overwrite"):
        export_run(out, target)
    export_run(out, target, overwrite=True)
    assert (target / "saved_model.pb").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]  # nothing partial left


def test_an_export_killed_midway_leaves_no_partial_target(runs, tmp_path):
    out, _, _ = runs["dates"]
    target = tmp_path / "exported"
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_attention.cli", "export", str(out), "--out", str(target)],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import time

    deadline = time.time() + 240
    # Kill it while it writes its temporary directory.
    while time.time() < deadline and not any(p.name.startswith(".exported.partial") for p in tmp_path.iterdir()):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not target.exists()
    from keras_attention.runs import export_run

    export_run(out, target)  # and a later export succeeds
    assert (target / "saved_model.pb").exists()


@pytest.mark.parametrize("beam_size", [1, 3])
def test_evaluation_decodes_exactly_what_is_served(runs, beam_size):
    """metrics.json describes the SavedModel: `predict` (used by evaluation and
    the CLI) and `serving_default` give the same translations, for greedy and
    beam decoding, on texts the barely trained model gets wrong too, and on ""."""
    import copy

    import tensorflow as tf

    from keras_attention.export import export_task

    out, task, model = runs["dates"]
    task = copy.copy(task)
    task.recipe = task.recipe.replace(evaluation={"beam_size": beam_size})
    texts = TEXTS + ["5 nov. 2021", "jul 14 2020", "Christmas Day, December 25, 1999", "zzz", "   "]
    export = export_task(task, model, out.parent / f"export-beam-{beam_size}")
    served = tf.saved_model.load(str(export)).signatures["serving_default"](text=tf.constant(texts))
    served = [text.decode() for text in served["translation"].numpy()]
    assert task.predict(model, texts) == served
    assert served[2] == served[-1] == ""


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_every_export_carries_the_library_marker(trained, tmp_path):
    import keras_attention
    from keras_attention.runs import export_run

    out, _, _ = trained("dates")
    marker = json.loads((export_run(out, tmp_path / "exported") / "assets" / "keras_attention_export.json").read_text())
    assert marker["library"] == "keras-attention" and marker["version"] == keras_attention.__version__
    assert json.loads((out / "export" / "assets" / "keras_attention_export.json").read_text())["task"] == "translation"


def test_overwrite_never_replaces_a_run_directory_a_file_or_a_foreign_directory(trained, tmp_path, capsys):
    """`--overwrite` replaces only an export this library wrote (it carries the marker)."""
    import shutil

    from keras_attention.cli import main

    out, _, _ = trained("dates")
    run = tmp_path / "victim"
    shutil.copytree(out, run)
    before = sorted(p.name for p in run.iterdir())
    recipe = (run / "recipe.toml").read_text()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    cases = {run: "is a run directory", run / "recipe.toml": "is a file", foreign: "not an export keras-attention wrote"}
    for target, reason in cases.items():
        assert main(["export", str(run), "--out", str(target), "--overwrite"]) == 2
        error = capsys.readouterr().err
        assert f"keras-attention export: error: Refusing to overwrite {target}" in error and reason in error, error
    assert sorted(p.name for p in run.iterdir()) == before
    assert (run / "recipe.toml").read_text() == recipe and (run / "model.keras").is_file()
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "victim"]  # nothing partial left
    # The run's own export carries the marker: it is replaced.
    assert main(["export", str(run), "--overwrite"]) == 0
    assert (run / "export" / "saved_model.pb").is_file()


def test_stale_partial_exports_are_cleaned_up_by_the_next_export(trained, tmp_path):
    from keras_attention.runs import export_run

    out, _, _ = trained("dates")
    stale = [tmp_path / f".exported.partial-{_dead_pid()}-0123abcd", tmp_path / ".exported.partial-89abcdef",
             tmp_path / f".exported.old-{_dead_pid()}-0123abcd"]
    # Another live process's partial, and names this library does not write, stay.
    kept = [tmp_path / ".exported.partial-1-0123abcd", tmp_path / ".other.partial-0123abcd",
            tmp_path / ".exported.partial-notes"]
    for directory in stale + kept:
        (directory / "variables").mkdir(parents=True)
    export_run(out, tmp_path / "exported")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["exported"] + [p.name for p in kept])
