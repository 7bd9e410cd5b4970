"""Pretrained checkpoints in: keras-hub presets and Hugging Face checkpoints as
this package's models, tokenizers and run directories.

`read_bert_checkpoint(path)` and `read_gpt2_checkpoint(path)`
(`checkpoint.py`) read either format, one module per format
(`huggingface.py`, `keras_hub_preset.py`); where each tensor goes is
`_bert_mapping.py` and `_gpt2_mapping.py`. The models' `from_pretrained`
classmethods (`_models.py`) and `convert`, the `keras-attention convert`
command (`run_directory.py`), build on it.
"""

from __future__ import annotations

from keras_attention.convert._bert_mapping import BertCheckpoint, ConversionError
from keras_attention.convert._gpt2_mapping import GPT2Checkpoint
from keras_attention.convert.checkpoint import (
    load_bert_tokenizer,
    read_bert_checkpoint,
    read_checkpoint,
    read_gpt2_checkpoint,
)

__all__ = [
    "BertCheckpoint",
    "ConversionError",
    "GPT2Checkpoint",
    "convert",
    "load_bert_tokenizer",
    "read_bert_checkpoint",
    "read_checkpoint",
    "read_gpt2_checkpoint",
]


def convert(source, out, overwrite: bool = False, log=print):
    """Write the BERT or GPT-2 checkpoint in `source` as a run directory `out` (see `run_directory`)."""
    from keras_attention.convert.run_directory import write_run

    return write_run(source, out, overwrite=overwrite, log=log)
