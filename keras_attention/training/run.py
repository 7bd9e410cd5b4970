"""The train / evaluate loop around `model.fit`, for any task and recipe.

A run directory holds everything a run produced and needs to resume:

    recipe.toml            the complete recipe (defaults filled in, overrides applied)
    tokenizer/ ...         the tokenizer(s)
    backup/                BackupAndRestore state while training (removed at the end)
    logs/                  TensorBoard logs
    history.csv            per-epoch metrics
    training_curves.png    loss and accuracy per epoch
    model.keras            the trained model
    metrics.json           the held-out evaluation
    export/                the SavedModel: text in, text out (keras_attention.export)
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import keras

from keras_attention.training.callbacks import AtomicBackupAndRestore, StopOnNaN
from keras_attention.training.recipe import dump_recipe, load_recipe
from keras_attention.training.schedules import TransformerSchedule
from keras_attention.training.strategy import get_strategy, patch_keras_for_multi_worker
from keras_attention.training.tasks import get_task

__all__ = ["train", "evaluate", "load_run", "plot_history"]


def _optimizer(recipe: dict, hidden_dim: int) -> keras.optimizers.Optimizer:
    training = recipe["training"]
    learning_rate = training["learning_rate"] or TransformerSchedule(
        hidden_dim, training["warmup_steps"], training["schedule_scale"]
    )
    # The paper's Adam settings (§5.3).
    return keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.98, epsilon=1e-9)


def plot_history(history_csv: Path, output: Path) -> Path | None:
    """Draw loss and accuracy per epoch from a `CSVLogger` file into a PNG."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history_csv.exists():
        return None
    with history_csv.open() as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return None
    epochs = [int(row["epoch"]) + 1 for row in rows]
    panels = [name for name in ("loss", "accuracy") if name in rows[0]]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for axis, name in zip(axes[0], panels):
        for prefix, style in (("", "-o"), ("val_", "--s")):
            # CSVLogger writes "NA" for a metric an epoch did not report.
            points = [
                (epoch, float(row[prefix + name]))
                for epoch, row in zip(epochs, rows)
                if row.get(prefix + name) not in (None, "", "NA")
            ]
            if points:
                axis.plot(*zip(*points), style, label=("validation " if prefix else "training ") + name)
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output


def _worker_index() -> int:
    """This process's index in a multi-worker job (0, the chief, when alone)."""
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    return 0 if task.get("type") == "chief" else int(task.get("index", 0))


def train(
    recipe_path: str | Path,
    run_dir: str | Path,
    overrides: list[str] = (),
    data_path: str | None = None,
    log=print,
) -> dict:
    """Train the recipe's model into `run_dir`, evaluate it, and return the metrics.

    Running the same command again after an interruption resumes from the
    last checkpoint (at most `training.checkpoint_every` steps are lost).
    """
    recipe = load_recipe(recipe_path, overrides)
    training = recipe["training"]
    keras.utils.set_random_seed(training["seed"])
    keras.config.set_dtype_policy(training["mixed_precision"])
    strategy = get_strategy(training["strategy"])
    worker = _worker_index()
    chief = worker == 0
    # Other workers of a multi-worker job keep their files apart from the chief's.
    run_dir = Path(run_dir) if chief else Path(run_dir) / f"worker-{worker}"
    run_dir.mkdir(parents=True, exist_ok=True)

    task = get_task(recipe)
    task.load_data(data_path)
    if task.report is not None and task.report.malformed:
        log(task.report.summary())
    resuming = (run_dir / "backup").exists()
    if resuming:
        log(f"Resuming the interrupted run in {run_dir} from its last checkpoint.")
    else:  # a fresh run replaces what an earlier run left here
        for stale in ("history.csv", "metrics.json", "model.keras"):
            (run_dir / stale).unlink(missing_ok=True)
    task.prepare_tokenizers(run_dir, show_progress=chief, reuse=resuming)
    (run_dir / "recipe.toml").write_text(dump_recipe(recipe))
    train_data, validation_data = task.datasets()

    with strategy.scope():
        model = task.build_model()
        model.compile(
            optimizer=_optimizer(recipe, task.model_width(model)),
            loss=task.loss(),
            weighted_metrics=task.metrics(),  # sample weights apply, as to the loss
            jit_compile=training["jit_compile"],
        )
    if training["strategy"] == "multi_worker":
        patch_keras_for_multi_worker(model, strategy)
    log(
        f"{type(model).__name__} from preset {recipe['model']['preset']!r}: "
        f"{model.count_params():,} parameters; {len(task.train_examples):,} training, "
        f"{len(task.validation_examples):,} validation, {len(task.test_examples):,} test examples"
    )
    callbacks = [
        # First, so that no checkpoint ever holds the weights of a NaN step.
        StopOnNaN(
            "Lower `training.learning_rate` (or `training.schedule_scale`), or check the data."
        ),
        AtomicBackupAndRestore(str(run_dir / "backup"), save_freq=training["checkpoint_every"]),
    ]
    if chief:
        callbacks += [
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
            keras.callbacks.TensorBoard(str(run_dir / "logs")),
        ]
    started = time.time()
    with warnings.catch_warnings():
        # Bucketed datasets have no known length: Keras learns it in epoch 1.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            train_data,
            validation_data=validation_data,
            epochs=training["epochs"],
            steps_per_epoch=training["steps_per_epoch"] or None,
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipeline shuffles, deterministically
            # Live progress bars on a terminal, one line per epoch in logs.
            verbose=(1 if sys.stdout.isatty() else 2) if chief else 0,
        )
    seconds = time.time() - started
    if not chief:  # other workers only help train; keep their weights to compare
        model.save_weights(run_dir / "model.weights.h5")
        return {}
    model.save(run_dir / "model.keras")
    curves = plot_history(run_dir / "history.csv", run_dir / "training_curves.png")
    metrics = task.evaluate(model, log=log)
    metrics["training_seconds"] = round(seconds, 1)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    from keras_attention.export import export_task

    export = export_task(task, model, run_dir / "export", overwrite=True)
    log(f"Run directory: {run_dir}" + (f"  (curves: {curves.name})" if curves else ""))
    log(f"SavedModel (text in, text out): {export}  —  serve it with: keras-attention serve {export}")
    return metrics


def load_run(run_dir: str | Path):
    """`(task, model)` of a finished run, with its data split and tokenizers."""
    run_dir = Path(run_dir)
    if not (run_dir / "model.keras").exists():
        raise FileNotFoundError(
            f"{run_dir} is not a finished run directory (no model.keras in it)."
        )
    recipe = load_recipe(run_dir / "recipe.toml")
    task = get_task(recipe)
    task.load_tokenizers(run_dir)
    model = keras.saving.load_model(run_dir / "model.keras")
    return task, model


def evaluate(run_dir: str | Path, data_path: str | None = None, log=print) -> dict:
    """Re-evaluate a finished run on its held-out split and rewrite metrics.json."""
    task, model = load_run(run_dir)
    task.load_data(data_path)
    metrics = task.evaluate(model, log=log)
    (Path(run_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
