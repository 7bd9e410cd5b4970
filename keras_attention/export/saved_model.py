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
| language_model | `prompt` string `(batch,)`, `max_new_tokens` int32 `()`, `temperature` float32 `()` | `text` string, `truncated` bool |
| classification | `text` string `(batch,)` | `probabilities` float32 `(batch, classes)`, `label` string, `truncated` bool |
| masked_lm (an encoder) | `text` string `(batch,)` | `pooled_output` float32 `(batch, hidden)`, `truncated` bool |

plus `token_ids_to_logits`, from the model's integer inputs (pad id 0) to its
logits. Texts longer than the model's maximum length are truncated, and
`truncated` says which were. An empty text translates to "". A translation
recipe with `evaluation.output_constraint` answers with the best beam that
satisfies it, or "" with `valid` false when none does (never a made-up answer).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras

from keras_attention import __version__
from keras_attention._files import remove_stale_scratch, scratch_path

__all__ = ["MARKER", "check_replaceable", "export_task"]


MARKER = Path("assets") / "keras_attention_export.json"


def check_replaceable(path: str | Path, overwrite: bool) -> None:
    """Raise `FileExistsError` unless an export may be written at `path`.

    A missing path is free. An existing one is replaced only with `overwrite`,
    and only when it is an export this library wrote (it holds `MARKER`):
    never a run directory, a directory of other files, a file or a link.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")
    if path.is_symlink():
        reason = "is a symbolic link"
    elif not path.is_dir():
        reason = "is a file"
    elif (path / "recipe.toml").exists() or (path / "model.keras").exists():
        reason = "is a run directory"
    elif not (path / MARKER).is_file():
        reason = f"is not an export keras-attention wrote (it has no {MARKER})"
    else:
        return
    raise FileExistsError(
        f"Refusing to overwrite {path}: it {reason}. --overwrite replaces only an export "
        "keras-attention wrote; choose another --out, or remove it yourself."
    )


def _write_atomically(archive: keras.export.ExportArchive, path: Path, overwrite: bool, marker: dict):
    """Write into a temporary directory beside `path`, then rename it into place.

    An export interrupted at any point leaves either no target or the previous
    complete one, never a half-written SavedModel; what a killed export left
    beside the target is removed by the next export to it.
    """
    check_replaceable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(path, ("partial", "old"))
    partial = scratch_path(path, "partial")
    try:
        archive.write_out(str(partial), verbose=False)
        (partial / MARKER).parent.mkdir(exist_ok=True)
        (partial / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        # The target may have appeared since the first check.
        check_replaceable(path, overwrite)
        if path.exists():
            retired = scratch_path(path, "old")
            os.replace(path, retired)
            os.replace(partial, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def export_task(task, model, path: str | Path, overwrite: bool = False) -> Path:
    """Export a trained `model` of `task` (with its tokenizers) to a SavedModel at `path`.

    Args:
        task: a `keras_attention.tasks.Task` with its tokenizers loaded; its
            `serving_signatures(model)` are the endpoints.
        model: the task's trained model.
        path: the SavedModel directory to create.
        overwrite: replace an existing export this library wrote (atomically);
            anything else at `path` is never replaced.

    Returns:
        The path.
    """
    path = Path(path)
    check_replaceable(path, overwrite)  # before the (slow) tracing
    signatures, tracked = task.serving_signatures(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for trackable in tracked:
        archive.track(trackable)
    for name, (function, input_signature) in signatures.items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    marker = {"library": "keras-attention", "version": __version__, "task": task.kind}
    _write_atomically(archive, path, overwrite, marker)
    return path
