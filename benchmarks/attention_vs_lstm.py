"""The parallelism claim, measured: self-attention vs an LSTM of equal width.

An LSTM must step through the sequence; self-attention computes every position
at once with matrix products (at a cost quadratic in length). This script
times one training step (forward + backward) of `MultiHeadAttention` and of
`keras.layers.LSTM` with the same width, at growing sequence lengths, in the
same run, and prints LSTM time / attention time (> 1: attention is faster).
With --plot it also draws docs/images/attention_vs_lstm.png.

    python benchmarks/attention_vs_lstm.py [--plot] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import keras  # noqa: E402

from keras_attention.layers import MultiHeadAttention  # noqa: E402

BATCH, WIDTH, HEADS = 16, 128, 4
LENGTHS = (32, 64, 128, 256, 512)


def step_time(layer, x, repeats):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, training=True)))
        return tape.gradient(loss, layer.trainable_variables)

    step(x)  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gradients = step(x)
        _ = gradients[0].numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plot", action="store_true")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    print(f"batch {BATCH}, width {WIDTH}, {HEADS} heads; training step (forward + backward), TF {tf.__version__}")
    print(f"{'length':>7} {'LSTM / attention':>17}")
    ratios = []
    for length in LENGTHS:
        x = tf.random.normal((BATCH, length, WIDTH))
        attention = MultiHeadAttention(HEADS)
        lstm = keras.layers.LSTM(WIDTH, return_sequences=True)
        attention(x), lstm(x)
        ratio = step_time(lstm, x, args.repeats) / step_time(attention, x, args.repeats)
        ratios.append(ratio)
        print(f"{length:>7} {ratio:16.1f}x")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(6, 3.5))
        axis.plot(LENGTHS, ratios, "-o")
        axis.axhline(1.0, color="grey", linestyle="--")
        axis.set_xscale("log", base=2)
        axis.set_xlabel("sequence length")
        axis.set_ylabel("LSTM time / attention time")
        axis.set_title(f"Training step, batch {BATCH}, width {WIDTH} (CPU)")
        axis.grid(alpha=0.3)
        figure.tight_layout()
        path = Path(__file__).resolve().parents[1] / "docs" / "images" / "attention_vs_lstm.png"
        figure.savefig(path, dpi=100)
        print(f"plot: {path}")


if __name__ == "__main__":
    main()
