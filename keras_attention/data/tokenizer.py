"""WordPiece tokenizer on tensorflow-text (trainable, savable, graph-ready)."""

from __future__ import annotations

import os
from collections.abc import Iterable

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset import (
    bert_vocab_from_dataset,
)

from keras_attention.data.tokenizer_base import (
    BaseTokenizer,
    as_strings,
    saved_file,
    text_batches,
    write_config,
)

__all__ = ["RESERVED_TOKENS", "WordPieceTokenizer"]

RESERVED_TOKENS = ["[PAD]", "[UNK]", "[START]", "[END]", "[MASK]", "[CLS]", "[SEP]"]

VOCABULARY_FILE = "vocab.txt"

# BERT's basic tokenization puts spaces around punctuation; these rules take
# them out again so that "2024-03-05" and "Hello, world." round-trip.
_SPACING_RULES = (
    (r" ?([-/:']) ?", r"\1"),  # no space on either side
    (r" ([,.!?;)\]])", r"\1"),  # no space before
    (r"([(\[]) ", r"\1"),  # no space after
)


def _tidy_punctuation_spacing(strings: tf.Tensor) -> tf.Tensor:
    """Removes the spaces that word splitting put around punctuation."""
    for pattern, rewrite in _SPACING_RULES:
        strings = tf.strings.regex_replace(strings, pattern, rewrite)
    return strings


class WordPieceTokenizer(BaseTokenizer):
    """WordPiece tokenizer: BERT word splitting, then greedy longest-match subwords.

    Text is split into words and punctuation (`tensorflow_text.BertTokenizer`'s
    basic tokenization), and each word into the longest vocabulary pieces from
    its start; continuation pieces carry a "##" prefix. Unknown words become
    "[UNK]". The vocabulary starts with `RESERVED_TOKENS`, so "[PAD]" is id 0,
    "[UNK]" 1, "[START]" 2, "[END]" 3, "[MASK]" 4, "[CLS]" 5 and "[SEP]" 6 —
    except for a pretrained model's vocabulary (`from_vocabulary_file`),
    taken as it is, whose special ids are those of its tokens.

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
        reserved_tokens_first: bool, default True. With False, `vocabulary`
            is taken as it is (a pretrained model's `vocab.txt`, see
            `from_vocabulary_file`): each special id is the id of its token
            ("[PAD]", "[UNK]", "[START]", "[END]", "[MASK]", "[CLS]",
            "[SEP]"), None when the token is missing; "[PAD]" must be id 0
            (the models' padding mask) and "[UNK]" must be present.

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

    kind = "wordpiece"
    # The reserved tokens and one learned token.
    smallest_vocabulary_size = len(RESERVED_TOKENS) + 1

    def __init__(
        self,
        vocabulary: list[str],
        lower_case: bool = False,
        name: str | None = None,
        reserved_tokens_first: bool = True,
    ):
        super().__init__(name=name)
        vocabulary = [str(token) for token in vocabulary]
        self.reserved_tokens_first = bool(reserved_tokens_first)
        if not self.reserved_tokens_first:
            _check_pretrained_vocabulary(vocabulary)
        elif vocabulary[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
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
        ) = (self._ids.get(token) for token in RESERVED_TOKENS)
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
        dataset = tf.data.Dataset.from_generator(
            text_batches(texts, show_progress), output_signature=tf.TensorSpec([None], tf.string)
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

    @classmethod
    def from_vocabulary_file(
        cls, path, lower_case: bool = False, name: str | None = None
    ) -> WordPieceTokenizer:
        """A tokenizer on a pretrained model's `vocab.txt`, ids as they are in it.

        BERT's vocabulary has "[PAD]" = 0, "[UNK]" = 100, "[CLS]" = 101,
        "[SEP]" = 102 and "[MASK]" = 103; the special ids are looked up by
        token (`reserved_tokens_first=False`), so the ids match the
        checkpoint's embedding rows. `save` / `load_tokenizer` keep this.

        Args:
            path: a text file with one token per line (line N is id N).
            lower_case: bool, default False: as the checkpoint was trained
                (Hugging Face's `do_lower_case`, keras-hub's `lowercase`).
            name: str or None, the `tf.Module` name.

        Returns:
            A `WordPieceTokenizer`.

        Example:

        >>> import os, tempfile
        >>> tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##s"]
        >>> with tempfile.TemporaryDirectory() as directory:
        ...     path = os.path.join(directory, "vocab.txt")
        ...     with open(path, "w") as file:
        ...         _ = file.write("\\n".join(tokens) + "\\n")
        ...     tokenizer = WordPieceTokenizer.from_vocabulary_file(path, lower_case=True)
        >>> tokenizer.tokenize("Hellos there").numpy().tolist()
        [5, 6, 1]
        >>> tokenizer.cls_id, tokenizer.sep_id, tokenizer.start_id
        (2, 3, None)
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No vocabulary file at {path!r}")
        with open(path, encoding="utf-8") as file:
            # Not `splitlines()`: it would also split at "\x85" and "\u2028".
            vocabulary = [line.rstrip("\r") for line in file.read().rstrip("\n").split("\n")]
        try:
            return cls(vocabulary, lower_case=lower_case, name=name, reserved_tokens_first=False)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

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

    def _id_to_token(self, i: int) -> str:
        return self._vocabulary[i]

    def normalize(self, strings) -> tf.Tensor:
        """With `lower_case`: case-folded, NFD-decomposed and stripped of accents
        (combining marks), exactly as `tensorflow_text.BertTokenizer` does
        before splitting; otherwise unchanged.

        >>> tokenizer = WordPieceTokenizer(RESERVED_TOKENS + ["a"], lower_case=True)
        >>> tokenizer.normalize(["Café À Paris"]).numpy().tolist()
        [b'cafe a paris']
        """
        strings, is_scalar = as_strings(strings)
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
        config = {"type": self.kind, "lower_case": self.lower_case}
        if not self.reserved_tokens_first:
            config["reserved_tokens_first"] = False
        write_config(directory, config)
        path = os.path.join(directory, VOCABULARY_FILE)
        with open(path, "w", encoding="utf-8") as file:
            file.write("\n".join(self._vocabulary) + "\n")

    @classmethod
    def from_saved(cls, directory, config: dict) -> WordPieceTokenizer:
        """The tokenizer `save` wrote to `directory` (`config`: its `tokenizer.json`)."""
        with open(saved_file(directory, VOCABULARY_FILE), encoding="utf-8") as file:
            # Not `splitlines()`: it would also split at "\x85" and "\u2028".
            vocabulary = file.read().rstrip("\n").split("\n")
        return cls(
            vocabulary,
            lower_case=config.get("lower_case", False),
            reserved_tokens_first=config.get("reserved_tokens_first", True),
        )


def _check_pretrained_vocabulary(vocabulary: list[str]) -> None:
    """A vocabulary taken as it is must pad with id 0 and know "[UNK]"."""
    if not vocabulary or vocabulary[0] != "[PAD]":
        raise ValueError(
            'The vocabulary must have "[PAD]" as token 0 (the models take id 0 '
            f"as padding). Received: token 0 = {vocabulary[0] if vocabulary else None!r}"
        )
    if "[UNK]" not in vocabulary:
        raise ValueError('The vocabulary must contain "[UNK]". Received: no "[UNK]" token')
