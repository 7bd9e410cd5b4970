"""`generate` and `beam_search` run under `KERAS_BACKEND=jax` and agree with TensorFlow.

The models are built and decode here (TensorFlow backend); their configs,
weights, inputs and tokens go to a child process with `KERAS_BACKEND=jax`,
which rebuilds them, loads the weights and decodes through `jax.jit`, without
importing TensorFlow. Greedy decoding and beam search must give the same
tokens; sampling, whose random streams differ between backends, must repeat
itself for a seed. The GPT model also gets a second set of weights after its
first compiled call: the compiled function must read the new ones, not
constants baked into the first trace.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import keras

from keras_attention.models import GPTDecoder, Seq2SeqTransformer

pytest.importorskip("jax")

PROMPTS = np.array([[5, 6, 7], [8, 9, 0]], "int32")
SOURCES = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]], "int32")
START, END = 1, 2
ROOT = Path(__file__).parents[2]


def _perturbed(model, seed):
    """`model` with noise on every weight: freshly initialised tiny models
    mostly repeat one token, whatever their weights."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [w + rng.normal(0.0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()]
    )
    return model


def _gpt(seed):
    keras.utils.set_random_seed(seed)
    model = GPTDecoder(
        vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=16, position="rotary", num_key_value_heads=1,
    )
    return _perturbed(model, seed)


def _seq2seq():
    # Seeded so that every hypothesis ends early: the end token, the padding
    # after it and beam search's pool of finished hypotheses are exercised.
    keras.utils.set_random_seed(3)
    model = Seq2SeqTransformer(
        encoder_vocabulary_size=40, num_encoder_layers=1, num_decoder_layers=2, num_heads=2,
        hidden_dim=16, intermediate_dim=32, max_sequence_length=12, normalize_first=True,
        tie_embeddings=False,
    )
    return _perturbed(model, 3)


def _decode(gpt, second_gpt_weights, seq2seq):
    """Every decoding the test compares, as `{name: array}` (runs on either backend)."""
    outputs = {"gpt/greedy": gpt.generate(PROMPTS, 6)}
    gpt.set_weights(second_gpt_weights)
    outputs["gpt/greedy, new weights"] = gpt.generate(PROMPTS, 6)
    outputs["seq2seq/greedy"] = seq2seq.generate(SOURCES, START, END, max_length=8)
    sequences, scores = seq2seq.beam_search(SOURCES, START, END, max_length=8, beam_size=3)
    outputs["seq2seq/beam sequences"], outputs["seq2seq/beam scores"] = sequences, scores
    return outputs


CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from keras_attention.models import GPTDecoder, Seq2SeqTransformer
    from tests.models.test_generation_jax import PROMPTS, SOURCES, START, END, _decode
    assert keras.backend.backend() == "jax"

    folder = sys.argv[1]
    configs = json.load(open(f"{folder}/configs.json"))
    arrays = np.load(f"{folder}/arrays.npz")

    def load(name, cls):
        model = cls.from_config(configs[name])
        model.set_weights([arrays[f"{name}/{n}"] for n in range(len(model.weights))])
        return model

    gpt, seq2seq = load("gpt", GPTDecoder), load("seq2seq", Seq2SeqTransformer)
    second = [arrays[f"gpt_second/{n}"] for n in range(len(gpt.weights))]
    outputs = _decode(gpt, second, seq2seq)
    # Nearly uniform: draws made with one seed would repeat one token.
    sampler = {"temperature": 100.0, "seed": 3}
    samples = [gpt.generate(PROMPTS, 6, sampler=dict(sampler, seed=seed)) for seed in (3, 3, 4)]
    seq2seq_samples = [
        seq2seq.generate(SOURCES, START, max_length=8, sampler=dict(sampler, seed=seed))
        for seed in (3, 3)
    ]
    print(json.dumps({
        "outputs": {name: np.asarray(value).tolist() for name, value in outputs.items()},
        "samples": [s.tolist() for s in samples],
        "seq2seq_samples": [s.tolist() for s in seq2seq_samples],
        "tensorflow": "tensorflow" in sys.modules,
    }))
    """
)


@pytest.mark.slow
def test_generate_and_beam_search_give_the_same_tokens_on_jax(tmp_path):
    gpt, second_gpt, seq2seq = _gpt(0), _gpt(1), _seq2seq()
    arrays = {}
    for name, model in (("gpt", gpt), ("gpt_second", second_gpt), ("seq2seq", seq2seq)):
        arrays.update({f"{name}/{n}": w for n, w in enumerate(model.get_weights())})
    configs = {"gpt": gpt.get_config(), "seq2seq": seq2seq.get_config()}
    (tmp_path / "configs.json").write_text(json.dumps(configs))
    np.savez(tmp_path / "arrays.npz", **arrays)
    expected = _decode(gpt, second_gpt.get_weights(), seq2seq)

    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        env={**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    outputs = report["outputs"]
    assert set(outputs) == set(expected)
    for name, value in expected.items():
        if name.endswith("scores"):
            np.testing.assert_allclose(outputs[name], value, atol=1e-4, err_msg=name)
        else:
            np.testing.assert_array_equal(outputs[name], value, err_msg=f"{name} differs on JAX")
    # The new weights changed the output, so the check above could fail.
    assert outputs["gpt/greedy"] != outputs["gpt/greedy, new weights"]

    same_seed, again, other_seed = (np.array(s) for s in report["samples"])
    np.testing.assert_array_equal(same_seed, again)
    np.testing.assert_array_equal(same_seed[:, :3][PROMPTS != 0], PROMPTS[PROMPTS != 0])
    assert not np.array_equal(same_seed, other_seed)
    # Every step drew with its own seed.
    assert len(set(same_seed[0, 3:].tolist())) > 1
    np.testing.assert_array_equal(*report["seq2seq_samples"])
    assert not report["tensorflow"], "generation on JAX imported TensorFlow"
