"""A run directory as an object: load it, then predict, evaluate, draw
attention and export — the Python API under `keras-attention evaluate /
translate / generate / classify / attention / export`.

>>> import keras_attention
>>> run = keras_attention.load_run("runs/dates")      # doctest: +SKIP
>>> run.predict(["March 5, 2024"], beam_size=4)        # doctest: +SKIP
['2024-03-05']
>>> run.evaluate()["exact_match"]                      # doctest: +SKIP
1.0
>>> run.evaluate("my_test.tsv")["bleu"]                # doctest: +SKIP
97.3
>>> run.attention("March 5, 2024", "attention.png").path   # doctest: +SKIP
PosixPath('attention.png')

`train` (from `keras_attention.training.run`) makes a run directory; the
layout of one is described there.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import NamedTuple

import keras

from keras_attention._files import DirectoryLock, write_text_atomically
from keras_attention.export.saved_model import check_export_base, export_task
from keras_attention.tasks import Task, get_task
from keras_attention.training.recipe import Recipe, load_recipe
from keras_attention.training.run import TEST_SPLIT, train

__all__ = ["Attention", "Run", "evaluate", "export_run", "load_run", "train"]


class Attention(NamedTuple):
    """What `Run.attention` returns for one text."""

    scores: dict
    """`{layer name: (1, heads, queries, keys)}` attention weights."""
    query_tokens: list[str]
    key_tokens: list[str]
    title: str
    path: Path | None
    """The PNG drawn, or None when no output was asked for."""

# The keys of metrics.json that `train` writes about training, not scores.
_TRAINING_RECORD = ("data", "training_seconds", "best_epoch", "best_val_loss", "stopped_epoch", "epochs_trained")


class Run:
    """A finished run: its recipe, task (tokenizers and test split loaded) and model.

    Attributes:
        directory: the run directory.
        recipe: the complete recipe the run was trained with.
        task: its `keras_attention.tasks.Task`, tokenizers loaded and the
            saved test split in `task.test_examples`.
        model: the trained Keras model.
    """

    def __init__(self, directory: Path, recipe: Recipe, task: Task, model: keras.Model):
        self.directory = directory
        self.recipe = recipe
        self.task = task
        self.model = model

    @classmethod
    def load(cls, directory: str | Path) -> "Run":
        """Load the run in `directory` (as `train` left it)."""
        directory = Path(directory)
        if not (directory / "model.keras").exists():
            raise FileNotFoundError(
                f"{directory} is not a finished run directory (no model.keras in it)."
            )
        recipe = load_recipe(directory / "recipe.toml")
        task = get_task(recipe)
        task.load_tokenizers(directory)
        if (directory / TEST_SPLIT).exists():
            task.load_test_split(directory / TEST_SPLIT)
        model = keras.saving.load_model(directory / "model.keras")
        return cls(directory, recipe, task, model)

    @property
    def kind(self) -> str:
        return self.task.kind

    def predict(self, texts: list[str] | str, constrained: bool = True, **decoding) -> list[str] | str:
        """The task's answers for `texts`: translations, continuations or labels,
        decoded exactly as the export serves them.

        Args:
            texts: the inputs, or one input as a `str` (answered with one `str`).
            constrained: bool, default True. False answers the model's best
                beam as it is, without the recipe's
                `evaluation.output_constraint` (which answers "" where no beam
                satisfies it): what an undertrained model really writes.
            **decoding: the run's `[evaluation]` decoding settings to change for
                this call, among the task's `decoding_keys` (translation:
                `beam_size`, `length_penalty`, `no_repeat_ngram_size`; language
                model: `max_new_tokens`, `temperature`, `top_k`, `top_p`),
                checked as a recipe checks them.
        """
        if isinstance(texts, str):
            return self.predict([texts], constrained, **decoding)[0]
        run = self.with_decoding(**decoding)
        if not constrained and self.recipe.evaluation.output_constraint:
            run = run._with_evaluation(output_constraint=None)
        return run.task.predict(self.model, list(texts))

    def with_decoding(self, **decoding) -> "Run":
        """This run with other decoding settings (the files are not changed).

        Raises:
            ValueError: for a setting the task does not take, or a bad value.
        """
        if not decoding:
            return self
        unknown = sorted(set(decoding) - set(self.task.decoding_keys))
        if unknown:
            accepted = ", ".join(self.task.decoding_keys) or "none"
            raise ValueError(
                f"A {self.kind} run takes no decoding setting {unknown}. It takes: {accepted}."
            )
        return self._with_evaluation(**decoding)

    def _with_evaluation(self, **values) -> "Run":
        task = copy.copy(self.task)
        task.recipe = self.recipe.replace(evaluation=values)
        return Run(self.directory, task.recipe, task, self.model)

    def evaluate(self, test_file: str | Path | None = None, *, data: str | None = None,
                 log=print) -> dict:
        """Score the model, decoding as the export serves.

        Args:
            test_file: a data file of the task's format (a test set of yours):
                every example in it is scored with the run's own tokenizers and
                label order, and the scores go to
                `RUN/evaluation-<file name>.json`; `metrics.json` is left as it
                is. A translation file's expected answer may be empty (""
                is scored like any answer). Every line is scored or reported:
                `test_file_lines` gives the file's line count, how many were
                scored, and the skipped (blank, header) and malformed lines by
                number, also logged. A classification file's labels that the
                run does not know are reported (`unknown_labels`) and count as
                wrong.
                Without it, the run's saved test split is scored and
                `metrics.json` rewritten.
            data: instead of the saved test split, re-read and split this data
                file as training did and score its test fraction (the split is
                the same for the same file); rewrites `metrics.json`.
            log: where progress lines go.
        """
        if test_file is not None and data is not None:
            raise ValueError(
                "Give test_file (score a whole file) or data (re-split a data file), not both."
            )
        if test_file is not None:
            return self._evaluate_file(Path(test_file), log)
        if data is not None or not self.task.test_examples:
            self.task.load_data(data)
        with DirectoryLock(self.directory, "keras-attention evaluate"):
            metrics = self.task.evaluate(self.model, log=log)
            # What `train` recorded beside the scores (the data, the training time,
            # the epochs early stopping kept and ended at) stays.
            for key, value in self._metrics().items():
                if key in _TRAINING_RECORD and data is None:
                    metrics.setdefault(key, value)
            write_text_atomically(
                self.directory / "metrics.json", json.dumps(metrics, indent=2) + "\n"
            )
        return metrics

    def _evaluate_file(self, path: Path, log) -> dict:
        task = copy.copy(self.task)
        examples = task.read_test_file(str(path))
        if not examples:
            raise ValueError(f"{path} holds no examples.")
        lines = _file_lines(task.report, len(examples))
        log(_describe_lines(path, lines))
        task.source = str(path)  # a file: no generated test splits beside it
        task.test_examples = examples
        task.recipe = self.recipe.replace(evaluation={"max_examples": len(examples)})
        with DirectoryLock(self.directory, "keras-attention evaluate"):
            metrics = task.evaluate(self.model, log=log)
            metrics["test_file"] = str(path)
            metrics["test_file_lines"] = lines
            write_text_atomically(
                self.directory / f"evaluation-{path.name}.json", json.dumps(metrics, indent=2) + "\n"
            )
        return metrics

    def attention(self, text: str, output: str | Path | None = None) -> Attention:
        """The attention weights of every layer and head for `text` (the
        decoder's cross-attention over the source for translation, self-
        attention otherwise), drawn as heatmaps into the PNG `output` when
        one is given."""
        scores, query_tokens, key_tokens, title = self.task.attention(self.model, text)
        scores = {name: keras.ops.convert_to_numpy(value) for name, value in scores.items()}
        path = None
        if output is not None:
            from keras_attention.visualization import plot_attention

            path = plot_attention(scores, query_tokens, key_tokens, output, title=title)
        return Attention(scores, query_tokens, key_tokens, title, path)

    def _metrics(self) -> dict:
        path = self.directory / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def export(self, path: str | Path | None = None, overwrite: bool = False) -> Path:
        """Export the run as the next version of a base directory (default `RUN/export`).

        The SavedModel goes to `path/N`, `N` one more than the highest version
        there (1 in a new base), and older versions stay, as TF Serving
        expects; its model card carries the run's `metrics.json`. A `path`
        that is a run directory, a file, a link, a version directory
        (`RUN/export/1`) or a directory of other things raises
        `FileExistsError`; `overwrite` only lets an unversioned export of an
        earlier keras-attention whose marker lists every file in it, unchanged,
        be replaced by a base holding version 1 (see
        `keras_attention.export.saved_model`).

        Returns:
            The new version's directory.
        """
        path = Path(path or self.directory / "export")
        return export_task(self.task, self.model, path, overwrite=overwrite, metrics=self._metrics())


def _file_lines(report, scored: int) -> dict:
    """Where every line of a test file went: scored, skipped or malformed (by number)."""
    return {
        "total": report.total_lines,
        "scored": scored,
        "skipped": [[number, why] for number, why in report.skipped],
        "malformed": [[number, reason] for number, reason in report.malformed],
    }


def _numbered(lines: list, shown: int = 10) -> str:
    """`line 3 (blank), line 4 (...)`, the first `shown` of them."""
    text = ", ".join(f"line {number} ({reason})" for number, reason in lines[:shown])
    return text + (f", and {len(lines) - shown} more" if len(lines) > shown else "")


def _describe_lines(path: Path, lines: dict) -> str:
    """`FILE: 6 lines, 3 scored; skipped: line 3 (blank); 1 malformed: line 4 (...)`."""
    text = f"{path}: {lines['total']} lines, {lines['scored']} scored"
    if lines["skipped"]:
        text += f"; skipped: {_numbered(lines['skipped'])}"
    if lines["malformed"]:
        text += f"; {len(lines['malformed'])} malformed: {_numbered(lines['malformed'])}"
    return text


def export_run(run_dir: str | Path, path: str | Path | None = None, overwrite: bool = False) -> Path:
    """Export a finished run directory as the next version of `path` (default
    `RUN/export`), checking the target before the run is loaded; returns the
    new version's directory."""
    path = Path(path or Path(run_dir) / "export")
    check_export_base(path, overwrite)  # before loading the run
    return Run.load(run_dir).export(path, overwrite=overwrite)


def load_run(directory: str | Path) -> Run:
    """Load the finished run in `directory` (as `train` or `convert` left it);
    the same as `Run.load(directory)`."""
    return Run.load(directory)


def evaluate(run_dir: str | Path, data_path: str | None = None, log=print) -> dict:
    """Re-evaluate a finished run on its test split and rewrite metrics.json."""
    return Run.load(run_dir).evaluate(data=data_path, log=log)
