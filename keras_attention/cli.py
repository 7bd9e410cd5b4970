"""`python -m keras_attention.cli`: the `keras-attention` command, which lives
in the top-level module `keras_attention_cli` so that its parser answers
without importing TensorFlow."""

import sys

from keras_attention_cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
