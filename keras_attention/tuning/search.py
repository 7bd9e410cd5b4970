"""Search specs (TOML in top-level `tuning/`) and the Keras Tuner search runner.

A spec names the recipe to tune, the tuner, its objective and budget, the
search space, and recipe overrides that apply to every trial (e.g. fewer
epochs). The runner writes everything into one directory, so running the same
command again resumes an interrupted search without redoing finished trials:

    search/                 Keras Tuner's oracle and trials
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

import keras_tuner

from keras_attention.training.recipe import RecipeError, dump_recipe, load_recipe
from keras_attention.tasks import get_task
from keras_attention.tuning.hypermodels import DEFAULT_SPACE, TaskHyperModel

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

__all__ = ["SPEC_DEFAULTS", "load_spec", "run_search", "launch_distributed_search"]

TUNERS = ("random", "bayesian", "hyperband")

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
            if key not in SPEC_DEFAULTS[table]:
                raise _spec_error(
                    path, f"Unknown key `{table}.{key}`. Allowed: {sorted(SPEC_DEFAULTS[table])}"
                )
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
    for key in ("dropout", "schedule_scale", "warmup_steps"):
        if len(spec["space"][key]) != 2 or spec["space"][key][0] > spec["space"][key][1]:
            raise _spec_error(path, f"`space.{key}` must be [low, high]. Received: {spec['space'][key]!r}")
    if not given.get("recipe"):
        raise _spec_error(path, "`recipe` (the recipe file to tune) is required.")
    spec["recipe"] = str((path.parent / given["recipe"]).resolve())
    return spec


def _overrides(spec: dict) -> list[str]:
    return [f"{key}={json.dumps(value)}" for key, value in spec["overrides"].items()]


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
        return keras_tuner.Hyperband(hypermodel, max_epochs=tuner["max_epochs"], **common)
    kind = keras_tuner.RandomSearch if tuner["kind"] == "random" else keras_tuner.BayesianOptimization
    return kind(hypermodel, max_trials=tuner["max_trials"], **common)


def _prepare(spec, out_dir: Path, log=print):
    recipe = load_recipe(spec["recipe"], _overrides(spec))
    task = get_task(recipe)
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


def run_search(spec_path: str | Path, out_dir: str | Path, log=print) -> dict:
    """Run (or resume) the search of a spec; write the results and the best recipe.

    In a distributed search (KERASTUNER_* environment variables set) workers
    only run trials; the chief serves the oracle and writes the results.
    """
    spec = load_spec(spec_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe, task = _prepare(spec, out_dir, log)
    hypermodel = TaskHyperModel(task, spec["space"])
    tuner = _tuner(spec, hypermodel, out_dir)
    train_data, validation_data = task.datasets()
    if validation_data is None and spec["tuner"]["objective"].startswith("val_"):
        raise RecipeError(
            f"The objective {spec['tuner']['objective']!r} needs validation data: "
            "set `data.validation_fraction` > 0 in the recipe or the spec's overrides."
        )
    training = recipe.training
    worker = os.environ.get("KERASTUNER_TUNER_ID", "")
    tuner.search(
        train_data,
        validation_data=validation_data,
        epochs=training.epochs,
        steps_per_epoch=training.steps_per_epoch,
        shuffle=False,  # the tf.data pipeline shuffles, deterministically
        verbose=2 if not worker or worker == "chief" else 0,
    )
    if worker and worker != "chief":
        return {}
    rows = _trial_rows(tuner)
    (out_dir / "trials.json").write_text(json.dumps(rows, indent=2) + "\n")
    log(f"\n{len(rows)} trials ({spec['tuner']['kind']} search, objective "
        f"{spec['tuner']['objective']}, {spec['tuner']['direction']}):")
    _print_table(rows, spec["tuner"]["objective"], log)

    best = tuner.oracle.get_best_trials(1)[0]
    values = dict(best.hyperparameters.values)
    (out_dir / "best_hyperparameters.json").write_text(json.dumps(values, indent=2) + "\n")
    best_recipe = recipe.replace(
        model={"overrides": {
            **recipe.model.overrides,
            **hypermodel.model_overrides(hypermodel._sample(best.hyperparameters)),
        }},
        training={"warmup_steps": values["warmup_steps"], "schedule_scale": values["schedule_scale"]},
    )
    (out_dir / "best_recipe.toml").write_text(
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
