"""`keras-attention convert`: a checkpoint as a run directory.

The run holds what `keras-attention attention`, `export` and `serve` need,
as `train` lays it out (see `keras_attention.training.run`):

    recipe.toml        task `masked_lm` (a checkpoint with or without its
                       masked-LM head) or `classification` (a checkpoint with
                       a classification head); model size in model.overrides
    tokenizer/         the checkpoint's vocab.txt as it is
    label_names.json   classification only
    model.keras        the converted model

There is no metrics.json (nothing was evaluated) and no test split. The run
is built in a scratch directory beside `out` and moved into place at the end:
a bad checkpoint writes nothing, and an existing directory is replaced only
when it is a run (with `overwrite`), never a directory of other files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from keras_attention._files import DirectoryLock, remove_stale_scratch, scratch_path, write_text_atomically
from keras_attention.convert.checkpoint import load_bert_tokenizer, read_bert_checkpoint
from keras_attention.models import BertClassifier, BertMaskedLM
from keras_attention.training.recipe import dump_recipe, validate_recipe
from keras_attention.training.run import _install, _is_run

_SCRATCH = "convert"


def _recipe(checkpoint, kind: str) -> str:
    config = checkpoint.config
    overrides = {key: value for key, value in config.items() if key != "vocabulary_size"}
    recipe = validate_recipe(
        {
            "task": {"kind": kind},
            "data": {
                # No data: the run was converted, not trained.
                "source": f"converted:{os.path.abspath(checkpoint.source)}",
                "vocabulary_size": config["vocabulary_size"],
                "lower_case": checkpoint.lower_case,
                "max_length": config["max_sequence_length"],
            },
            "model": {"preset": "bert_base", "overrides": overrides},
        }
    )
    header = (
        f"# Converted by `keras-attention convert` from the {checkpoint.format} checkpoint\n"
        f"# {os.path.abspath(checkpoint.source)}: pretrained weights, not trained here.\n"
        "# [model] is the architecture (bert_base's settings overridden by the checkpoint's).\n\n"
    )
    return header + dump_recipe(recipe)


def _check_target(out: Path, overwrite: bool) -> None:
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory; choose another --out.")
    if not any(out.iterdir()):
        return
    if not _is_run(out):
        raise FileExistsError(
            f"{out} is not a keras-attention run directory and is not empty; "
            "choose another --out, or move its files away."
        )
    if not overwrite:
        raise FileExistsError(f"{out} holds a run; pass --overwrite to replace it.")


def write_run(source, out, overwrite: bool = False, log=print) -> Path:
    """Convert the BERT checkpoint in `source` into the run directory `out`.

    Args:
        source: a keras-hub preset or Hugging Face checkpoint directory.
        out: the run directory to write.
        overwrite: replace an existing run at `out` (never other files).
        log: where progress lines go.

    Returns:
        `out` as a `Path`.

    Raises:
        ConversionError (a ValueError): the checkpoint cannot be converted
            (nothing is written).
        FileExistsError: `out` holds something that may not be replaced.
    """
    import warnings

    out = Path(out)
    _check_target(out, overwrite)
    checkpoint = read_bert_checkpoint(source)
    tokenizer = load_bert_tokenizer(checkpoint)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if checkpoint.has_classifier_head:
            kind, model = "classification", BertClassifier.from_pretrained(checkpoint)
        else:
            kind, model = "masked_lm", BertMaskedLM.from_pretrained(checkpoint)
    for warning in caught:
        log(f"Note: {warning.message}")

    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(out, (_SCRATCH,))
    work = scratch_path(out, _SCRATCH)
    work.mkdir()
    try:
        tokenizer.save(work / "tokenizer")
        if kind == "classification":
            (work / "label_names.json").write_text(json.dumps(checkpoint.label_names))
        partial = work / "model.partial.keras"
        model.save(partial)
        os.replace(partial, work / "model.keras")
        write_text_atomically(work / "recipe.toml", _recipe(checkpoint, kind))
        if out.exists() and any(out.iterdir()):
            with DirectoryLock(out, "keras-attention convert"):
                _check_target(out, overwrite)  # still a run, under the lock
                _install(work, out)
        else:
            os.replace(work, out)  # `out` missing or an empty directory
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(
        f"{type(model).__name__} ({model.count_params():,} parameters) from the "
        f"{checkpoint.format} checkpoint {checkpoint.source}, a {kind} run in {out}"
    )
    return out
