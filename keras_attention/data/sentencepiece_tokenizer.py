"""SentencePiece tokenizer on tensorflow-text, for a model trained elsewhere."""

from __future__ import annotations

import os

import tensorflow as tf
import tensorflow_text as tf_text

from keras_attention.data.tokenizer_base import BaseTokenizer, saved_file, write_config

__all__ = ["SentencePieceTokenizer"]

MODEL_FILE = "spm.model"

# Not a piece of any model: SentencePiece maps it to the unknown id.
_NOT_A_PIECE = "\x00 not a piece \x00"


class SentencePieceTokenizer(BaseTokenizer):
    """Tokenizer for a trained SentencePiece model (unigram or BPE).

    SentencePiece encodes spaces as part of its pieces, so `detokenize` is
    the exact inverse of `tokenize` for text without unknown characters.

    The model must use the project's id convention: padding is id 0 (models
    are padded with 0), unknown 1, and bos 2 / eos 3 serve as [START] /
    [END]. Masked-LM and classification pipelines also need "[MASK]", "[CLS]"
    and "[SEP]" pieces, added as user-defined symbols. With the
    `sentencepiece` package:

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
        model_file: path of the serialized SentencePiece model (`.model`).

    Example:

    >>> tokenizer = SentencePieceTokenizer("spm.model")  # doctest: +SKIP
    >>> tokenizer.detokenize(tokenizer.tokenize(["March 5, 2024"]))  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'March 5, 2024'], dtype=object)>

    References:
        Kudo and Richardson, "SentencePiece", 2018.
    """

    kind = "sentencepiece"

    def __init__(self, model_file: str):
        super().__init__()
        model_file = os.fspath(model_file)
        if not os.path.isfile(model_file):
            raise FileNotFoundError(f"No SentencePiece model at {model_file!r}")
        with open(model_file, "rb") as file:
            self._model = file.read()
        try:
            self._sentencepiece = tf_text.SentencepieceTokenizer(
                model=self._model, out_type=tf.int32
            )
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

    def _piece_id(self, piece: str) -> int:
        return int(self._sentencepiece.string_to_id(piece))

    def _first_piece_id(self, *pieces: str) -> int | None:
        """The id of the first of `pieces` in the model, or None."""
        for piece in pieces:
            piece_id = self._piece_id(piece)
            if piece_id != self.unk_id:
                return piece_id
        return None

    @property
    def vocabulary_size(self) -> int:
        """Number of pieces, special pieces included."""
        return int(self._sentencepiece.vocab_size())

    def _id_to_token(self, i: int) -> str:
        return self._sentencepiece.id_to_string(i).numpy().decode("utf-8")

    def _tokenize_batch(self, strings):
        return self._sentencepiece.tokenize(strings)

    def _detokenize_batch(self, token_ids):
        return self._sentencepiece.detokenize(token_ids)

    def save(self, directory) -> None:
        """Writes the model as `spm.model` and `tokenizer.json` to `directory`."""
        write_config(directory, {"type": self.kind})
        with open(os.path.join(directory, MODEL_FILE), "wb") as file:
            file.write(self._model)

    @classmethod
    def from_saved(cls, directory, config: dict) -> SentencePieceTokenizer:
        """The tokenizer `save` wrote to `directory` (`config`: its `tokenizer.json`)."""
        return cls(saved_file(directory, MODEL_FILE))
