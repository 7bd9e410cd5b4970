"""Text data: tensorflow-text tokenizers, readers, embedded datasets, tf.data pipelines.

TensorFlow-only by design: tokenization runs inside `tf.data` (and later
inside exported SavedModels), so strings never enter the Keras graph.
"""

from keras_attention.data.dates import (
    date_pairs,
    date_templates,
    impossible_date_pairs,
    impossible_dates,
    is_iso_date,
    perturb_case,
)
from keras_attention.data.datasets import docstring_summaries, docstring_topics, python_docstrings
from keras_attention.data.pipelines import (
    classification_dataset,
    language_model_dataset,
    masked_lm_dataset,
    padding_fraction,
    seq2seq_dataset,
)
from keras_attention.data.preprocessors import (
    BertPreprocessor,
    LanguageModelPreprocessor,
    Seq2SeqPreprocessor,
)
from keras_attention.data.readers import (
    MalformedDataError,
    ReadReport,
    read_labelled,
    read_sentence_pairs,
    read_text,
    read_tfds,
)
from keras_attention.data.byte_pair_tokenizer import BytePairTokenizer
from keras_attention.data.sentencepiece_tokenizer import SentencePieceTokenizer
from keras_attention.data.tokenizer import RESERVED_TOKENS, WordPieceTokenizer
from keras_attention.data.tokenizer_registry import LEARNABLE_TOKENIZERS, load_tokenizer

__all__ = [
    "BertPreprocessor",
    "BytePairTokenizer",
    "LEARNABLE_TOKENIZERS",
    "LanguageModelPreprocessor",
    "MalformedDataError",
    "RESERVED_TOKENS",
    "ReadReport",
    "Seq2SeqPreprocessor",
    "SentencePieceTokenizer",
    "WordPieceTokenizer",
    "classification_dataset",
    "date_pairs",
    "date_templates",
    "docstring_summaries",
    "docstring_topics",
    "impossible_date_pairs",
    "impossible_dates",
    "language_model_dataset",
    "load_tokenizer",
    "masked_lm_dataset",
    "is_iso_date",
    "padding_fraction",
    "perturb_case",
    "python_docstrings",
    "read_labelled",
    "read_sentence_pairs",
    "read_text",
    "read_tfds",
    "seq2seq_dataset",
]
