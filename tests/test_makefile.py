"""The README's two commands install what each needs: `make run` the package
alone, `make test` the test and docs tools on top (read with `make -n`, which
prints the recipe without running it)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _recipe(target: str) -> list[str]:
    # Under `make test` the outer make's flags would make this one print
    # "Entering directory" lines: run it as a user would, from a clean environment.
    environment = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "-n", "-B", target], cwd=ROOT,
                            capture_output=True, text=True, check=True, env=environment)
    return result.stdout.splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_the_package_without_test_or_docs_tools():
    lines = _recipe("run")
    installs = [line for line in lines if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [".venv/bin/python -m pip install --quiet -e ."]
    assert lines[-1].endswith("keras-attention train models/dates.toml --out runs/dates")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_installs_the_test_and_docs_extras_before_running_pytest():
    lines = _recipe("test")
    extras = [i for i, line in enumerate(lines) if '-e ".[test,docs]"' in line]
    pytest_line = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert extras and extras[0] < pytest_line
