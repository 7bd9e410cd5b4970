"""keras-attention: transformer layers and models for Keras 3."""

from keras_attention import layers, models

__version__ = "0.1.0"

__all__ = ["layers", "models", "__version__"]
