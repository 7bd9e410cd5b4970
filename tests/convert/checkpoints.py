"""Tiny random BERT checkpoints in keras-hub's and Hugging Face's formats, and a
numpy BERT written from Hugging Face's parameter names (the reference)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

VOCABULARY_SIZE = 140
NUM_LAYERS = 2
HIDDEN_DIM = 32
NUM_HEADS = 2
INTERMEDIATE_DIM = 64
MAX_LENGTH = 24
NUM_LABELS = 3

# BERT's layout: [PAD]=0, [unusedN], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103.
WORDS = ["the", "cat", "sat", "on", "mat", "hello", "world", "un", "##able", "##s",
         ",", ".", "!", "?", "'", "-", "a", "dog", "run", "##ning"]
VOCABULARY = (
    ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + WORDS
)
VOCABULARY += [f"##x{i}" for i in range(VOCABULARY_SIZE - len(VOCABULARY))]
assert len(VOCABULARY) == VOCABULARY_SIZE


def padded_batch(rng):
    """`(token_ids, segment_ids, padding_mask)`: [CLS] ... [SEP], two rows padded."""
    lengths = [9, 6, 12]
    token_ids = np.zeros((3, 12), "int32")
    segment_ids = np.zeros((3, 12), "int32")
    for row, length in enumerate(lengths):
        token_ids[row, :length] = rng.integers(104, VOCABULARY_SIZE, length)
        token_ids[row, 0], token_ids[row, length - 1] = 101, 102
        segment_ids[row, length // 2 : length] = 1
    return token_ids, segment_ids, (token_ids != 0).astype("int32")


def write_vocabulary(path: Path, vocabulary=VOCABULARY):
    path.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")


# === Hugging Face ===


def huggingface_tensors(rng, num_layers=NUM_LAYERS, masked_lm=True, classifier=False) -> dict:
    """Random tensors under `BertForMaskedLM` / `BertForSequenceClassification` names.

    Every tensor (layer norms and biases included) is random, so a tensor put
    in the wrong place, or not transposed, changes the outputs.
    """

    def normal(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype("float32")

    def norm(prefix):
        return {f"{prefix}.weight": 1 + normal(HIDDEN_DIM, scale=0.1),
                f"{prefix}.bias": normal(HIDDEN_DIM, scale=0.1)}

    h, i = HIDDEN_DIM, INTERMEDIATE_DIM
    tensors = {
        "bert.embeddings.word_embeddings.weight": normal(VOCABULARY_SIZE, h, scale=0.25),
        "bert.embeddings.position_embeddings.weight": normal(MAX_LENGTH, h, scale=0.5),
        "bert.embeddings.token_type_embeddings.weight": normal(2, h, scale=0.5),
        **norm("bert.embeddings.LayerNorm"),
        "bert.pooler.dense.weight": normal(h, h),
        "bert.pooler.dense.bias": normal(h),
    }
    for n in range(num_layers):
        p = f"bert.encoder.layer.{n}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            tensors[f"{p}{name}.weight"] = normal(h, h, scale=0.3)
            tensors[f"{p}{name}.bias"] = normal(h)
        tensors.update(norm(f"{p}attention.output.LayerNorm"))
        tensors[f"{p}intermediate.dense.weight"] = normal(i, h, scale=0.4)  # (out, in)
        tensors[f"{p}intermediate.dense.bias"] = normal(i)
        tensors[f"{p}output.dense.weight"] = normal(h, i)
        tensors[f"{p}output.dense.bias"] = normal(h)
        tensors.update(norm(f"{p}output.LayerNorm"))
    if masked_lm:
        tensors.update({
            "cls.predictions.transform.dense.weight": normal(h, h, scale=0.4),
            "cls.predictions.transform.dense.bias": normal(h),
            **norm("cls.predictions.transform.LayerNorm"),
            "cls.predictions.bias": normal(VOCABULARY_SIZE),
            "cls.predictions.decoder.weight": tensors["bert.embeddings.word_embeddings.weight"],
            "cls.predictions.decoder.bias": None,
        })
        tensors["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"]
    if classifier:
        tensors["classifier.weight"] = normal(NUM_LABELS, h)
        tensors["classifier.bias"] = normal(NUM_LABELS)
    return tensors


def huggingface_config(num_layers=NUM_LAYERS, classifier=False, **changes) -> dict:
    config = {
        "architectures": ["BertForSequenceClassification" if classifier else "BertForMaskedLM"],
        "model_type": "bert",
        "vocab_size": VOCABULARY_SIZE,
        "hidden_size": HIDDEN_DIM,
        "num_hidden_layers": num_layers,
        "num_attention_heads": NUM_HEADS,
        "intermediate_size": INTERMEDIATE_DIM,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": MAX_LENGTH,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }
    if classifier:
        config["id2label"] = {"0": "negative", "1": "neutral", "2": "positive"}
        config["label2id"] = {"negative": 0, "neutral": 1, "positive": 2}
    config.update(changes)
    return config


def write_huggingface(directory: Path, tensors: dict, config: dict | None = None,
                      vocabulary=VOCABULARY, lower_case=True) -> Path:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config or huggingface_config()))
    # safetensors refuses shared memory: each tensor its own copy.
    save_file({name: np.array(value) for name, value in tensors.items()},
              str(directory / "model.safetensors"))
    write_vocabulary(directory / "vocab.txt", vocabulary)
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": lower_case, "tokenizer_class": "BertTokenizer"}))
    return directory


_erf = np.vectorize(math.erf)


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    """Hugging Face's `gelu_new` / `gelu_pytorch_tanh` (GELU's tanh approximation)."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


# Hugging Face's `hidden_act` names, as `transformers.activations.ACT2FN` defines them.
ACTIVATIONS = {"gelu": _gelu, "gelu_new": _gelu_tanh, "gelu_pytorch_tanh": _gelu_tanh,
               "relu": lambda x: np.maximum(x, 0.0)}


def _layer_norm(x, gamma, beta, epsilon=1e-12):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def reference_bert(t: dict, token_ids, segment_ids, num_layers=NUM_LAYERS, hidden_act="gelu",
                   layer_norm_eps=1e-12):
    """BERT's forward pass in float64 numpy from Hugging Face's parameter names
    (`BertModel`): every layer norm uses `layer_norm_eps`, the feed-forward
    `hidden_act` (config.json's keys).

    Returns `(sequence_output, pooled_output)`; `reference_mlm_logits` gives
    the masked-LM logits.
    """
    activation = ACTIVATIONS[hidden_act]
    t = {name: np.asarray(value, "float64") for name, value in t.items()}
    linear = lambda x, name: x @ t[f"{name}.weight"].T + t[f"{name}.bias"]  # noqa: E731
    norm = lambda x, name: _layer_norm(x, t[f"{name}.weight"], t[f"{name}.bias"], layer_norm_eps)  # noqa: E731
    batch, length = token_ids.shape
    x = (t["bert.embeddings.word_embeddings.weight"][token_ids]
         + t["bert.embeddings.position_embeddings.weight"][np.arange(length)][None]
         + t["bert.embeddings.token_type_embeddings.weight"][segment_ids])
    x = norm(x, "bert.embeddings.LayerNorm")
    # (batch, 1, 1, key_length): padded keys get -inf before the softmax.
    key_mask = np.where(token_ids != 0, 0.0, -np.inf)[:, None, None, :]
    head_dim = HIDDEN_DIM // NUM_HEADS
    for n in range(num_layers):
        p = f"bert.encoder.layer.{n}."

        def heads(y):  # (batch, length, hidden) -> (batch, heads, length, head_dim)
            return y.reshape(batch, length, NUM_HEADS, head_dim).transpose(0, 2, 1, 3)

        q = heads(linear(x, p + "attention.self.query"))
        k = heads(linear(x, p + "attention.self.key"))
        v = heads(linear(x, p + "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + key_mask
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        attended = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, HIDDEN_DIM)
        x = norm(x + linear(attended, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        hidden = activation(linear(x, p + "intermediate.dense"))
        x = norm(x + linear(hidden, p + "output.dense"), p + "output.LayerNorm")
    pooled = np.tanh(linear(x[:, 0], "bert.pooler.dense"))
    return x, pooled


def reference_mlm_logits(t: dict, hidden, hidden_act="gelu", layer_norm_eps=1e-12):
    """`BertForMaskedLM`'s logits for `hidden` (the sequence output at the
    masked positions): its head transform uses `hidden_act` and `layer_norm_eps` too."""
    t = {name: np.asarray(value, "float64") for name, value in t.items()}
    x = ACTIVATIONS[hidden_act](
        hidden @ t["cls.predictions.transform.dense.weight"].T + t["cls.predictions.transform.dense.bias"]
    )
    x = _layer_norm(x, t["cls.predictions.transform.LayerNorm.weight"],
                    t["cls.predictions.transform.LayerNorm.bias"], layer_norm_eps)
    return x @ t["bert.embeddings.word_embeddings.weight"].T + t["cls.predictions.bias"]


# === keras-hub ===


def keras_hub_backbone(rng):
    """A tiny keras-hub `BertBackbone` with every weight random (not its init)."""
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCABULARY_SIZE, num_layers=NUM_LAYERS, num_heads=NUM_HEADS,
        hidden_dim=HIDDEN_DIM, intermediate_dim=INTERMEDIATE_DIM, max_sequence_length=MAX_LENGTH,
    )
    return randomize_weights(backbone, rng)


def randomize_weights(model, rng):
    """Every weight of `model` random: gammas around 1, the rest around 0."""
    for variable in model.weights:
        shape = tuple(variable.shape)
        base = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(base + rng.standard_normal(shape).astype("float32") * 0.3)
    return model


def write_keras_hub(directory: Path, model, lower_case=True, vocabulary=VOCABULARY) -> Path:
    """`model` (a backbone or a task) and a BertTokenizer saved as keras-hub presets."""
    import keras_hub

    model.save_to_preset(str(directory))
    keras_hub.models.BertTokenizer(vocabulary=list(vocabulary), lowercase=lower_case).save_to_preset(
        str(directory)
    )
    return directory
