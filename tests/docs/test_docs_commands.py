"""The documentation's shell commands, run as written.

Every command of every ```bash block in README.md and docs/ runs verbatim in one
workspace laid out like a checkout: the Makefile, `.venv/bin`, `benchmarks/`,
`models/` and `tuning/`. Only the recipes and search specs there are tiny versions of the
shipped ones (tests/tiny.py), so `make run` and `keras-attention train
models/dates.toml` take seconds instead of minutes; likewise the benchmarks'
default tensor sizes (tests/tiny.py's TINY_BENCHMARKS). Pages run in reading order,
the README first, as a user would follow them.

A few commands cannot run on a test machine; they are listed in NOT_RUN with
the reason and where the same thing is tested instead. A command that starts a
server (`keras-attention serve`) runs in the background until its page is done.
A command that an earlier page already ran, word for word, in the same
workspace (`make run` in README.md and docs/index.md) is not run again.
"""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tiny import tiny_benchmark, tiny_recipe, tiny_spec

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOCUMENTED_PORT = "8501"

NOT_RUN = {
    "make test": "it is the suite this test runs in",
    "docker run": "needs Docker and the tensorflow/serving image; tests/export serves the same "
    "SavedModel with `saved_model_cli` and `keras-attention serve`",
    "TF_CONFIG=": "it names two other hosts; tests/training/test_run.py runs the same command "
    "as two workers on 127.0.0.1",
}
BACKGROUND = (".venv/bin/keras-attention serve", "keras-attention serve")


def commands(page: Path) -> list[str]:
    """The page's shell commands, continuation lines joined, comments dropped."""
    found = []
    for block in BLOCK.findall(page.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            if shlex.split(line, comments=True):  # not blank, not only a comment
                found.append(line.strip())
    return found


def _reason_not_run(command: str) -> str | None:
    for prefix, reason in NOT_RUN.items():
        if command.startswith(prefix):
            return reason
    return None


RUN_PAGES = [page for page in PAGES if commands(page)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A checkout-shaped directory whose recipes and search specs are tiny."""
    root = tmp_path_factory.mktemp("checkout")
    for name in ("Makefile", "setup.cfg", "pyproject.toml"):
        shutil.copy(ROOT / name, root / name)
        os.utime(root / name, (0, 0))  # older than the install stamp: `make` installs nothing
    # The suite's own environment, seen as this checkout's `.venv` (its own
    # install stamp, so `make` never installs into the real one).
    venv = root / ".venv"
    venv.mkdir()
    for entry in Path(sys.prefix).iterdir():
        if entry.name == "pyvenv.cfg":
            shutil.copy(entry, venv / entry.name)
        elif entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()
    shutil.copytree(ROOT / "benchmarks", root / "benchmarks")
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        (root / "benchmarks" / path.name).write_text(tiny_benchmark(path))
    for folder, shrink in (("models", tiny_recipe), ("tuning", tiny_spec)):
        (root / folder).mkdir()
        for path in sorted((ROOT / folder).glob("*.toml")):
            (root / folder / path.name).write_text(shrink(path))

    from keras_attention.data import date_pairs

    # The translation guide's "your own corpus" file.
    pairs = date_pairs(300, seed=3)
    (root / "my_corpus.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    return root


@pytest.fixture(scope="module")
def already_run():
    """`{command words: page}` of the commands that ran in the module's workspace."""
    return {}


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _wait_for_port(port: str, server: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited early:\n{server.stdout.read()[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", int(port))) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"nothing listened on port {port} after {timeout} s")


RUN_FILES = ("model.keras", "metrics.json", "recipe.toml", "history.csv", "training_curves.png")


def _trained_recipe(command: str) -> str | None:
    words = shlex.split(command, comments=True)
    if len(words) > 2 and words[0].endswith("keras-attention") and words[1] == "train":
        return words[2]
    return None


def _check_output(command: str, output: str, workspace: Path) -> None:
    if _trained_recipe(command):
        words = shlex.split(command, comments=True)
        out = words[words.index("--out") + 1] if "--out" in words else f"runs/{Path(words[2]).stem}"
        for name in RUN_FILES:
            assert (workspace / out / name).is_file(), f"`{command}` wrote no {out}/{name}"
        assert json.loads((workspace / out / "metrics.json").read_text())
    if command.startswith("curl"):
        reply = json.loads(output)  # the REST API answers JSON, never an error here
        assert "error" not in reply, reply
        if ":predict" in command:
            assert reply.get("predictions") or reply.get("outputs"), reply


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p.relative_to(ROOT)) for p in RUN_PAGES])
def test_documented_commands_run(page, workspace, already_run):
    env = {
        **os.environ,
        "PATH": f"{workspace / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    port = _free_port()
    servers = []
    ran, repeated = 0, []
    try:
        for command in commands(page):
            if _reason_not_run(command):
                continue
            if command.startswith("curl") and shutil.which("curl") is None:
                pytest.skip("curl is not installed")
            command = command.replace(DOCUMENTED_PORT, port)
            words = tuple(shlex.split(command, comments=True))
            if already_run.get(words, page) != page:
                repeated.append(f"`{command}` ({already_run[words].name})")
                continue  # an earlier page ran it as written, here (a page repeats its own)
            ran += 1
            if command.startswith(BACKGROUND):
                server = subprocess.Popen(
                    command, shell=True, cwd=workspace, env=env, text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                )
                servers.append(server)
                _wait_for_port(port, server)
                continue
            result = subprocess.run(
                command, shell=True, executable="/bin/bash", cwd=workspace, env=env,
                capture_output=True, text=True, timeout=900,
            )
            assert result.returncode == 0, (
                f"{page.name}: `{command}` failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
            _check_output(command, result.stdout, workspace)
            already_run.setdefault(words, page)
    finally:
        for server in servers:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
    if not ran and repeated:
        pytest.skip("every command ran on an earlier page: " + ", ".join(repeated))


def test_every_command_that_is_not_run_says_why():
    skipped = [c for page in PAGES for c in commands(page) if _reason_not_run(c)]
    assert skipped, "NOT_RUN lists commands that no page has any more"
    for prefix in NOT_RUN:
        assert any(c.startswith(prefix) for c in skipped), f"no page runs `{prefix}` any more"


def test_the_docs_train_every_shipped_recipe():
    trained = {
        Path(recipe).name for page in PAGES for command in commands(page)
        if (recipe := _trained_recipe(command)) and not _reason_not_run(command)
    }
    shipped = {path.name for path in (ROOT / "models").glob("*.toml")}
    assert shipped <= trained, f"no documented command trains {sorted(shipped - trained)}"
