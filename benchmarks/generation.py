"""New tokens per second of cached generation, against recomputation and keras-hub.

In one run, for the same small GPT (random weights, greedy decoding, 256 new
tokens after a 16-token prompt):

  * `GPTDecoder.generate` (fixed-size KV cache)                 -- ours
  * the same model recomputing the whole prefix at every step    -- no cache
  * `keras_hub.models.GPT2CausalLM` on a `GPT2Backbone` of the
    same size (no download: random weights, `preprocessor=None`) -- peer

Every side is XLA-compiled once and warmed up before timing; ours and the peers
are interleaved and repeated, and medians of the ratios are printed, because
these machines are noisy.

    python benchmarks/generation.py [--new-tokens 256] [--batch 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras  # noqa: E402
from keras import ops  # noqa: E402

from keras_attention.models import GPTDecoder  # noqa: E402

SIZE = dict(
    vocabulary_size=1000,
    num_layers=4,
    num_heads=4,
    hidden_dim=256,
    intermediate_dim=1024,
)
PROMPT_LENGTH = 16


def timed(function, repeats=1):
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def no_cache_generator(model, max_length):
    """Greedy decoding that reruns the full model on the buffer at every step."""

    @tf.function(jit_compile=True)
    def generate(buffer, start):
        def body(index, buffer):
            logits = model(buffer)  # (batch, max_length, vocabulary)
            logits = ops.take(logits, index - 1, axis=1)
            logits = ops.where(ops.arange(logits.shape[-1]) == 0, -1e9, logits)
            token = ops.cast(ops.argmax(logits, axis=-1), "int32")
            return index + 1, ops.slice_update(buffer, (0, index), token[:, None])

        _, buffer = ops.while_loop(lambda i, b: i < max_length, body, (start, buffer))
        return buffer

    return generate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import keras_hub

    keras.utils.set_random_seed(0)
    max_length = PROMPT_LENGTH + args.new_tokens
    ours = GPTDecoder(**SIZE, max_sequence_length=max_length, dropout=0.0)
    rng = np.random.default_rng(0)
    prompts = rng.integers(1, SIZE["vocabulary_size"], (args.batch, PROMPT_LENGTH))
    prompts = prompts.astype("int32")

    buffer = np.zeros((args.batch, max_length), "int32")
    buffer[:, :PROMPT_LENGTH] = prompts
    recompute = no_cache_generator(ours, max_length)

    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=SIZE["vocabulary_size"],
        num_layers=SIZE["num_layers"],
        num_heads=SIZE["num_heads"],
        hidden_dim=SIZE["hidden_dim"],
        intermediate_dim=SIZE["intermediate_dim"],
        max_sequence_length=max_length,
        dropout=0.0,
    )
    peer = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    peer_inputs = {
        "token_ids": buffer,
        "padding_mask": np.arange(max_length)[None, :].repeat(args.batch, 0) < PROMPT_LENGTH,
    }

    sides = {
        "ours (KV cache)": lambda: ours.generate(prompts, args.new_tokens),
        "ours, no cache (full prefix each step)": lambda: np.asarray(
            recompute(buffer, np.int32(PROMPT_LENGTH))
        ),
        "keras-hub GPT2CausalLM": lambda: peer.generate(peer_inputs, stop_token_ids=None),
    }
    outputs = {name: run() for name, run in sides.items()}  # compile + warm up
    cached, uncached = outputs["ours (KV cache)"], outputs["ours, no cache (full prefix each step)"]
    assert np.array_equal(cached, uncached), "cached and uncached greedy decoding differ"

    times = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, run in sides.items():
            times[name].append(timed(run))
    new_tokens = args.batch * args.new_tokens
    print(
        f"GPT {SIZE}, batch {args.batch}, prompt {PROMPT_LENGTH}, {args.new_tokens} new "
        f"tokens, greedy; TF {tf.__version__}, Keras {keras.__version__}, "
        f"keras-hub {keras_hub.__version__}"
    )
    ours_time = statistics.median(times["ours (KV cache)"])
    for name, values in times.items():
        ratio = statistics.median(
            other / mine for other, mine in zip(values, times["ours (KV cache)"])
        )
        print(
            f"{name:<42} {new_tokens / statistics.median(values):9.1f} tokens/s   "
            f"ours is {ratio:5.2f}x"
        )
    print(f"(ours: {new_tokens / ours_time:.1f} new tokens/s)")


if __name__ == "__main__":
    main()
