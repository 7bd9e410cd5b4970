"""Export a trained run as a SavedModel that serves text in, text out.

Tokenization, decoding and detokenization run inside one graph, so the
SavedModel needs only TensorFlow and tensorflow-text (for its tokenizer ops) —
never this package. Every signature has an explicit input signature: no shape
is frozen from a first call.

Each task (`keras_attention.tasks`) declares its signatures in
`serving_signatures`:

| task | `serving_default` inputs | outputs |
|---|---|---|
| translation | `text` string `(batch,)` | `translation` string, `score` float32, `truncated` bool, `valid` bool |
| language_model | `prompt` string, `max_new_tokens` int32, `temperature` float32, `top_k` int32, `top_p` float32, all `(batch,)` | `text` string, `truncated` bool |
| classification | `text` string `(batch,)` | `probabilities` float32 `(batch, classes)`, `label` string, `truncated` bool |
| masked_lm (an encoder) | `text` string `(batch,)` | `pooled_output` float32 `(batch, hidden)`, `truncated` bool |

plus `token_ids_to_logits`, from the model's integer inputs (pad id 0) to its
logits. Texts longer than the model's maximum length are truncated, and
`truncated` says which were. An empty text translates to "". A translation
recipe with `evaluation.output_constraint` answers with the best beam that
satisfies it, or "" with `valid` false when none does (never a made-up answer).
The language model decodes each row with its own settings through the same
sampling code as `GPTDecoder.generate` (temperature 0 is greedy, top_k 0 and
top_p 1 turn those filters off).

Exports are versioned as TF Serving expects: `export_task(..., path)` writes
the next version of the base directory `path`, `path/N` with `N` one more
than its highest numeric version (1 in a new or empty base), atomically, and
keeps the older versions; TF Serving and `keras-attention serve` serve the
newest. A base may hold only numeric version directories (each a SavedModel,
ours or another tool's) and hidden entries; anything else there, a file, a
link or a run directory is refused, never changed, and so is a version
directory (`base/N`, or anything inside a SavedModel): the next version goes
into the base. Each version carries `assets/keras_attention_export.json` (the
marker: library, version, task, the model card's facts and `files`, the size
and SHA-256 of every other file of the export) and `assets/model_card.md`
(`keras_attention.export.model_card`). `overwrite` replaces only an
unversioned export whose marker lists every file in it, unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras

from keras_attention._version import __version__
from keras_attention._files import remove_stale_scratch, scratch_path
from keras_attention.export.model_card import model_card_facts, render_model_card

__all__ = [
    "MARKER", "MODEL_CARD", "add_version", "check_export_base", "export_files", "export_task",
    "export_versions",
]


MARKER = Path("assets") / "keras_attention_export.json"
MODEL_CARD = Path("assets") / "model_card.md"
# The scratch directory of a version being written: `BASE/.version.partial-PID-RANDOM`.
_SCRATCH = "version"


def _is_saved_model(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and (path / "saved_model.pb").is_file()


def _is_version_name(name: str) -> bool:
    """Whether `name` is a version number as TF Serving reads one (ASCII digits)."""
    return name.isascii() and name.isdigit()


def export_versions(base: str | Path) -> dict[int, Path]:
    """`{version: directory}` of the numeric SavedModel directories in `base`."""
    base = Path(base)
    if not base.is_dir():
        return {}
    return {
        int(entry.name): entry for entry in base.iterdir()
        if _is_version_name(entry.name) and _is_saved_model(entry)
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_files(directory: str | Path) -> dict[str, dict]:
    """`{path: {"size": bytes, "sha256": hex digest}}` of every file in the
    export `directory` but its marker, paths relative and `/`-separated: what
    the marker lists, so that an export can be told apart from files of others."""
    directory = Path(directory)
    return {
        file.relative_to(directory).as_posix(): {"size": file.stat().st_size, "sha256": _sha256(file)}
        for file in sorted(directory.rglob("*"))
        if file.is_file() and not file.is_symlink() and file.relative_to(directory) != MARKER
    }


def _listed(items: list[str]) -> str:
    return ", ".join(items[:5]) + (", ..." if len(items) > 5 else "")


def _unlisted(path: Path) -> str | None:
    """Why the export in `path` is not wholly this library's, or None when its
    marker lists every file in it, each of the size and SHA-256 it lists, and
    nothing else is there (no other file, directory or link)."""
    try:
        marker = json.loads((path / MARKER).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return f"its {MARKER.as_posix()} cannot be read as JSON"
    files = marker.get("files") if isinstance(marker, dict) else None
    if not isinstance(files, dict) or not all(isinstance(entry, dict) for entry in files.values()):
        version = marker.get("version", "unknown") if isinstance(marker, dict) else "unknown"
        return (f"its {MARKER.as_posix()} (keras-attention {version}) does not list the export's files, "
                "so files of yours in it cannot be told apart from the export's")
    directories = {parent.as_posix() for name in files for parent in Path(name).parents} - {"."}
    others, changed = [], []
    for entry in sorted(path.rglob("*")):
        name = entry.relative_to(path).as_posix()
        if entry.is_symlink() or (entry.is_dir() and name not in directories) or (
            not entry.is_dir() and name not in files and entry.relative_to(path) != MARKER
        ):
            others.append(name)
    for name, listed in files.items():
        file = path / name
        if not file.is_file() or file.is_symlink():
            if name not in others:
                changed.append(f"{name} (missing)")
        elif file.stat().st_size != listed.get("size") or _sha256(file) != listed.get("sha256"):
            changed.append(f"{name} (changed since the export)")
    reasons = []
    if others:
        reasons.append(f"it holds {_listed(others)}, which its marker does not list")
    if changed:
        reasons.append(f"its marker's files differ: {_listed(changed)}")
    return "; ".join(reasons) or None


def _base_hint(base: Path) -> str:
    return (f"To add the next version, export into the base directory: --out {base} (or choose a "
            "new --out).")


def _check_not_a_version(path: Path) -> None:
    """Refuse a version directory of a base, existing or not, and anything
    inside a SavedModel: an export never replaces or writes into a version."""
    enclosing = next((parent for parent in path.absolute().parents if _is_saved_model(parent)), None)
    if enclosing is not None:
        raise FileExistsError(
            f"Refusing to export into {path}: it is inside the SavedModel {enclosing}, which an "
            f"export never changes. {_base_hint(enclosing.parent)}"
        )
    if _is_version_name(path.name) and (_is_saved_model(path) or export_versions(path.parent)):
        state = "is" if path.exists() or path.is_symlink() else "would be"
        raise FileExistsError(
            f"Refusing to export into {path}: it {state} version {int(path.name)} of the base "
            f"directory {path.parent}, and an export never replaces or writes into a version. "
            + _base_hint(path.parent)
        )


def check_export_base(path: str | Path, overwrite: bool = False) -> str:
    """Whether a new export version may be written into the base directory `path`.

    Returns "new" (nothing there yet: the base will be created), "versions"
    (a base of numeric versions, possibly empty: the next one is added) or
    "unversioned" (one SavedModel this library wrote straight into `path`,
    as earlier versions of keras-attention did, whose marker lists every file
    in it, unchanged; only with `overwrite`, which replaces it by a base
    holding version 1).

    Raises:
        FileExistsError: `path` is a file, a link, a run directory, a version
            directory of a base (`BASE/N`, existing or not) or inside a
            SavedModel, an unversioned export without `overwrite` or holding
            anything its marker does not list, or a directory holding
            something other than numeric SavedModel versions and hidden
            entries. Nothing there is ever changed.
    """
    path = Path(path)
    _check_not_a_version(path)
    if not path.exists() and not path.is_symlink():
        return "new"
    if path.is_symlink():
        reason = "is a symbolic link"
    elif not path.is_dir():
        reason = "is a file"
    elif (path / "recipe.toml").exists() or (path / "model.keras").exists():
        reason = "is a run directory"
    elif (path / MARKER).is_file() and (path / "saved_model.pb").is_file():
        unlisted = _unlisted(path)
        if unlisted is not None:
            raise FileExistsError(
                f"Refusing to export into {path}: it holds an unversioned export (an earlier "
                f"keras-attention's layout), but {unlisted}. --overwrite replaces only an export "
                "whose marker lists every file in it, unchanged. Move what you keep out of it, or "
                "choose another --out."
            )
        if overwrite:
            return "unversioned"
        raise FileExistsError(
            f"{path} holds an unversioned export (an earlier keras-attention's layout); pass "
            "overwrite=True (--overwrite) to replace it by a base directory of versions (1/, "
            "2/, ...), or choose another --out."
        )
    else:
        foreign = sorted(
            entry.name for entry in path.iterdir()
            if not entry.name.startswith(".")
            and not (_is_version_name(entry.name) and _is_saved_model(entry))
        )
        if not foreign:
            return "versions"
        reason = (f"holds {_listed(foreign)}, which {'is' if len(foreign) == 1 else 'are'} not numeric "
                  "SavedModel versions")
    raise FileExistsError(
        f"Refusing to export into {path}: it {reason}. An export goes into a base directory of "
        "numeric versions (BASE/1, BASE/2, ...) that is new, empty or holds only such versions; "
        "choose another --out."
    )


def _write_version(archive, directory: Path, marker: dict, card: str) -> None:
    archive.write_out(str(directory), verbose=False)
    (directory / MARKER).parent.mkdir(exist_ok=True)
    (directory / MODEL_CARD).write_text(card)
    # Last: the marker lists every other file, so `overwrite` can tell them from a user's.
    marker = {**marker, "files": export_files(directory)}
    (directory / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def add_version(directory: str | Path, base: str | Path) -> Path:
    """Rename the complete SavedModel `directory` (on the same file system)
    to `base/N`, `N` one more than the highest version in `base`.

    A rename is atomic: TF Serving, which polls `base`, sees a version
    complete or not at all. Two exports at once each get their own number.
    """
    directory, base = Path(directory), Path(base)
    while True:
        # What is in `base` may have changed since it was checked.
        if check_export_base(base) != "versions":
            raise FileExistsError(f"{base} changed while the export was written; nothing was added.")
        target = base / str(max(export_versions(base), default=0) + 1)
        try:
            os.rename(directory, target)  # fails on a non-empty target: another export took N
            return target
        except OSError:
            if not target.exists():
                raise


def _add_version(archive, base: Path, marker: dict, card: str) -> Path:
    """Write the next version of `base` in a hidden scratch directory inside
    it, then `add_version` it. Older versions stay."""
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(base / _SCRATCH, ("partial",))
    partial = scratch_path(base / _SCRATCH, "partial")
    try:
        _write_version(archive, partial, marker, card)
        return add_version(partial, base)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _replace_unversioned(archive, path: Path, marker: dict, card: str, overwrite: bool) -> Path:
    """Replace an unversioned export of this library by a base holding version 1, atomically."""
    partial = scratch_path(path, "partial")
    try:
        _write_version(archive, partial / "1", marker, card)
        if check_export_base(path, overwrite) != "unversioned":
            raise FileExistsError(f"{path} changed while the export was written; nothing was replaced.")
        retired = scratch_path(path, "old")
        os.replace(path, retired)
        os.replace(partial, path)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path / "1"


def export_task(
    task, model, path: str | Path, overwrite: bool = False, metrics: dict | None = None
) -> Path:
    """Export a trained `model` of `task` as the next version of the base directory `path`.

    Args:
        task: a `keras_attention.tasks.Task` with its tokenizers loaded; its
            `serving_signatures(model)` are the endpoints.
        model: the task's trained model.
        path: the base directory (see `check_export_base`); the export is
            written to `path/N`, `N` one more than its highest version.
        overwrite: replace an unversioned export this library wrote at `path`,
            whose marker lists every file in it, unchanged, by a base holding
            version 1; nothing else is ever replaced.
        metrics: the finished run's `metrics.json`, for the model card.

    Returns:
        The new version's directory, `path/N`.
    """
    path = Path(path)
    state = check_export_base(path, overwrite)  # before the (slow) tracing
    signatures, tracked = task.serving_signatures(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for trackable in tracked:
        archive.track(trackable)
    endpoints = {
        name: (archive.add_endpoint(name, function, input_signature=input_signature), input_signature)
        for name, (function, input_signature) in signatures.items()
    }
    facts = model_card_facts(task, model, endpoints, metrics)
    marker = {"library": "keras-attention", "version": __version__, "task": task.kind,
              "model_card": facts}
    card = render_model_card(facts)
    path.parent.mkdir(parents=True, exist_ok=True)
    # What a killed export left beside the base (`.NAME.partial-*`, `.NAME.old-*`).
    remove_stale_scratch(path, ("partial", "old"))
    if state == "unversioned":
        return _replace_unversioned(archive, path, marker, card, overwrite)
    return _add_version(archive, path, marker, card)
