"""The main job's promise: `make run`'s recipe reaches >= 99% held-out exact match."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_the_default_dates_recipe_reaches_99_percent_exact_match(tmp_path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    from keras_attention.training import train

    out = tmp_path / "dates"
    metrics = train(ROOT / "models" / "dates.toml", out, log=lambda *_: None)
    assert metrics["exact_match"] >= 0.99, metrics
    assert json.loads((out / "metrics.json").read_text())["exact_match"] == metrics["exact_match"]
    served = tf.saved_model.load(str(out / "export")).signatures["serving_default"]
    translation = served(text=tf.constant(["Tuesday, March 5, 2024"]))["translation"]
    assert translation.numpy()[0].decode() == "2024-03-05"
