"""GPT-2's byte-level BPE: keras-hub's `BytePairTokenizer` in this package's tokenizer contract."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from keras_attention.data.tokenizer_base import BaseTokenizer, saved_file, write_config

__all__ = ["BytePairTokenizer"]

VOCABULARY_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
END_OF_TEXT = "<|endoftext|>"


def _keras_hub_tokenizer_class():
    try:
        from keras_hub.tokenizers import BytePairTokenizer as KerasHubBytePairTokenizer
    except ImportError:
        raise ImportError(
            "GPT-2's byte-level BPE runs on keras-hub's BytePairTokenizer: "
            'pip install "keras-attention-zoo[gpt2]"'
        ) from None
    return KerasHubBytePairTokenizer


class BytePairTokenizer(BaseTokenizer):
    """GPT-2's byte-level byte-pair encoding, from a vocab.json and merges.txt as they are.

    Text becomes bytes, each byte a printable character (a space is "Ġ"), and
    the merge rules join them into the vocabulary's tokens, so every text has
    ids and there is no unknown token. The work is keras-hub's
    `BytePairTokenizer` (TensorFlow ops: it runs in `tf.data` and inside an
    exported SavedModel); this class gives it the contract of the package's
    other tokenizers.

    GPT-2's vocabulary has no padding token: `pad_id` is None (id 0 is "!"),
    and `<|endoftext|>`, when the vocabulary has it, is `end_id` (the end of
    every text in the language-model stream, dropped by `detokenize`).

    Args:
        vocabulary: dict token -> id, or the path of a vocab.json.
        merges: list of "a b" rules, or the path of a merges.txt (its
            "#version" line is skipped).

    Example:

    >>> tokens = [chr(code) for code in range(33, 127)] + ["Ġ", "Ġt", "he", "Ġthe", "<|endoftext|>"]
    >>> tokenizer = BytePairTokenizer({t: i for i, t in enumerate(tokens)}, ["Ġ t", "h e", "Ġt he"])
    >>> tokenizer.tokenize("the! the").numpy().tolist()  # "t", "he", "!" (id 0), "Ġthe"
    [83, 96, 0, 97]
    >>> tokenizer.detokenize([83, 96, 0, 97, 98]).numpy()  # 98: <|endoftext|>, dropped
    b'the! the'

    References:
        Radford et al., "Language Models are Unsupervised Multitask
        Learners", 2019, §2.2.
        Sennrich et al., "Neural Machine Translation of Rare Words with
        Subword Units", 2016.
    """

    kind = "byte_pair"

    def __init__(self, vocabulary, merges):
        super().__init__()
        if not isinstance(vocabulary, dict):
            with open(os.fspath(vocabulary), encoding="utf-8") as file:
                vocabulary = json.load(file)
        if not isinstance(merges, (list, tuple)):
            with open(os.fspath(merges), encoding="utf-8") as file:
                merges = [line.rstrip("\r") for line in file.read().split("\n")]
        merges = [rule for rule in merges if rule and not rule.startswith("#version")]
        ids = sorted(vocabulary.values())
        if ids != list(range(len(ids))):
            raise ValueError(
                "`vocabulary` must give the ids 0 .. N-1, each once. Received: "
                f"{len(ids)} tokens with ids from {ids[0] if ids else None} to {ids[-1] if ids else None}"
            )
        vocabulary, merges = dict(vocabulary), list(merges)
        end = END_OF_TEXT if END_OF_TEXT in vocabulary else None
        arguments = dict(
            vocabulary=dict(vocabulary), merges=list(merges), unsplittable_tokens=[end] if end else None
        )
        try:
            # TensorFlow ops always (recent keras-hub would run the `tokenizers`
            # package on eager calls), so eager calls, tf.data and exports agree.
            self._byte_pair = _keras_hub_tokenizer_class()(**arguments, _allow_python_workflow=False)
        except TypeError:  # an older keras-hub: TensorFlow ops only
            self._byte_pair = _keras_hub_tokenizer_class()(**arguments)
        self.vocabulary = vocabulary
        self.merges = merges
        self._tokens = sorted(vocabulary, key=vocabulary.get)
        self.pad_id = None
        self.unk_id = None
        self.start_id = None
        self.end_id = self.vocabulary.get(END_OF_TEXT)
        self.mask_id = self.cls_id = self.sep_id = None

    @property
    def vocabulary_size(self) -> int:
        return len(self._tokens)

    def _id_to_token(self, i: int) -> str:
        return self._tokens[i]

    # keras-hub hands tensors back only inside a traced function (eager calls
    # get Python values), so both directions are traced.

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def _tokenize_batch(self, strings):
        token_ids = tf.cast(self._byte_pair.tokenize(strings), tf.int32)
        # A byte the vocabulary lacks (never in GPT-2's, which has all 256)
        # comes back as -1 from keras-hub's tables: dropped, as its
        # `tokenizers` path drops it.
        return tf.ragged.boolean_mask(token_ids, token_ids >= 0)

    def _detokenize_batch(self, token_ids):
        return self._detokenize_traced(token_ids.with_row_splits_dtype(tf.int64))

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int64)])
    def _detokenize_traced(self, token_ids):
        return self._byte_pair.detokenize(token_ids)

    def save(self, directory) -> None:
        """Writes `vocab.json`, `merges.txt` and `tokenizer.json` to `directory`."""
        write_config(directory, {"type": self.kind})
        with open(os.path.join(directory, VOCABULARY_FILE), "w", encoding="utf-8") as file:
            json.dump(dict(self.vocabulary), file, ensure_ascii=False)
        with open(os.path.join(directory, MERGES_FILE), "w", encoding="utf-8") as file:
            file.write("#version: 0.2\n" + "\n".join(self.merges) + "\n")

    @classmethod
    def from_saved(cls, directory, config: dict) -> BytePairTokenizer:
        """The tokenizer `save` wrote to `directory` (`config`: its `tokenizer.json`)."""
        return cls(saved_file(directory, VOCABULARY_FILE), saved_file(directory, MERGES_FILE))
