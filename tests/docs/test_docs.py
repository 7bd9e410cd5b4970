"""The docs cannot rot: every code block of README.md and docs/ is run or checked.

* ```python blocks run, in order, one namespace per page;
* ```bash blocks: every `keras-attention ...` command is parsed by the real
  command-line parser here, and runs as written in test_docs_commands.py;
* ```toml blocks parse, and recipe fragments validate;
* `mkdocs build --strict` builds the site, API reference included.
"""

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from keras_attention.cli import build_parser
from keras_attention.training.recipe import validate_recipe

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(page, language):
    return [code for lang, code in BLOCK.findall(page.read_text()) if lang == language]


def _ids(pages):
    return [str(page.relative_to(ROOT)) for page in pages]


PYTHON_PAGES = [page for page in PAGES if _blocks(page, "python")]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_ids(PYTHON_PAGES))
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for number, code in enumerate(_blocks(page, "python"), 1):
        try:
            exec(compile(code, f"{page.name}[block {number}]", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{page.name}, python block {number} failed: {error!r}\n{code}") from error


def _commands(code):
    joined = code.replace("\\\n", " ")
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        while words and "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]  # VARIABLE=value prefixes
        if words and words[0].endswith("keras-attention"):
            yield words[1:]


BASH_PAGES = [page for page in PAGES if any(_commands(code) for code in _blocks(page, "bash"))]


@pytest.mark.parametrize("page", BASH_PAGES, ids=_ids(BASH_PAGES))
def test_shell_commands_parse(page):
    parser = build_parser()
    for code in _blocks(page, "bash"):
        for arguments in _commands(code):
            try:
                parser.parse_args(arguments)
            except SystemExit:
                raise AssertionError(f"{page.name}: `keras-attention {' '.join(arguments)}` does not parse")


TOML_PAGES = [page for page in PAGES if _blocks(page, "toml")]


@pytest.mark.parametrize("page", TOML_PAGES, ids=_ids(TOML_PAGES))
def test_toml_blocks_parse_and_recipes_validate(page):
    for code in _blocks(page, "toml"):
        parsed = tomllib.loads(code)
        if "recipe" not in parsed:  # a recipe (fragment), not a search spec
            validate_recipe(parsed)


@pytest.mark.slow
def test_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
