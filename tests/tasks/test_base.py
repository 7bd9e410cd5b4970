"""`Task` and `TextTask`: what every task shares (splitting, reading, tokenizers,
the test split on disk, overrides, tuning, limits), on a small `TextTask`."""

import json

import pytest

from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer, load_tokenizer
from keras_attention.models import GPTDecoder
from keras_attention.tasks import get_task, split, split_groups
from keras_attention.tasks.base import Task, TextTask
from keras_attention.training.recipe import validate_recipe

TEXTS = [f"text number {i}" for i in range(20)]


class Texts(TextTask):
    kind = "texts"
    preset_class = GPTDecoder
    embedded = {"embedded:numbers": lambda task: list(TEXTS)}

    def make_preprocessor(self):
        return object()


def _task(data=None, evaluation=None, overrides=None):
    return Texts(validate_recipe({
        "data": {"source": "embedded:numbers", **(data or {})},
        "model": {"preset": "gpt_tiny", "overrides": overrides or {}},
        "evaluation": evaluation or {},
    }))


def test_split_is_deterministic_and_complete():
    examples = list(range(100))
    train, validation, test = split(examples, 0.1, 0.2, seed=3)
    assert (len(train), len(validation), len(test)) == (70, 10, 20)
    assert sorted(train + validation + test) == examples
    assert split(examples, 0.1, 0.2, seed=3) == (train, validation, test)
    assert split(examples, 0.1, 0.2, seed=4) != (train, validation, test)


def test_split_that_leaves_nothing_to_train_on():
    with pytest.raises(ValueError, match="No training examples left"):
        split(list(range(4)), 0.5, 0.5, seed=0)


def test_load_data_reads_cuts_and_splits():
    task = _task({"num_examples": 10, "validation_fraction": 0.2, "test_fraction": 0.1})
    task.load_data()
    assert task.source == "embedded:numbers"
    assert (len(task.train_examples), len(task.validation_examples), len(task.test_examples)) == (7, 2, 1)
    assert sorted(task.train_examples + task.validation_examples + task.test_examples) == sorted(TEXTS[:10])


def test_an_unknown_embedded_source_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"'embedded:dates' is not available for task 'texts'.*\['embedded:numbers'\]"):
        _task().read_examples("embedded:dates")


def test_a_text_file_is_read_one_example_a_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"First line.\n\n  Second line.  \n\xff\n")
    task = _task({"source": str(path)})
    assert task.read_examples() == ["First line.", "Second line."]
    assert task.source == str(path) and len(task.report.malformed) == 1
    with pytest.raises(FileNotFoundError):
        task.read_examples(str(tmp_path / "missing.txt"))


def test_the_base_leaves_the_task_specific_parts_to_subclasses():
    task = Task.__new__(Task)  # no recipe: only the abstract methods are called
    for call in (lambda: task.read_file("x"), task.tokenizer_texts, task.make_preprocessor,
                 task.model_arguments, lambda: task.evaluate(None), lambda: task.predict(None, []),
                 lambda: task.serving_signatures(None), lambda: task.dataset([], False)):
        with pytest.raises(NotImplementedError):
            call()


def test_prepare_tokenizers_learns_from_the_training_split_and_reuses_a_saved_one(tmp_path):
    task = _task({"vocabulary_size": 40, "tokenizer": "wordpiece"})
    task.load_data()
    assert task.tokenizer_texts() == {"tokenizer": task.train_examples}
    task.prepare_tokenizers(tmp_path, show_progress=False)
    learned = task.tokenizer
    assert load_tokenizer(tmp_path / "tokenizer").vocabulary == learned.vocabulary

    # A resumed run loads what is there, whatever the recipe would learn now.
    saved = WordPieceTokenizer(RESERVED_TOKENS + ["text", "number"])
    saved.save(tmp_path / "tokenizer")
    task.prepare_tokenizers(tmp_path, show_progress=False, reuse=True)
    assert task.tokenizer.vocabulary == saved.vocabulary


def test_a_given_tokenizer_is_used_and_saved_into_the_run(tmp_path):
    given = WordPieceTokenizer(RESERVED_TOKENS + ["text", "number", "1"], lower_case=True)
    given.save(tmp_path / "given")
    task = _task({"tokenizer": str(tmp_path / "given")})
    task.load_data()
    task.prepare_tokenizers(tmp_path / "run", show_progress=False)
    assert task.tokenizer.vocabulary == given.vocabulary and task.tokenizer.lower_case
    assert load_tokenizer(tmp_path / "run" / "tokenizer").vocabulary == given.vocabulary


def test_the_preprocessor_is_made_once_per_set_of_tokenizers():
    task = _task()
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS)}
    first = task.preprocessor
    assert task.preprocessor is first
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS + ["a"])}
    assert task.preprocessor is not first


def test_the_test_split_round_trips_through_json_lines(tmp_path):
    task = get_task(validate_recipe({}))  # translation: examples are pairs
    task.test_examples = [("le 5 mars", "2024-03-05"), ("Noël \"quoted\"", "12-25")]
    task.save_test_split(tmp_path / "test.jsonl")
    lines = (tmp_path / "test.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [list(pair) for pair in task.test_examples]
    assert "Noël" in lines[1]  # written as UTF-8, not escaped
    loaded = get_task(validate_recipe({}))
    loaded.load_test_split(tmp_path / "test.jsonl")
    assert loaded.test_examples == task.test_examples  # pairs are tuples again
    assert loaded.source == "embedded:dates"


def test_test_split_is_capped_by_max_examples_and_never_empty():
    task = _task(evaluation={"max_examples": 2})
    task.test_examples = ["a", "b", "c"]
    assert task.test_split() == ["a", "b"]
    task.test_examples = []
    with pytest.raises(ValueError, match="No test examples: set `data.test_fraction` > 0"):
        task.test_split()


def test_unknown_model_override_is_refused_before_any_work():
    """A misspelt override names itself and the keys the model accepts."""
    with pytest.raises(ValueError, match="`model.overrides.hiden_dim` is not an argument of GPTDecoder.*hidden_dim"):
        _task(overrides={"hiden_dim": 32})


def test_build_model_applies_data_arguments_then_overrides_then_tuner_values():
    task = _task(overrides={"num_layers": 1, "hidden_dim": 16})
    task.model_arguments = lambda: {"vocabulary_size": 50, "max_sequence_length": 12, "num_layers": 3}
    model = task.build_model({"num_heads": 4})
    assert (model.vocabulary_size, model.max_sequence_length) == (50, 12)
    assert (model.num_layers, model.hidden_dim, model.num_heads) == (1, 16, 4)


def test_invalid_model_override_value_names_the_override():
    task = _task(overrides={"hidden_dim": -3})
    task.model_arguments = lambda: {"vocabulary_size": 50}
    with pytest.raises(ValueError, match="`model.overrides`.*`hidden_dim` must be a positive integer. Received: hidden_dim=-3"):
        task.build_model()


def test_tuned_arguments_derive_the_intermediate_width():
    values = {"num_layers": 2, "hidden_dim": 48, "num_heads": 4, "intermediate_multiplier": 3, "dropout": 0.1}
    assert _task().tuned_arguments(values) == {
        "num_layers": 2, "hidden_dim": 48, "num_heads": 4, "intermediate_dim": 144, "dropout": 0.1,
    }
    searched = _task().tuned_arguments({**values, "normalize_first": False, "position": "rotary"})
    assert (searched["normalize_first"], searched["position"]) == (False, "rotary")


def test_serving_limits_name_each_tokenizers_vocabulary():
    task = _task()
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS + ["a", "b"], lower_case=True)}
    assert task.serving_limits(model=None) == [
        "Vocabulary (tokenizer): 9 WordPieceTokenizer tokens, lower-cased and accent-stripped; "
        "words it cannot spell become [UNK]. `token_ids_to_logits` takes ids in [0, 9), 0 being padding."
    ]


def test_split_by_group_deals_out_whole_groups():
    groups = [f"m{i % 13}" for i in range(200)] + ["big"] * 40
    train, validation, test = split_groups(groups, 0.1, 0.2, seed=3)
    assert sorted(train + validation + test) == sorted(set(groups))
    assert not (set(train) & set(validation) or set(train) & set(test) or set(validation) & set(test))
    held = {name: sum(group in part for group in groups) for name, part in
            (("validation", validation), ("test", test))}
    # Each part reaches its share and overshoots it by less than one group (at most 40 examples).
    assert 24 <= held["validation"] < 24 + 40 and 48 <= held["test"] < 48 + 40
    assert split_groups(groups, 0.1, 0.2, seed=3) == (train, validation, test)
    assert split_groups(groups, 0.1, 0.2, seed=4) != (train, validation, test)
    with pytest.raises(ValueError, match="No training examples left after the split by group"):
        split_groups(["a", "a", "b"], 0.4, 0.4, seed=0)


def test_docstring_summaries_are_split_by_module():
    """No module has docstrings in two of train, validation and test: read
    each example's module back from the dataset."""
    from keras_attention.data import docstring_summaries

    recipe = validate_recipe({"data": {"source": "embedded:docstring_summaries",
                                       "validation_fraction": 0.1, "test_fraction": 0.15}})
    task = get_task(recipe)
    task.load_data()
    pairs, modules = docstring_summaries()
    module_of = dict(zip(pairs, modules))
    found = {
        part: {module_of[example] for example in examples}
        for part, examples in (("train", task.train_examples), ("validation", task.validation_examples),
                               ("test", task.test_examples))
    }
    assert all(found.values())
    assert not (found["train"] & found["test"] or found["train"] & found["validation"]
                or found["validation"] & found["test"])
    assert task.split_groups == {"by": "module", **{part: sorted(names) for part, names in found.items()}}
    assert sum(map(len, (task.train_examples, task.validation_examples, task.test_examples))) == len(pairs)
    assert round(0.15 * len(pairs)) <= len(task.test_examples) < 0.3 * len(pairs)
    again = get_task(recipe)
    again.load_data()
    assert again.test_examples == task.test_examples and again.train_examples == task.train_examples
