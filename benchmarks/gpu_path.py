"""The accelerator path: mixed precision and XLA, ours against Keras, on any backend.

Times one full training step (`model.train_on_batch`: forward, backward and an
SGD update) of small models made of

  * `keras_attention.layers.MultiHeadAttention` and its peer `keras.layers.MultiHeadAttention`
  * `TransformerEncoderBlock`   (the peer is the same block built from Keras
                                 layers; keras-hub's when it is installed)

under each dtype policy (float32, mixed_bfloat16, and mixed_float16 where a GPU
is present), XLA-compiled (`jit_compile=True`; with TensorFlow also plain graph
mode). It prints, for every setting, ours / peer speed, the setting's speedup
over float32 for ours, and our encoder block's matrix-product FLOP/s as a
fraction of one large `matmul` in the same dtype (the device's practical peak).
Everything is a ratio measured in this run; ours and the peer are interleaved,
repeated, and medians taken.

Uses only Keras APIs, so the same script measures either backend:

    python benchmarks/gpu_path.py                       # TensorFlow
    KERAS_BACKEND=jax python benchmarks/gpu_path.py     # JAX (XLA only)

Batch 32, length 256, hidden 256, 4 heads, feed-forward 1024 and a 4096 x 4096
peak `matmul` by default; use `--batch 64 --length 1024 --hidden 1024 --heads 16`
to load a large GPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras  # noqa: E402

from keras_attention.layers import (  # noqa: E402
    MultiHeadAttention,
    TransformerEncoderBlock,
)


def has_gpu() -> bool:
    if keras.backend.backend() == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def peer_encoder_block(args):
    """keras-hub's TransformerEncoder if installed, else the paper's block from Keras layers."""
    try:
        import keras_hub

        return keras_hub.layers.TransformerEncoder(args.intermediate, args.heads), "keras-hub"
    except ImportError:
        pass

    def block(x):
        attention = keras.layers.MultiHeadAttention(args.heads, args.hidden // args.heads)(x, x)
        x = keras.layers.LayerNormalization(epsilon=1e-5)(x + attention)
        hidden = keras.layers.Dense(args.intermediate, activation="relu")(x)
        return keras.layers.LayerNormalization(epsilon=1e-5)(x + keras.layers.Dense(args.hidden)(hidden))

    return block, "keras layers"


def make_model(kind, side, args, jit):
    inputs = keras.Input((args.length, args.hidden))
    if kind == "attention":
        if side == "ours":
            outputs = MultiHeadAttention(args.heads)(inputs)
        else:
            outputs = keras.layers.MultiHeadAttention(args.heads, args.hidden // args.heads)(inputs, inputs)
    else:
        if side == "ours":
            outputs = TransformerEncoderBlock(args.heads, args.intermediate)(inputs)
        else:
            outputs = peer_encoder_block(args)[0](inputs)
    outputs = keras.layers.Activation("linear", dtype="float32")(outputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse", jit_compile=jit)
    return model


def seconds_per_step(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss))  # wait for the last step
    return (time.perf_counter() - start) / steps


def compare(kind, args, jit, x, y):
    """Median peer/ours time ratio and our median seconds per step."""
    ours, peer = make_model(kind, "ours", args, jit), make_model(kind, "peer", args, jit)
    for model in (ours, peer):
        seconds_per_step(model, x, y, 2)  # trace, compile, warm up
    ratios, times = [], []
    for _ in range(args.repeats):
        ours_time = seconds_per_step(ours, x, y, args.steps)
        peer_time = seconds_per_step(peer, x, y, args.steps)
        ratios.append(peer_time / ours_time)
        times.append(ours_time)
    return statistics.median(ratios), statistics.median(times)


def matmul_flops_per_second(dtype, jit, size=4096, repeats=5):
    """FLOP/s of one large square matmul in `dtype`, compiled like the models."""
    a = keras.ops.cast(keras.random.normal((size, size)), dtype)
    if keras.backend.backend() == "jax":
        import jax

        matmul = jax.jit(keras.ops.matmul)
    else:
        import tensorflow as tf

        matmul = tf.function(keras.ops.matmul, jit_compile=jit)
    def run():  # a float32 scalar on the host: the product has finished
        return keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.sum(matmul(a, a)), "float32"))

    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def encoder_block_flops(args):
    """Matrix-product FLOPs of one encoder-block training step (backward = 2x forward)."""
    tokens = args.batch * args.length
    projections = 2 * tokens * (4 * args.hidden**2 + 2 * args.hidden * args.intermediate)
    attention = 2 * 2 * args.batch * args.length**2 * args.hidden
    return 3 * (projections + attention)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=None, help="default 4 x hidden")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--matmul-size", type=int, default=4096, help="side of the peak matmul")
    args = parser.parse_args()
    args.intermediate = args.intermediate or 4 * args.hidden

    backend, gpu = keras.backend.backend(), has_gpu()
    policies = ["float32", "mixed_bfloat16"] + (["mixed_float16"] if gpu else [])
    compilers = [True] if backend == "jax" else [False, True]
    print(
        f"Keras {keras.__version__}, backend {backend}, {'GPU' if gpu else 'CPU'}; batch "
        f"{args.batch}, length {args.length}, hidden {args.hidden}, heads {args.heads}, "
        f"feed-forward {args.intermediate}; encoder peer: {peer_encoder_block(args)[1]}"
    )
    print(
        f"{'policy':<15} {'compile':<6} {'attention ours/peer':>20} "
        f"{'block ours/peer':>16} {'block vs float32':>17} {'block FLOP/s / matmul':>22}"
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.length, args.hidden)).astype("float32")
    y = rng.standard_normal((args.batch, args.length, args.hidden)).astype("float32")
    baseline = None
    for policy in policies:
        keras.config.set_dtype_policy(policy)
        compute_dtype = keras.mixed_precision.dtype_policy().compute_dtype
        for jit in compilers:
            attention_ratio, _ = compare("attention", args, jit, x, y)
            block_ratio, block_seconds = compare("encoder", args, jit, x, y)
            baseline = baseline or block_seconds
            peak = matmul_flops_per_second(compute_dtype, jit, args.matmul_size)
            print(
                f"{policy:<15} {'XLA' if jit else 'graph':<6} {attention_ratio:>19.2f}x "
                f"{block_ratio:>15.2f}x {baseline / block_seconds:>16.2f}x "
                f"{encoder_block_flops(args) / block_seconds / peak:>22.2f}",
                flush=True,
            )
    keras.config.set_dtype_policy("float32")


if __name__ == "__main__":
    main()
