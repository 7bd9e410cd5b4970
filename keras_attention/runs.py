"""A run directory as an object: load it, then predict, evaluate, draw
attention and export — the Python API under `keras-attention evaluate /
translate / generate / classify / attention / export`.

>>> run = Run.load("runs/dates")                       # doctest: +SKIP
>>> run.predict(["March 5, 2024"])                     # doctest: +SKIP
['2024-03-05']
>>> run.evaluate()["exact_match"]                      # doctest: +SKIP
1.0

`train` (from `keras_attention.training.run`) makes a run directory; the
layout of one is described there.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from keras_attention._files import DirectoryLock, write_text_atomically
from keras_attention.export.saved_model import check_export_base, export_task
from keras_attention.tasks import Task, get_task
from keras_attention.training.recipe import Recipe, load_recipe
from keras_attention.training.run import TEST_SPLIT, train

__all__ = ["Run", "evaluate", "export_run", "train"]


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

    def predict(self, texts: list[str]) -> list[str]:
        """The task's answers for `texts`: translations, continuations or labels,
        decoded exactly as the export serves them."""
        return self.task.predict(self.model, list(texts))

    def evaluate(self, data_path: str | None = None, log=print) -> dict:
        """Score the model on its test split and rewrite `metrics.json`.

        Args:
            data_path: re-read and split this data file instead of using the
                run's saved test split (the split is the same for the same file).
            log: where progress lines go.
        """
        if data_path is not None or not self.task.test_examples:
            self.task.load_data(data_path)
        with DirectoryLock(self.directory, "keras-attention evaluate"):
            metrics = self.task.evaluate(self.model, log=log)
            # What `train` recorded beside the scores (the data, the training time) stays.
            for key, value in self._metrics().items():
                if key in ("data", "training_seconds") and data_path is None:
                    metrics.setdefault(key, value)
            write_text_atomically(
                self.directory / "metrics.json", json.dumps(metrics, indent=2) + "\n"
            )
        return metrics

    def attention(self, text: str, output: str | Path) -> tuple[Path, str]:
        """Draw per-layer, per-head attention heatmaps for `text` into the PNG
        `output`; returns `(path, title)`."""
        from keras_attention.visualization import plot_attention

        scores, query_tokens, key_tokens, title = self.task.attention(self.model, text)
        return plot_attention(scores, query_tokens, key_tokens, output, title=title), title

    def _metrics(self) -> dict:
        path = self.directory / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def export(self, path: str | Path | None = None, overwrite: bool = False) -> Path:
        """Export the run as the next version of a base directory (default `RUN/export`).

        The SavedModel goes to `path/N`, `N` one more than the highest version
        there (1 in a new base), and older versions stay, as TF Serving
        expects; its model card carries the run's `metrics.json`. A `path`
        that is a run directory, a file, a link or a directory of other
        things raises `FileExistsError`; `overwrite` only lets an unversioned
        export of an earlier keras-attention be replaced by a base holding
        version 1 (see `keras_attention.export.saved_model`).

        Returns:
            The new version's directory.
        """
        path = Path(path or self.directory / "export")
        return export_task(self.task, self.model, path, overwrite=overwrite, metrics=self._metrics())


def export_run(run_dir: str | Path, path: str | Path | None = None, overwrite: bool = False) -> Path:
    """Export a finished run directory as the next version of `path` (default
    `RUN/export`), checking the target before the run is loaded; returns the
    new version's directory."""
    path = Path(path or Path(run_dir) / "export")
    check_export_base(path, overwrite)  # before loading the run
    return Run.load(run_dir).export(path, overwrite=overwrite)


def evaluate(run_dir: str | Path, data_path: str | None = None, log=print) -> dict:
    """Re-evaluate a finished run on its test split and rewrite metrics.json."""
    return Run.load(run_dir).evaluate(data_path, log=log)
