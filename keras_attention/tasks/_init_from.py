"""`model.init_from`: a finished run's weights initialise a new model.

Weights are matched by structure, not by model class: a weight of the new
model takes the run's weight with the same path (`variable.path`, the layer
names under the model, e.g. `encoder_layer_0/self_attention/query_kernel`)
when the shapes agree. Every weight must be found, except those of the task's
head (`Task.head_layers`, e.g. a classifier's `logits`), which start afresh
when the run has none that fit. So a classifier's encoder comes from a
masked-LM run's encoder, and a language model from an earlier language-model
run; another architecture, width or vocabulary is an error that lists the
weights that did not match. The settings that have no weights but change
what the weights compute (`SETTINGS`: the activation, the normalisation,
the positions, the pad token) must be the run's too; an error names the
`model.overrides` keys that differ. The run's tokenizers come with its weights: the
ids must mean what the weights learned.
"""

from __future__ import annotations

import filecmp
import tempfile
from pathlib import Path

import keras
import numpy as np

from keras_attention import data
from keras_attention.training.recipe import load_recipe, toml_value

# How many weight paths an error lists of each kind before "and N more".
_LISTED = 8


def _listing(items: list[str]) -> str:
    shown = "; ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


class InitialRun:
    """The finished run directory that `model.init_from` names: its recipe,
    tokenizers and weights, each read once.

    Args:
        path: the run directory, relative to the current directory (as `--out`).

    Raises:
        FileNotFoundError: when `path` is not a directory.
        ValueError: when it is not a finished run (no `model.keras` or `recipe.toml`).
    """

    def __init__(self, path: str):
        self.path = path
        self.directory = Path(path)
        if not self.directory.is_dir():
            raise FileNotFoundError(
                f"`model.init_from` {path!r} is not a directory (a relative path is read "
                f"from the current directory, {Path.cwd()}). Train the run it names first."
            )
        missing = [name for name in ("model.keras", "recipe.toml") if not (self.directory / name).is_file()]
        if missing:
            raise ValueError(
                f"`model.init_from` {path!r} is not a finished run directory: it has no "
                f"{' and no '.join(missing)}."
            )
        self.kind = load_recipe(self.directory / "recipe.toml").task.kind
        self._tokenizers: dict = {}
        self._weights: dict | None = None
        self._settings: dict = {}
        self.model_name = None

    def describe(self) -> str:
        """`'runs/bert-mini' (a masked_lm run)`, for messages."""
        return f"{self.path!r} (a {self.kind} run)"

    def tokenizer(self, name: str):
        """The run's tokenizer saved as `name/` (`tokenizer`, `source_tokenizer`...)."""
        if name not in self._tokenizers:
            if not (self.directory / name / "tokenizer.json").is_file():
                raise ValueError(
                    f"`model.init_from` {self.describe()} has no {name}/ tokenizer, which this "
                    f"task reads its ids with: its weights cannot initialise this model."
                )
            self._tokenizers[name] = data.load_tokenizer(self.directory / name)
        return self._tokenizers[name]

    def weights(self) -> dict[str, np.ndarray]:
        """`{weight path: value}` of the run's model."""
        if self._weights is None:
            model = keras.saving.load_model(self.directory / "model.keras", compile=False)
            self.model_name = type(model).__name__
            self._settings = model_settings(model, (*SETTINGS, "max_sequence_length"))
            self._weights = _by_path(model, f"the model of `model.init_from` {self.describe()}")
            self._weights = {path: keras.ops.convert_to_numpy(w) for path, w in self._weights.items()}
        return self._weights

    def settings(self) -> dict:
        """`{name: value}` of the run's model's `SETTINGS` and
        `max_sequence_length` (those it, or its encoder, has)."""
        self.weights()
        return dict(self._settings)

    def setting(self, name: str):
        """A constructor argument of the run's model (or of its encoder), or
        None when it has none of that name."""
        return self.settings().get(name)


# Constructor arguments that have no weights of their own but change what
# the weights compute (and `pointer_generator`, whose weights a model without
# one would silently leave behind): a model initialised from a run must have the run's.
SETTINGS = (
    "activation",
    "attention_window",
    "norm",
    "norm_epsilon",
    "pad_token_id",
    "pointer_generator",
    "position",
)


def model_settings(model: keras.Model, names=SETTINGS) -> dict:
    """`{name: value}` of the `names` that `model` (or its `encoder`) has."""
    found = {}
    for owner in (getattr(model, "encoder", None), model):
        for name in names:
            if owner is not None and hasattr(owner, name):
                found[name] = getattr(owner, name)
    return found


def _by_path(model: keras.Model, what: str) -> dict:
    weights = {}
    for weight in model.weights:
        if weight.path in weights:
            raise ValueError(
                f"{what} has two weights named {weight.path!r}: its weights cannot be matched "
                "by path. Give its layers distinct names."
            )
        weights[weight.path] = weight
    return weights


def same_tokenizer(first, second) -> bool:
    """Whether two tokenizers save the same files (vocabulary, settings)."""
    with tempfile.TemporaryDirectory() as scratch:
        a, b = Path(scratch) / "a", Path(scratch) / "b"
        first.save(a)
        second.save(b)
        names = sorted(p.name for p in a.iterdir())
        if names != sorted(p.name for p in b.iterdir()):
            return False
        _, different, errors = filecmp.cmpfiles(a, b, names, shallow=False)
        return not different and not errors


def initialize(
    model: keras.Model, run: InitialRun, head_layers: tuple[str, ...] = (), keep_head: bool = True
) -> tuple[int, list[str]]:
    """Assign `run`'s weights to `model`'s weights of the same path and shape.

    Args:
        model: the new (built) model.
        run: the run `model.init_from` names.
        head_layers: top-level layer names of `model` whose weights may start
            afresh (the task's head); every other weight must match.
        keep_head: whether the run's head weights mean the same here (e.g. the
            same labels); if not, the head starts afresh even where shapes agree.

    Returns:
        `(number of weights loaded, paths of the weights left at their initial values)`.

    Raises:
        ValueError: listing the weights that are not in the run or whose shapes
            differ, when any weight outside the head does not match; nothing
            is assigned then.
    """
    source = run.weights()
    targets = _by_path(model, f"this {type(model).__name__}")
    loaded, fresh, missing, mismatched = [], [], [], []
    for path, weight in targets.items():
        in_head = path.split("/")[0] in head_layers
        value = source.get(path)
        if in_head and not keep_head:
            fresh.append(path)
        elif value is not None and tuple(value.shape) == tuple(weight.shape):
            loaded.append((weight, value))
        elif in_head:
            fresh.append(path)
        elif value is None:
            missing.append(path)
        else:
            mismatched.append(f"{path}: {tuple(value.shape)} in the run, {tuple(weight.shape)} here")
    if missing or mismatched or not loaded:
        problems = []
        if mismatched:
            problems.append(f"Shapes differ: {_listing(mismatched)}.")
        if missing:
            problems.append(f"Not in the run: {_listing(missing)}.")
        if not problems:
            problems.append("The model has no weights outside the task's head.")
        raise ValueError(
            f"`model.init_from` {run.describe()}, a {run.model_name}, cannot initialise this "
            f"{type(model).__name__}: {len(missing) + len(mismatched)} of the "
            f"{len(targets) - len(fresh)} weights it must load do not match. {' '.join(problems)} "
            "Weights are matched by path and shape: the run must have the same architecture "
            "(`model.preset`, `model.overrides`) and `data.max_length`."
        )
    theirs = run.settings()
    differing = {
        name: (value, theirs[name])
        for name, value in model_settings(model).items()
        if name in theirs and value != theirs[name]
    }
    if differing:
        keys = ", ".join(f"`model.overrides.{name}`" for name in differing)
        values = "; ".join(f"{name}={ours!r} here, {theirs!r} in the run" for name, (ours, theirs) in differing.items())
        fix = ", ".join(f"{name} = {toml_value(value)}" for name, (_, value) in differing.items())
        several = len(differing) > 1
        raise ValueError(
            f"{keys} (from `model.preset` and `model.overrides`) {'differ' if several else 'differs'} "
            f"from the model of `model.init_from` {run.describe()}, whose weights were trained "
            f"with the run's: {values}. Set {fix} in [model.overrides], or use a preset that "
            f"has {'them' if several else 'it'}."
        )
    for weight, value in loaded:
        weight.assign(value)
    return len(loaded), fresh
