"""Recipes: one TOML file describes a complete, reproducible run.

A recipe has five tables: `task`, `data`, `model`, `training`, `evaluation`.
Every key has a default (below); a recipe states only what differs.
Command-line `--set table.key=value` overrides win over the file. Unknown
keys, wrong types and values outside the allowed choices are errors that name
the key and what is allowed.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

__all__ = ["DEFAULTS", "CHOICES", "RecipeError", "load_recipe", "parse_override", "validate_recipe"]

DEFAULTS: dict = {
    # One of `keras_attention.tasks.TASKS` (checked by `tasks.get_task`).
    "task": {"kind": "translation"},
    "data": {
        # "embedded:dates", "embedded:docstrings", "embedded:docstring_topics",
        # or a path to a file (TSV pairs, text lines, CSV/TSV with labels).
        "source": "embedded:dates",
        # at most this many examples (0: all; embedded:dates generates 20000)
        "num_examples": 0,
        "validation_fraction": 0.05,
        "test_fraction": 0.05,
        "vocabulary_size": 8000,
        "lower_case": False,
        "shared_vocabulary": True,
        "max_length": 32,
        "strict": False,
        "tokenizer": "",  # a saved tokenizer directory or SentencePiece model; "" = learn one
    },
    "model": {"preset": "transformer_tiny", "overrides": {}},
    "training": {
        "batch_size": 64,
        "epochs": 10,
        "steps_per_epoch": 0,  # 0: one pass over the training data per epoch
        "learning_rate": 0.0,  # 0: the paper's warmup / inverse-sqrt schedule
        "warmup_steps": 4000,
        "schedule_scale": 1.0,
        "label_smoothing": 0.1,
        "mixed_precision": "float32",
        "jit_compile": False,
        "strategy": "default",
        "checkpoint_every": 200,
        "seed": 0,
    },
    "evaluation": {
        "beam_size": 1,
        "length_penalty": 0.6,
        # translation: "" or "iso_date" (answer with the best beam that is a
        # real calendar date, or "" when none is)
        "output_constraint": "",
        "num_samples": 5,
        "max_examples": 1000,
        # language models: how `generate` continues a prompt
        "max_new_tokens": 32,
        "temperature": 0.0,
        "top_k": 0,  # 0: no top-k filtering
        "top_p": 1.0,
        "seed": 0,
    },
}

CHOICES = {
    ("training", "mixed_precision"): ("float32", "mixed_float16", "mixed_bfloat16"),
    ("training", "strategy"): ("default", "mirrored", "multi_worker"),
    ("evaluation", "output_constraint"): ("", "iso_date"),
}

# The smallest value each numeric key accepts (anything below is nonsense).
MINIMUM = {
    ("data", "vocabulary_size"): 1,
    ("data", "max_length"): 1,
    ("data", "num_examples"): 0,
    ("training", "batch_size"): 1,
    ("training", "epochs"): 1,
    ("training", "steps_per_epoch"): 0,
    ("training", "learning_rate"): 0,
    ("training", "warmup_steps"): 1,
    ("training", "checkpoint_every"): 1,
    ("evaluation", "beam_size"): 1,
    ("evaluation", "length_penalty"): 0,
    ("evaluation", "num_samples"): 0,
    ("evaluation", "max_examples"): 1,
    ("evaluation", "max_new_tokens"): 1,
    ("evaluation", "temperature"): 0,
    ("evaluation", "top_k"): 0,
}
# Keys that must be strictly above zero.
STRICTLY_POSITIVE = {("training", "schedule_scale")}


class RecipeError(ValueError):
    """An invalid recipe: the message names the key and what is allowed."""


def _merge(defaults, given, prefix=""):
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            raise RecipeError(
                f"Unknown recipe key `{name}`. Allowed keys"
                f"{' in [' + prefix[:-1] + ']' if prefix else ''}: {', '.join(sorted(defaults))}"
            )
        default = defaults[key]
        if isinstance(default, dict) and key != "overrides":
            if not isinstance(value, dict):
                raise RecipeError(f"`{name}` must be a table. Received: {value!r}")
            merged[key] = _merge(default, value, f"{name}.")
        else:
            merged[key] = value
    return merged


def _check_type(name, value, default):
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise RecipeError(
            f"`{name}` must be of type {type(default).__name__}. Received: {value!r}"
        )


def validate_recipe(recipe: dict) -> dict:
    """Fill defaults into `recipe` and check every key, type and choice."""
    merged = _merge(DEFAULTS, recipe)
    for table, keys in DEFAULTS.items():
        for key, default in keys.items():
            name, value = f"{table}.{key}", merged[table][key]
            _check_type(name, value, default)
            if isinstance(default, float) and not isinstance(default, bool):
                merged[table][key] = float(value)
            allowed = CHOICES.get((table, key))
            if allowed is not None and value not in allowed:
                raise RecipeError(
                    f"`{name}` must be one of {list(allowed)}. Received: {value!r}"
                )
            _check_range(name, value, (table, key))
    for key in ("validation_fraction", "test_fraction"):
        if not 0 <= merged["data"][key] < 0.5:
            raise RecipeError(
                f"`data.{key}` must be in [0, 0.5). Received: {merged['data'][key]!r}"
            )
    if not 0 <= merged["training"]["label_smoothing"] < 1:
        raise RecipeError(
            "`training.label_smoothing` must be in [0, 1). "
            f"Received: {merged['training']['label_smoothing']!r}"
        )
    if not 0 < merged["evaluation"]["top_p"] <= 1:
        raise RecipeError(
            f"`evaluation.top_p` must be in (0, 1]. Received: {merged['evaluation']['top_p']!r}"
        )
    for key, value in merged["model"]["overrides"].items():
        if isinstance(value, float) and not math.isfinite(value):
            raise RecipeError(f"`model.overrides.{key}` must be finite. Received: {value!r}")
    return merged


def _check_range(name: str, value, key: tuple[str, str]):
    """Numbers must be finite and at least the key's minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    floating = isinstance(value, float)
    if key in STRICTLY_POSITIVE:
        if not (math.isfinite(value) and value > 0):
            raise RecipeError(f"`{name}` must be a finite number > 0. Received: {value!r}")
        return
    minimum = MINIMUM.get(key)
    if floating and not math.isfinite(value) or minimum is not None and value < minimum:
        bound = f">= {minimum}" if minimum is not None else ""
        expected = f"a finite number {bound}".strip() if floating else bound
        raise RecipeError(f"`{name}` must be {expected}. Received: {value!r}")


def parse_override(text: str) -> tuple[list[str], object]:
    """`"training.epochs=3"` -> `(["training", "epochs"], 3)`; values are TOML."""
    if "=" not in text:
        raise RecipeError(f"An override must look like `table.key=value`. Received: {text!r}")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare string
    return path, value


def load_recipe(path: str | Path, overrides: list[str] = ()) -> dict:
    """Read, override and validate a recipe TOML file.

    Args:
        path: the recipe file.
        overrides: `"table.key=value"` strings (TOML values; bare words are
            strings), applied in order.

    Returns:
        The complete recipe dict (every default filled in).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Recipe not found: {path}")
    try:
        recipe = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path} is not valid TOML: {error}") from None
    for override in overrides:
        keys, value = parse_override(override)
        table = recipe
        for key in keys[:-1]:
            table = table.setdefault(key, {})
            if not isinstance(table, dict):
                raise RecipeError(f"`{'.'.join(keys)}` does not name a recipe key.")
        table[keys[-1]] = value
    try:
        return validate_recipe(recipe)
    except RecipeError as error:
        raise RecipeError(f"{path}: {error}") from None


def dump_recipe(recipe: dict) -> str:
    """The recipe as TOML text that `load_recipe` reads back unchanged."""
    lines = []
    for table, values in recipe.items():
        lines.append(f"[{table}]")
        lines += [
            f"{key} = {json.dumps(value)}"
            for key, value in values.items()
            if not isinstance(value, dict)
        ]
        for key, value in values.items():
            if isinstance(value, dict) and value:
                lines.append(f"[{table}.{key}]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in value.items()]
        lines.append("")
    return "\n".join(lines)
