"""Attention heatmaps: one row per layer, one column per head, written as PNG."""

import pytest

from keras_attention.visualization import plot_attention


def test_writes_a_png_grid_of_layers_by_heads(tmp_path, rng):
    import matplotlib.image

    weights = rng.random((2, 3, 4, 5)).astype("float32")  # batch 2, 3 heads, 4 x 5
    scores = {"layer_0": weights, "layer_1": weights}
    path = plot_attention(scores, list("abcd"), list("vwxyz"), tmp_path / "attention.png",
                          title="test", example=1)
    assert path == tmp_path / "attention.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.shape[1] > image.shape[0]  # three heads side by side, two layers stacked


def test_empty_scores_are_refused(tmp_path):
    with pytest.raises(ValueError, match="`scores` is empty"):
        plot_attention({}, ["a"], ["b"], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_layers_with_fewer_heads_leave_their_extra_cells_empty(tmp_path, rng):
    # A pointer-generator's one-head copy attention under four-head cross-attention.
    import matplotlib.image

    scores = {
        "decoder_layer_0/cross_attention": rng.random((1, 4, 3, 5)).astype("float32"),
        "copy_attention": rng.random((1, 1, 3, 5)).astype("float32"),
    }
    path = plot_attention(scores, list("abc"), list("vwxyz"), tmp_path / "attention.png")
    assert matplotlib.image.imread(path).shape[1] > matplotlib.image.imread(path).shape[0]
