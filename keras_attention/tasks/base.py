"""The base every task builds on: what is the same for translation, language
modelling, masked LM and classification.

A task owns, in one place, everything that differs between them: reading its
data, its preprocessor (text -> ids in TF ops, the same object in `tf.data`,
evaluation, attention plots and the SavedModel), its model, its one decode
function, its metrics, its serving signatures and its hypermodel hook. The
run loop (`keras_attention.training.run`), a loaded run
(`keras_attention.runs.Run`), the export (`keras_attention.export`) and the
tuner (`keras_attention.tuning`) drive every task through this interface.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import keras
import tensorflow as tf

from keras_attention import data
from keras_attention._files import write_text_atomically
from keras_attention.tasks._init_from import InitialRun, initialize, same_tokenizer
from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy
from keras_attention.training.metrics import MaskedAccuracy
from keras_attention.training.optimizers import count_batches
from keras_attention.training.recipe import NONE, DataConfig, Recipe, RecipeError

__all__ = ["GroupedExamples", "Task", "TextTask", "split", "split_groups"]

TEXT_SPEC = tf.TensorSpec([None], tf.string, name="text")


def ids_spec(name: str) -> tf.TensorSpec:
    """A `(batch, length)` int32 token-id input of a serving signature."""
    return tf.TensorSpec([None, None], tf.int32, name=name)


def split(examples: list, validation_fraction: float, test_fraction: float, seed: int):
    """Deterministic shuffled split into (train, validation, test)."""
    examples = list(examples)
    random.Random(seed).shuffle(examples)
    num_test = int(round(len(examples) * test_fraction))
    num_validation = int(round(len(examples) * validation_fraction))
    test = examples[:num_test]
    validation = examples[num_test : num_test + num_validation]
    train = examples[num_test + num_validation :]
    if not train:
        raise ValueError(
            f"No training examples left after the split: {len(examples)} examples, "
            f"validation_fraction={validation_fraction}, test_fraction={test_fraction}"
        )
    return train, validation, test


def split_groups(groups: list[str], validation_fraction: float, test_fraction: float, seed: int):
    """Deterministic split of groups (e.g. modules) into (train, validation, test) names.

    `groups` holds each example's group. The distinct groups are shuffled with
    `seed` and dealt out whole: to test until it holds `test_fraction` of the
    examples, then to validation until it holds `validation_fraction`, the
    rest to train. A part overshoots its fraction by less than one group.

    Returns:
        Three sorted lists of group names, no name in two of them.

    Example:

    >>> groups = ["a"] * 4 + ["b"] * 3 + ["c"] * 2 + ["d"]
    >>> train, validation, test = split_groups(groups, 0.2, 0.2, seed=0)
    >>> sorted(train + validation + test)
    ['a', 'b', 'c', 'd']
    """
    counts = Counter(groups)
    names = sorted(counts)
    random.Random(seed).shuffle(names)
    wanted = {"test": round(len(groups) * test_fraction),
              "validation": round(len(groups) * validation_fraction)}
    parts = {"train": [], "validation": [], "test": []}
    held = {"test": 0, "validation": 0}
    for name in names:
        part = next((part for part in ("test", "validation") if held[part] < wanted[part]), "train")
        parts[part].append(name)
        if part != "train":
            held[part] += counts[name]
    if not parts["train"]:
        raise ValueError(
            f"No training examples left after the split by group: {len(names)} groups, "
            f"validation_fraction={validation_fraction}, test_fraction={test_fraction}"
        )
    return sorted(parts["train"]), sorted(parts["validation"]), sorted(parts["test"])


class GroupedExamples(NamedTuple):
    """Examples and the group of each (its module, say), as an embedded source
    may return them: `Task.load_data` then keeps every group in one split."""

    examples: list
    groups: list[str]
    group_name: str = "module"


def _example(value):
    """A JSON-read example as the readers give it: pairs as tuples."""
    return tuple(value) if isinstance(value, list) else value


def _is_none(value) -> bool:
    """Whether a `model.overrides` value is the recipe's None (`"none"`, any case)."""
    return isinstance(value, str) and value.lower() == NONE


def _load_given_tokenizer(path: str):
    """A recipe's `data.tokenizer` that names files: a saved tokenizer
    directory or a SentencePiece model file."""
    if Path(path).is_file():
        return data.SentencePieceTokenizer(path)
    return data.load_tokenizer(path)


class Task:
    """Base of the tasks; a subclass fills in the task-specific parts.

    Class attributes a subclass sets:
        kind: the recipe's `task.kind`.
        preset_class: the `keras_attention.models` class whose `from_preset`
            takes `model.overrides`.
        embedded: `{"embedded:NAME": function returning the examples}`.
        tunable: whether `keras-attention tune` can search this task's model.
    """

    kind = ""
    # The `[evaluation]` keys a caller may change per prediction (`Run.predict`).
    decoding_keys: tuple = ()
    preset_class: type | None = None
    embedded: dict = {}
    tunable = True
    tokenizer_directories = ("tokenizer",)
    # The tokenizer kind learned when `data.tokenizer` is left out: lossless
    # SentencePiece for the tasks that write text (DESIGN.md, decision 11).
    tokenizer_kind = "sentencepiece"
    # The shortest `data.max_length` the task's preprocessor takes, and why.
    smallest_max_length = 1
    smallest_max_length_reason = "one token"
    # Top-level layers of the model that are the task's own head: with
    # `model.init_from` they load when the run has them with the same shapes
    # (and `keeps_head`), else start afresh; every other weight must load.
    head_layers: tuple[str, ...] = ()

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        self.tokenizers: dict = {}
        self.report = None
        self.source = None
        self.train_examples: list = []
        self.validation_examples: list = []
        self.test_examples: list = []
        # For a source split by group: {"by": group name, "train" / "validation"
        # / "test": the groups of each part}; None for a random split.
        self.split_groups: dict | None = None
        self._check_overrides()

    @property
    def data_config(self) -> DataConfig:
        """The recipe's `[data]` table."""
        return self.recipe.data

    @property
    def seed(self) -> int:
        return self.recipe.training.seed

    def _check_overrides(self):
        """Refuse a misspelt `model.overrides` key, and a `"none"` (None) or
        string where the argument takes neither, before any data is read."""
        accepted = self.preset_class.argument_names()
        nullable = self.preset_class.nullable_argument_names()
        annotations = self.preset_class.argument_annotations()
        for key, value in self.recipe.model.overrides.items():
            if key not in accepted:
                raise ValueError(
                    f"`model.overrides.{key}` is not an argument of {self.preset_class.__name__}. "
                    f"Arguments: {', '.join(accepted)}"
                )
            if not _is_none(value):
                if annotations.get(key) == "int | None" and (
                    isinstance(value, bool) or not isinstance(value, int)
                ):
                    raise ValueError(
                        f"`model.overrides.{key}` must be an integer or \"{NONE}\" (None: TOML "
                        f"has no null). Received: {value!r}"
                    )
            elif key not in nullable:
                raise ValueError(
                    f"`model.overrides.{key}` cannot be \"{NONE}\" (None): "
                    f"{self.preset_class.__name__}'s `{key}` takes no None. Leave it out for the "
                    "preset's value."
                )

    def model_overrides(self) -> dict:
        """The recipe's `model.overrides` as constructor arguments: `"none"` is None."""
        return {
            key: None if _is_none(value) else value for key, value in self.recipe.model.overrides.items()
        }

    # --- data -------------------------------------------------------------

    def read_file(self, path: str) -> list:
        """The examples of a data file of this task's format; what the reader
        found (malformed and skipped lines) goes to `self.report`."""
        raise NotImplementedError

    def read_test_file(self, path: str) -> list:
        """The examples of a test file of yours (`keras-attention evaluate
        --test`), read as `read_file` reads data: a task whose right answer
        may be empty takes an empty expected answer here."""
        return self.read_file(path)

    def read_examples(self, data_path: str | None = None) -> list:
        """The task's examples from an embedded source or a file."""
        source = data_path or self.data_config.source
        self.source = source
        if source.startswith("embedded:"):
            if source not in self.embedded:
                raise ValueError(
                    f"`data.source` {source!r} is not available for task "
                    f"{self.kind!r}. Embedded sources: {sorted(self.embedded)}, or a file."
                )
            return self.embedded[source](self)
        return self.read_file(source)

    def load_data(self, data_path: str | None = None):
        """Read the examples and split them into train / validation / test:
        at random, or whole groups to each part when the source groups its
        examples (`GroupedExamples`, recorded in `split_groups`)."""
        config = self.data_config
        examples = self.read_examples(data_path)
        grouped = examples if isinstance(examples, GroupedExamples) else None
        if grouped is not None:
            examples = grouped.examples
        if config.num_examples is not None:
            examples = examples[: config.num_examples]
        fractions = (config.validation_fraction, config.test_fraction, self.seed)
        if grouped is None:
            self.split_groups = None
            self.train_examples, self.validation_examples, self.test_examples = split(
                examples, *fractions
            )
            return
        groups = grouped.groups[: len(examples)]
        names = dict(zip(("train", "validation", "test"), split_groups(groups, *fractions)))
        part_of = {group: part for part, members in names.items() for group in members}
        parts = {part: [] for part in names}
        for example, group in zip(examples, groups):
            parts[part_of[group]].append(example)
        for offset, part in enumerate(parts.values()):  # a part's order is not its groups'
            random.Random(self.seed + offset).shuffle(part)
        self.train_examples, self.validation_examples, self.test_examples = parts.values()
        self.split_groups = {"by": grouped.group_name, **names}

    def check_recipe(self):
        """Refuse the recipe values this task cannot train with, before any
        data is read or anything written: a `data.max_length` shorter than its
        preprocessor takes, and a `data.tokenizer` or `data.vocabulary_size`
        that the tokenizer it learns cannot take (`_check_tokenizer_config`).

        Raises:
            RecipeError: naming the key, the value received and what is expected.
        """
        length = self.data_config.max_length
        if length < self.smallest_max_length:
            raise RecipeError(
                f"`data.max_length` must be at least {self.smallest_max_length} for a {self.kind} "
                f"task ({self.smallest_max_length_reason}). Received: data.max_length={length}"
            )
        self._check_tokenizer_config()

    def _check_tokenizer_config(self):
        """Refuse a `data.tokenizer` that is neither a kind to learn nor a
        saved tokenizer, and a vocabulary too small for the kind learned,
        before anything is written."""
        config = self.data_config
        given = config.tokenizer
        if given is not None and given not in data.LEARNABLE_TOKENIZERS:
            if not Path(given).exists():
                kinds = " or ".join(repr(kind) for kind in data.LEARNABLE_TOKENIZERS)
                raise RecipeError(
                    f"`data.tokenizer` must be {kinds} (learn one of that kind) or the path of a "
                    f"saved tokenizer directory or SentencePiece model file. Received: "
                    f"data.tokenizer={given!r}, which is neither"
                )
            return
        if self.recipe.model.init_from is not None:
            return  # the run's tokenizers are used
        learned = data.LEARNABLE_TOKENIZERS[given or self.tokenizer_kind]
        smallest = learned.smallest_vocabulary_size
        if config.vocabulary_size < smallest:
            raise RecipeError(
                f"`data.vocabulary_size` must be at least {smallest} for a {learned.kind} "
                f"tokenizer (its special pieces{' and 256 byte pieces' if smallest > 256 else ''} "
                f"plus one learned piece). Received: data.vocabulary_size={config.vocabulary_size}"
            )

    def tokenizer_texts(self) -> dict[str, list[str]]:
        """Texts to learn each tokenizer from (training split only)."""
        raise NotImplementedError

    def prepare_tokenizers(self, run_dir: Path, show_progress: bool = True, reuse: bool = False):
        """Learn (or load) the tokenizers and save them in `run_dir`.

        With `reuse` (a resumed run) the tokenizers already in `run_dir` are
        loaded, so the resumed model sees the same ids. With `model.init_from`
        they are that run's (`data.vocabulary_size` and `data.lower_case` do
        not apply): its weights learned its ids.
        """
        config = self.data_config
        initial = self.init_tokenizers()
        for name, texts in self.tokenizer_texts().items():
            directory = run_dir / name
            if reuse and (directory / "tokenizer.json").exists():
                self.tokenizers[name] = data.load_tokenizer(directory)
                continue
            if initial:
                tokenizer = initial[name]
            elif config.tokenizer is not None and config.tokenizer not in data.LEARNABLE_TOKENIZERS:
                tokenizer = _load_given_tokenizer(config.tokenizer)
            else:
                kind = config.tokenizer or self.tokenizer_kind
                tokenizer = data.LEARNABLE_TOKENIZERS[kind].train(
                    texts,
                    vocabulary_size=config.vocabulary_size,
                    lower_case=config.lower_case,
                    show_progress=show_progress,
                )
            tokenizer.save(directory)
            self.tokenizers[name] = tokenizer

    def init_run(self) -> InitialRun | None:
        """The run `model.init_from` names (opened once), or None."""
        path = self.recipe.model.init_from
        if path is None:
            return None
        if getattr(self.__dict__.get("_init_run"), "path", None) != path:
            self._init_run = InitialRun(path)
        return self._init_run

    def init_tokenizers(self) -> dict:
        """`{name: tokenizer}` of the `model.init_from` run ({} without one).

        Raises:
            ValueError: when the run lacks a tokenizer this task needs, or
                `data.tokenizer` names another tokenizer.
        """
        run = self.init_run()
        if run is None:
            return {}
        tokenizers = {name: run.tokenizer(name) for name in self.tokenizer_texts()}
        given = self.data_config.tokenizer
        if given in data.LEARNABLE_TOKENIZERS:
            raise ValueError(
                f"`data.tokenizer` {given!r} asks to learn a tokenizer, but `model.init_from` "
                f"{run.describe()} brings its own, whose ids its weights learned. Leave "
                "`data.tokenizer` out: the run's tokenizer is used."
            )
        if given is not None and not all(
            same_tokenizer(_load_given_tokenizer(given), tokenizer) for tokenizer in tokenizers.values()
        ):
            raise ValueError(
                f"`data.tokenizer` {given!r} is not the tokenizer of `model.init_from` "
                f"{run.describe()}, whose weights learned that run's ids. Leave "
                "`data.tokenizer` out: the run's tokenizer is used."
            )
        return tokenizers

    def check_init_from(self):
        """Refuse a `model.init_from` that cannot initialise this task's model
        (not a run, another architecture, width or vocabulary, another
        tokenizer) before anything is written. Call after `load_data`."""
        if self.init_run() is None:
            return
        self.tokenizers = self.init_tokenizers()
        self.build_model()

    def load_tokenizers(self, run_dir: Path):
        for name in self.tokenizer_directories:
            self.tokenizers[name] = data.load_tokenizer(run_dir / name)

    @property
    def preprocessor(self):
        """The task's preprocessor (`make_preprocessor`) for its current
        tokenizers: one object for the pipeline, evaluation, attention plots
        and the export."""
        key = tuple(id(tokenizer) for tokenizer in self.tokenizers.values())
        if self.__dict__.get("_preprocessor_key") != key:
            self._preprocessor = self.make_preprocessor()
            self._preprocessor_key = key
        return self._preprocessor

    def make_preprocessor(self):
        """A new preprocessor (`keras_attention.data.preprocessors`) for the tokenizers."""
        raise NotImplementedError

    @property
    def tokenizer(self):
        """The task's tokenizer (tasks with one)."""
        return self.tokenizers["tokenizer"]

    def dataset(self, examples: list, shuffle: bool, start: int = 0) -> tf.data.Dataset:
        """One split's tf.data pipeline: with `shuffle`, the training stream
        (endless passes over the examples, each shuffled, from its batch
        `start`), else one pass in order."""
        raise NotImplementedError

    def _batching(self, shuffle: bool, start: int = 0) -> dict:
        """The pipeline arguments every task shares."""
        return dict(batch_size=self.recipe.training.batch_size, shuffle=shuffle, seed=self.seed,
                    repeat=shuffle, start=start)

    def datasets(self, start: int = 0):
        """`(train, validation)` tf.data datasets (validation None when empty).

        The training data is an endless stream of passes over the training
        examples, each shuffled with the seed and its number and batched on
        its own, from its batch `start`: `fit` takes `steps_per_epoch()`
        batches an epoch, and a resumed run continues at the batch where it
        stopped (`training.callbacks.resume_batch`). The validation data is
        one pass, in order.
        """
        validation = (
            self.dataset(self.validation_examples, False) if self.validation_examples else None
        )
        return self.dataset(self.train_examples, True, start), validation

    def steps_per_epoch(self) -> int:
        """The batches of a training epoch: `training.steps_per_epoch`, else
        those of one pass over the training examples (counted: bucketed
        batches have no known number)."""
        training = self.recipe.training
        if training.steps_per_epoch is not None:
            return training.steps_per_epoch
        return count_batches(self.dataset(self.train_examples, False))

    def save_test_split(self, path: Path):
        """Write the test examples as JSON lines, atomically."""
        lines = "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in self.test_examples)
        write_text_atomically(path, lines)

    def load_test_split(self, path: Path):
        """Read back what `save_test_split` wrote (a run's own test split)."""
        self.source = self.data_config.source
        with Path(path).open(encoding="utf-8") as file:
            self.test_examples = [_example(json.loads(line)) for line in file if line.strip()]

    def test_split(self) -> list:
        """The test examples evaluation scores (at most `evaluation.max_examples`)."""
        examples = self.test_examples[: self.recipe.evaluation.max_examples]
        if not examples:
            raise ValueError("No test examples: set `data.test_fraction` > 0.")
        return examples

    # --- model ------------------------------------------------------------

    def model_arguments(self) -> dict:
        """The model's data-derived arguments (vocabulary sizes, lengths)."""
        raise NotImplementedError

    def build_model(self, overrides: dict | None = None, log=None) -> keras.Model:
        """The recipe's preset with the data-derived arguments, then the
        recipe's `model.overrides`, then `overrides` (a tuner's values); its
        weights from the `model.init_from` run when there is one (`log`
        hears how many)."""
        model = self.recipe.model
        arguments = {**self.model_arguments(), **self.model_overrides(), **(overrides or {})}
        try:
            built = self.model_class().from_preset(model.preset, **arguments)
        except ValueError as error:
            raise ValueError(
                f"The recipe's model (preset {model.preset!r}, `model.overrides` "
                f"{model.overrides!r}) is invalid: {error}"
            ) from None
        run = self.init_run()
        if run is not None:
            try:
                loaded, fresh = initialize(built, run, self.head_layers, self.keeps_head(run))
            except ValueError as error:
                derived = self.model_arguments()
                conflicts = [
                    f"`model.overrides.{key}` is {value!r}, not {derived[key]!r} as the data of "
                    f"`model.init_from` {run.describe()} (its tokenizer, its model) gives it"
                    for key, value in self.model_overrides().items()
                    if key in derived and value != derived[key]
                ]
                if not conflicts:
                    raise
                raise ValueError(f"{'; '.join(conflicts)}: leave it out. {error}") from None
            if log is not None:
                log(
                    f"Initialised {loaded} of {len(built.weights)} weight tensors from "
                    f"`model.init_from` {run.describe()}"
                    + (f"; initialised afresh: {', '.join(fresh)}" if fresh else "")
                )
        return built

    def keeps_head(self, run: InitialRun) -> bool:
        """Whether the `model.init_from` run's `head_layers` weights mean the
        same here (a classifier's: the same labels)."""
        return True

    def model_class(self) -> type:
        """The class `build_model` builds (the preset class unless a head wraps it)."""
        return self.preset_class

    def loss(self, model: keras.Model | None = None):
        """The training loss of `model` (a task whose padding is the model's
        configuration reads it there; here the pad id is 0)."""
        return MaskedSparseCategoricalCrossentropy(
            label_smoothing=self.recipe.training.label_smoothing
        )

    def metrics(self, model: keras.Model | None = None):
        """The metrics `fit` reports for `model` (as `loss`)."""
        return [MaskedAccuracy()]

    def model_width(self, model) -> int:
        return getattr(model, "hidden_dim", None) or model.encoder.hidden_dim

    # --- tuning -----------------------------------------------------------

    # Which architecture choices a search may make for this task's model.
    searches_normalization = True
    searches_position = True

    def tuned_arguments(self, values: dict) -> dict:
        """Model arguments for a tuner's sampled `values` (layers, width, heads...)."""
        arguments = {
            "num_layers": values["num_layers"],
            "hidden_dim": values["hidden_dim"],
            "num_heads": values["num_heads"],
            "intermediate_dim": values["hidden_dim"] * values["intermediate_multiplier"],
            "dropout": values["dropout"],
        }
        for searched in ("normalize_first", "position"):
            if searched in values:
                arguments[searched] = values[searched]
        return arguments

    # --- evaluation, inference, serving -------------------------------------

    def evaluate(self, model, log=print) -> dict:
        raise NotImplementedError

    def predict(self, model, texts: list[str]) -> list[str]:
        raise NotImplementedError

    def attention(self, model, text: str):
        """`(scores, query_tokens, key_tokens, title)` to draw for `text`."""
        raise NotImplementedError

    def serving_signatures(self, model) -> tuple[dict, list]:
        """`({name: (function, input_signature)}, [objects the export tracks])`:
        `serving_default` (text in, text out) and `token_ids_to_logits`."""
        raise NotImplementedError

    def serving_limits(self, model) -> list[str]:
        """What the export's model card lists under "Limits": lengths,
        vocabulary, truncation, output constraints (one sentence each)."""
        return [self._vocabulary_limit(name, tokenizer) for name, tokenizer in self.tokenizers.items()]

    @staticmethod
    def _vocabulary_limit(name: str, tokenizer) -> str:
        lower = getattr(tokenizer, "lower_case", None)
        lowered = "lower-cased" if tokenizer.kind == "sentencepiece" else "lower-cased and accent-stripped"
        case = {True: f", {lowered}", False: ", case kept"}.get(lower, "")
        pad_id = getattr(tokenizer, "pad_id", 0)
        padding = "no id being padding" if pad_id is None else f"{pad_id} being padding"
        if getattr(tokenizer, "byte_fallback", False):
            unknown = "a character it did not learn is spelt in UTF-8 bytes, never [UNK]"
        elif getattr(tokenizer, "unk_id", 0) is not None:
            unknown = "words it cannot spell become [UNK]"
        else:
            unknown = "text is spelt in bytes (a byte the vocabulary lacks is dropped)"
        return (f"Vocabulary ({name}): {tokenizer.vocabulary_size:,} {type(tokenizer).__name__} "
                f"tokens{case}; {unknown}. `token_ids_to_logits` takes ids "
                f"in [0, {tokenizer.vocabulary_size}), {padding}.")


class TextTask(Task):
    """A task whose examples are plain texts, one tokenizer learned from them."""

    embedded = {"embedded:docstrings": lambda task: data.python_docstrings()}

    def read_file(self, path):
        texts, self.report = data.read_text(path, strict=self.data_config.strict)
        return texts

    def tokenizer_texts(self):
        return {"tokenizer": list(self.train_examples)}
