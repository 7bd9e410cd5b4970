"""Every module imports on its own, and no module imports another that imports it back."""

import ast
import importlib.util
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "keras_attention"
# `find_spec` locates the package without running its `__init__`.
PACKAGE_DIR = Path(importlib.util.find_spec(PACKAGE).origin).parent

# Runs in a fresh interpreter: imports each module named in argv[1] after
# forgetting every module of the package, so each import runs exactly what
# `python -c "import keras_attention.X"` runs of the package's own code
# (third-party libraries stay loaded; they are not what is checked here).
_IMPORT_EACH_ON_ITS_OWN = """
import importlib, json, sys, traceback

names, report = json.loads(sys.argv[1]), sys.argv[2]
failures = {}
for name in names:
    for loaded in [m for m in sys.modules if m.split(".")[0] == "keras_attention"]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failures[name] = traceback.format_exc(limit=-4)
with open(report, "w") as file:
    json.dump(failures, file)
"""


def package_modules(directory=PACKAGE_DIR, prefix=PACKAGE) -> dict:
    """Module name -> source file for the package and everything under it."""
    modules = {prefix: directory / "__init__.py"}
    for module in pkgutil.iter_modules([str(directory)]):
        name = f"{prefix}.{module.name}"
        if module.ispkg:
            modules.update(package_modules(directory / module.name, name))
        else:
            modules[name] = directory / f"{module.name}.py"
    return modules


def imported_modules(name: str, path: Path, modules: dict) -> set:
    """The package modules that `name` imports, at module level or in any function.

    `import a.b` and `from a import b` (b a submodule) point at module `a.b`;
    `from a import f` (f a name) points at `a` itself, the package's
    `__init__`. The packages above an imported module run too, but they are
    not counted: every module would otherwise depend on `keras_attention`'s
    `__init__`, which imports the subpackages, and the check would mean
    nothing.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = node.module
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                origin = f"{base}.{node.module}" if node.module else base
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                for alias in node.names
            ]
        else:
            continue
        imported.update(target for target in targets if target in modules)
    imported.discard(name)
    return imported


def strongly_connected_components(graph: dict) -> list:
    """Tarjan's algorithm: the sets of nodes that all reach each other."""
    index, lowlink, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                lowlink[node] = min(lowlink[node], lowlink[successor])
            elif successor in on_stack:
                lowlink[node] = min(lowlink[node], index[successor])
        if lowlink[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def shortest_cycle(graph: dict, component: set) -> list:
    """A shortest import cycle through the first module of `component`."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for successor in sorted(graph[node] & component):
                if successor == start:
                    return paths[node] + [start]
                if successor not in paths:
                    paths[successor] = paths[node] + [successor]
                    next_frontier.append(successor)
        frontier = next_frontier
    raise AssertionError(f"No cycle through {start} in {sorted(component)}")


def test_package_modules_are_found():
    modules = package_modules()
    assert {PACKAGE, f"{PACKAGE}.data.tokenizer", f"{PACKAGE}.models.bert_encoder"} <= set(
        modules
    )
    assert all(path.is_file() for path in modules.values())


def test_every_module_imports_on_its_own(tmp_path):
    names = sorted(package_modules())
    report = tmp_path / "failures.json"
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_ON_ITS_OWN, json.dumps(names), str(report)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    failures = json.loads(report.read_text())
    assert not failures, "Modules that fail to import on their own:\n" + "\n".join(
        f"{name}:\n{error}" for name, error in failures.items()
    )


def test_import_graph_finds_package_and_submodule_imports(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "import a.b\n"
        "from a import c, f\n"
        "from . import d\n"
        "from ..e import g\n"
        "def later():\n"
        "    from a.x import h\n"
    )
    modules = {name: None for name in ("a", "a.b", "a.c", "a.x", "a.x.d", "a.x.e", "a.e")}
    assert imported_modules("a.x.module", source, modules) == {
        "a", "a.b", "a.c", "a.e", "a.x", "a.x.d"
    }
    graph = {"a": {"a.b"}, "a.b": {"a.c"}, "a.c": {"a"}, "a.x": {"a"}}
    components = [c for c in strongly_connected_components(graph) if len(c) > 1]
    assert components == [{"a", "a.b", "a.c"}]
    assert shortest_cycle(graph, components[0]) == ["a", "a.b", "a.c", "a"]


def test_no_import_cycles():
    modules = package_modules()
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    cycles = [
        " -> ".join(shortest_cycle(graph, component))
        + f"  (all of {sorted(component)})"
        for component in strongly_connected_components(graph)
        if len(component) > 1
    ]
    assert not cycles, "Modules that import each other round a circle:\n" + "\n".join(cycles)


_REGISTERED_BY_IMPORT = """
import importlib, json, sys
import keras
import keras_attention

def registered():
    return sorted(name for name in keras.saving.get_custom_objects() if name.startswith("keras_attention>"))

on_import = registered()
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps({"on_import": on_import, "everything": registered()}))
"""


def test_import_keras_attention_registers_every_serializable_object():
    """`keras.saving.load_model` of a run's model.keras needs its schedule,
    loss, metric and optimizer classes registered: `import keras_attention`
    registers every class the package registers anywhere (not only once
    `keras_attention.training` happens to be imported)."""
    names = sorted(package_modules())
    result = subprocess.run(
        [sys.executable, "-c", _REGISTERED_BY_IMPORT, json.dumps(names)],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    registered = json.loads(result.stdout.strip().splitlines()[-1])
    assert "keras_attention>TransformerSchedule" in registered["everything"]
    assert sorted(set(registered["everything"]) - set(registered["on_import"])) == []
