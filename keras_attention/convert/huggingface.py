"""Read a Hugging Face BERT checkpoint directory: `config.json`, `model.safetensors`, `vocab.txt`.

Parameter names are those of `transformers`' `BertModel` (`embeddings.*`,
`encoder.layer.N.*`, `pooler.dense.*`), with the `bert.` prefix of the task
models (`BertForMaskedLM`, `BertForPreTraining`,
`BertForSequenceClassification`), whose heads are `cls.predictions.*` and
`classifier.*`. Linear weights are stored `(out, in)` and are transposed to
Keras's `(in, out)`. Old TensorFlow-converted checkpoints name layer-norm
weights `gamma` / `beta`; both spellings are read.
"""

from __future__ import annotations

import os

import numpy as np

from keras_attention.convert._bert_mapping import (
    BertCheckpoint,
    ConversionError,
    SourceTensor,
    encoder_config,
    read_json,
    read_vocabulary,
)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCABULARY_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


# BertEncoder argument -> the key of Hugging Face's BertConfig.
_CONFIG_NAMES = {
    "vocabulary_size": "vocab_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "hidden_dim": "hidden_size",
    "intermediate_dim": "intermediate_size",
    "max_sequence_length": "max_position_embeddings",
    "num_segments": "type_vocab_size",
    "dropout": "hidden_dropout_prob",
    "norm_epsilon": "layer_norm_eps",
}


def is_huggingface_directory(path: str) -> bool:
    return os.path.isfile(os.path.join(path, WEIGHTS_FILE))


def _encoder_config(config: dict, path: str) -> dict:
    if config.get("model_type") != "bert":
        architectures = config.get("architectures")
        raise ConversionError(
            f"{path} describes a {config.get('model_type')!r} model"
            + (f" ({', '.join(architectures)})" if architectures else "")
            + "; only BERT checkpoints (model_type 'bert') convert to BertEncoder."
        )
    activation = config.get("hidden_act", "gelu")
    if activation != "gelu":
        raise ConversionError(
            f"{path}: hidden_act={activation!r} is not supported; BertEncoder computes "
            "BERT's exact (erf) GELU, hidden_act 'gelu'."
        )
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ConversionError(
            f"{path}: position_embedding_type={position_type!r} is not supported; "
            "BertEncoder learns absolute positions."
        )
    return encoder_config(config, _CONFIG_NAMES, path)


def _lower_case(directory: str, config: dict) -> bool:
    tokenizer_config = os.path.join(directory, TOKENIZER_CONFIG_FILE)
    if os.path.isfile(tokenizer_config):
        value = read_json(tokenizer_config).get("do_lower_case")
        if value is not None:
            return bool(value)
    if "do_lower_case" in config:
        return bool(config["do_lower_case"])
    # Hugging Face's BertTokenizer lower-cases unless told otherwise.
    return True


def _label_names(config: dict) -> list[str] | None:
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        return None
    try:
        return [str(id2label[key]) for key in sorted(id2label, key=int)]
    except ValueError:
        return None


class _Tensors:
    """The tensors of `model.safetensors`, found with or without the `bert.` prefix."""

    def __init__(self, path: str):
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ConversionError(
                "Reading model.safetensors needs the `safetensors` package: "
                "pip install safetensors"
            ) from None
        try:
            self.tensors = load_file(path)
        except Exception as error:  # the package raises its own error types
            raise ConversionError(f"{path} cannot be read as safetensors: {error}") from None
        self.path = path
        self.prefix = "bert." if any(name.startswith("bert.") for name in self.tensors) else ""
        norm_names = ("LayerNorm.gamma", "LayerNorm.beta")
        self.old_norm_names = f"{self.prefix}embeddings.{norm_names[0]}" in self.tensors

    def name(self, name: str, encoder: bool = True) -> str:
        if self.old_norm_names:
            name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        return (self.prefix if encoder else "") + name

    def get(self, name: str, transpose: bool = False, encoder: bool = True) -> SourceTensor:
        full_name = self.name(name, encoder)
        if full_name not in self.tensors:
            raise ConversionError(f"{self.path}: missing tensor {full_name!r}.")
        value = self.tensors[full_name]
        if transpose:
            if value.ndim != 2:
                raise ConversionError(
                    f"{self.path}: tensor {full_name!r} has shape {tuple(value.shape)}; "
                    "expected a matrix."
                )
            value = value.T
        return SourceTensor(full_name, value, transposed=transpose)

    def has(self, name: str, encoder: bool = True) -> bool:
        return self.name(name, encoder) in self.tensors


def read_huggingface(directory: str) -> BertCheckpoint:
    """A Hugging Face BERT checkpoint directory as a `BertCheckpoint`."""
    directory = os.fspath(directory)
    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise ConversionError(f"{directory} has no {CONFIG_FILE}: not a Hugging Face checkpoint directory.")
    config = read_json(config_path)
    encoder_config = _encoder_config(config, config_path)
    vocabulary_file = os.path.join(directory, VOCABULARY_FILE)
    if not os.path.isfile(vocabulary_file):
        raise ConversionError(f"{directory} has no {VOCABULARY_FILE}: the tokenizer's vocabulary is needed.")
    vocabulary = read_vocabulary(vocabulary_file)

    source = _Tensors(os.path.join(directory, WEIGHTS_FILE))
    tensors = {
        "embeddings.token": source.get("embeddings.word_embeddings.weight"),
        "embeddings.position": source.get("embeddings.position_embeddings.weight"),
        "embeddings.segment": source.get("embeddings.token_type_embeddings.weight"),
        "embeddings.norm.gamma": source.get("embeddings.LayerNorm.weight"),
        "embeddings.norm.beta": source.get("embeddings.LayerNorm.bias"),
        "pooler.kernel": source.get("pooler.dense.weight", transpose=True),
        "pooler.bias": source.get("pooler.dense.bias"),
    }
    for index in range(encoder_config["num_layers"]):
        hf, ours = f"encoder.layer.{index}.", f"layers.{index}."
        for projection, hf_name in (
            ("query", "attention.self.query"),
            ("key", "attention.self.key"),
            ("value", "attention.self.value"),
            ("output", "attention.output.dense"),
        ):
            tensors[f"{ours}attention.{projection}.kernel"] = source.get(f"{hf}{hf_name}.weight", transpose=True)
            tensors[f"{ours}attention.{projection}.bias"] = source.get(f"{hf}{hf_name}.bias")
        for name, hf_name in (
            ("attention_norm", "attention.output.LayerNorm"),
            ("output_norm", "output.LayerNorm"),
        ):
            tensors[f"{ours}{name}.gamma"] = source.get(f"{hf}{hf_name}.weight")
            tensors[f"{ours}{name}.beta"] = source.get(f"{hf}{hf_name}.bias")
        for name, hf_name in (("intermediate", "intermediate.dense"), ("output", "output.dense")):
            tensors[f"{ours}{name}.kernel"] = source.get(f"{hf}{hf_name}.weight", transpose=True)
            tensors[f"{ours}{name}.bias"] = source.get(f"{hf}{hf_name}.bias")
    next_layer = f"encoder.layer.{encoder_config['num_layers']}.attention.self.query.weight"
    if source.has(next_layer):
        raise ConversionError(
            f"{source.path}: tensor {source.name(next_layer)!r} is beyond num_hidden_layers="
            f"{encoder_config['num_layers']} in {config_path}: the config does not match the weights."
        )

    if source.has("cls.predictions.transform.dense.weight", encoder=False):
        tensors.update(
            {
                "mlm.transform.kernel": source.get("cls.predictions.transform.dense.weight", True, False),
                "mlm.transform.bias": source.get("cls.predictions.transform.dense.bias", encoder=False),
                "mlm.norm.gamma": source.get("cls.predictions.transform.LayerNorm.weight", encoder=False),
                "mlm.norm.beta": source.get("cls.predictions.transform.LayerNorm.bias", encoder=False),
                "mlm.output_bias": source.get("cls.predictions.bias", encoder=False),
            }
        )
    decoder = "cls.predictions.decoder.weight"
    if source.has(decoder, encoder=False) and not np.array_equal(
        source.get(decoder, encoder=False).value, tensors["embeddings.token"].value
    ):
        raise ConversionError(
            f"{source.path}: tensor {source.name(decoder, False)!r} differs from the word "
            "embeddings; BertMaskedLM ties its output projection to them."
        )
    label_names = None
    if source.has("classifier.weight", encoder=False):
        tensors["classifier.kernel"] = source.get("classifier.weight", True, False)
        tensors["classifier.bias"] = source.get("classifier.bias", encoder=False)
        label_names = _label_names(config)
        rows = tensors["classifier.kernel"].value.shape[1]
        if label_names is None or len(label_names) != rows:
            label_names = [f"LABEL_{index}" for index in range(rows)]
    return BertCheckpoint(
        source=directory,
        format="huggingface",
        config=encoder_config,
        vocabulary=vocabulary,
        vocabulary_file=vocabulary_file,
        lower_case=_lower_case(directory, config),
        tensors=tensors,
        weights_file=source.path,
        label_names=label_names,
    )
