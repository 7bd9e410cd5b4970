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
# must need only TensorFlow and tensorflow-text. One such process serves every
# call of this test session (importing TensorFlow once, not once a call): it
# reads `[export, inputs]` lines and answers each with one REPLY line.
ISOLATED = """
import json, os, sys, traceback
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_attention":
            raise ImportError("keras_attention is not available here")
sys.meta_path.insert(0, Block())
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (tokenizer ops)
loaded = {}
def load(export):
    key = (export, os.stat(os.path.join(export, "saved_model.pb")).st_mtime_ns)
    if key not in loaded:
        loaded[key] = tf.saved_model.load(export)
    return loaded[key]
def plain(value):
    value = value.numpy()
    return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()] if value.ndim else value.item()
for line in sys.stdin:
    export, inputs = json.loads(line)
    try:
        assert "keras_attention" not in sys.modules
        outputs = load(export).signatures["serving_default"](**{
            name: tf.constant(value, dtype=tf.string if isinstance(value, list) and value and isinstance(value[0], str) else None)
            for name, value in inputs.items()})
        reply = {"outputs": {name: plain(value) for name, value in outputs.items()}}
    except Exception:
        reply = {"error": traceback.format_exc()}
    print("REPLY " + json.dumps(reply), flush=True)
"""


class _IsolatedProcess:
    """The one process (per test session) that loads and calls exports for `_isolated`."""

    def __init__(self):
        import atexit
        import queue
        import tempfile
        import threading

        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-c", ISOLATED], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        )
        self.replies = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        atexit.register(self.close)

    def _read(self):
        for line in self.process.stdout:
            if line.startswith("REPLY "):
                self.replies.put(json.loads(line[len("REPLY "):]))
        self.replies.put(None)  # the process ended

    def _stderr(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-3000:]

    def call(self, export, inputs, timeout=300):
        import queue

        self.process.stdin.write(json.dumps([str(export), inputs]) + "\n")
        self.process.stdin.flush()
        try:
            reply = self.replies.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise AssertionError(f"no answer from the isolated process in {timeout} s:\n{self._stderr()}")
        assert reply is not None, f"the isolated process exited:\n{self._stderr()}"
        assert "error" not in reply, reply["error"]
        return reply["outputs"]

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_ISOLATED_PROCESS = []


def _isolated(export, inputs):
    """`serving_default(**inputs)` of `export`, called where keras_attention cannot be imported."""
    if not _ISOLATED_PROCESS or _ISOLATED_PROCESS[0].process.poll() is not None:
        _ISOLATED_PROCESS[:] = [_IsolatedProcess()]
    return _ISOLATED_PROCESS[0].call(export, inputs)


@pytest.fixture(scope="module")
def runs(trained):
    return {name: trained(name) for name in ("dates", "gpt-mini", "bert-topics", "bert-mini")}


TEXTS = ["Tuesday, March 5, 2024", "the 27th of July, 2044", ""]


def test_translation_export_matches_in_process_decoding(runs):
    out, task, model = runs["dates"]
    exported = _isolated(out / "export" / "1", {"text": TEXTS})
    expected = task.predict(model, TEXTS[:2])
    assert exported["translation"][:2] == expected
    assert exported["translation"][2] == ""
    assert exported["truncated"] == [False, False, False]
    assert all(np.isfinite(exported["score"]))


def test_translation_reports_truncation(runs):
    out, _, _ = runs["dates"]
    exported = _isolated(out / "export" / "1", {"text": ["5 " * 100, "May 1, 2000"]})
    assert exported["truncated"] == [True, False]


PROMPTS = ["Return the", "A new list of", "Create", "Raise an error if the value"]


def _lm_inputs(prompts, max_new_tokens=5, temperature=0.0, top_k=0, top_p=1.0):
    """`serving_default`'s inputs: one value per prompt (a list, or one value for every row)."""
    def rows(value):
        return list(value) if isinstance(value, (list, tuple)) else [value] * len(prompts)

    return {"prompt": list(prompts), "max_new_tokens": rows(max_new_tokens),
            "temperature": [float(t) for t in rows(temperature)], "top_k": rows(top_k),
            "top_p": [float(p) for p in rows(top_p)]}


def _generated(task, model, prompt, max_new_tokens, sampler="greedy"):
    """`GPTDecoder.generate` (in process, XLA-compiled) of one prompt, as text."""
    ids = task.tokenizer.tokenize(np.array([prompt], dtype=object)).to_list()[0]
    tokens = model.generate(np.array([ids], "int32"), max_new_tokens, sampler=sampler)
    return task.tokenizer.detokenize(tokens).numpy()[0].decode()


def test_language_model_export_matches_generate(runs):
    """Every input is batch-shaped (TF Serving's row format); each row continues
    its own prompt by its own `max_new_tokens`, as `generate` does for that
    prompt: greedy, and sampling restricted to top_k=1 at any temperature."""
    from keras_attention.models import Sampler

    out, task, model = runs["gpt-mini"]
    lengths = [5, 2, 4, 1]
    greedy = [_generated(task, model, prompt, n) for prompt, n in zip(PROMPTS, lengths)]
    assert _isolated(out / "export" / "1", _lm_inputs(PROMPTS, lengths))["text"] == greedy
    # top_k=1 leaves the argmax only, whatever the temperature: generate's
    # Sampler and the served rows agree, and so do rows that mix settings.
    top_1 = Sampler(temperature=3.0, top_k=1, seed=7)
    assert [_generated(task, model, p, n, top_1) for p, n in zip(PROMPTS, lengths)] == greedy
    mixed = _lm_inputs(PROMPTS, lengths, temperature=[3.0, 0.0, 50.0, 1.0], top_k=[1, 0, 1, 1])
    assert _isolated(out / "export" / "1", mixed)["text"] == greedy


def test_language_model_export_writes_each_prompt_back_exactly(runs):
    """The served text is the prompt and its continuation: the prompt comes
    back character for character (quotes, prices, URLs, accents, spaces)
    from the SavedModel alone, whose tokenizer is the run's SentencePiece."""
    from tests.reference.everyday_text import everyday_prompts

    out, task, model = runs["gpt-mini"]
    prompts = everyday_prompts(task.tokenizer, task.data_config.max_length - 2)
    assert len(prompts) >= 6
    served = _isolated(out / "export" / "1", _lm_inputs(prompts, 1))
    assert served["truncated"] == [False] * len(prompts)
    assert [text[: len(prompt)] for text, prompt in zip(served["text"], prompts)] == prompts


def test_language_model_predict_continues_each_prompt_as_served(runs):
    """`predict` (the CLI's `generate`, evaluation's samples) gives each prompt
    its own `max_new_tokens`, as the export does, even beside longer prompts."""
    import copy

    out, task, model = runs["gpt-mini"]
    task = copy.copy(task)
    task.recipe = task.recipe.replace(evaluation={"temperature": 0.0})  # greedy
    n = task.recipe.evaluation.max_new_tokens
    served = _isolated(out / "export" / "1", _lm_inputs(PROMPTS, n))["text"]
    assert task.predict(model, PROMPTS) == served == [_generated(task, model, p, n) for p in PROMPTS]


def test_language_model_export_samples_with_top_k_and_top_p(runs):
    """The served sampler restricts the draw as `Sampler` does: top_p small
    enough keeps the most likely token only (greedy again); without top-k or
    top-p, a high temperature draws other tokens."""
    out, _, _ = runs["gpt-mini"]
    prompts = PROMPTS * 2
    greedy = _isolated(out / "export" / "1", _lm_inputs(prompts, 6))["text"]
    nucleus = _isolated(out / "export" / "1", _lm_inputs(prompts, 6, temperature=50.0, top_p=1e-6))
    assert nucleus["text"] == greedy
    hot = _isolated(out / "export" / "1", _lm_inputs(prompts, 6, temperature=50.0))["text"]
    assert hot != greedy and all(text.startswith(prompt) for text, prompt in zip(hot, prompts))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"top_p": [0.0]}, "top_p"),
        ({"top_p": [1.5]}, "top_p"),
        ({"top_k": [-1]}, "top_k"),
        ({"temperature": [-0.5]}, "temperature"),
        ({"temperature": [float("nan")]}, "temperature"),
        ({"max_new_tokens": [0]}, "max_new_tokens"),
        ({"max_new_tokens": [2, 3]}, "one value per prompt"),
    ],
)
def test_language_model_export_rejects_bad_settings(runs, change, message):
    import tensorflow as tf

    out, _, _ = runs["gpt-mini"]
    signature = tf.saved_model.load(str(out / "export" / "1")).signatures["serving_default"]
    inputs = {**_lm_inputs(["Return the"]), **change}
    dtypes = {"prompt": tf.string, "max_new_tokens": tf.int32, "top_k": tf.int32}
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        signature(**{name: tf.constant(value, dtypes.get(name, tf.float32)) for name, value in inputs.items()})


def test_classifier_export_matches_predict(runs):
    out, task, model = runs["bert-topics"]
    texts = ["Return a logger with the specified name.", "Fail the test unless the expression is true."]
    exported = _isolated(out / "export" / "1", {"text": texts})
    assert exported["label"] == task.predict(model, texts)
    probabilities = np.array(exported["probabilities"])
    assert probabilities.shape == (2, len(task.label_names))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_encoder_export_gives_pooled_embeddings(runs):
    out, task, model = runs["bert-mini"]
    exported = _isolated(out / "export" / "1", {"text": ["Return a new dictionary."]})
    ids = task.tokenizer.tokenize(np.array(["Return a new dictionary."], dtype=object)).to_list()[0]
    token_ids = np.zeros((1, 16), "int32")
    row = [task.tokenizer.cls_id] + ids[:14] + [task.tokenizer.sep_id]
    token_ids[0, : len(row)] = row
    expected = model.encoder({"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)})["pooled_output"]
    np.testing.assert_allclose(np.array(exported["pooled_output"]), np.array(expected), atol=1e-5)


def test_token_ids_endpoint(runs):
    import tensorflow as tf

    out, _, model = runs["gpt-mini"]
    loaded = tf.saved_model.load(str(out / "export" / "1"))
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
        [sys.executable, "-c", command, "run", "--dir", str(out / "export" / "1"), "--tag_set", "serve",
         "--signature_def", "serving_default", "--input_exprs", 'text=["March 5, 2024"]'],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Result for output key translation" in result.stdout


def test_each_export_adds_the_next_version_and_keeps_the_older_ones(runs, tmp_path, capsys):
    """A base directory of numeric versions, as TF Serving lays models out:
    the first export is BASE/1, each next one BASE/N+1; another tool's
    numeric SavedModel version counts and is never touched."""
    import shutil

    from keras_attention.cli import main
    from keras_attention.runs import export_run

    out, _, _ = runs["dates"]
    assert sorted(p.name for p in (out / "export").iterdir()) == ["1"]  # what `train` wrote
    target = tmp_path / "exported"
    assert export_run(out, target) == target / "1"
    assert export_run(out, target) == target / "2"
    first = (target / "1" / "saved_model.pb").read_bytes()
    shutil.copytree(out / "export" / "1", target / "7", ignore=shutil.ignore_patterns("assets"))  # not ours
    assert main(["export", str(out), "--out", str(target)]) == 0
    assert f"SavedModel written to {target / '8'} (version 8)" in capsys.readouterr().out
    assert sorted(int(p.name) for p in target.iterdir()) == [1, 2, 7, 8]
    assert (target / "1" / "saved_model.pb").read_bytes() == first
    assert not (target / "7" / "assets").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]  # nothing partial left


def test_a_base_holding_other_things_is_refused_and_left_alone(runs, tmp_path, capsys):
    """A base with a non-numeric entry (or a numeric one that is no
    SavedModel) is refused, with or without --overwrite: an export never
    lands among a user's files."""
    from keras_attention.cli import main

    out, _, _ = runs["dates"]
    for name, entry in (("notes", "notes.txt"), ("numbers", "2024")):
        base = tmp_path / name
        (base / entry).parent.mkdir(parents=True, exist_ok=True)
        (base / entry).write_text("keep me")
        for overwrite in ([], ["--overwrite"]):
            assert main(["export", str(out), "--out", str(base), *overwrite]) == 2
            error = capsys.readouterr().err
            assert f"Refusing to export into {base}: it holds {entry}" in error, error
        assert [p.name for p in base.iterdir()] == [entry]


def test_an_unversioned_export_is_replaced_only_with_overwrite(runs, tmp_path):
    """An earlier keras-attention wrote the SavedModel straight into the
    target: kept unless --overwrite, which turns it into a base holding 1/."""
    import shutil

    from keras_attention.runs import export_run

    out, _, _ = runs["dates"]
    target = tmp_path / "exported"
    shutil.copytree(out / "export" / "1", target)
    with pytest.raises(FileExistsError, match="unversioned export"):
        export_run(out, target)
    assert (target / "saved_model.pb").is_file()
    assert export_run(out, target, overwrite=True) == target / "1"
    assert sorted(p.name for p in target.iterdir()) == ["1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]


MARKER = "assets/keras_attention_export.json"


def _listing(directory):
    """What an export's marker lists, computed here: every file but the marker, size and SHA-256."""
    import hashlib

    return {
        file.relative_to(directory).as_posix(): {
            "size": file.stat().st_size, "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
        for file in sorted(directory.rglob("*"))
        if file.is_file() and file.relative_to(directory).as_posix() != MARKER
    }


def _fake_export(directory, listed=True):
    """A SavedModel-shaped directory with this library's marker (listing its files unless not `listed`)."""
    (directory / "variables").mkdir(parents=True)
    (directory / "assets").mkdir()
    (directory / "saved_model.pb").write_bytes(b"graph")
    (directory / "variables" / "variables.index").write_bytes(b"index")
    (directory / "assets" / "model_card.md").write_text("# Model card\n")
    marker = {"library": "keras-attention", "version": "0.1.0", "task": "translation"}
    if listed:
        marker["files"] = _listing(directory)
    (directory / MARKER).write_text(json.dumps(marker))
    return directory


def _notes(directory):
    (directory / "notes.txt").write_text("keep me")


def _edit_card(directory):
    (directory / "assets" / "model_card.md").write_text("# My card!\n")  # same size


def _extra_directory(directory):
    (directory / "mine").mkdir()


def _missing_file(directory):
    (directory / "variables" / "variables.index").unlink()


def _link(directory):
    (directory / "link").symlink_to(directory / "saved_model.pb")


@pytest.mark.parametrize("change, named", [
    (_notes, "notes.txt"), (_edit_card, "assets/model_card.md"), (_extra_directory, "mine"),
    (_missing_file, "variables/variables.index"), (_link, "link"),
    (None, "does not list"),  # a marker of an earlier keras-attention, without its files
])
def test_overwrite_replaces_no_unversioned_export_holding_what_its_marker_does_not_list(tmp_path, change, named):
    """`--overwrite` replaces an unversioned export only when its marker lists
    every file in it, unchanged: a file of the user's, an edited file, an
    extra directory or link, a missing file or a marker that lists nothing
    keeps it, and the refusal does not suggest --overwrite."""
    from keras_attention.export.saved_model import check_export_base

    clean = _fake_export(tmp_path / "clean")
    assert check_export_base(clean, overwrite=True) == "unversioned"
    with pytest.raises(FileExistsError, match="--overwrite"):
        check_export_base(clean)
    target = _fake_export(tmp_path / "target", listed=change is not None)
    if change is not None:
        change(target)
    before = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
    for overwrite in (False, True):
        with pytest.raises(FileExistsError) as error:
            check_export_base(target, overwrite=overwrite)
        message = str(error.value)
        assert named in message and f"Refusing to export into {target}" in message, message
        assert "pass overwrite=True" not in message and "choose another --out" in message
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == before


def test_a_version_directory_is_never_an_export_target(tmp_path):
    """A numbered version inside a base (existing or not), and anything inside
    a SavedModel, are refused, --overwrite or not; the message names the base,
    where the next version goes."""
    from keras_attention.export.saved_model import check_export_base

    base = tmp_path / "export"
    for version in ("1", "2"):
        _fake_export(base / version)
    cases = {base / "1": "is version 1 of", base / "3": "would be version 3 of",
             base / "1" / "assets" / "more": "is inside the SavedModel"}
    for target, reason in cases.items():
        for overwrite in (False, True):
            with pytest.raises(FileExistsError) as error:
                check_export_base(target, overwrite=overwrite)
            message = str(error.value)
            assert reason in message and f"--out {base}" in message, message
            assert "pass overwrite=True" not in message
    assert check_export_base(base, overwrite=True) == "versions"
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]


def test_export_into_a_run_s_version_directory_is_refused_and_the_base_works(trained, tmp_path, capsys):
    """`export RUN --out RUN/export/1 --overwrite` once replaced version 1 by
    `1/1`, after which every `train --out RUN` failed; it is refused, version
    1 stays, and the command the refusal suggests adds version 2."""
    import shutil

    from keras_attention.cli import main
    from keras_attention.export.saved_model import check_export_base

    out, _, _ = trained("dates")
    run = tmp_path / "run"
    shutil.copytree(out, run)
    version = run / "export" / "1"
    graph = (version / "saved_model.pb").read_bytes()
    for overwrite in ([], ["--overwrite"]):
        assert main(["export", str(run), "--out", str(version), *overwrite]) == 2
        error = capsys.readouterr().err
        assert f"it is version 1 of the base directory {run / 'export'}" in error, error
        assert "--overwrite" not in error and f"--out {run / 'export'}" in error
    assert sorted(p.name for p in (run / "export").iterdir()) == ["1"]
    assert (version / "saved_model.pb").read_bytes() == graph
    assert check_export_base(run / "export", overwrite=True) == "versions"  # what `train` checks
    assert main(["export", str(run), "--out", str(run / "export")]) == 0
    assert sorted(p.name for p in (run / "export").iterdir()) == ["1", "2"]


def test_an_export_killed_midway_leaves_no_version(runs, tmp_path):
    """A killed export leaves no numeric version behind (TF Serving would load
    it); its hidden scratch directory is removed by the next export."""
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
    while time.time() < deadline and not (
        target.is_dir() and any(p.name.startswith(".version.partial") for p in target.iterdir())
    ):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert [p.name for p in target.iterdir() if not p.name.startswith(".")] == []
    from keras_attention.runs import export_run

    assert export_run(out, target) == target / "1"  # and a later export succeeds
    assert sorted(p.name for p in target.iterdir()) == ["1"]


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
    export = export_run(out, tmp_path / "exported")
    marker = json.loads((export / "assets" / "keras_attention_export.json").read_text())
    assert marker["library"] == "keras-attention" and marker["version"] == keras_attention.__version__
    # Every file of the export but the marker, with its size and SHA-256: what --overwrite checks.
    assert marker["files"] == _listing(export) and "saved_model.pb" in marker["files"]
    assert json.loads((out / "export" / "1" / "assets" / "keras_attention_export.json").read_text())["task"] == "translation"


def test_every_export_carries_a_model_card(trained, tmp_path):
    """`assets/model_card.md`, checked against the run it came from: recipe,
    data, the finished run's metrics, signatures, limits and versions; the
    marker carries the same facts."""
    import keras
    import tensorflow as tf

    import keras_attention
    from keras_attention.runs import export_run

    out, task, model = trained("dates")
    metrics = json.loads((out / "metrics.json").read_text())
    export = export_run(out, tmp_path / "exported")
    card = (export / "assets" / "model_card.md").read_text()
    recipe = task.recipe
    assert card.startswith(f"# Model card: translation ({recipe.model.preset})\n")
    assert f"A `Seq2SeqTransformer` ({model.count_params():,} parameters)" in card
    assert f"- model overrides: `{json.dumps(recipe.model.overrides)}`" in card
    assert f"max_length={recipe.data.max_length}" in card and f"beam_size={recipe.evaluation.beam_size}" in card
    # The data: source and the split sizes `train` recorded.
    sizes = metrics["data"]
    assert sizes["test_examples"] == len(task.test_examples) > 0
    assert "- source: `embedded:dates`" in card
    assert (f"- split sizes: {sizes['train_examples']:,} train, {sizes['validation_examples']:,} validation, "
            f"{sizes['test_examples']:,} test") in card
    # The finished run's metrics, nested splits included; no samples.
    assert f"| exact_match | {metrics['exact_match']:.4g} |" in card
    assert f"| bleu | {metrics['bleu']:.4g} |" in card
    assert f"| splits.random.exact_match | {metrics['splits']['random']['exact_match']:.4g} |" in card
    assert "samples" not in card
    # Signatures with their inputs and outputs, as the SavedModel declares them.
    signatures = tf.saved_model.load(str(export)).signatures
    for name in ("serving_default", "token_ids_to_logits"):
        assert f"### `{name}`" in card
        for input_name, spec in signatures[name].structured_input_signature[1].items():
            assert f"| input | `{input_name}` | {spec.dtype.name} |" in card
        for output_name, spec in signatures[name].structured_outputs.items():
            assert f"| output | `{output_name}` | {spec.dtype.name} |" in card
    # Limits: length, truncation, vocabulary, the output constraint.
    length = recipe.data.max_length
    assert f"Input texts are cut to their first {length} token ids (`truncated` says which were)." in card
    assert (f"Vocabulary (tokenizer): {task.tokenizer.vocabulary_size:,} SentencePieceTokenizer tokens, "
            "lower-cased; a character it did not learn is spelt in UTF-8 bytes, never [UNK]") in card
    constraint = recipe.evaluation.output_constraint
    assert (f"Output constraint `{constraint}`" if constraint else "No output constraint") in card
    # Versions and date.
    for line in (f"- keras-attention {keras_attention.__version__}", f"- tensorflow {tf.__version__}",
                 f"- keras {keras.__version__}"):
        assert line in card
    facts = json.loads((export / "assets" / "keras_attention_export.json").read_text())["model_card"]
    assert f"- exported {facts['created']}" in card and facts["created"][:4].isdigit()
    assert facts["metrics"]["exact_match"] == metrics["exact_match"] and facts["data"]["source"] == "embedded:dates"
    assert facts["signatures"]["serving_default"]["inputs"] == {"text": {"dtype": "string", "shape": ["batch"]}}


def test_a_model_card_without_a_finished_run_says_so(trained, tmp_path):
    """`export_task` on a model outside a run: no metrics, split sizes unknown."""
    from keras_attention.export import export_task

    _, task, model = trained("bert-topics")
    card = (export_task(task, model, tmp_path / "exported") / "assets" / "model_card.md").read_text()
    assert "None: this export does not come from a finished run with a `metrics.json`." in card
    assert "- split sizes: not recorded" in card
    assert f"`label` is one of the {len(task.label_names)} labels seen in training" in card


def test_overwrite_never_replaces_a_run_directory_a_file_or_a_foreign_directory(trained, tmp_path, capsys):
    """`--overwrite` never makes an export replace a run directory, a file or a
    directory of other things; the run's own export gets its next version."""
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
    cases = {run: "is a run directory", run / "recipe.toml": "is a file",
             foreign: "holds notes.txt, which is not numeric SavedModel versions"}
    for target, reason in cases.items():
        assert main(["export", str(run), "--out", str(target), "--overwrite"]) == 2
        error = capsys.readouterr().err
        assert f"keras-attention export: error: Refusing to export into {target}" in error and reason in error, error
    assert sorted(p.name for p in run.iterdir()) == before
    assert (run / "recipe.toml").read_text() == recipe and (run / "model.keras").is_file()
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "victim"]  # nothing partial left
    # The run's own export base gets its next version; version 1 stays.
    assert main(["export", str(run), "--overwrite"]) == 0
    assert sorted(p.name for p in (run / "export").iterdir()) == ["1", "2"]
    assert (run / "export" / "2" / "saved_model.pb").is_file()


def test_stale_partial_exports_are_cleaned_up_by_the_next_export(trained, tmp_path):
    from keras_attention.runs import export_run

    out, _, _ = trained("dates")
    stale = [tmp_path / f".exported.partial-{_dead_pid()}-0123abcd", tmp_path / ".exported.partial-89abcdef",
             tmp_path / f".exported.old-{_dead_pid()}-0123abcd"]
    # Another live process's partial, and names this library does not write, stay.
    kept = [tmp_path / ".exported.partial-1-0123abcd", tmp_path / ".other.partial-0123abcd",
            tmp_path / ".exported.partial-notes"]
    # Inside the base: a dead export's scratch version goes, a live one's stays.
    base = tmp_path / "exported"
    stale.append(base / f".version.partial-{_dead_pid()}-0123abcd")
    kept_inside = base / ".version.partial-1-0123abcd"
    for directory in stale + kept + [kept_inside]:
        (directory / "variables").mkdir(parents=True)
    export_run(out, base)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["exported"] + [p.name for p in kept])
    assert sorted(p.name for p in base.iterdir()) == sorted(["1", kept_inside.name])
