"""Training throughput of our attention layers against Keras' own, in one run.

Compares, forward + backward (one optimizer-free gradient step), at batch 32,
length 256, hidden 256, 4 heads, feed-forward 1024, dropout 0 and 0.1:

  * `keras_attention.layers.MultiHeadAttention` vs `keras.layers.MultiHeadAttention`
  * `TransformerEncoderBlock`    vs `keras_hub.layers.TransformerEncoder`

and prints the ratio (ours / peer, > 1 means we are faster), plus the
encoder block's achieved FLOP/s divided by the FLOP/s of one large `matmul`
measured in the same run (the machine's practical ceiling).

Timings interleave ours and the peer's, repeat, and report medians, because
these machines are noisy: read the ratios, not the absolute times.

    python benchmarks/attention.py [--jit] [--repeats 5] [--steps 5]
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

from keras_attention.layers import (  # noqa: E402
    MultiHeadAttention,
    TransformerEncoderBlock,
)

BATCH, LENGTH, HIDDEN, HEADS, INTERMEDIATE = 32, 256, 256, 4, 1024


def train_step_fn(layer, jit_compile):
    """A compiled forward + backward pass through `layer` (no optimizer)."""
    # keras.layers.MultiHeadAttention needs the sequence twice (query, value).
    needs_value = isinstance(layer, keras.layers.MultiHeadAttention)

    @tf.function(jit_compile=jit_compile)
    def step(x):
        with tf.GradientTape() as tape:
            outputs = layer(x, x, training=True) if needs_value else layer(x, training=True)
            loss = tf.reduce_mean(tf.square(outputs))
        return tape.gradient(loss, layer.trainable_variables)

    return step


def seconds_per_step(step, x, steps):
    start = time.perf_counter()
    for _ in range(steps):
        outputs = step(x)
    _ = [np.asarray(g) for g in outputs[:1]]  # wait for the last step
    return (time.perf_counter() - start) / steps


def compare(name, ours, peer, x, args):
    """Interleave ours and the peer; return the median time ratio peer/ours."""
    ours_step = train_step_fn(ours, args.jit)
    peer_step = train_step_fn(peer, args.jit)
    for step in (ours_step, peer_step):  # trace, compile and warm up
        seconds_per_step(step, x, 2)
    ratios, ours_times = [], []
    for _ in range(args.repeats):
        ours_time = seconds_per_step(ours_step, x, args.steps)
        peer_time = seconds_per_step(peer_step, x, args.steps)
        ratios.append(peer_time / ours_time)
        ours_times.append(ours_time)
    ratio = statistics.median(ratios)
    print(f"{name:<58} {ratio:6.2f}x   (min {min(ratios):.2f}, max {max(ratios):.2f})")
    return ratio, statistics.median(ours_times)


def matmul_flops_per_second(args, size=2048):
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function(jit_compile=args.jit)
    def matmul(a, b):
        return tf.matmul(a, b)

    matmul(a, b).numpy()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            result = matmul(a, b)
        result.numpy()
        times.append((time.perf_counter() - start) / args.steps)
    return 2 * size**3 / statistics.median(times)


def encoder_block_flops():
    """Matrix-product FLOPs of one encoder block, forward + backward (3x forward)."""
    tokens = BATCH * LENGTH
    projections = 2 * tokens * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE)
    attention = 2 * 2 * BATCH * LENGTH * LENGTH * HIDDEN  # scores and weighted sum
    return 3 * (projections + attention)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jit", action="store_true", help="XLA-compile both sides")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    import keras_hub

    keras.utils.set_random_seed(0)
    x = tf.random.normal((BATCH, LENGTH, HIDDEN))
    print(
        f"batch {BATCH}, length {LENGTH}, hidden {HIDDEN}, heads {HEADS}, "
        f"feed-forward {INTERMEDIATE}, jit_compile={args.jit}, "
        f"TF {tf.__version__}, Keras {keras.__version__}, keras-hub {keras_hub.__version__}"
    )
    print(f"{'comparison (training step, forward + backward)':<58} {'ours/peer':>8}")
    results = {}
    for dropout in (0.0, 0.1):
        results[("attention", dropout)] = compare(
            f"MultiHeadAttention vs keras MultiHeadAttention, dropout {dropout}",
            MultiHeadAttention(HEADS, dropout=dropout),
            keras.layers.MultiHeadAttention(HEADS, HIDDEN // HEADS, dropout=dropout),
            x,
            args,
        )
    for dropout in (0.0, 0.1):
        results[("encoder", dropout)] = compare(
            f"TransformerEncoderBlock vs keras_hub TransformerEncoder, dropout {dropout}",
            TransformerEncoderBlock(
                HEADS, INTERMEDIATE, dropout=dropout, attention_dropout=dropout
            ),
            keras_hub.layers.TransformerEncoder(INTERMEDIATE, HEADS, dropout=dropout),
            x,
            args,
        )
    peak = matmul_flops_per_second(args)
    for dropout in (0.0, 0.1):
        seconds = results[("encoder", dropout)][1]
        achieved = encoder_block_flops() / seconds
        print(
            f"TransformerEncoderBlock, dropout {dropout}: {achieved / 1e9:.1f} GFLOP/s = "
            f"{achieved / peak:.2f} of large-matmul {peak / 1e9:.1f} GFLOP/s"
        )


if __name__ == "__main__":
    main()
