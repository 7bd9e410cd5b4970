"""What the documentation names exists and says what the code does: the
Dockerfile installs every module and mounts an export as the server reads it,
the README's dependency bounds are setup.cfg's, every `Run` method the docs
name is one, and a public constructor's signature changes only with a
CHANGELOG entry (tests/reference/public_signatures.txt)."""

import configparser
import inspect
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
SIGNATURES = ROOT / "tests" / "reference" / "public_signatures.txt"


def _setup_options():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["options"]


def test_the_dockerfile_copies_everything_setup_cfg_installs():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copied = {word.rstrip("/") for line in dockerfile.splitlines() if line.startswith("COPY")
              for word in line.split()[1:-1]}
    installed = {"keras_attention", *(_setup_options().get("py_modules", "").split())}
    modules = {name if (ROOT / name).is_dir() else f"{name}.py" for name in installed}
    assert modules <= copied, f"deploy/Dockerfile does not COPY {sorted(modules - copied)}"


def test_the_dockerfiles_example_mounts_the_export_base_it_serves():
    # `docker run ... -v RUN/export:TARGET ... IMAGE PATH`: RUN/export holds
    # numeric versions, so TARGET must be the base the server is given (a
    # mount at PATH/1 would nest version 1 inside version 1).
    lines = [line.lstrip("# ").rstrip("\\ ") for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("docker run"))
    words = shlex.split(" ".join(lines[start : start + 2]))
    source, target = words[words.index("-v") + 1].split(":")[:2]
    served = next(word for word in words[words.index("keras-attention-serve") + 1 :] if word.startswith("/"))
    assert source.endswith("/export") and target == served


@pytest.mark.parametrize("package", ["tensorflow", "keras"])
def test_the_readmes_dependency_bounds_are_setup_cfgs(package):
    requirement = next(line.strip() for line in _setup_options()["install_requires"].splitlines()
                       if re.match(rf"{package}[<>=]", line.strip()))
    low, high = re.match(rf"{package}>=([\d.]+),<([\d.]+)", requirement).groups()
    readme = (ROOT / "README.md").read_text()
    name = {"tensorflow": "TensorFlow", "keras": "Keras"}[package]
    # TensorFlow is pinned to one minor version ("TensorFlow 2.21"), Keras is a range.
    stated = f"{name} {low}" if package == "tensorflow" else f"{name} >= {low}, < {high}"
    assert stated in readme, f"README.md should say {stated!r} (setup.cfg: {requirement})"


def test_every_run_method_the_docs_name_exists():
    from keras_attention.runs import Run

    attributes = set(inspect.signature(Run.__init__).parameters) - {"self"}
    for page in DOCS:
        for name in re.findall(r"\b[Rr]un\.([a-z_]+)\b", page.read_text()):
            if name == "py":  # "training/run.py", a file
                continue
            assert hasattr(Run, name) or name in attributes, f"{page.name} names Run.{name}"


def _public_signatures() -> str:
    import keras_attention.layers
    import keras_attention.models

    lines = []
    for module in (keras_attention.layers, keras_attention.models):
        for name in sorted(module.__all__):
            value = getattr(module, name)
            if inspect.isclass(value):
                lines.append(f"{module.__name__}.{name}{inspect.signature(value.__init__)}")
    return "\n".join(lines) + "\n"


def test_public_constructors_change_only_with_a_changelog_entry():
    current = _public_signatures()
    if SIGNATURES.read_text() != current:
        changed = sorted(set(current.splitlines()) ^ set(SIGNATURES.read_text().splitlines()))
        raise AssertionError(
            "A public layer's or model's constructor changed. Say so in CHANGELOG.md, then "
            f"record the new signatures in {SIGNATURES.relative_to(ROOT)}:\n" + "\n".join(changed)
        )
