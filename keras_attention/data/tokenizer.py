"""WordPiece tokenizer on tensorflow-text (trainable, savable, graph-ready), the
interface all tokenizers of this package share, and `load_tokenizer`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset import (
    bert_vocab_from_dataset,
)

__all__ = ["RESERVED_TOKENS", "WordPieceTokenizer", "load_tokenizer"]

RESERVED_TOKENS = ["[PAD]", "[UNK]", "[START]", "[END]", "[MASK]", "[CLS]", "[SEP]"]

CONFIG_FILE = "tokenizer.json"
VOCABULARY_FILE = "vocab.txt"

# BERT's basic tokenization puts spaces around punctuation; these rules take
# them out again so that "2024-03-05" and "Hello, world." round-trip.
_SPACING_RULES = (
    (r" ?([-/:']) ?", r"\1"),  # no space on either side
    (r" ([,.!?;)\]])", r"\1"),  # no space before
    (r"([(\[]) ", r"\1"),  # no space after
)
_TRAINING_BATCH_SIZE = 1024


def _tidy_punctuation_spacing(strings: tf.Tensor) -> tf.Tensor:
    """Removes the spaces that word splitting put around punctuation."""
    for pattern, rewrite in _SPACING_RULES:
        strings = tf.strings.regex_replace(strings, pattern, rewrite)
    return strings


def write_config(directory, config: dict) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as file:
        json.dump(config, file, indent=2)


def _as_token_ids(token_ids):
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


def _as_strings(strings):
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

    Subclasses set the int (or None) attributes `pad_id` (always 0),
    `unk_id`, `start_id`, `end_id`, `mask_id`, `cls_id` and `sep_id`, and
    implement `vocabulary_size`, `save`, `_tokenize_batch` (1-D strings to
    ragged int32 ids) and `_detokenize_batch` (ragged ids, special ids
    removed, to 1-D strings) with TensorFlow ops only.
    """

    @property
    def vocabulary_size(self) -> int:
        raise NotImplementedError

    def save(self, directory) -> None:
        raise NotImplementedError

    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        raise NotImplementedError

    def _detokenize_batch(self, token_ids: tf.RaggedTensor) -> tf.Tensor:
        raise NotImplementedError

    def normalize(self, strings) -> tf.Tensor:
        """The text normalisation `tokenize` applies before splitting (none here).

        Evaluation applies it to references, so that they are compared with
        predictions on equal terms: a tokenizer that lower-cases can only
        ever produce lower-cased text.
        """
        strings, is_scalar = _as_strings(strings)
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
        strings, is_scalar = _as_strings(strings)
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
        token_ids, is_single = _as_token_ids(token_ids)
        special_ids = tf.constant(self.special_ids, tf.int32)
        is_special = tf.ragged.map_flat_values(
            lambda ids: tf.reduce_any(tf.equal(ids[..., tf.newaxis], special_ids), -1),
            token_ids,
        )
        strings = self._detokenize_batch(
            tf.ragged.boolean_mask(token_ids, tf.logical_not(is_special))
        )
        return strings[0] if is_single else strings


class WordPieceTokenizer(BaseTokenizer):
    """WordPiece tokenizer: BERT word splitting, then greedy longest-match subwords.

    Text is split into words and punctuation (`tensorflow_text.BertTokenizer`'s
    basic tokenization), and each word into the longest vocabulary pieces from
    its start; continuation pieces carry a "##" prefix. Unknown words become
    "[UNK]". The vocabulary starts with `RESERVED_TOKENS`, so "[PAD]" is id 0,
    "[UNK]" 1, "[START]" 2, "[END]" 3, "[MASK]" 4, "[CLS]" 5 and "[SEP]" 6.

    `tokenize` and `detokenize` are TensorFlow ops: they run eagerly, inside
    `tf.data.Dataset.map` and inside a `tf.function`, and because the
    tensorflow-text tokenizer and its lookup table are attributes of this
    `tf.Module`, the tokenizer can be saved inside a SavedModel.

    Detokenization is not exactly the inverse of tokenization: words are
    joined with single spaces, then the spaces next to punctuation are
    removed by fixed rules (none on either side of "-", "/", ":" and "'",
    none before ",", ".", "!", "?", ";", ")" and "]", none after "(" and
    "["). Dates, numbers and ordinary sentences round-trip; unusual spacing
    such as "a - b" does not. With `lower_case=True`, text is also
    lower-cased and stripped of accents.

    Args:
        vocabulary: list of str, the tokens by id. Must start with
            `RESERVED_TOKENS`; continuation pieces start with "##".
        lower_case: bool, default False. Lower-case and strip accents before
            splitting.
        name: str or None, the `tf.Module` name.

    Example:

    >>> tokenizer = WordPieceTokenizer.train(
    ...     ["Hello, world.", "The 5th of March, 2024."], vocabulary_size=100,
    ...     show_progress=False)
    >>> token_ids = tokenizer.tokenize(["Hello, world."])
    >>> token_ids.shape.as_list(), token_ids.dtype.name
    ([1, None], 'int32')
    >>> tokenizer.detokenize(token_ids).numpy().tolist()
    [b'Hello, world.']

    References:
        Wu et al., "Google's Neural Machine Translation System", 2016, §4.1
        (wordpieces); Devlin et al., "BERT", 2019, §3 (basic tokenization).
    """

    def __init__(
        self,
        vocabulary: list[str],
        lower_case: bool = False,
        name: str | None = None,
    ):
        super().__init__(name=name)
        vocabulary = [str(token) for token in vocabulary]
        if vocabulary[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ValueError(
                f"`vocabulary` must start with the reserved tokens {RESERVED_TOKENS}. "
                f"Received: vocabulary starting with "
                f"{vocabulary[: len(RESERVED_TOKENS)]}"
            )
        if len(set(vocabulary)) != len(vocabulary):
            duplicates = sorted({t for t in vocabulary if vocabulary.count(t) > 1})
            raise ValueError(
                "`vocabulary` must not repeat tokens. "
                f"Received: vocabulary with repeated tokens {duplicates[:10]}"
            )
        self.lower_case = bool(lower_case)
        # A tuple is not wrapped for checkpoint tracking, unlike a list.
        self._vocabulary = tuple(vocabulary)
        self._ids = {token: index for index, token in enumerate(vocabulary)}
        (
            self.pad_id,
            self.unk_id,
            self.start_id,
            self.end_id,
            self.mask_id,
            self.cls_id,
            self.sep_id,
        ) = range(len(RESERVED_TOKENS))
        self._vocabulary_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                keys=tf.constant(vocabulary),
                values=tf.range(len(vocabulary), dtype=tf.int64),
            ),
            default_value=self.unk_id,
        )
        self._bert_tokenizer = tf_text.BertTokenizer(
            self._vocabulary_table,
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            lower_case=self.lower_case,
        )

    @classmethod
    def train(
        cls,
        texts: Iterable[str] | tf.data.Dataset,
        vocabulary_size: int = 8000,
        lower_case: bool = False,
        show_progress: bool = True,
    ) -> WordPieceTokenizer:
        """Learns a WordPiece vocabulary from text.

        Counts the words of `texts` (one pass, with a progress bar when
        `show_progress`) and learns a vocabulary of at most `vocabulary_size`
        tokens with tensorflow-text's `bert_vocab_from_dataset`: the reserved
        tokens, every character seen (alone and as a "##" continuation), then
        the most useful longer pieces. Deterministic for the same input.

        Args:
            texts: an iterable of str, or a `tf.data.Dataset` of string
                scalars or string vectors.
            vocabulary_size: int, default 8000. Upper bound on the vocabulary
                size; small corpora give smaller vocabularies.
            lower_case: bool, default False. See the class docstring.
            show_progress: bool, default True. Print a progress bar while
                counting words.

        Returns:
            A `WordPieceTokenizer`.
        """
        if (
            isinstance(vocabulary_size, bool)
            or not isinstance(vocabulary_size, int)
            or vocabulary_size <= len(RESERVED_TOKENS)
        ):
            raise ValueError(
                "`vocabulary_size` must be an integer larger than the "
                f"{len(RESERVED_TOKENS)} reserved tokens. "
                f"Received: vocabulary_size={vocabulary_size!r}"
            )
        batches, num_batches = _text_batches(texts)
        progress = keras.utils.Progbar(num_batches, unit_name="batch") if (
            show_progress
        ) else None

        def counted_batches():
            for step, batch in enumerate(batches(), start=1):
                yield batch
                if progress is not None:
                    progress.update(step)

        dataset = tf.data.Dataset.from_generator(
            counted_batches, output_signature=tf.TensorSpec([None], tf.string)
        )
        try:
            vocabulary = bert_vocab_from_dataset(
                dataset,
                vocab_size=vocabulary_size,
                reserved_tokens=RESERVED_TOKENS,
                bert_tokenizer_params={"lower_case": bool(lower_case)},
            )
        except StopIteration:
            # tensorflow-text peeks at the first word counted.
            raise ValueError(
                "`texts` must contain at least one word. Received: no words"
            ) from None
        return cls(vocabulary, lower_case=lower_case)

    @property
    def vocabulary_size(self) -> int:
        """Number of tokens, reserved tokens included."""
        return len(self._vocabulary)

    @property
    def vocabulary(self) -> list[str]:
        """The tokens, by id."""
        return list(self._vocabulary)

    def token_to_id(self, token: str) -> int:
        """The id of `token`; raises ValueError if it is not in the vocabulary."""
        if token not in self._ids:
            raise ValueError(
                f"`token` must be in the vocabulary. Received: token={token!r}"
            )
        return self._ids[token]

    def id_to_token(self, i: int) -> str:
        """The token with id `i`; raises ValueError if `i` is out of range."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not (
            0 <= i < self.vocabulary_size
        ):
            raise ValueError(
                f"`i` must be an integer in [0, {self.vocabulary_size}). "
                f"Received: i={i!r}"
            )
        return self._vocabulary[i]

    def normalize(self, strings) -> tf.Tensor:
        """With `lower_case`: case-folded, NFD-decomposed and stripped of accents
        (combining marks), exactly as `tensorflow_text.BertTokenizer` does
        before splitting; otherwise unchanged.

        >>> tokenizer = WordPieceTokenizer(RESERVED_TOKENS + ["a"], lower_case=True)
        >>> tokenizer.normalize(["Café À Paris"]).numpy().tolist()
        [b'cafe a paris']
        """
        strings, is_scalar = _as_strings(strings)
        if self.lower_case:
            strings = tf_text.case_fold_utf8(strings)
            strings = tf_text.normalize_utf8(strings, "NFD")
            strings = tf.strings.regex_replace(strings, r"\p{Mn}", "")
        return strings[0] if is_scalar else strings

    def _tokenize_batch(self, strings):
        # (batch, words, wordpieces) -> (batch, wordpieces)
        return self._bert_tokenizer.tokenize(strings).merge_dims(-2, -1)

    def _detokenize_batch(self, token_ids):
        words = self._bert_tokenizer.detokenize(token_ids)  # (batch, words)
        return _tidy_punctuation_spacing(
            tf.strings.reduce_join(words, axis=-1, separator=" ")
        )

    def save(self, directory) -> None:
        """Writes `vocab.txt` (a token per line) and `tokenizer.json` to `directory`."""
        write_config(directory, {"type": "wordpiece", "lower_case": self.lower_case})
        path = os.path.join(directory, VOCABULARY_FILE)
        with open(path, "w", encoding="utf-8") as file:
            file.write("\n".join(self._vocabulary) + "\n")


def _text_batches(texts):
    """A generator function over string batches of `texts`, and their count."""
    if isinstance(texts, tf.data.Dataset):
        if texts.element_spec.shape.rank == 0:
            texts = texts.batch(_TRAINING_BATCH_SIZE)
        cardinality = int(texts.cardinality())
        num_batches = cardinality if cardinality >= 0 else None

        def batches():
            for batch in texts.as_numpy_iterator():
                yield np.reshape(batch, [-1])

        return batches, num_batches
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

    return batches, num_batches


def load_tokenizer(directory):
    """Loads a tokenizer saved by `WordPieceTokenizer` or `SentencePieceTokenizer`.

    Args:
        directory: path of the directory holding `tokenizer.json`.

    Returns:
        A `WordPieceTokenizer` or a `SentencePieceTokenizer`, as
        `tokenizer.json` says.

    Example:

    >>> import tempfile
    >>> tokenizer = WordPieceTokenizer(RESERVED_TOKENS + ["a", "##b"])
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     tokenizer.save(directory)
    ...     loaded = load_tokenizer(directory)
    >>> loaded.tokenize("ab a").numpy().tolist()
    [7, 8, 7]
    """
    directory = os.fspath(directory)
    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No tokenizer directory at {directory!r}")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"No {CONFIG_FILE} in {directory!r}: not a saved tokenizer directory"
        )
    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    kind = config.get("type")
    if kind == "wordpiece":
        path = os.path.join(directory, VOCABULARY_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No {VOCABULARY_FILE} in {directory!r}")
        with open(path, encoding="utf-8") as file:
            # Not `splitlines()`: it would also split at "\x85" and "\u2028".
            vocabulary = file.read().rstrip("\n").split("\n")
        return WordPieceTokenizer(
            vocabulary, lower_case=config.get("lower_case", False)
        )
    if kind == "sentencepiece":
        from keras_attention.data.sentencepiece_tokenizer import (
            MODEL_FILE,
            SentencePieceTokenizer,
        )

        path = os.path.join(directory, MODEL_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No {MODEL_FILE} in {directory!r}")
        return SentencePieceTokenizer(path)
    raise ValueError(
        f"The `type` in {config_path!r} must be 'wordpiece' or 'sentencepiece'. "
        f"Received: type={kind!r}"
    )
