"""SentencePiece tokenizer on tensorflow-text: learned from text here, or a
model trained elsewhere. The lossless tokenizer of the tasks that write text."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable

import tensorflow as tf
import tensorflow_text as tf_text

from keras_attention.data.tokenizer_base import (
    BaseTokenizer,
    as_strings,
    saved_file,
    text_batches,
    write_config,
)

__all__ = ["SentencePieceTokenizer"]

MODEL_FILE = "spm.model"

# Not a piece of any model: SentencePiece maps it to the unknown id.
_NOT_A_PIECE = "\x00 not a piece \x00"

# The pieces every model learned here starts with, in the project's id order.
_SPECIAL_PIECES = dict(pad_piece="[PAD]", unk_piece="[UNK]", bos_piece="[START]", eos_piece="[END]")
_CONTROL_SYMBOLS = ["[MASK]", "[CLS]", "[SEP]"]
# Byte fallback spells a character the pieces lack as its UTF-8 bytes.
_BYTE_PIECES = 256


class SentencePieceTokenizer(BaseTokenizer):
    """SentencePiece tokenizer (unigram or BPE), lossless: `detokenize` gives
    back exactly the text `tokenize` read.

    SentencePiece treats text as a stream of characters and spaces as part of
    its pieces ("▁the"), so nothing is lost between words: quotes,
    apostrophes, "3.14", "$5,000", URLs, repeated spaces and newlines come
    back as they went in. `train` learns a model from your texts with the
    `sentencepiece` package; tokenizing and detokenizing run in-graph through
    tensorflow-text, so the model is saved inside a SavedModel. A model
    learned by `train`:

    - keeps the text as it is (SentencePiece's "identity" normalisation: no
      NFKC, no collapsing of spaces);
    - reads a space in front of every text (`add_prefix_space`), so that a
      text's first word has the same pieces as that word anywhere else, and
      takes exactly that space away again when detokenizing;
    - learns frequent numbers as pieces ("▁2024"), as it learns words: a
      model copies a year as one token (split into digits, the dates model
      miscopied one in 200), and every digit is a piece of its own too;
    - falls back to UTF-8 bytes for a character it did not learn (an emoji,
      a script absent from the training text), so no text is unknown;
    - with `lower_case`, lower-cases the text first (Unicode lower-casing,
      `tf.strings.lower`): the only normalisation, and only on request.

    A model trained elsewhere must use the project's id convention: padding
    is id 0 (models are padded with 0), unknown 1, and bos 2 / eos 3 serve
    as [START] / [END]. Masked-LM and classification pipelines also need
    "[MASK]", "[CLS]" and "[SEP]" pieces. With the `sentencepiece` package:

        sentencepiece.SentencePieceTrainer.train(
            input="corpus.txt", model_prefix="spm", vocab_size=8000,
            pad_id=0, unk_id=1, bos_id=2, eos_id=3,
            user_defined_symbols=["[MASK]", "[CLS]", "[SEP]"])

    The special ids are found by piece: `start_id` is the id of "[START]" or
    "<s>", `end_id` of "[END]" or "</s>", `mask_id` of "[MASK]" or "<mask>",
    `cls_id` and `sep_id` likewise; an id whose piece the model lacks is
    None. `pad_id` is always 0; a model whose id 0 is not its padding piece
    is rejected.

    `tokenize` and `detokenize` are TensorFlow ops (eager, `tf.data`,
    `tf.function`) and the model is a resource of this `tf.Module`, so the
    tokenizer can be saved inside a SavedModel.

    Args:
        model_file: path of the serialized SentencePiece model (`.model`),
            or the serialized model itself as `bytes`.
        lower_case: bool, default False. Lower-case text before tokenizing.
        add_prefix_space: bool, default False. Put a space in front of each
            text before tokenizing, and remove one leading space from each
            detokenized text (`train` sets it: its models learned it so).

    Example:

    >>> texts = ["Pay $5,000 by March 5, 2024.", "It's “done” at 10:30."] * 50
    >>> tokenizer = SentencePieceTokenizer.train(
    ...     texts, vocabulary_size=300, show_progress=False)
    >>> token_ids = tokenizer.tokenize(["Don't pay €3.14 😀"])
    >>> token_ids.shape.as_list(), token_ids.dtype.name
    ([1, None], 'int32')
    >>> tokenizer.detokenize(token_ids).numpy()[0].decode()
    "Don't pay €3.14 😀"

    References:
        Kudo and Richardson, "SentencePiece", 2018.
    """

    kind = "sentencepiece"
    # What `train` puts first (special, control and byte pieces), and one learned piece.
    smallest_vocabulary_size = len(_SPECIAL_PIECES) + len(_CONTROL_SYMBOLS) + _BYTE_PIECES + 1

    def __init__(
        self, model_file: str | bytes, lower_case: bool = False, add_prefix_space: bool = False
    ):
        super().__init__()
        if isinstance(model_file, bytes):
            self._model, model_file = model_file, "<bytes>"
        else:
            model_file = os.fspath(model_file)
            if not os.path.isfile(model_file):
                raise FileNotFoundError(f"No SentencePiece model at {model_file!r}")
            with open(model_file, "rb") as file:
                self._model = file.read()
        self.lower_case = bool(lower_case)
        self.add_prefix_space = bool(add_prefix_space)
        try:
            self._sentencepiece = self._new_processor()
        except (tf.errors.InternalError, tf.errors.InvalidArgumentError) as error:
            raise ValueError(
                f"`model_file` must be a serialized SentencePiece model. "
                f"Received: model_file={model_file!r} ({error.message})"
            ) from None
        self.pad_id = 0
        self.unk_id = self._piece_id(_NOT_A_PIECE)
        pad_piece = self._sentencepiece.id_to_string(0).numpy().decode()
        pad_text = self._sentencepiece.detokenize([0]).numpy()
        # A control piece (pad, bos, eos) detokenizes to nothing.
        if "pad" not in pad_piece.lower() or pad_text != b"" or self.unk_id == 0:
            raise ValueError(
                "The SentencePiece model must have its padding piece at id 0 "
                "(train with pad_id=0, unk_id=1, bos_id=2, eos_id=3). "
                f"Received: model_file={model_file!r} whose id 0 is {pad_piece!r}"
            )
        self.start_id = self._first_piece_id("[START]", "<s>")
        self.end_id = self._first_piece_id("[END]", "</s>")
        self.mask_id = self._first_piece_id("[MASK]", "<mask>")
        self.cls_id = self._first_piece_id("[CLS]", "<cls>")
        self.sep_id = self._first_piece_id("[SEP]", "<sep>")
        # Whether a character without a piece is spelt in UTF-8 bytes (as
        # `train` learns it), not mapped to [UNK].
        self.byte_fallback = self._piece_id("<0x00>") != self.unk_id

    def _new_processor(self) -> tf_text.SentencepieceTokenizer:
        return tf_text.SentencepieceTokenizer(model=self._model, out_type=tf.int32)

    def _processor(self) -> tf_text.SentencepieceTokenizer:
        """tensorflow-text's tokenizer, made again when its model is gone.

        tensorflow-text keeps the model in a kernel-owned resource, which
        `keras.backend.clear_session()` frees (it clears TensorFlow's kernel
        cache); a tokenizer must outlive that. Checked outside any graph being
        traced, so `tf.data` and `tf.function` capture a live model.
        """
        with tf.init_scope():
            try:
                self._sentencepiece.vocab_size()
            except tf.errors.NotFoundError:
                self._sentencepiece = self._new_processor()
        return self._sentencepiece

    def trace_key(self):
        """The live tensorflow-text tokenizer's id: after `clear_session` made
        it anew, a function traced with the old one must be traced again."""
        return id(self._processor())

    def _piece_id(self, piece: str) -> int:
        return int(self._processor().string_to_id(piece))

    def _first_piece_id(self, *pieces: str) -> int | None:
        """The id of the first of `pieces` in the model, or None."""
        for piece in pieces:
            piece_id = self._piece_id(piece)
            if piece_id != self.unk_id:
                return piece_id
        return None

    @classmethod
    def train(
        cls,
        texts: Iterable[str] | tf.data.Dataset,
        vocabulary_size: int = 8000,
        lower_case: bool = False,
        show_progress: bool = True,
        model_type: str = "bpe",
    ) -> SentencePieceTokenizer:
        """Learns a lossless SentencePiece model from text (see the class docstring).

        Reads `texts` once (with a progress bar when `show_progress`) and
        trains with the `sentencepiece` package, in memory: [PAD] is id 0,
        [UNK] 1, [START] 2, [END] 3, then the control pieces "[MASK]",
        "[CLS]" and "[SEP]", the 256 byte pieces, and the learned pieces.
        Deterministic for the same input.

        Args:
            texts: an iterable of str, or a `tf.data.Dataset` of string
                scalars or string vectors.
            vocabulary_size: int, default 8000. Upper bound on the vocabulary
                size, the byte and special pieces included (so at least a
                few hundred); small corpora give smaller vocabularies.
            lower_case: bool, default False. Learn and tokenize lower-cased
                text.
            show_progress: bool, default True. Print a progress bar while
                reading the texts.
            model_type: "bpe" (default) or "unigram". BPE's pieces start
                words more often ("▁def"), where unigram's often leave a lone
                "▁" in front of a word's pieces; the docstring summariser
                learned with BPE (ROUGE-L 0.158) and not with unigram (0.044).

        Returns:
            A `SentencePieceTokenizer`.
        """
        import sentencepiece

        fixed = cls.smallest_vocabulary_size - 1
        if (
            isinstance(vocabulary_size, bool)
            or not isinstance(vocabulary_size, int)
            or vocabulary_size <= fixed
        ):
            raise ValueError(
                f"`vocabulary_size` must be an integer larger than the {fixed} special and "
                f"byte pieces of a SentencePiece vocabulary. Received: vocabulary_size="
                f"{vocabulary_size!r}"
            )
        if model_type not in ("unigram", "bpe"):
            raise ValueError(
                f'`model_type` must be "unigram" or "bpe". Received: model_type={model_type!r}'
            )
        batches = text_batches(texts, show_progress)

        def sentences():
            for batch in batches():
                if lower_case:  # as `tokenize` will
                    batch = tf.strings.lower(batch.astype(object), encoding="utf-8").numpy()
                for text in batch:
                    text = text.decode("utf-8") if isinstance(text, bytes) else text
                    yield " " + text if text else text

        model = io.BytesIO()
        sentencepiece.set_random_generator_seed(0)
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=sentences(),
                model_writer=model,
                model_type=model_type,
                vocab_size=vocabulary_size,
                hard_vocab_limit=False,  # an upper bound, as for WordPiece
                pad_id=0, unk_id=1, bos_id=2, eos_id=3, **_SPECIAL_PIECES,
                control_symbols=_CONTROL_SYMBOLS,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                # SentencePiece's own dummy prefix drops a leading space when
                # detokenizing; `add_prefix_space` adds one that cannot be lost.
                add_dummy_prefix=False,
                allow_whitespace_only_pieces=True,
                split_digits=False,  # see the class docstring
                byte_fallback=True,
                max_sentence_length=1 << 20,
                input_sentence_size=1_000_000,
                shuffle_input_sentence=True,
                num_threads=1,  # the same model for the same texts
                minloglevel=2,
            )
        except RuntimeError as error:
            message = str(error)
            if "required_chars" in message or "Vocabulary size" in message:
                raise ValueError(
                    "`vocabulary_size` is too small for the characters of `texts` "
                    f"plus the {fixed} special and byte pieces. Received: "
                    f"vocabulary_size={vocabulary_size} ({message.strip()})"
                ) from None
            if "empty" in message.lower() or "no sentence" in message.lower():
                raise ValueError("`texts` must contain at least one character. Received: no text") from None
            raise
        return cls(model.getvalue(), lower_case=lower_case, add_prefix_space=True)

    @property
    def vocabulary_size(self) -> int:
        """Number of pieces, special pieces included."""
        return int(self._processor().vocab_size())

    def _id_to_token(self, i: int) -> str:
        return self._processor().id_to_string(i).numpy().decode("utf-8")

    def normalize(self, strings) -> tf.Tensor:
        """The text as `tokenize` reads it: lower-cased with `lower_case`,
        otherwise unchanged.

        >>> tokenizer = SentencePieceTokenizer.train(
        ...     ["Ça va"] * 10, vocabulary_size=300, lower_case=True,
        ...     show_progress=False)
        >>> tokenizer.normalize("Ça VA").numpy().decode()
        'ça va'
        """
        strings, is_scalar = as_strings(strings)
        if self.lower_case:
            strings = tf.strings.lower(strings, encoding="utf-8")
        return strings[0] if is_scalar else strings

    def _tokenize_batch(self, strings):
        if self.lower_case:
            strings = tf.strings.lower(strings, encoding="utf-8")
        if self.add_prefix_space:  # "" stays "": no text, no tokens
            strings = tf.where(tf.strings.length(strings) > 0, " " + strings, strings)
        return self._processor().tokenize(strings)

    def _detokenize_batch(self, token_ids):
        strings = self._processor().detokenize(token_ids)
        if self.add_prefix_space:
            strings = tf.strings.regex_replace(strings, "^ ", "")
        return strings

    def save(self, directory) -> None:
        """Writes the model as `spm.model` and `tokenizer.json` to `directory`."""
        write_config(directory, {
            "type": self.kind, "lower_case": self.lower_case, "add_prefix_space": self.add_prefix_space,
        })
        with open(os.path.join(directory, MODEL_FILE), "wb") as file:
            file.write(self._model)

    @classmethod
    def from_saved(cls, directory, config: dict) -> SentencePieceTokenizer:
        """The tokenizer `save` wrote to `directory` (`config`: its `tokenizer.json`)."""
        return cls(
            saved_file(directory, MODEL_FILE),
            lower_case=bool(config.get("lower_case", False)),
            add_prefix_space=bool(config.get("add_prefix_space", False)),
        )
