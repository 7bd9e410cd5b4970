"""A run directory as an object: `Run.load` gives the recipe, task, tokenizers,
model and the saved test split, so evaluation needs neither the data file nor
`--data`; attention plots work for every tokenizer."""

import json
from pathlib import Path

import pytest

from keras_attention.cli import main
from keras_attention.data import date_pairs, is_iso_date
from keras_attention.runs import Run
from tests.data.test_sentencepiece_tokenizer import PROJECT_IDS, _train_sentencepiece
from tests.tiny import COMMON, TINY, sets

ROOT = Path(__file__).parents[1]


def test_loading_a_directory_that_is_not_a_run_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a finished run directory"):
        Run.load(tmp_path)


@pytest.mark.slow
def test_a_run_on_a_file_evaluates_after_the_file_is_gone(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    pairs = date_pairs(300, seed=3)
    corpus.write_text("".join(f"{source}\t{target}\n" for source, target in pairs))
    out = tmp_path / "run"
    train = ["train", str(ROOT / "models" / "dates.toml"), "--out", str(out), "--data", str(corpus)]
    assert main([*train, *sets(TINY["translation"] + COMMON)]) == 0
    trained = json.loads((out / "metrics.json").read_text())
    corpus.unlink()  # the run keeps its own test split

    run = Run.load(out)
    assert run.kind == "translation"
    # The test split as training made it: data.test_fraction of the pairs,
    # every one from the file.
    fraction = run.recipe.data.test_fraction
    assert len(run.task.test_examples) == round(fraction * len(pairs)) > 0
    assert set(run.task.test_examples) <= set(pairs)
    assert main(["evaluate", str(out)]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["test_examples"] == trained["test_examples"]
    assert again["exact_match"] == trained["exact_match"] and again["bleu"] == trained["bleu"]
    # What train recorded for the model card (split sizes, training time) stays.
    assert again["data"] == trained["data"] and again["data"]["test_examples"] == len(run.task.test_examples)
    assert again["training_seconds"] == trained["training_seconds"]
    # Predictions come from the one decode path that evaluation scored.
    sources = [sample["source"] for sample in trained["samples"]]
    assert run.predict(sources) == [sample["prediction"] for sample in trained["samples"]]
    # A string is one text (not one text per character), answered with one answer.
    assert run.predict(sources[0]) == trained["samples"][0]["prediction"]


@pytest.mark.slow
def test_attention_of_a_run_with_a_sentencepiece_tokenizer(tmp_path):
    model_file = _train_sentencepiece(tmp_path / "spm", **PROJECT_IDS)
    out = tmp_path / "run"
    options = TINY["translation"] + COMMON + [f"data.tokenizer={json.dumps(model_file)}"]
    assert main(["train", str(ROOT / "models" / "dates.toml"), "--out", str(out), *sets(options)]) == 0
    attention = Run.load(out).attention("March 5, 2024", tmp_path / "attention.png")
    assert attention.path.stat().st_size > 1000 and attention.title.startswith("'March 5, 2024' -> ")


@pytest.fixture(scope="module")
def tiny_runs(trained, tmp_path_factory):
    """`{kind: run directory}`: copies of the session's tiny translation and
    classification runs (tests/conftest.py), ours to write into."""
    import shutil

    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for kind, name in (("translation", "dates"), ("classification", "bert-topics")):
        runs[kind] = Path(shutil.copytree(trained(name)[0], root / kind))
    return runs


@pytest.mark.slow
def test_the_python_api_mirrors_the_cli(tiny_runs, tmp_path, capsys):
    import keras_attention

    run_dir = tiny_runs["translation"]
    run = keras_attention.load_run(run_dir)
    assert isinstance(run, Run) and run.kind == "translation"
    metrics_before = (run_dir / "metrics.json").read_text()
    pairs = date_pairs(6, seed=11)
    test_file = tmp_path / "mine.tsv"
    test_file.write_text("".join(f"{source}\t{target}\n" for source, target in pairs))

    # evaluate(FILE) scores every example of the file, as `evaluate RUN --test FILE` does.
    scores = run.evaluate(test_file, log=lambda *_: None)
    assert scores["test_examples"] == len(pairs) and scores["test_file"] == str(test_file)
    assert json.loads((run_dir / "evaluation-mine.tsv.json").read_text()) == scores
    assert (run_dir / "metrics.json").read_text() == metrics_before  # the run's own scores stay
    predictions = run.predict([source for source, _ in pairs])
    exact = sum(p == t for p, (_, t) in zip(predictions, pairs)) / len(pairs)
    assert scores["exact_match"] == pytest.approx(exact)
    with pytest.raises(ValueError, match="not both"):
        run.evaluate(test_file, data=str(test_file))

    # attention(text) gives the weights; a PNG only when asked for.
    attention = run.attention("March 5, 2024")
    assert attention.path is None and not list(tmp_path.glob("*.png"))
    config = run.model.get_config()
    assert len(attention.scores) == config["num_decoder_layers"]  # cross-attention of each decoder layer
    for weights in attention.scores.values():
        _, heads, queries, keys = weights.shape
        assert heads == config["num_heads"]
        assert (queries, keys) == (len(attention.query_tokens), len(attention.key_tokens))
        assert abs(float(weights.sum(axis=-1).mean()) - 1.0) < 1e-5  # rows are softmaxed
    drawn = run.attention("March 5, 2024", tmp_path / "a.png")
    assert drawn.path == tmp_path / "a.png" and drawn.path.stat().st_size > 1000


@pytest.mark.slow
def test_translate_a_file_into_a_file(tiny_runs, tmp_path, capsys):
    run_dir = tiny_runs["translation"]
    texts = ["March 5, 2024", "the 1st of May, 1999", "", "5 nov. 2021"]
    inputs, outputs = tmp_path / "in.txt", tmp_path / "out.txt"
    inputs.write_text("\n".join(texts) + "\n")
    assert main(["translate", str(run_dir), "--input", str(inputs), "--output", str(outputs),
                 "--beam-size", "2", "--no-repeat-ngram-size", "1"]) == 0
    run = Run.load(run_dir)
    # One answer per input line, in order, decoded with the flags' settings.
    answers = outputs.read_text().splitlines()
    assert answers == run.predict(texts, beam_size=2, no_repeat_ngram_size=1)
    assert outputs.read_text().splitlines()[2] == ""  # an empty text translates to ""
    # An existing output is never written over; nothing else changes either.
    before = outputs.read_text()
    assert main(["translate", str(run_dir), "--input", str(inputs), "--output", str(outputs)]) == 2
    assert "exists" in capsys.readouterr().err and outputs.read_text() == before


@pytest.mark.slow
@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--input", "EMPTY"], "is empty"),
        (["--input", "MISSING"], "no such file"),
        (["hello", "--input", "EMPTY"], "texts or --input"),
        (["hello", "--beam-size", "0"], "`evaluation.beam_size` must be >= 1"),
        (["hello", "--no-repeat-ngram-size", "-1"], "`evaluation.no_repeat_ngram_size` must be"),
    ],
)
def test_bad_prediction_requests_exit_2(tiny_runs, tmp_path, capsys, arguments, message):
    import re

    (tmp_path / "empty.txt").write_text("")
    arguments = [a.replace("EMPTY", str(tmp_path / "empty.txt")).replace("MISSING", str(tmp_path / "nope.txt"))
                 for a in arguments]
    assert main(["translate", str(tiny_runs["translation"]), *arguments]) == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.slow
def test_a_decoding_setting_the_task_does_not_take_is_named(tiny_runs):
    run = Run.load(tiny_runs["classification"])
    with pytest.raises(ValueError, match=r"A classification run takes no decoding setting \['beam_size'\]"):
        run.predict("some text", beam_size=4)
    with pytest.raises(ValueError, match=r"takes no decoding setting \['top_k'\]. It takes: beam_size"):
        Run.load(tiny_runs["translation"]).predict("hello", top_k=3)


@pytest.mark.slow
def test_answers_emptied_by_the_output_constraint_are_explained(tiny_runs, tmp_path, capsys):
    import shutil

    import numpy as np

    run_dir = Path(shutil.copytree(tiny_runs["translation"], tmp_path / "run"))
    run = Run.load(run_dir)
    assert run.recipe.evaluation.output_constraint == "iso_date"
    # The tiny run is undertrained and answers [END] at once. With [END]'s
    # (tied) embedding zeroed its logit is 0, below the best of the others:
    # the model now writes pieces up to its length limit.
    table = run.model.decoder_embedding.token_embedding.embeddings
    rows = table.numpy()
    rows[run.task.target_tokenizer.end_id] = 0.0
    table.assign(rows)
    run.model.save(run_dir / "model.keras")
    run = Run.load(run_dir)
    assert np.all(run.model.decoder_embedding.token_embedding.embeddings.numpy() == rows)
    texts = ["March 5, 2024", "the 1st of May, 1999", "5 nov. 2021"]
    # What it writes is no ISO date, so the constraint answers "" (never a
    # made-up date) ...
    raw = run.predict(texts, constrained=False)
    assert all(raw) and not any(is_iso_date(raw).numpy())
    assert run.predict(texts) == ["", "", ""]
    # ... and the command says why, and how to see what the model wrote.
    assert main(["translate", str(run_dir), *texts]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"{text}\t" for text in texts]
    assert "3 of 3 answers are \"\": no beam of the model satisfied the output constraint `iso_date`" in captured.err
    assert "--no-constraint shows what the model wrote" in captured.err
    assert main(["translate", str(run_dir), *texts, "--no-constraint"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"{text}\t{answer}" for text, answer in zip(texts, raw)]
    assert captured.err == ""
    # One str in, one str out, with or without the constraint.
    assert run.predict(texts[0], constrained=False) == raw[0]


@pytest.mark.slow
def test_evaluating_a_test_file_scores_every_line_or_reports_it(trained, tmp_path, capsys):
    """`evaluate --test`: an empty expected answer (the dates model's answer to
    an impossible date) is scored, not dropped; blank and malformed lines are
    reported with their numbers, in the log and in the JSON."""
    import shutil

    run_dir = Path(shutil.copytree(trained("dates")[0], tmp_path / "run"))
    scored = [("March 5, 2024", "2024-03-05"), ("February 30, 2023", ""), ("May 1, 1999", "1999-05-01")]
    lines = ["\t".join(scored[0]), "\t".join(scored[1]), "", "no tab here", "a\tb\tc", "\t".join(scored[2])]
    test = tmp_path / "mine.tsv"
    test.write_text("\n".join(lines) + "\n")
    assert main(["evaluate", str(run_dir), "--test", str(test)]) == 0
    log = capsys.readouterr().out
    scores = json.loads((run_dir / "evaluation-mine.tsv.json").read_text())
    assert scores["test_examples"] == 3
    predictions = Run.load(run_dir).predict([source for source, _ in scored])
    exact = sum(p == t for p, (_, t) in zip(predictions, scored)) / len(scored)
    assert scores["exact_match"] == pytest.approx(exact)
    assert scores["test_file_lines"] == {
        "total": 6, "scored": 3, "skipped": [[3, "blank"]],
        "malformed": [[4, "expected 2 tab-separated columns, got 1"],
                      [5, "expected 2 tab-separated columns, got 3"]],
    }
    assert (f"{test}: 6 lines, 3 scored; skipped: line 3 (blank); 2 malformed: line 4 (expected 2 "
            "tab-separated columns, got 1), line 5 (expected 2 tab-separated columns, got 3)") in log


@pytest.mark.slow
def test_evaluating_a_test_file_keeps_the_runs_label_order(tiny_runs, tmp_path):
    run_dir = tiny_runs["classification"]
    run = Run.load(run_dir)
    labels = run.task.label_names
    label_file = (run_dir / "label_names.json").read_text()
    metrics_file = (run_dir / "metrics.json").read_text()
    # Only two of the run's classes, and one label it never saw.
    rows = [(text, label) for text, label in run.task.test_examples if label in labels[:2]][:6]
    rows.append(("an unseen kind of text", "astronomy"))
    test = tmp_path / "mine.tsv"
    test.write_text("".join(f"{text}\t{label}\n" for text, label in rows))

    assert main(["evaluate", str(run_dir), "--test", str(test)]) == 0
    scores = json.loads((run_dir / "evaluation-mine.tsv.json").read_text())
    predictions = run.predict([text for text, _ in rows])
    assert all(prediction in labels for prediction in predictions)  # the run's own labels
    expected = sum(p == label for p, (_, label) in zip(predictions, rows)) / len(rows)
    assert scores["accuracy"] == pytest.approx(expected) and scores["test_examples"] == len(rows)
    assert scores["unknown_labels"] == {"astronomy": 1}
    # The run's label order and its own held-out scores are untouched.
    assert (run_dir / "label_names.json").read_text() == label_file
    assert (run_dir / "metrics.json").read_text() == metrics_file


@pytest.mark.slow
def test_a_test_file_without_examples_exits_2(tiny_runs, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("only one column\nand another\n")  # no label column on any line
    assert main(["evaluate", str(tiny_runs["classification"]), "--test", str(bad)]) == 2
    error = capsys.readouterr().err
    assert "No valid examples" in error and "expected at least 2" in error and "columns, got 1" in error
    assert not (tiny_runs["classification"] / "evaluation-bad.tsv.json").exists()
