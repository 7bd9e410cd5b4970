"""Pictures of attention: per-layer, per-head heatmaps saved as PNG."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

__all__ = ["plot_attention"]


def plot_attention(
    scores: dict,
    query_tokens: list[str],
    key_tokens: list[str],
    output: str | Path,
    title: str = "",
    example: int = 0,
) -> Path:
    """Draw attention weights as a grid of heatmaps: one row per layer, one column per head.

    Args:
        scores: `{layer_name: (batch, heads, query_length, key_length)}`, e.g.
            from a model's `attention_scores`.
        query_tokens: labels of the rows (what attends).
        key_tokens: labels of the columns (what is attended to).
        output: the PNG path to write.
        title: a figure title.
        example: which batch row to draw.

    Returns:
        The written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not scores:
        raise ValueError("`scores` is empty: nothing to draw.")
    layers = list(scores)
    arrays = [np.asarray(scores[name], dtype="float32")[example] for name in layers]
    num_heads = max(array.shape[0] for array in arrays)  # a layer may have fewer heads
    rows, columns = len(query_tokens), len(key_tokens)
    cell = 0.28
    figure, axes = plt.subplots(
        len(layers),
        num_heads,
        figsize=(max(2.5, columns * cell) * num_heads + 1, max(2.0, rows * cell) * len(layers) + 1),
        squeeze=False,
    )
    for row, (name, weights) in enumerate(zip(layers, arrays)):
        for head in range(weights.shape[0], num_heads):
            axes[row][head].axis("off")
        for head in range(weights.shape[0]):
            axis = axes[row][head]
            axis.imshow(weights[head, :rows, :columns], cmap="viridis", vmin=0.0, vmax=1.0)
            axis.set_title(f"{name} · head {head}", fontsize=8)
            axis.set_xticks(range(columns))
            axis.set_xticklabels(key_tokens, rotation=90, fontsize=7)
            axis.set_yticks(range(rows))
            axis.set_yticklabels(query_tokens, fontsize=7)
    if title:  # wrapped to the figure's width (about 9 characters an inch at 12 pt)
        width = int(figure.get_figwidth() * 9)
        figure.suptitle("\n".join(textwrap.wrap(title, max(width, 20))), fontsize=12)
    figure.tight_layout()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output
