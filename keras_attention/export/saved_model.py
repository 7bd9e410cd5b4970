"""Export a trained run as a SavedModel that serves text in, text out.

Tokenization, decoding and detokenization run inside one graph, so the
SavedModel needs only TensorFlow and tensorflow-text (for its tokenizer ops) —
never this package. Every signature has an explicit input signature: no shape
is frozen from a first call.

Signatures by task:

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
import tensorflow as tf

from keras_attention._files import remove_stale_scratch, scratch_path
from keras_attention.models.generation import TemperatureSampler
from keras_attention.training.tasks import pad_token_ids

__all__ = ["export_run", "export_task"]

_TEXT = tf.TensorSpec([None], tf.string, name="text")


def _ids(name):
    return tf.TensorSpec([None, None], tf.int32, name=name)


class _SeedHolder(keras.layers.Layer):
    """Keeps the sampling seed generator (a variable) inside the SavedModel."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True


def _bert_ids(tokenizer, texts, length):
    """`[CLS] tokens [SEP]` padded to `length`, as the training pipelines build them."""
    token_ids = tokenizer.tokenize(texts)
    column = tf.ones([tf.shape(texts)[0], 1], token_ids.dtype)
    wrapped = tf.concat(
        [
            tf.RaggedTensor.from_tensor(column * tokenizer.cls_id),
            token_ids[:, : length - 2],
            tf.RaggedTensor.from_tensor(column * tokenizer.sep_id),
        ],
        axis=1,
    )
    ids, _ = pad_token_ids(wrapped, length)
    return ids, token_ids.row_lengths() > length - 2


def _translation(task, model, seeds):
    source, target = task.source_tokenizer, task.target_tokenizer

    def serve(text):
        # The task's one decode path: what evaluation scored is what is served.
        outputs = task.translate(model, text)
        return {name: outputs[name] for name in ("translation", "score", "truncated", "valid")}

    def logits(encoder_token_ids, decoder_token_ids):
        inputs = {"encoder_token_ids": encoder_token_ids, "decoder_token_ids": decoder_token_ids}
        return {"logits": model(inputs)}

    signatures = {
        "serving_default": (serve, [_TEXT]),
        "token_ids_to_logits": (logits, [_ids("encoder_token_ids"), _ids("decoder_token_ids")]),
    }
    return signatures, [source, target]


def _language_model(task, model, seeds):
    tokenizer = task.tokenizer
    prompt_limit = task.data_config["max_length"]
    limit = model.max_sequence_length

    def serve(prompt, max_new_tokens, temperature):
        token_ids = tokenizer.tokenize(prompt)
        truncated = token_ids.row_lengths() > prompt_limit
        token_ids = token_ids[:, :prompt_limit]
        # An empty prompt starts after an end-of-text token, as every text
        # does in the training stream.
        lengths = tf.cast(token_ids.row_lengths(), tf.int32)
        token_ids = tf.where(
            lengths[:, None] > 0,
            token_ids.to_tensor(default_value=0, shape=[None, prompt_limit]),
            tf.pad(tf.fill([tf.shape(prompt)[0], 1], tf.cast(tokenizer.end_id, token_ids.dtype)),
                   [[0, 0], [0, prompt_limit - 1]]),
        )
        lengths = tf.maximum(lengths, 1)
        width = tf.reduce_max(lengths)
        new_tokens = tf.clip_by_value(max_new_tokens, 1, limit - width)
        buffer = tf.pad(tf.cast(token_ids[:, :width], tf.int32), [[0, 0], [0, new_tokens]])
        prompt_mask = tf.range(width + new_tokens)[None, :] < lengths[:, None]
        tokens = model.decode(
            buffer,
            prompt_mask,
            tf.reduce_min(lengths),
            TemperatureSampler(temperature),
            seed_generator=seeds.seed_generator,
        )
        return {"text": tokenizer.detokenize(tokens), "truncated": truncated}

    def logits(token_ids):
        return {"logits": model(token_ids)}

    signatures = {
        "serving_default": (
            serve,
            [
                tf.TensorSpec([None], tf.string, name="prompt"),
                tf.TensorSpec([], tf.int32, name="max_new_tokens"),
                tf.TensorSpec([], tf.float32, name="temperature"),
            ],
        ),
        "token_ids_to_logits": (logits, [_ids("token_ids")]),
    }
    return signatures, [tokenizer]


def _bert_logits(model):
    def logits(token_ids, segment_ids):
        outputs = model({"token_ids": token_ids, "segment_ids": segment_ids})
        return outputs if isinstance(outputs, dict) else {"logits": outputs}

    return (logits, [_ids("token_ids"), _ids("segment_ids")])


def _classification(task, model, seeds):
    tokenizer, length = task.tokenizer, task.data_config["max_length"]
    label_names = tf.constant(task.label_names)

    def serve(text):
        token_ids, truncated = _bert_ids(tokenizer, text, length)
        logits = model({"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids)})
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        label = tf.gather(label_names, tf.argmax(probabilities, axis=-1))
        return {"probabilities": probabilities, "label": label, "truncated": truncated}

    signatures = {"serving_default": (serve, [_TEXT]), "token_ids_to_logits": _bert_logits(model)}
    return signatures, [tokenizer]


def _masked_lm(task, model, seeds):
    tokenizer, length = task.tokenizer, task.data_config["max_length"]
    encoder = model.encoder

    def serve(text):
        token_ids, truncated = _bert_ids(tokenizer, text, length)
        outputs = encoder({"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids)})
        return {"pooled_output": tf.cast(outputs["pooled_output"], tf.float32), "truncated": truncated}

    signatures = {"serving_default": (serve, [_TEXT]), "token_ids_to_logits": _bert_logits(encoder)}
    return signatures, [tokenizer]


_EXPORTERS = {
    "translation": _translation,
    "language_model": _language_model,
    "classification": _classification,
    "masked_lm": _masked_lm,
}


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
        task: a loaded `keras_attention.training.tasks.Task` (tokenizers ready).
        model: the task's trained model.
        path: the SavedModel directory to create.
        overwrite: replace an existing export this library wrote (atomically);
            anything else at `path` is never replaced.

    Returns:
        The path.
    """
    path = Path(path)
    check_replaceable(path, overwrite)  # before the (slow) tracing
    if task.kind not in _EXPORTERS:
        raise ValueError(f"No exporter for task {task.kind!r}. Known: {sorted(_EXPORTERS)}")
    seeds = _SeedHolder(task.recipe["evaluation"]["seed"])
    signatures, tokenizers = _EXPORTERS[task.kind](task, model, seeds)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(seeds)
    for tokenizer in tokenizers:
        archive.track(tokenizer)
    for name, (function, input_signature) in signatures.items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    from keras_attention import __version__

    marker = {"library": "keras-attention", "version": __version__, "task": task.kind}
    _write_atomically(archive, path, overwrite, marker)
    return path


def export_run(run_dir: str | Path, path: str | Path | None = None, overwrite: bool = False) -> Path:
    """Export a finished run directory (default target: `RUN/export`).

    With `overwrite`, an existing export this library wrote (it holds `MARKER`)
    is replaced atomically; anything else at `path` (a run directory, other
    files) raises `FileExistsError` before the run is loaded.
    """
    from keras_attention.training import load_run

    path = Path(path or Path(run_dir) / "export")
    check_replaceable(path, overwrite)  # before loading the run
    task, model = load_run(run_dir)
    return export_task(task, model, path, overwrite=overwrite)
