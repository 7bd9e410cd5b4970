"""keras-attention: transformer layers and models for Keras 3."""

from keras_attention import layers

__version__ = "0.1.0"

__all__ = ["layers", "__version__"]
