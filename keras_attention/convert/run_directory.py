"""`keras-attention convert`: a checkpoint as a run directory.

The run holds what `keras-attention attention`, `generate`, `export` and
`serve` need, as `train` lays it out (see `keras_attention.training.run`):

    recipe.toml        task `masked_lm` (a BERT checkpoint with or without its
                       masked-LM head), `classification` (a BERT checkpoint
                       with a classification head) or `language_model`
                       (GPT-2); model size in model.overrides
    tokenizer/         the checkpoint's vocab.txt (BERT), or vocab.json and
                       merges.txt (GPT-2), as they are
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
from keras_attention.convert._bert_mapping import ConversionError
from keras_attention.convert._gpt2_mapping import GPT2Checkpoint
from keras_attention.convert.checkpoint import load_bert_tokenizer, read_checkpoint
from keras_attention.models import BertClassifier, BertMaskedLM, GPTDecoder
from keras_attention.training.recipe import NONE, dump_recipe, toml_value, validate_recipe
from keras_attention.training.run import _install, _is_run

_SCRATCH = "convert"


# A converted GPT-2 run's `generate`: at most this many new tokens by default
# (the rest of the model's length holds the prompt).
MAX_NEW_TOKENS = 32


def _recipe(checkpoint, kind: str) -> str:
    config = checkpoint.config
    # TOML has no None: an argument that is None (GPT-2's pad_token_id) is
    # written "none", which `model.overrides` reads as None.
    overrides = {
        key: NONE if value is None else value
        for key, value in config.items() if key != "vocabulary_size"
    }
    unset = sorted(key for key, value in config.items() if value is None)
    data = {
        # No data: the run was converted, not trained.
        "source": f"converted:{os.path.abspath(checkpoint.source)}",
        "vocabulary_size": config["vocabulary_size"],
        "lower_case": getattr(checkpoint, "lower_case", False),
        "max_length": config["max_sequence_length"],
    }
    tables = {"task": {"kind": kind}, "data": data}
    preset = "bert_base"
    if kind == "language_model":
        preset = "gpt2_small"
        # Prompts keep their first `max_length` ids, and the model's length
        # holds a prompt plus the new tokens.
        new_tokens = min(MAX_NEW_TOKENS, config["max_sequence_length"] // 2)
        data["max_length"] = config["max_sequence_length"] - new_tokens
        tables["evaluation"] = {"max_new_tokens": new_tokens}
    tables["model"] = {"preset": preset, "overrides": overrides}
    recipe = validate_recipe(tables)
    header = (
        f"# Converted by `keras-attention convert` from the {checkpoint.format} checkpoint\n"
        f"# {os.path.abspath(checkpoint.source)}: pretrained weights, not trained here.\n"
        f"# [model] is the architecture ({preset}'s settings overridden by the checkpoint's)"
        + (f";\n# {', '.join(f'{key} = {toml_value(None)}' for key in unset)} is "
           f"{', '.join(f'{key} = None' for key in unset)} (TOML has no None)" if unset else "")
        + ".\n\n"
    )
    return header + dump_recipe(recipe)


def _gpt2_tokenizer(checkpoint: GPT2Checkpoint):
    from keras_attention.data import BytePairTokenizer

    if not checkpoint.has_tokenizer:
        raise ConversionError(
            f"{checkpoint.source} has no GPT-2 tokenizer (vocab.json and merges.txt, or a keras-hub "
            "GPT2Tokenizer's assets/tokenizer/): a run needs one. GPTDecoder.from_pretrained "
            "converts the weights alone."
        )
    try:
        return BytePairTokenizer(checkpoint.vocabulary, checkpoint.merges)
    except ValueError as error:
        raise ConversionError(f"{checkpoint.vocabulary_file}: {error}") from None


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
    """Convert the BERT or GPT-2 checkpoint in `source` into the run directory `out`.

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
    checkpoint = read_checkpoint(source)
    gpt2 = isinstance(checkpoint, GPT2Checkpoint)
    tokenizer = _gpt2_tokenizer(checkpoint) if gpt2 else load_bert_tokenizer(checkpoint)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if gpt2:
            kind, model = "language_model", GPTDecoder.from_pretrained(checkpoint)
        elif checkpoint.has_classifier_head:
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
