"""The model card written into every export's assets (`assets/model_card.md`).

It says what the SavedModel is and how far it can be trusted: the recipe it
was trained with, its data, the held-out metrics of the finished run, its
signatures (inputs and outputs), its limits, and the library, TensorFlow and
Keras versions that wrote it. The same facts go into the export's marker
(`assets/keras_attention_export.json`, key `model_card`) for programs.
"""

from __future__ import annotations

import datetime
import json

__all__ = ["model_card_facts", "render_model_card"]

# The recipe settings a reader needs first (the whole recipe follows them).
_KEY_SETTINGS = {
    "data": ("max_length", "vocabulary_size", "shared_vocabulary", "lower_case", "tokenizer"),
    "training": ("epochs", "steps_per_epoch", "batch_size", "learning_rate", "warmup_steps",
                 "label_smoothing", "mixed_precision", "seed"),
    "evaluation": ("beam_size", "length_penalty", "no_repeat_ngram_size", "output_constraint",
                   "max_new_tokens", "temperature", "top_k", "top_p", "seed"),
}


def _spec(value) -> dict:
    return {"dtype": value.dtype.name, "shape": ["batch" if i == 0 and d is None else d
                                                 for i, d in enumerate(value.shape.as_list())]}


def signature_facts(endpoints: dict) -> dict:
    """`{name: {"inputs": {input: {dtype, shape}}, "outputs": {...}}}` of traced endpoints.

    Args:
        endpoints: `{name: (tf.function, input_signature)}`, as
            `ExportArchive.add_endpoint` returned them.
    """
    facts = {}
    for name, (function, input_signature) in endpoints.items():
        outputs = function.get_concrete_function(*input_signature).structured_outputs
        facts[name] = {
            "inputs": {spec.name: _spec(spec) for spec in input_signature},
            "outputs": {key: _spec(value) for key, value in outputs.items()},
        }
    return facts


def model_card_facts(task, model, endpoints: dict, metrics: dict | None = None) -> dict:
    """Everything the card says, as JSON-ready values.

    Args:
        task: the exported `keras_attention.tasks.Task`.
        model: its model.
        endpoints: `{name: (tf.function, input_signature)}` (see `signature_facts`).
        metrics: the finished run's `metrics.json`, or None (the card then
            says there are none). Its `data` entry, which `train` writes, gives
            the split sizes.
    """
    import keras
    import tensorflow as tf

    from keras_attention._version import __version__

    recipe = task.recipe.to_dict()
    metrics = dict(metrics or {})
    data = {"source": task.recipe.data.source, **metrics.pop("data", {})}
    versions = {"keras-attention": __version__, "tensorflow": tf.__version__, "keras": keras.__version__}
    try:
        import tensorflow_text

        versions["tensorflow-text"] = tensorflow_text.__version__
    except ImportError:  # pragma: no cover - the export needs it anyway
        pass
    return {
        "task": task.kind,
        "model": type(model).__name__,
        "parameters": int(model.count_params()),
        "recipe": recipe,
        "data": data,
        "metrics": {
            key: value for key, value in metrics.items()
            if key not in ("samples",) and not isinstance(value, list)
        },
        "signatures": signature_facts(endpoints),
        "limits": task.serving_limits(model),
        "versions": versions,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _value(value) -> str:
    """`value` for a Markdown table cell ("|", as in sacreBLEU's signatures,
    escaped so that it does not end the cell)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    return f"`{value}`".replace("|", "\\|") if isinstance(value, str) else str(value)


def _metric_rows(metrics: dict, prefix: str = ""):
    for key, value in metrics.items():
        if isinstance(value, dict):
            yield from _metric_rows(value, f"{prefix}{key}.")
        else:
            yield f"| {prefix}{key} | {_value(value)} |"


def render_model_card(facts: dict) -> str:
    """The Markdown card for `model_card_facts`."""
    recipe = facts["recipe"]
    lines = [
        f"# Model card: {facts['task']} ({recipe['model']['preset']})",
        "",
        f"A `{facts['model']}` ({facts['parameters']:,} parameters) exported by keras-attention "
        f"{facts['versions']['keras-attention']} on {facts['created']} (TensorFlow "
        f"{facts['versions']['tensorflow']}, Keras {facts['versions']['keras']}). It serves text "
        "in, text out: tokenization and decoding are inside the graph.",
        "",
        "## Recipe",
        "",
        f"- task: `{facts['task']}`",
        f"- preset: `{recipe['model']['preset']}`",
        f"- model overrides: {_value(recipe['model'].get('overrides', {}))}",
    ]
    for table, keys in _KEY_SETTINGS.items():
        settings = ", ".join(f"{key}={_value(recipe[table][key])}" for key in keys if key in recipe[table])
        lines.append(f"- {table}: {settings}")
    lines += ["", "## Data", ""]
    data = facts["data"]
    lines.append(f"- source: `{data['source']}`")
    splits = [f"{data[key]:,} {key.replace('_examples', '')}" for key in
              ("train_examples", "validation_examples", "test_examples") if key in data]
    lines.append("- split sizes: " + (", ".join(splits) if splits else
                                       "not recorded (the run's metrics.json has no `data` entry)"))
    lines += ["", "## Metrics", ""]
    if facts["metrics"]:
        lines += ["Held-out evaluation of the finished run (`metrics.json`):", "",
                  "| metric | value |", "|---|---|", *_metric_rows(facts["metrics"])]
    else:
        lines.append("None: this export does not come from a finished run with a `metrics.json`.")
    lines += ["", "## Signatures", ""]
    for name, signature in facts["signatures"].items():
        lines += [f"### `{name}`", "", "| | name | dtype | shape |", "|---|---|---|---|"]
        for kind in ("inputs", "outputs"):
            for key, spec in signature[kind].items():
                lines.append(f"| {kind[:-1]} | `{key}` | {spec['dtype']} | {_value(spec['shape'])} |")
        lines.append("")
    lines += ["## Limits", "", *[f"- {limit}" for limit in facts["limits"]], ""]
    lines += ["## Versions", "", *[f"- {name} {version}" for name, version in facts["versions"].items()],
              f"- exported {facts['created']}", ""]
    return "\n".join(lines)
