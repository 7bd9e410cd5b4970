"""Tiny settings that make any shipped recipe, search spec or documented
benchmark run in seconds.

Shared by the end-to-end tests (tests/training/test_run.py) and the tests that
run the documentation's commands (tests/docs/test_docs_commands.py).
"""

import json
import re
import tomllib
from pathlib import Path

from keras_attention.training.recipe import dump_recipe, load_recipe

TINY = {
    "translation": [
        "model.preset=transformer_tiny",
        # Key by key: the recipe's other overrides (e.g. docsum's pointer) stay.
        "model.overrides.hidden_dim=32",
        "model.overrides.intermediate_dim=64",
        "model.overrides.num_heads=2",
        "data.num_examples=400",
        "data.vocabulary_size=500",  # SentencePiece: 263 special and byte pieces first
        "data.max_length=20",
    ],
    "language_model": [
        "model.preset=gpt_tiny",
        "data.num_examples=200",
        "data.vocabulary_size=500",
        "data.max_length=16",
        "evaluation.max_new_tokens=4",
    ],
    "masked_lm": ["model.preset=bert_test", "data.num_examples=200", "data.vocabulary_size=300", "data.max_length=16"],
    "classification": ["model.preset=bert_test", "data.num_examples=300", "data.vocabulary_size=300", "data.max_length=16"],
}
COMMON = [
    "training.epochs=1",
    "training.steps_per_epoch=3",
    "training.batch_size=8",
    "training.warmup_steps=10",
    "evaluation.max_examples=8",
    "evaluation.num_samples=2",
]


def kind_of(recipe: Path) -> str:
    return tomllib.loads(Path(recipe).read_text())["task"]["kind"]


def overrides(kind: str) -> list[str]:
    """`table.key=value` overrides that shrink a recipe of this task kind."""
    return TINY[kind] + COMMON


def sets(options: list[str]) -> list[str]:
    """`["a=1", "b=2"]` -> `["--set", "a=1", "--set", "b=2"]`."""
    return [item for option in options for item in ("--set", option)]


def tiny_recipe(recipe: Path) -> str:
    """The shipped recipe with the tiny overrides applied, as TOML text."""
    return dump_recipe(load_recipe(recipe, overrides(kind_of(recipe))))


def tiny_spec(spec: Path, max_trials: int = 2) -> str:
    """The shipped search spec with a tiny budget, as TOML text.

    Its `recipe` path is kept, so a tiny recipe at that path is what it tunes;
    its own overrides (made for the real recipe) give way to the tiny ones.
    """
    parsed = tomllib.loads(Path(spec).read_text())
    parsed["tuner"]["max_trials"] = max_trials
    recipe = (Path(spec).parent / parsed["recipe"]).resolve()
    parsed["overrides"] = {}
    for option in overrides(kind_of(recipe)):
        key, value = option.split("=", 1)
        if not key.startswith("model."):  # the search space owns the model
            parsed["overrides"][key] = tomllib.loads(f"v = {value}")["v"]
    lines = [f"recipe = {json.dumps(parsed.pop('recipe'))}"]
    for table, values in parsed.items():
        lines.append(f"[{table}]")
        lines += [f"{json.dumps(key)} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


# Smaller defaults for the sizes of the benchmarks a page runs: the documented
# command runs as written (its own flags win) and every setting it measures
# (dtype policies, compilers, ours and the peer) still runs, on tiny tensors.
TINY_BENCHMARKS = {
    "gpu_path.py": {"--batch": 2, "--length": 8, "--hidden": 16, "--heads": 2, "--matmul-size": 64},
    "server_load.py": {"--idle": 30, "--slow-readers": 2, "--seconds": 2, "--repeats": 1, "--timeout": 8},
}


def tiny_benchmark(script: Path) -> str:
    """The benchmark script's text with the argparse defaults of TINY_BENCHMARKS."""
    text = Path(script).read_text()
    for flag, value in TINY_BENCHMARKS.get(Path(script).name, {}).items():
        pattern = rf'(add_argument\("{re.escape(flag)}", type=int, default=)\d+'
        text, found = re.subn(pattern, rf"\g<1>{value}", text)
        if found != 1:  # the script changed: update TINY_BENCHMARKS with it
            raise AssertionError(f"{Path(script).name} has no `{flag}` int argument with a default")
    return text
