"""Tiny random GPT-2 checkpoints in keras-hub's and Hugging Face's formats, and
a tiny byte-level BPE vocabulary in GPT-2's layout (id 0 is "!")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NUM_LAYERS = 2
HIDDEN_DIM = 32
NUM_HEADS = 2
INTERMEDIATE_DIM = 4 * HIDDEN_DIM  # Hugging Face's n_inner=None
MAX_LENGTH = 24

# GPT-2's byte-level alphabet for printable ASCII (the bytes "!".."~" stand for
# themselves, a space is "Ġ", a newline "Ċ"), a few merged tokens, and
# <|endoftext|> last, as in GPT-2's vocab.json.
MERGES = ["Ġ t", "h e", "Ġt he", "Ġ c", "a t", "Ġc at", "Ġ s", "Ġs at", "o n", "Ġ on"]
TOKENS = [chr(code) for code in range(33, 127)] + ["Ġ", "Ċ"]
TOKENS += ["Ġt", "he", "Ġthe", "Ġc", "at", "Ġcat", "Ġs", "Ġsat", "on", "Ġon"]
TOKENS += ["<|endoftext|>"]
VOCABULARY = {token: index for index, token in enumerate(TOKENS)}
VOCABULARY_SIZE = len(VOCABULARY)
END_TOKEN_ID = VOCABULARY_SIZE - 1


def padded_batch(rng):
    """`(token_ids, padding_mask)`: three prompts padded on the right with
    random ids, id 0 ("!") among the real tokens."""
    lengths = [7, 4, 10]
    token_ids = rng.integers(0, VOCABULARY_SIZE, (3, 10)).astype("int32")
    token_ids[:, 1] = 0
    padding_mask = (np.arange(10)[None, :] < np.array(lengths)[:, None]).astype("int32")
    return token_ids, padding_mask


# === Hugging Face ===


def huggingface_tensors(rng, num_layers=NUM_LAYERS, prefix="transformer.", lm_head=False) -> dict:
    """Random tensors under `GPT2LMHeadModel` names (Conv1D weights `(in, out)`).

    Every tensor (layer norms and biases included) is random, so a tensor put
    in the wrong place, or transposed, changes the outputs.
    """

    def normal(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype("float32")

    def norm(name):
        return {f"{prefix}{name}.weight": 1 + normal(HIDDEN_DIM, scale=0.1),
                f"{prefix}{name}.bias": normal(HIDDEN_DIM, scale=0.1)}

    h, i = HIDDEN_DIM, INTERMEDIATE_DIM
    tensors = {
        f"{prefix}wte.weight": normal(VOCABULARY_SIZE, h, scale=0.5),
        f"{prefix}wpe.weight": normal(MAX_LENGTH, h, scale=0.3),
        **norm("ln_f"),
    }
    for n in range(num_layers):
        p = f"{prefix}h.{n}."
        tensors.update(norm(f"h.{n}.ln_1"))
        tensors.update(norm(f"h.{n}.ln_2"))
        tensors[f"{p}attn.c_attn.weight"] = normal(h, 3 * h, scale=0.3)  # (in, out)
        tensors[f"{p}attn.c_attn.bias"] = normal(3 * h)
        tensors[f"{p}attn.c_proj.weight"] = normal(h, h)
        tensors[f"{p}attn.c_proj.bias"] = normal(h)
        tensors[f"{p}mlp.c_fc.weight"] = normal(h, i, scale=0.3)
        tensors[f"{p}mlp.c_fc.bias"] = normal(i)
        tensors[f"{p}mlp.c_proj.weight"] = normal(i, h)
        tensors[f"{p}mlp.c_proj.bias"] = normal(h)
        # The causal-mask buffer older checkpoints store: not a weight.
        tensors[f"{p}attn.bias"] = np.tril(np.ones((MAX_LENGTH, MAX_LENGTH), "float32"))[None, None]
    if lm_head:
        tensors["lm_head.weight"] = tensors[f"{prefix}wte.weight"]
    return tensors


def huggingface_config(num_layers=NUM_LAYERS, **changes) -> dict:
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": VOCABULARY_SIZE,
        "n_embd": HIDDEN_DIM,
        "n_layer": num_layers,
        "n_head": NUM_HEADS,
        "n_inner": None,
        "n_positions": MAX_LENGTH,
        "n_ctx": MAX_LENGTH,
        "activation_function": "gelu_new",
        "resid_pdrop": 0.1,
        "embd_pdrop": 0.1,
        "attn_pdrop": 0.1,
        "layer_norm_epsilon": 1e-5,
        "bos_token_id": END_TOKEN_ID,
        "eos_token_id": END_TOKEN_ID,
    }
    config.update(changes)
    return config


def write_bpe_files(vocabulary_path: Path, merges_path: Path, vocabulary=None, merges=None):
    vocabulary_path.write_text(json.dumps(VOCABULARY if vocabulary is None else vocabulary))
    rules = MERGES if merges is None else merges
    merges_path.write_text("#version: 0.2\n" + "\n".join(rules) + "\n", encoding="utf-8")


def write_huggingface(directory: Path, tensors: dict, config: dict | None = None,
                      vocabulary=None, tokenizer=True) -> Path:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config or huggingface_config()))
    # safetensors refuses shared memory: each tensor its own copy.
    save_file({name: np.array(value) for name, value in tensors.items()},
              str(directory / "model.safetensors"))
    if tokenizer:
        write_bpe_files(directory / "vocab.json", directory / "merges.txt", vocabulary)
    return directory


# === keras-hub ===


def keras_hub_backbone(rng):
    """A tiny keras-hub `GPT2Backbone` with every weight random (not its init)."""
    import keras_hub

    from tests.convert.checkpoints import randomize_weights

    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=VOCABULARY_SIZE, num_layers=NUM_LAYERS, num_heads=NUM_HEADS,
        hidden_dim=HIDDEN_DIM, intermediate_dim=INTERMEDIATE_DIM, max_sequence_length=MAX_LENGTH,
    )
    return randomize_weights(backbone, rng)


def write_keras_hub(directory: Path, backbone, tokenizer=True) -> Path:
    """`backbone` (and, with `tokenizer`, a GPT2Tokenizer) saved as keras-hub presets."""
    import keras_hub

    backbone.save_to_preset(str(directory))
    if tokenizer:
        keras_hub.models.GPT2Tokenizer(vocabulary=dict(VOCABULARY), merges=list(MERGES)).save_to_preset(
            str(directory)
        )
    return directory


def keras_hub_logits(backbone, token_ids, padding_mask) -> np.ndarray:
    """keras-hub's GPT-2 logits: the backbone, then the tied token embedding
    (what `GPT2CausalLM` computes)."""
    hidden = backbone({"token_ids": token_ids, "padding_mask": padding_mask})
    return np.asarray(backbone.token_embedding(hidden, reverse=True))
