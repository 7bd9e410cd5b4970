"""Draw the documentation's pictures from real computations and a real run.

    python docs/make_figures.py [--run runs/dates]

Writes into docs/images/:
  positional_encoding.png  the sinusoidal encoding matrix (SinusoidalPositionEncoding)
  masks.png                global, causal, local and causal+local masks (compute_attention_mask)
  dates_attention.png      cross-attention of the trained dates model (trains it if missing)
  training_curves.png      that run's loss and accuracy per epoch
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_attention.layers import SinusoidalPositionEncoding, compute_attention_mask  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"


def positional_encoding(path):
    encoding = np.asarray(SinusoidalPositionEncoding()(np.zeros((1, 64, 128), "float32")))[0]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    image = axis.imshow(encoding, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    axis.set_xlabel("embedding channel (sin on even, cos on odd)")
    axis.set_ylabel("position")
    axis.set_title("Sinusoidal position encoding, d = 128 (Vaswani et al. §3.5)")
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def masks(path, length=10):
    cases = [
        ("global", {}),
        ("causal", {"use_causal_mask": True}),
        ("local, window 2", {"attention_window": 2}),
        ("causal + local", {"use_causal_mask": True, "attention_window": 2}),
    ]
    figure, axes = plt.subplots(1, len(cases), figsize=(12, 3.2))
    for axis, (title, kwargs) in zip(axes, cases):
        mask = compute_attention_mask(length, length, **kwargs)
        mask = np.ones((length, length)) if mask is None else np.asarray(mask)[0]
        axis.imshow(mask, cmap="Greens", vmin=0, vmax=1)
        axis.set_title(title)
        axis.set_xlabel("key position")
        axis.set_ylabel("query position")
    figure.suptitle("Attention masks: white weights are forced to zero")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def dates_run(run_dir: Path, text: str):
    from keras_attention.training import load_run, train
    from keras_attention.visualization import plot_attention

    if not (run_dir / "model.keras").exists():
        train(ROOT / "models" / "dates.toml", run_dir)
    task, model = load_run(run_dir)
    scores, query_tokens, key_tokens, title = task.attention(model, text)
    plot_attention(scores, query_tokens, key_tokens, IMAGES / "dates_attention.png", title=title)
    shutil.copy(run_dir / "training_curves.png", IMAGES / "training_curves.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=str(ROOT / "runs" / "dates"))
    parser.add_argument("--text", default="Tuesday, March 5, 2024")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    positional_encoding(IMAGES / "positional_encoding.png")
    masks(IMAGES / "masks.png")
    dates_run(Path(args.run), args.text)
    print(f"Figures written to {IMAGES}")


if __name__ == "__main__":
    main()
