"""Every benchmark script imports: what it uses from the library still exists.

The benchmarks run for minutes and are not run by the tests; a refactor that
moves a function they import would otherwise only show when someone next runs
one (`benchmarks/quality.py` failed at import for a while that way).
"""

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def test_there_are_benchmarks():
    assert len(BENCHMARKS) >= 9, [path.name for path in BENCHMARKS]


@pytest.mark.parametrize("path", BENCHMARKS, ids=[path.stem for path in BENCHMARKS])
def test_benchmark_imports_and_has_a_main(path):
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the module level only: `main()` is not run
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"
