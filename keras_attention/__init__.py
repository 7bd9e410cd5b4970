"""keras-attention: transformer layers and models for Keras 3.

`keras_attention.layers` and `keras_attention.models` are the building blocks;
`keras_attention.load_run(directory)` opens a trained (or converted) run to
predict, evaluate, draw attention and export from Python, as the
`keras-attention` command does.
"""

from keras_attention import layers, models

# What a run's model.keras names besides layers and models (its schedule, loss,
# metric and optimizer), registered so that `keras.saving.load_model` finds it.
from keras_attention.training import accumulation, losses, metrics, schedules  # noqa: F401

from keras_attention._version import __version__

__all__ = ["layers", "load_run", "models", "__version__"]


def load_run(directory):
    """Load the finished run in `directory`: a `keras_attention.runs.Run`
    with `predict(texts, **decoding)`, `evaluate(test_file)`,
    `attention(text, png)` and `export(path)`."""
    from keras_attention.runs import load_run as _load_run  # training code loads on first use

    return _load_run(directory)
