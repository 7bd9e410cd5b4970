"""Recipes: one TOML file describes a complete, reproducible run.

A recipe has five tables, each read into a typed, frozen dataclass:
`task` (`TaskConfig`), `data` (`DataConfig`), `model` (`ModelConfig`),
`training` (`TrainingConfig`) and `evaluation` (`EvaluationConfig`). Every
field has a default; a recipe states only what differs. Command-line `--set
table.key=value` overrides win over the file. Unknown keys, wrong types and
values outside the allowed choices or ranges are errors that name the key
and what is allowed; they are all checked here, once, when the recipe is
read.

"Not set" is `None` in a field (all the examples, the paper's learning-rate
schedule, a tokenizer learned from the data, no top-k filtering...): leave
the key out of the TOML file. The values that meant "not set" before typed
recipes (`0`, `""`, `top_p = 1.0`) are read as `None` too, so older recipes
and run directories keep working.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

__all__ = [
    "DataConfig",
    "EvaluationConfig",
    "ModelConfig",
    "Recipe",
    "NONE",
    "RecipeError",
    "TaskConfig",
    "TrainingConfig",
    "dump_recipe",
    "load_recipe",
    "parse_override",
    "toml_value",
    "validate_recipe",
]


class RecipeError(ValueError):
    """An invalid recipe: the message names the key and what is allowed."""


# TOML has no null: in `[model.overrides]` this string stands for None.
NONE = "none"


def toml_value(value) -> str:
    """`value` as a recipe writes it in `[model.overrides]` (None: `"none"`)."""
    return json.dumps(NONE if value is None else value)


def _field(
    default, *, minimum=None, above=None, maximum=None, below=None, choices=None, unset=None, doc=""
):
    """A recipe field: its default, its bounds (`minimum` <= value, `above` <
    value, value <= `maximum`, value < `below`), its `choices`, and the
    legacy value that reads as None (`unset`)."""
    metadata = dict(
        minimum=minimum, above=above, maximum=maximum, below=below, choices=choices, unset=unset,
        doc=doc,
    )
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class TaskConfig:
    """`[task]`: which task (one of `keras_attention.tasks.TASKS`)."""

    kind: str = _field("translation", doc="checked against the task registry by tasks.get_task")


@dataclass(frozen=True)
class DataConfig:
    """`[data]`: where the examples come from and how they become ids."""

    # "embedded:dates", "embedded:docstring_summaries" (split by module),
    # "embedded:docstrings", "embedded:docstring_topics", or a path to a file
    # (TSV pairs, text lines, CSV/TSV with labels).
    source: str = _field("embedded:dates")
    num_examples: int | None = _field(None, minimum=0, unset=0, doc="None (or 0): all")
    validation_fraction: float = _field(0.05, minimum=0, below=0.5)
    test_fraction: float = _field(0.05, minimum=0, below=0.5)
    vocabulary_size: int = _field(8000, minimum=1)
    lower_case: bool = _field(False)
    shared_vocabulary: bool = _field(True)
    max_length: int = _field(32, minimum=1)
    strict: bool = _field(False)
    # "sentencepiece" or "wordpiece": learn that kind from the training split;
    # a path: a saved tokenizer directory or a SentencePiece model file. None:
    # learn the task's kind, lossless SentencePiece for the tasks that write
    # text (translation, language model), WordPiece for BERT's (masked LM,
    # classification). `lower_case` is the only normalisation either applies
    # to text (WordPiece also strips accents and splits off punctuation, which
    # is why it does not write text).
    tokenizer: str | None = _field(None, unset="")


@dataclass(frozen=True)
class ModelConfig:
    """`[model]`: a preset of the task's model, constructor overrides, and
    optionally a run whose weights (and tokenizers) it starts from."""

    preset: str = _field("transformer_tiny")
    # Constructor arguments of the task's model, over the preset's. TOML has
    # no null: "none" sets an argument that takes None to None (GPT-2's
    # `pad_token_id = "none"`: no pad token); the task checks the keys.
    overrides: dict = _field({})
    # A finished run directory whose weights initialise the model (matched by
    # weight path and shape; its tokenizers are reused), relative to the
    # current directory as `--out` is. None: random initialisation.
    init_from: str | None = _field(None, unset="", doc="None: random initialisation")


@dataclass(frozen=True)
class TrainingConfig:
    """`[training]`: how `model.fit` runs.

    The optimizer is the paper's Adam (beta_1 0.9, beta_2 0.98, epsilon 1e-9)
    or, with `optimizer = "adamw"`, `keras.optimizers.AdamW` with
    `weight_decay`; `clipnorm` is the Keras optimizer argument of that name.
    With `gradient_accumulation_steps = N` > 1 the optimizer applies one
    update per N batches, and that update is exactly the update of one batch
    of all N: each batch's gradient is weighted by its real (non-pad) tokens
    and the sum divided by the tokens of all N, as the loss of one big batch
    is normalised (`training.accumulation.TokenWeightedAccumulation`), not
    Keras' plain mean of the N batch gradients (one device only: Keras'
    accumulation does not run under a `tf.distribute` strategy). `schedule`
    picks the learning rate: `"transformer"` (the paper's warmup then inverse
    square root, scaled by `schedule_scale`), `"cosine"` (linear warmup over
    `warmup_steps` to `learning_rate`, then cosine decay to 0, which the
    run's last update reaches; the first update already has rate
    `learning_rate / warmup_steps`: `training.schedules.CosineSchedule`) or
    `"constant"` (`learning_rate`). Schedules count optimizer updates, not batches:
    `warmup_steps` is a number of updates, and a run has `epochs` x batches
    per epoch / `gradient_accumulation_steps` of them (rounded down; the
    batches after the last complete group of N are not applied). With
    `early_stopping_patience`, training stops after that many epochs without
    a lower validation loss and `model.keras` holds the best epoch's weights;
    `metrics.json` gives `best_epoch`, `best_val_loss`, `stopped_epoch` and
    `epochs_trained` (epochs count from 1).
    """

    batch_size: int = _field(64, minimum=1)
    epochs: int = _field(10, minimum=1)
    steps_per_epoch: int | None = _field(
        None, minimum=0, unset=0, doc="None (or 0): one pass over the data"
    )
    learning_rate: float | None = _field(
        None, minimum=0, unset=0,
        doc="None (or 0): the paper's warmup / inverse-sqrt schedule; the peak rate of "
        "`schedule = \"cosine\"` and the rate of `\"constant\"`",
    )
    # "transformer": the paper's warmup / inverse-sqrt (TransformerSchedule);
    # "cosine": linear warmup to `learning_rate`, then cosine decay to 0 at the
    # last update (CosineSchedule); "constant":
    # `learning_rate` throughout. None: "transformer", or "constant" when
    # `learning_rate` is set (what a recipe meant before this key).
    schedule: str | None = _field(None, choices=("transformer", "cosine", "constant"), unset="")
    warmup_steps: int = _field(
        4000, minimum=1, doc="the transformer and cosine schedules' warmup, in optimizer updates"
    )
    schedule_scale: float = _field(1.0, above=0, doc="a multiplier on the transformer schedule")
    optimizer: str = _field("adam", choices=("adam", "adamw"))
    weight_decay: float | None = _field(
        None, minimum=0, doc="AdamW only; None: Keras' default (0.004)"
    )
    clipnorm: float | None = _field(None, above=0, doc="None: no clipping")
    gradient_accumulation_steps: int = _field(
        1, minimum=1,
        doc="batches per optimizer update, weighted by their real tokens as one big batch; 1: none",
    )
    early_stopping_patience: int | None = _field(
        None, minimum=1,
        doc="None: train every epoch; N: stop after N epochs without a lower validation "
        "loss, and keep the best epoch's weights",
    )
    label_smoothing: float = _field(0.1, minimum=0, below=1)
    mixed_precision: str = _field("float32", choices=("float32", "mixed_float16", "mixed_bfloat16"))
    jit_compile: bool = _field(False)
    strategy: str = _field("default", choices=("default", "mirrored", "multi_worker"))
    checkpoint_every: int = _field(200, minimum=1)
    seed: int = _field(0)

    def __post_init__(self):
        # The keys that only mean something together are checked together.
        if self.weight_decay is not None and self.optimizer != "adamw":
            raise RecipeError(
                "`training.weight_decay` applies to `training.optimizer = \"adamw\"` only. "
                f"Received: weight_decay={self.weight_decay!r} with optimizer={self.optimizer!r}"
            )
        if self.schedule == "transformer" and self.learning_rate is not None:
            raise RecipeError(
                "`training.learning_rate` is not used by `training.schedule = \"transformer\"`, "
                "whose rate follows the model width, `warmup_steps` and `schedule_scale`: "
                "leave it out, or use schedule \"cosine\" or \"constant\". "
                f"Received: learning_rate={self.learning_rate!r}"
            )
        if self.schedule in ("cosine", "constant") and self.learning_rate is None:
            raise RecipeError(
                f"`training.schedule = \"{self.schedule}\"` needs `training.learning_rate` "
                "(a finite number > 0). Received: no learning_rate"
            )
        if self.schedule == "cosine" and self.steps_per_epoch is not None:
            updates = self.epochs * self.steps_per_epoch // self.gradient_accumulation_steps
            if self.warmup_steps >= updates:
                raise RecipeError(
                    "`training.warmup_steps` must be < the run's steps (optimizer updates: "
                    "`training.epochs` x `training.steps_per_epoch` / "
                    f"`training.gradient_accumulation_steps` = {updates}) with "
                    "`training.schedule = \"cosine\"`, which decays after the warmup. "
                    f"Received: warmup_steps={self.warmup_steps}"
                )

    @property
    def schedule_kind(self) -> str:
        """The schedule in effect: `schedule`, or what an unset one means."""
        if self.schedule is not None:
            return self.schedule
        return "transformer" if self.learning_rate is None else "constant"


@dataclass(frozen=True)
class EvaluationConfig:
    """`[evaluation]`: how the test split is decoded and scored."""

    beam_size: int = _field(1, minimum=1)
    length_penalty: float = _field(0.6, minimum=0)
    # translation: never repeat an n-gram of this size in an answer
    no_repeat_ngram_size: int | None = _field(
        None, minimum=0, unset=0, doc="None (or 0): n-grams may repeat"
    )
    # translation: None, or "iso_date" (answer with the best beam that is a
    # real calendar date or "", the model's own answer that there is none;
    # "" when no beam is either)
    output_constraint: str | None = _field(None, choices=("iso_date",), unset="")
    # translation: also score ROUGE-1/2/L F-measures (rouge-score), as for summaries
    rouge: bool = _field(False)
    # translation: also score a baseline on the same test split, the same way:
    # None, or "first_sentence" (the source's first sentence as the answer)
    baseline: str | None = _field(None, choices=("first_sentence",), unset="")
    num_samples: int = _field(5, minimum=0)
    max_examples: int = _field(1000, minimum=1)
    # language models: how `generate` continues a prompt (temperature 0: greedy)
    max_new_tokens: int = _field(32, minimum=1)
    temperature: float = _field(0.0, minimum=0)
    top_k: int | None = _field(None, minimum=0, unset=0, doc="None (or 0): no top-k filtering")
    top_p: float | None = _field(
        None, above=0, maximum=1, unset=1.0, doc="None (or 1.0): no nucleus filtering"
    )
    seed: int = _field(0)


@dataclass(frozen=True)
class Recipe:
    """A complete recipe: every table typed, every value checked."""

    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def replace(self, **tables) -> "Recipe":
        """A checked copy with some fields changed: `replace(training={"epochs": 3})`
        (None unsets an optional field)."""
        changed = self.to_dict()
        for table, values in tables.items():
            changed[table] = {**changed.get(table, {}), **values}
        return validate_recipe(changed)

    def to_dict(self) -> dict:
        """`{table: {key: value}}`, with unset (None) fields left out, as TOML has no null."""
        return {table.name: _table_dict(getattr(self, table.name)) for table in dataclasses.fields(self)}


TABLES = {table.name: table.default_factory for table in dataclasses.fields(Recipe)}


def _table_dict(config) -> dict:
    return {
        item.name: getattr(config, item.name)
        for item in dataclasses.fields(config)
        if getattr(config, item.name) is not None
    }


def _allowed_types(annotation: str) -> tuple[type, bool]:
    """`(the value's type, whether None is allowed)` of a field annotation."""
    optional = annotation.endswith("| None")
    name = annotation.replace("| None", "").strip()
    return {"int": int, "float": float, "bool": bool, "str": str, "dict": dict}[name], optional


def _check_value(name: str, value, item: dataclasses.Field):
    kind, optional = _allowed_types(item.type)
    meta = item.metadata
    if value is None or (meta["unset"] is not None and value == meta["unset"] and type(value) is not bool):
        if optional:
            return None
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise RecipeError(f"`{name}` must be of type {kind.__name__}. Received: {value!r}")
    if meta["choices"] is not None and value not in meta["choices"]:
        allowed = list(meta["choices"])
        raise RecipeError(f"`{name}` must be one of {allowed}. Received: {value!r}")
    if kind in (int, float):
        value = kind(value)
        low, above, high, below = (meta[k] for k in ("minimum", "above", "maximum", "below"))
        inside = (
            math.isfinite(value)
            and (low is None or value >= low)
            and (above is None or value > above)
            and (high is None or value <= high)
            and (below is None or value < below)
        )
        if not inside:
            expected = _bounds(kind, low, above, high, below)
            raise RecipeError(f"`{name}` must be {expected}. Received: {value!r}")
    if kind is dict:
        for key, entry in value.items():
            if isinstance(entry, float) and not math.isfinite(entry):
                raise RecipeError(f"`{name}.{key}` must be finite. Received: {entry!r}")
    return value


def _bounds(kind, low, above, high, below) -> str:
    """What a number must be, in words: `>= 1`, `a finite number > 0`, `in [0, 0.5)`."""
    if high is not None or below is not None:
        opening = f"({above}" if above is not None else f"[{low}"
        closing = f"{high}]" if high is not None else f"{below})"
        return f"in {opening}, {closing}"
    if low is None and above is None:
        return "a finite number" if kind is float else "an integer"
    bound = f">= {low}" if low is not None else f"> {above}"
    return f"a finite number {bound}" if kind is float else bound


def validate_recipe(recipe: dict) -> Recipe:
    """Check every table, key, type, choice and range of a recipe dict and
    return the typed `Recipe` (defaults filled in)."""
    tables = {}
    for table, given in recipe.items():
        if table not in TABLES:
            raise RecipeError(f"Unknown recipe key `{table}`. Allowed keys: {', '.join(TABLES)}")
        if not isinstance(given, dict):
            raise RecipeError(f"`{table}` must be a table. Received: {given!r}")
        fields = {item.name: item for item in dataclasses.fields(TABLES[table])}
        values = {}
        for key, value in given.items():
            if key not in fields:
                raise RecipeError(
                    f"Unknown recipe key `{table}.{key}`. Allowed keys in [{table}]: "
                    f"{', '.join(sorted(fields))}"
                )
            values[key] = _check_value(f"{table}.{key}", value, fields[key])
        tables[table] = TABLES[table](**values)
    return Recipe(**tables)


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


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read, override and validate a recipe TOML file.

    Args:
        path: the recipe file.
        overrides: `"table.key=value"` strings (TOML values; bare words are
            strings), applied in order.

    Returns:
        The typed `Recipe` (every default filled in).
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


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as TOML text that `load_recipe` reads back unchanged."""
    lines = []
    for table, values in recipe.to_dict().items():
        lines.append(f"[{table}]")
        lines += [
            f"{key} = {json.dumps(value)}" for key, value in values.items() if not isinstance(value, dict)
        ]
        for key, value in values.items():
            if isinstance(value, dict) and value:
                lines.append(f"[{table}.{key}]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in value.items()]
        lines.append("")
    return "\n".join(lines)
