"""Peak memory of attention on long sequences: query chunks vs the full matrix.

For each sequence length, runs one forward pass (inference) and one forward +
backward pass (training) of self-attention, each in a fresh process, and
reports its peak resident memory above the process's baseline for:

  * `keras.layers.MultiHeadAttention`                 (the peer)
  * `MultiHeadAttention()`                            (ours, full score matrix)
  * `MultiHeadAttention(query_chunk_size=CHUNK)`      (ours, chunked)

and prints each of ours as a ratio of the peer's peak (< 1 means less memory).
Then, in this process, it times the three interleaved (median of 5) and prints
each of ours as a speed ratio against the peer (> 1 means faster).
Batch 1, hidden 256, 8 heads, causal mask.

    python benchmarks/attention_memory.py [--lengths 1024 2048 4096] [--chunk 256]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HIDDEN, HEADS = 256, 8
VARIANTS = ("keras", "full", "chunked")


def build_step(variant: str, length: int, mode: str, chunk: int):
    """A compiled call of one variant on a `(1, length, HIDDEN)` input, and the input."""
    import numpy as np
    import tensorflow as tf

    import keras

    from keras_attention.layers import MultiHeadAttention

    x = tf.constant(np.random.default_rng(0).standard_normal((1, length, HIDDEN)), "float32")
    if variant == "keras":
        layer = keras.layers.MultiHeadAttention(HEADS, HIDDEN // HEADS)

        def attend(x):
            return layer(x, x, use_causal_mask=True)
    else:
        layer = MultiHeadAttention(
            HEADS, query_chunk_size=chunk if variant == "chunked" else None
        )

        def attend(x):
            return layer(x, use_causal_mask=True)

    @tf.function
    def step(x):
        if mode == "inference":
            return attend(x)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(attend(x)))
        return tape.gradient(loss, layer.trainable_variables)

    # Build the weights and trace the graph on a short input, then trace the
    # long input's graph: nothing but the long sequence's activations is left.
    step(x[:, :8])
    step.get_concrete_function(tf.TensorSpec(x.shape, x.dtype))

    def run():
        return tf.nest.map_structure(lambda t: t.numpy(), step(x))

    return run


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure_peak(variant: str, length: int, mode: str, chunk: int) -> int:
    """Runs in a child process: peak resident memory growth of one call, in bytes.

    Linux only: resets the process's resident high-water mark (VmHWM) to its
    current size just before the call, then reads how far the call raised it.
    """
    run = build_step(variant, length, mode, chunk)
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # VmHWM := VmRSS
    before = _status_kib("VmRSS")
    run()
    return (_status_kib("VmHWM") - before) * 1024


def speed_ratios(length: int, mode: str, chunk: int, repeats: int = 5) -> dict:
    """Peer time / our time for each of ours, interleaved in this process."""
    import statistics
    import time

    runs = {variant: build_step(variant, length, mode, chunk) for variant in VARIANTS}
    times = {variant: [] for variant in VARIANTS}
    for _ in range(repeats):
        for variant, run in runs.items():
            start = time.perf_counter()
            run()
            times[variant].append(time.perf_counter() - start)
    peer = statistics.median(times["keras"])
    return {variant: peer / statistics.median(times[variant]) for variant in VARIANTS}


def run_child(variant: str, length: int, mode: str, chunk: int) -> int:
    code = (
        "import json, sys; sys.path.insert(0, %r); import attention_memory as m; "
        "print(json.dumps(m.measure_peak(%r, %d, %r, %d)))"
    ) % (os.path.dirname(os.path.abspath(__file__)), variant, length, mode, chunk)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--chunk", type=int, default=256)
    args = parser.parse_args()

    print(f"batch 1, hidden {HIDDEN}, {HEADS} heads, causal; query_chunk_size={args.chunk}")
    print(
        f"{'':<17} {'peak memory':^36} {'speed vs peer':^18}\n"
        f"{'mode':<10} {'length':>6} {'peer':>8} {'full/peer':>10} {'chunked/peer':>13}"
        f" {'full':>8} {'chunked':>9}"
    )
    for mode in ("inference", "training"):
        for length in args.lengths:
            peaks = {v: run_child(v, length, mode, args.chunk) for v in VARIANTS}
            speed = speed_ratios(length, mode, args.chunk)
            print(
                f"{mode:<10} {length:>6} {peaks['keras'] / 2**20:>6.0f}MB "
                f"{peaks['full'] / peaks['keras']:>10.2f} "
                f"{peaks['chunked'] / peaks['keras']:>13.2f} "
                f"{speed['full']:>7.2f}x {speed['chunked']:>8.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
