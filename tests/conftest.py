import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


# `make test` hands whole files to its two workers (--dist loadfile) in the
# order collected here (--no-loadscope-reorder): the longest files first, then
# the other files with slow tests, then the rest, so that no long file starts
# last while the other worker has nothing left to do.
LONGEST_FILES = (
    "tests/docs/test_docs_commands.py",
    "tests/training/test_default_recipe.py",
    "tests/export/test_server.py",
    "tests/training/test_run.py",
    "tests/export/test_saved_model.py",
    "tests/tuning/test_search.py",
)


def pytest_collection_modifyitems(config, items):
    def path(item):
        return item.nodeid.split("::")[0]

    slow = {path(item) for item in items if item.get_closest_marker("slow")}

    def rank(item):
        if path(item) in LONGEST_FILES:
            return LONGEST_FILES.index(path(item))
        return len(LONGEST_FILES) + (path(item) not in slow)

    items.sort(key=rank)  # stable: a file's tests keep their order


# Seconds spent per test file (setup, call and teardown, fixtures included),
# summed on the controller as reports arrive, and the slowest files printed at
# the end of every run: where the suite's time goes, file by file.
_FILE_SECONDS: dict[str, float] = {}
_SLOWEST_FILES_SHOWN = 12


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("PYTEST_XDIST_WORKER") or not _FILE_SECONDS:
        return
    total = sum(_FILE_SECONDS.values())
    terminalreporter.section(f"slowest {_SLOWEST_FILES_SHOWN} files (of {len(_FILE_SECONDS)})")
    slowest = sorted(_FILE_SECONDS.items(), key=lambda item: -item[1])[:_SLOWEST_FILES_SHOWN]
    for path, seconds in slowest:
        terminalreporter.write_line(f"{seconds:8.1f} s  {100 * seconds / total:5.1f}%  {path}")
    terminalreporter.write_line(f"{total:8.1f} s  in all test files (summed over workers)")


@pytest.fixture(autouse=True)
def _seed_and_clean_state():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# Tiny runs of shipped recipes (`trained`): the export tests, the CLI's file
# commands (tests/test_runs.py) and anything else that only reads a run share them.
TINY_RUNS = {
    "dates": ["model.overrides={hidden_dim = 32, intermediate_dim = 64, num_heads = 2}",
              "data.num_examples=400", "data.vocabulary_size=400", "data.max_length=20"],
    # `NAME:variant` trains models/NAME.toml. With the paper's sinusoidal positions a
    # seq2seq model takes rows of any length: the server's --max-sequence-length bounds them.
    "dates:sinusoidal": [
        'model.overrides={hidden_dim = 32, intermediate_dim = 64, num_heads = 2, '
        'position = "sinusoidal", scale_embeddings = true}',
        "data.num_examples=400", "data.vocabulary_size=400", "data.max_length=20"],
    "gpt-mini": ["model.preset=gpt_tiny", "data.num_examples=200", "data.vocabulary_size=500",
                 "data.max_length=16", "evaluation.max_new_tokens=5"],
    "bert-topics": ["model.preset=bert_test", "data.num_examples=300", "data.vocabulary_size=300", "data.max_length=16"],
    "bert-mini": ["model.preset=bert_test", "data.num_examples=200", "data.vocabulary_size=300", "data.max_length=16"],
}
TINY_RUNS_COMMON = ["training.epochs=1", "training.steps_per_epoch=4", "training.batch_size=8",
                    "training.warmup_steps=10", "evaluation.max_examples=8", "evaluation.num_samples=1"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """`trained(recipe_name) -> (run_dir, task, model)`: a tiny run of `models/NAME.toml`.

    Each recipe is trained once per test session, even across xdist workers
    (the first worker to need it trains it under a lock; the others load it).
    The run directory is shared: copy it before changing anything in it.
    """
    import fcntl
    import json
    from pathlib import Path

    from keras_attention.runs import Run, train

    # Under xdist every worker has its own basetemp; their parent is this session's.
    root = tmp_path_factory.getbasetemp()
    root = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "trained-runs"
    root.mkdir(exist_ok=True)
    cache = {}

    def get(name):
        if name not in cache:
            out = root / name / "run"
            with open(root / f"{name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
                if not (root / name / "done").exists():
                    options = TINY_RUNS[name] + TINY_RUNS_COMMON
                    if name == "bert-topics":  # fine-tuned from the bert-mini run, as the recipe says
                        options = options + [f"model.init_from={json.dumps(str(get('bert-mini')[0]))}"]
                    recipe = Path(__file__).parents[1] / "models" / f"{name.split(':')[0]}.toml"
                    train(recipe, out, options, log=lambda *_: None)
                    (root / name / "done").touch()
            run = Run.load(out)
            cache[name] = (out, run.task, run.model)
        return cache[name]

    return get
