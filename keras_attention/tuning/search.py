"""Search specs (TOML in top-level `tuning/`) and the Keras Tuner search runner.

A spec names the recipe to tune, the tuner, its objective and budget, the
search space, and recipe overrides that apply to every trial (e.g. fewer
epochs). The runner writes everything into one directory, so running the same
command again resumes an interrupted search without redoing finished trials,
and the trial that was running resumes from its last checkpoint (Keras Tuner
retries the trial that was running; its checkpoint is in its trial directory):

    search/                 Keras Tuner's oracle and trials; search/trial_N/backup-E/
                            the checkpoint of trial N's execution E while it trains
    tokenizer/              the task's tokenizer(s), shared by every trial
    trials.json             every trial's hyperparameters, status and score
    best_hyperparameters.json
    best_recipe.toml        the recipe with the winner filled in: train it with
                            `keras-attention train DIR/best_recipe.toml`
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import keras_tuner

from keras_attention._files import write_text_atomically
from keras_attention.training.callbacks import fit_callbacks
from keras_attention.training.recipe import RecipeError, dump_recipe, load_recipe, validate_recipe
from keras_attention.tasks import get_task
from keras_attention.tuning.hypermodels import DEFAULT_SPACE, INTERVALS, TRAINING_SPACE, TaskHyperModel

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

__all__ = ["SPEC_DEFAULTS", "load_spec", "run_search", "launch_distributed_search"]

TUNERS = ("random", "bayesian", "hyperband")

# A spec's [space] keys: the default space's, and the training keys it may search besides.
SPACE_KEYS = (*DEFAULT_SPACE, *TRAINING_SPACE)

SPEC_DEFAULTS = {
    "recipe": "",
    "tuner": {
        "kind": "random",
        "objective": "val_loss",
        "direction": "min",
        "max_trials": 3,
        "executions_per_trial": 1,
        "max_epochs": 3,  # hyperband only
        "seed": 0,
    },
    "space": DEFAULT_SPACE,
    "overrides": {},
}


def _spec_error(path, message):
    return RecipeError(f"{path}: {message}")


def load_spec(path: str | Path) -> dict:
    """Read and validate a search spec; the recipe path is resolved against the spec's folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Search spec not found: {path}")
    try:
        given = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise _spec_error(path, f"not valid TOML: {error}") from None
    unknown = sorted(set(given) - set(SPEC_DEFAULTS))
    if unknown:
        raise _spec_error(path, f"Unknown key `{unknown[0]}`. Allowed keys: {sorted(SPEC_DEFAULTS)}")
    spec = copy.deepcopy(SPEC_DEFAULTS)
    for table in ("tuner", "space"):
        values = given.get(table, {})
        for key, value in values.items():
            allowed = SPACE_KEYS if table == "space" else SPEC_DEFAULTS[table]
            if key not in allowed:
                raise _spec_error(path, f"Unknown key `{table}.{key}`. Allowed: {sorted(allowed)}")
            if table == "space" and (not isinstance(value, list) or not value):
                raise _spec_error(path, f"`space.{key}` must be a non-empty list. Received: {value!r}")
            spec[table][key] = value
    spec["overrides"] = given.get("overrides", {})
    tuner = spec["tuner"]
    if tuner["kind"] not in TUNERS:
        raise _spec_error(path, f"`tuner.kind` must be one of {list(TUNERS)}. Received: {tuner['kind']!r}")
    if tuner["direction"] not in ("min", "max"):
        raise _spec_error(path, f"`tuner.direction` must be 'min' or 'max'. Received: {tuner['direction']!r}")
    for key in ("max_trials", "executions_per_trial", "max_epochs"):
        if not isinstance(tuner[key], int) or tuner[key] < 1:
            raise _spec_error(path, f"`tuner.{key}` must be an integer >= 1. Received: {tuner[key]!r}")
    for key in INTERVALS:
        if key in spec["space"] and (len(spec["space"][key]) != 2 or spec["space"][key][0] > spec["space"][key][1]):
            raise _spec_error(path, f"`space.{key}` must be [low, high]. Received: {spec['space'][key]!r}")
    for key in TRAINING_SPACE:
        if key in spec["space"]:
            spec["space"][key] = _training_choices(path, key, spec["space"][key])
    if not given.get("recipe"):
        raise _spec_error(path, "`recipe` (the recipe file to tune) is required.")
    spec["recipe"] = str((path.parent / given["recipe"]).resolve())
    return spec


def _training_choices(path, key: str, values: list) -> list:
    """Check each value of a searched training key as the recipe checks it."""
    checked = []
    for value in values:
        # What the key is checked with: AdamW for a weight decay, a rate for a schedule that takes one.
        context = {"weight_decay": {"optimizer": "adamw"}}.get(key, {})
        if key == "schedule" and value in ("cosine", "constant"):
            context = {"learning_rate": 1e-3}
        try:
            training = validate_recipe({"training": {**context, key: value}}).training
        except RecipeError as error:
            raise _spec_error(path, f"`space.{key}`: {error}") from None
        checked.append(getattr(training, key))  # typed: clipnorm [1, 0.5] is floats
    return checked


def _overrides(spec: dict) -> list[str]:
    return [f"{key}={json.dumps(value)}" for key, value in spec["overrides"].items()]


class _RecipeTrials:
    """A Keras Tuner tuner whose trials fit with the recipe's callbacks: a stop
    at the first NaN loss, early stopping (`training.early_stopping_patience`)
    and a checkpoint every `training.checkpoint_every` steps in the trial's
    directory. Keras Tuner gives the trial that was running when a search was
    interrupted to the next run of the search; its checkpoint makes that run
    resume it at the saved epoch instead of epoch 0."""

    def _build_and_fit_model(self, trial, *args, **kwargs):
        executions = self.__dict__.setdefault("_executions", {})
        execution = executions[trial.trial_id] = executions.get(trial.trial_id, -1) + 1
        training = self.hypermodel.trial_recipe(trial.hyperparameters).training
        backup = os.path.join(self.get_trial_dir(trial.trial_id), f"backup-{execution}")
        kwargs["callbacks"] = fit_callbacks(training, backup) + list(kwargs.get("callbacks", []))
        return super()._build_and_fit_model(trial, *args, **kwargs)


class _RandomSearch(_RecipeTrials, keras_tuner.RandomSearch):
    pass


class _BayesianOptimization(_RecipeTrials, keras_tuner.BayesianOptimization):
    pass


class _Hyperband(_RecipeTrials, keras_tuner.Hyperband):
    pass


def _tuner(spec, hypermodel, directory):
    tuner = spec["tuner"]
    objective = keras_tuner.Objective(tuner["objective"], direction=tuner["direction"])
    common = dict(
        objective=objective,
        executions_per_trial=tuner["executions_per_trial"],
        seed=tuner["seed"],
        directory=str(directory),
        project_name="search",
        overwrite=False,  # an existing search resumes
    )
    if tuner["kind"] == "hyperband":
        return _Hyperband(hypermodel, max_epochs=tuner["max_epochs"], **common)
    kind = _RandomSearch if tuner["kind"] == "random" else _BayesianOptimization
    return kind(hypermodel, max_trials=tuner["max_trials"], **common)


def _prepare(spec, out_dir: Path, log=print):
    recipe = load_recipe(spec["recipe"], _overrides(spec))
    task = get_task(recipe)
    task.check_recipe()
    task.load_data()
    # Every trial (and every worker) shares one tokenizer, learned once.
    task.prepare_tokenizers(out_dir, show_progress=False, reuse=True)
    return recipe, task


def _trial_rows(tuner) -> list[dict]:
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        rows.append(
            {
                "trial": trial_id,
                "status": trial.status,
                "score": trial.score,
                "hyperparameters": dict(trial.hyperparameters.values),
            }
        )
    return rows


def _print_table(rows, objective, log):
    if not rows:
        return
    names = list(rows[0]["hyperparameters"])
    header = ["trial", "status", objective] + names
    table = [header] + [
        [row["trial"], row["status"], "-" if row["score"] is None else f"{row['score']:.4f}"]
        + [_short(row["hyperparameters"].get(name)) for name in names]
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    for line in table:
        log("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)))


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else value


def run_search(spec_path: str | Path, out_dir: str | Path, log=print, callbacks: list = ()) -> dict:
    """Run (or resume) the search of a spec; write the results and the best recipe.

    Every trial trains as `train` trains the recipe with the trial's values
    (`TaskHyperModel`): the recipe's optimizer, schedule, mixed precision,
    `jit_compile`, early stopping and checkpoints. In a distributed search
    (KERASTUNER_* environment variables set) workers only run trials; the
    chief serves the oracle and writes the results.

    Args:
        spec_path: the search spec.
        out_dir: the search directory (an existing one resumes).
        log: where progress lines go.
        callbacks: more Keras callbacks for every trial's `fit`.
    """
    spec = load_spec(spec_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe, task = _prepare(spec, out_dir, log)
    training = recipe.training
    if not task.validation_examples:
        for needs, what in ((spec["tuner"]["objective"].startswith("val_"), f"The objective {spec['tuner']['objective']!r}"),
                            (training.early_stopping_patience is not None, "`training.early_stopping_patience`")):
            if needs:
                raise RecipeError(
                    f"{what} needs validation data: set `data.validation_fraction` > 0 in the "
                    "recipe or the spec's overrides."
                )
    keras.utils.set_random_seed(training.seed)
    keras.config.set_dtype_policy(training.mixed_precision)  # as `train` does, before any model
    hypermodel = TaskHyperModel(task, spec["space"])
    tuner = _tuner(spec, hypermodel, out_dir)
    worker = os.environ.get("KERASTUNER_TUNER_ID", "")
    # The hypermodel reads the data, batched at each trial's batch size.
    tuner.search(
        epochs=training.epochs,
        steps_per_epoch=training.steps_per_epoch,
        callbacks=list(callbacks),
        verbose=2 if not worker or worker == "chief" else 0,
    )
    if worker and worker != "chief":
        return {}
    rows = _trial_rows(tuner)
    write_text_atomically(out_dir / "trials.json", json.dumps(rows, indent=2) + "\n")
    log(f"\n{len(rows)} trials ({spec['tuner']['kind']} search, objective "
        f"{spec['tuner']['objective']}, {spec['tuner']['direction']}):")
    _print_table(rows, spec["tuner"]["objective"], log)

    best = tuner.oracle.get_best_trials(1)[0]
    values = dict(best.hyperparameters.values)
    write_text_atomically(out_dir / "best_hyperparameters.json", json.dumps(values, indent=2) + "\n")
    sampled = hypermodel._sample(best.hyperparameters)
    best_recipe = hypermodel.trial_recipe(best.hyperparameters).replace(
        model={"overrides": {**recipe.model.overrides, **hypermodel.model_overrides(sampled)}},
    )
    write_text_atomically(
        out_dir / "best_recipe.toml",
        f"# Written by `keras-attention tune`: the best trial ({best.trial_id}, "
        f"{spec['tuner']['objective']} = {best.score:.4f}) of {spec_path}.\n" + dump_recipe(best_recipe)
    )
    log(f"\nBest trial {best.trial_id}: {spec['tuner']['objective']} = {best.score:.4f}")
    log(f"Retrain it with: keras-attention train {out_dir / 'best_recipe.toml'}")
    return {"best_trial": best.trial_id, "best_score": best.score, "trials": rows}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_distributed_search(spec_path, out_dir, workers: int, log=print) -> int:
    """Run a chief (the oracle) and `workers` trial workers on 127.0.0.1.

    Keras Tuner's own distribution: each process gets `KERASTUNER_TUNER_ID`
    ("chief", "tuner0", ...), `KERASTUNER_ORACLE_IP` and
    `KERASTUNER_ORACLE_PORT`. On several hosts, start the same command on each
    host with those variables set (the chief's address for the oracle).
    """
    if workers < 1:
        raise ValueError(f"`--workers` must be >= 1. Received: {workers}")
    spec = load_spec(spec_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _prepare(spec, out_dir, log)  # the tokenizer, once, before the workers start
    port = _free_port()
    command = [sys.executable, "-m", "keras_attention.cli", "tune", str(spec_path), "--out", str(out_dir)]
    processes = []
    for tuner_id in ["chief"] + [f"tuner{i}" for i in range(workers)]:
        environment = dict(
            os.environ,
            KERASTUNER_TUNER_ID=tuner_id,
            KERASTUNER_ORACLE_IP="127.0.0.1",
            KERASTUNER_ORACLE_PORT=str(port),
        )
        processes.append((tuner_id, subprocess.Popen(command, env=environment)))
    log(f"Started the chief and {workers} workers (oracle on 127.0.0.1:{port}).")
    failed = [name for name, process in processes if process.wait() != 0]
    if failed:
        log(f"Processes that failed: {failed}")
        return 1
    return 0
