"""The contract every tokenizer of this package shares, and its saved-directory format."""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from keras_attention._progress import progress_bar

__all__ = ["BaseTokenizer"]

CONFIG_FILE = "tokenizer.json"
# Texts are read in batches of this many when a tokenizer is learned.
_TRAINING_BATCH_SIZE = 1024


def write_config(directory, config: dict) -> None:
    """Writes `config` as `tokenizer.json` in `directory` (created if missing)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as file:
        json.dump(config, file, indent=2)


def read_config(directory) -> dict:
    """The `tokenizer.json` of a saved tokenizer directory."""
    directory = os.fspath(directory)
    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No tokenizer directory at {directory!r}")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"No {CONFIG_FILE} in {directory!r}: not a saved tokenizer directory"
        )
    expected = f"{config_path!r} must hold a JSON object, as `save` writes it."
    with open(config_path, encoding="utf-8") as file:
        try:
            config = json.load(file)
        except ValueError as error:  # not JSON, or not UTF-8
            raise ValueError(f"{expected} ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{expected} Received: a JSON {type(config).__name__}")
    return config


def saved_file(directory, name: str) -> str:
    """The path of `name` in a saved tokenizer directory; raises if it is missing."""
    path = os.path.join(os.fspath(directory), name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {name} in {os.fspath(directory)!r}")
    return path


def text_batches(texts, show_progress: bool = False):
    """A generator function over string batches of `texts` (a tokenizer's
    training texts), with a progress bar over the batches when `show_progress`.

    Args:
        texts: an iterable of str, or a `tf.data.Dataset` of string scalars
            or string vectors.
        show_progress: bool, default False.
    """
    if isinstance(texts, tf.data.Dataset):
        if texts.element_spec.shape.rank == 0:
            texts = texts.batch(_TRAINING_BATCH_SIZE)
        cardinality = int(texts.cardinality())
        num_batches = cardinality if cardinality >= 0 else None

        def batches():
            for batch in texts.as_numpy_iterator():
                yield np.reshape(batch, [-1])

    else:
        if isinstance(texts, (str, bytes)):
            raise ValueError(
                "`texts` must be an iterable of strings, not a single string. "
                f"Received: texts={texts[:50]!r}"
            )
        texts = list(texts)
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(
                    f"`texts` must contain only str. Received an element {text!r}"
                )
        num_batches = -(-len(texts) // _TRAINING_BATCH_SIZE)

        def batches():
            for start in range(0, len(texts), _TRAINING_BATCH_SIZE):
                yield np.array(texts[start : start + _TRAINING_BATCH_SIZE], dtype=object)

    if not show_progress:
        return batches
    progress = progress_bar(num_batches, "batch")

    def counted_batches():
        for step, batch in enumerate(batches(), start=1):
            yield batch
            progress.update(step)

    return counted_batches


def as_token_ids(token_ids):
    """`token_ids` as rank-2 int32 ids (dense or ragged) and whether it was rank 1."""
    if not isinstance(token_ids, tf.RaggedTensor):
        token_ids = tf.convert_to_tensor(token_ids)
    if not token_ids.dtype.is_integer:
        raise ValueError(
            "`token_ids` must hold integers. "
            f"Received: token_ids with dtype {token_ids.dtype.name}"
        )
    rank = token_ids.shape.rank
    if rank not in (1, 2):
        raise ValueError(
            "`token_ids` must have shape (batch, length) or (length,). "
            f"Received: token_ids with shape {token_ids.shape}"
        )
    token_ids = tf.cast(token_ids, tf.int32)
    if rank == 1:
        return token_ids[tf.newaxis], True
    return token_ids, False


def as_strings(strings):
    """`strings` as a rank-1 string tensor and whether it was a scalar."""
    strings = tf.convert_to_tensor(strings)
    if strings.dtype != tf.string or strings.shape.rank not in (0, 1):
        raise ValueError(
            "`strings` must be a string scalar or a 1-D string tensor. "
            f"Received: strings with dtype {strings.dtype.name} and shape "
            f"{strings.shape}"
        )
    if strings.shape.rank == 0:
        return strings[tf.newaxis], True
    return strings, False


class BaseTokenizer(tf.Module):
    """What every tokenizer of this package does; subclasses wrap tensorflow-text.

    Subclasses set the class attribute `kind` (the `type` that `save` writes
    to `tokenizer.json`, by which `load_tokenizer` finds the class) and the
    int (or None) attributes `pad_id` (0; None for a vocabulary without
    padding, GPT-2's byte-level BPE), `unk_id`, `start_id`,
    `end_id`, `mask_id`, `cls_id` and `sep_id`, and implement
    `vocabulary_size`, `save`, `from_saved`, `_id_to_token` (a valid id to
    its token), `_tokenize_batch` (1-D strings to ragged int32 ids) and
    `_detokenize_batch` (ragged ids, special ids removed, to 1-D strings)
    with TensorFlow ops only.
    """

    kind: str = ""

    @property
    def vocabulary_size(self) -> int:
        raise NotImplementedError

    def save(self, directory) -> None:
        raise NotImplementedError

    @classmethod
    def from_saved(cls, directory, config: dict) -> BaseTokenizer:
        """The tokenizer that `save` wrote to `directory`, whose `tokenizer.json`
        holds `config`."""
        raise NotImplementedError

    def _id_to_token(self, i: int) -> str:
        raise NotImplementedError

    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        raise NotImplementedError

    def _detokenize_batch(self, token_ids: tf.RaggedTensor) -> tf.Tensor:
        raise NotImplementedError

    def trace_key(self):
        """A value that changes when a function traced with this tokenizer
        must be traced again (its TensorFlow resources were made anew);
        None: never."""
        return None

    def id_to_token(self, i: int) -> str:
        """The token with id `i`; raises ValueError if `i` is out of range."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not (
            0 <= i < self.vocabulary_size
        ):
            raise ValueError(
                f"`i` must be an integer in [0, {self.vocabulary_size}). "
                f"Received: i={i!r}"
            )
        return self._id_to_token(int(i))

    def normalize(self, strings) -> tf.Tensor:
        """The text normalisation `tokenize` applies before splitting (none here).

        Evaluation applies it to references, so that they are compared with
        predictions on equal terms: a tokenizer that lower-cases can only
        ever produce lower-cased text.
        """
        strings, is_scalar = as_strings(strings)
        return strings[0] if is_scalar else strings

    @property
    def special_ids(self) -> list[int]:
        """The ids `detokenize` drops: padding, unknown and the other special tokens."""
        names = ("pad", "unk", "start", "end", "mask", "cls", "sep")
        ids = (getattr(self, f"{name}_id", None) for name in names)
        return sorted(i for i in ids if i is not None)

    def tokenize(self, strings) -> tf.RaggedTensor:
        """Token ids of text, without [START]/[END].

        Args:
            strings: a string scalar or a 1-D string tensor (or list).

        Returns:
            int32 ids: a `tf.RaggedTensor` `(batch, None)` for 1-D input, a
            dense `(None,)` tensor for a scalar.
        """
        strings, is_scalar = as_strings(strings)
        token_ids = self._tokenize_batch(strings)
        return token_ids[0] if is_scalar else token_ids

    def detokenize(self, token_ids) -> tf.Tensor:
        """Text from token ids; special ids (padding, [UNK], [START], ...) are dropped.

        Args:
            token_ids: int ids `(batch, length)`, dense (padded with 0) or
                ragged, or a single sequence `(length,)`.

        Returns:
            A string tensor `(batch,)`, or a scalar for a single sequence.
        """
        token_ids, is_single = as_token_ids(token_ids)
        special_ids = tf.constant(self.special_ids, tf.int32)
        is_special = tf.ragged.map_flat_values(
            lambda ids: tf.reduce_any(tf.equal(ids[..., tf.newaxis], special_ids), -1),
            token_ids,
        )
        strings = self._detokenize_batch(
            tf.ragged.boolean_mask(token_ids, tf.logical_not(is_special))
        )
        return strings[0] if is_single else strings
