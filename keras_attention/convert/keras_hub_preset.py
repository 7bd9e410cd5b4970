"""Read a keras-hub preset directory, as `BertBackbone.save_to_preset` writes it
(or `BertMaskedLM` / `BertTextClassifier.save_to_preset`, with their heads), or
`GPT2Backbone.save_to_preset` (or `GPT2CausalLM`'s, whose head is the tied
token embedding).

The directory holds `config.json` (the backbone's class and config),
`model.weights.h5` (Keras's weights file, read here with h5py: keras-hub need
not be installed), and, when the tokenizer was saved too, `tokenizer.json`
and `assets/tokenizer/vocabulary.txt`. In the weights file the layers are
named after their classes, in the order `BertBackbone` creates them:
`reversible_embedding` (tokens), `position_embedding`, `embedding`
(segments), `layer_normalization`, `transformer_encoder[_N]` and `dense`
(the pooler). Attention kernels are stored per head, `(hidden, heads,
head_dim)`, and are flattened to `(hidden, heads * head_dim)`.

A `GPT2Backbone`'s layers are `reversible_embedding` (tokens, also the output
projection), `position_embedding`, `transformer_decoder[_N]` (the sub-layers
named as the encoder's) and `layer_normalization` (the final norm); its
tokenizer (`GPT2Tokenizer.save_to_preset`) writes
`assets/tokenizer/vocabulary.json` and `assets/tokenizer/merges.txt`.
"""

from __future__ import annotations

import os

import numpy as np

from keras_attention.convert._bert_mapping import (
    BertCheckpoint,
    ConversionError,
    SourceTensor,
    config_arguments,
    encoder_config,
    read_config_file,
    read_json,
    read_vocabulary,
)
from keras_attention.convert._gpt2_mapping import END_OF_TEXT, GPT2_ARCHITECTURE, GPT2Checkpoint
from keras_attention.convert.huggingface import read_bpe_files

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TOKENIZER_CONFIG_FILE = "tokenizer.json"
VOCABULARY_FILE = os.path.join("assets", "tokenizer", "vocabulary.txt")
TASK_CONFIG_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
GPT2_VOCABULARY_FILE = os.path.join("assets", "tokenizer", "vocabulary.json")
GPT2_MERGES_FILE = os.path.join("assets", "tokenizer", "merges.txt")


# The BertBackbone arguments, named as BertEncoder's.
_ARGUMENTS = (
    "vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim",
    "max_sequence_length", "num_segments", "dropout",
)


# What keras-hub's classes fix, having no argument for it
# (keras_hub/src/models/bert/bert_backbone.py, bert_masked_lm.py):
# BertBackbone's blocks compute the tanh GELU (`gelu_approximate`) and all its
# layer norms use epsilon 1e-12; BertMaskedLM's MaskedLMHead computes Keras's
# "gelu" (the exact one) and keeps MaskedLMHead's default epsilon, 1e-5.
_BERT_FIXED = {"activation": "gelu_approximate", "norm_epsilon": 1e-12}
_MASKED_LM_FIXED = {"head_activation": "gelu", "head_norm_epsilon": 1e-5}


def is_keras_hub_directory(path: str) -> bool:
    return os.path.isfile(os.path.join(path, WEIGHTS_FILE))


def _encoder_config(preset: dict, path: str) -> dict:
    class_name = preset.get("class_name")
    if class_name != "BertBackbone":
        raise ConversionError(
            f"{path} describes a keras-hub {class_name!r}; only BertBackbone presets "
            "convert to BertEncoder."
        )
    names = {name: name for name in _ARGUMENTS}
    return {**encoder_config(preset.get("config", {}), names, path), **_BERT_FIXED}


class _Weights:
    """The variables of a Keras `.weights.h5` file, by layer path and index."""

    def __init__(self, path: str):
        import h5py

        try:
            self.file = h5py.File(path, "r")
        except OSError as error:
            raise ConversionError(f"{path} cannot be read as a Keras weights file: {error}") from None
        self.path = path

    def get(self, layer: str, index: int) -> SourceTensor:
        """Variable `index` of `layer` (a path under `layers/`)."""
        name = f"layers/{layer}/vars/{index}"
        if name not in self.file:
            raise ConversionError(f"{self.path}: missing tensor {name!r}.")
        return SourceTensor(name, np.asarray(self.file[name]))

    def has(self, layer: str) -> bool:
        return f"layers/{layer}" in self.file

    def close(self):
        self.file.close()


def _block_tensors(weights: _Weights, layer: str, num_layers: int, config_path: str) -> dict:
    """The tensors of keras-hub's `TransformerEncoder`s or `TransformerDecoder`s
    (`layer`, `layer_1`, ...), canonical names (`block_tensor_names`)."""
    tensors = {}
    for index in range(num_layers):
        block = layer + (f"_{index}" if index else "")
        ours = f"layers.{index}."
        attention = f"{block}/_self_attention_layer"
        for projection in ("query", "key", "value"):
            # (hidden, heads, head_dim) -> (hidden, heads * head_dim)
            kernel = weights.get(f"{attention}/{projection}_dense", 0)
            tensors[f"{ours}attention.{projection}.kernel"] = SourceTensor(
                kernel.name, kernel.value.reshape(kernel.value.shape[0], -1)
            )
            bias = weights.get(f"{attention}/{projection}_dense", 1)
            tensors[f"{ours}attention.{projection}.bias"] = SourceTensor(bias.name, bias.value.reshape(-1))
        # (heads, head_dim, hidden) -> (heads * head_dim, hidden)
        kernel = weights.get(f"{attention}/output_dense", 0)
        tensors[f"{ours}attention.output.kernel"] = SourceTensor(
            kernel.name, kernel.value.reshape(-1, kernel.value.shape[-1])
        )
        tensors[f"{ours}attention.output.bias"] = weights.get(f"{attention}/output_dense", 1)
        for name, sublayer in (
            ("attention_norm", "_self_attention_layer_norm"),
            ("output_norm", "_feedforward_layer_norm"),
        ):
            tensors[f"{ours}{name}.gamma"] = weights.get(f"{block}/{sublayer}", 0)
            tensors[f"{ours}{name}.beta"] = weights.get(f"{block}/{sublayer}", 1)
        for name, sublayer in (
            ("intermediate", "_feedforward_intermediate_dense"),
            ("output", "_feedforward_output_dense"),
        ):
            tensors[f"{ours}{name}.kernel"] = weights.get(f"{block}/{sublayer}", 0)
            tensors[f"{ours}{name}.bias"] = weights.get(f"{block}/{sublayer}", 1)
    extra = f"{layer}_{num_layers}"
    if weights.has(extra):
        raise ConversionError(
            f"{weights.path}: layer {extra!r} is beyond num_layers={num_layers} "
            f"in {config_path}: the config does not match the weights."
        )
    return tensors


def _vocabulary(directory: str) -> tuple[list[str], str, bool]:
    vocabulary_file = os.path.join(directory, VOCABULARY_FILE)
    if not os.path.isfile(vocabulary_file):
        raise ConversionError(
            f"{directory} has no {VOCABULARY_FILE}: save the preset's tokenizer too "
            "(`BertTokenizer.save_to_preset(dir)`)."
        )
    vocabulary = read_vocabulary(vocabulary_file)
    lower_case = False
    tokenizer_config = os.path.join(directory, TOKENIZER_CONFIG_FILE)
    if os.path.isfile(tokenizer_config):
        lower_case = bool(read_json(tokenizer_config).get("config", {}).get("lowercase", False))
    return vocabulary, vocabulary_file, lower_case


def read_keras_hub(directory: str) -> BertCheckpoint:
    """A keras-hub `BertBackbone` preset directory as a `BertCheckpoint`."""
    directory = os.fspath(directory)
    config_path, preset = read_config_file(directory, CONFIG_FILE, "a keras-hub preset directory")
    config = _encoder_config(preset, config_path)
    vocabulary, vocabulary_file, lower_case = _vocabulary(directory)
    weights = _Weights(os.path.join(directory, WEIGHTS_FILE))
    try:
        tensors = {
            "embeddings.token": weights.get("reversible_embedding", 0),
            "embeddings.position": weights.get("position_embedding", 0),
            "embeddings.segment": weights.get("embedding", 0),
            "embeddings.norm.gamma": weights.get("layer_normalization", 0),
            "embeddings.norm.beta": weights.get("layer_normalization", 1),
            "pooler.kernel": weights.get("dense", 0),
            "pooler.bias": weights.get("dense", 1),
        }
        tensors.update(_block_tensors(weights, "transformer_encoder", config["num_layers"], config_path))
    finally:
        weights.close()
    head_tensors, label_names = _task_tensors(directory)
    tensors.update(head_tensors)
    return BertCheckpoint(
        source=directory,
        format="keras_hub",
        config=config,
        vocabulary=vocabulary,
        vocabulary_file=vocabulary_file,
        lower_case=lower_case,
        tensors=tensors,
        weights_file=weights.path,
        label_names=label_names,
        masked_lm_config=dict(_MASKED_LM_FIXED),
    )


def _task_tensors(directory: str) -> tuple[dict, list | None]:
    """The head of a task preset (`BertMaskedLM` or `BertTextClassifier`
    `.save_to_preset`): `task.json` and `task.weights.h5`; none for a backbone preset."""
    task_path = os.path.join(directory, TASK_CONFIG_FILE)
    if not os.path.isfile(task_path):
        return {}, None
    task = read_json(task_path)
    class_name = task.get("class_name")
    if class_name not in ("BertMaskedLM", "BertTextClassifier"):
        return {}, None  # another task's head: the backbone alone converts
    if class_name == "BertTextClassifier" and task.get("config", {}).get("activation") not in (
        None, "linear"
    ):
        raise ConversionError(
            f"{task_path}: the classifier's activation is "
            f"{task['config']['activation']!r}; BertClassifier outputs logits (activation "
            "'linear')."
        )
    weights = _Weights(os.path.join(directory, TASK_WEIGHTS_FILE))
    try:
        if class_name == "BertMaskedLM":
            head = "masked_lm_head"
            return {
                "mlm.transform.kernel": weights.get(f"{head}/_intermediate_dense", 0),
                "mlm.transform.bias": weights.get(f"{head}/_intermediate_dense", 1),
                "mlm.norm.gamma": weights.get(f"{head}/_intermediate_layer_norm", 0),
                "mlm.norm.beta": weights.get(f"{head}/_intermediate_layer_norm", 1),
                "mlm.output_bias": weights.get(head, 0),
            }, None
        kernel = weights.get("dense", 0)
        tensors = {"classifier.kernel": kernel, "classifier.bias": weights.get("dense", 1)}
        # keras-hub's classifiers have no label names.
        return tensors, [f"LABEL_{index}" for index in range(kernel.value.shape[-1])]
    finally:
        weights.close()


# === GPT-2 ===

# The GPT2Backbone arguments, named as GPTDecoder's. keras-hub's GPT2Backbone
# fixes the rest: epsilon 1e-5, the tanh GELU (`GPT2_ARCHITECTURE`).
_GPT2_ARGUMENTS = (
    ("vocabulary_size", int, None),
    ("num_layers", int, None),
    ("num_heads", int, None),
    ("hidden_dim", int, None),
    ("intermediate_dim", int, None),
    ("max_sequence_length", int, 1024),
    ("dropout", float, 0.1),
)


def is_keras_hub_gpt2(preset: dict) -> bool:
    return preset.get("class_name") == "GPT2Backbone"


def _gpt2_config(preset: dict, path: str) -> dict:
    if not is_keras_hub_gpt2(preset):
        raise ConversionError(
            f"{path} describes a keras-hub {preset.get('class_name')!r}; only GPT2Backbone "
            "presets convert to GPTDecoder."
        )
    names = {name: name for name, _, _ in _GPT2_ARGUMENTS}
    arguments = config_arguments(preset.get("config", {}), _GPT2_ARGUMENTS, names, path, "a GPT2Backbone config")
    return {**arguments, "norm_epsilon": 1e-5, **GPT2_ARCHITECTURE}


def read_keras_hub_gpt2(directory: str) -> GPT2Checkpoint:
    """A keras-hub `GPT2Backbone` preset directory as a `GPT2Checkpoint`."""
    directory = os.fspath(directory)
    config_path, preset = read_config_file(directory, CONFIG_FILE, "a keras-hub preset directory")
    config = _gpt2_config(preset, config_path)
    vocabulary_file = os.path.join(directory, GPT2_VOCABULARY_FILE)
    vocabulary, merges = read_bpe_files(vocabulary_file, os.path.join(directory, GPT2_MERGES_FILE), directory)
    weights = _Weights(os.path.join(directory, WEIGHTS_FILE))
    try:
        tensors = {
            "embeddings.token": weights.get("reversible_embedding", 0),
            "embeddings.position": weights.get("position_embedding", 0),
            "final_norm.gamma": weights.get("layer_normalization", 0),
            "final_norm.beta": weights.get("layer_normalization", 1),
        }
        tensors.update(_block_tensors(weights, "transformer_decoder", config["num_layers"], config_path))
    finally:
        weights.close()
    return GPT2Checkpoint(
        source=directory,
        format="keras_hub",
        config=config,
        tensors=tensors,
        weights_file=weights.path,
        vocabulary=vocabulary,
        merges=merges,
        vocabulary_file=vocabulary_file,
        end_token_id=None if vocabulary is None else vocabulary.get(END_OF_TEXT),
    )
