"""Preprocessors: a task's text -> token ids (and ids -> text), written once in TF ops.

One preprocessor per model family turns a batch of strings `(batch,)` into
the integer inputs its model takes, with the same TensorFlow ops wherever it
runs: inside `tf.data.Dataset.map` (the training pipelines of
`keras_attention.data.pipelines`), eagerly in evaluation and attention plots,
and inside an exported SavedModel. Each is a `tf.Module` holding its
tokenizers, so tracking it in a `tf.Module` or a `keras.export.ExportArchive`
saves the tokenizers' resources with it, and every method traces inside a
`tf.function(input_signature=[tf.TensorSpec([None], tf.string)])`.

Conventions, as keras-hub's preprocessors:
- `encode*` methods return ragged int32 ids `(batch, None)` (for the
  pipelines, which batch, bucket or mask them later);
- the padded versions are dense int32 `(batch, length)`, padded with id 0;
- `truncated` is a bool `(batch,)` that says which texts lost tokens.
"""

from __future__ import annotations

import tensorflow as tf

from keras_attention import _validation

__all__ = ["BertPreprocessor", "LanguageModelPreprocessor", "Seq2SeqPreprocessor"]


# === Shared steps ===


def _special_id(tokenizer, name: str) -> int:
    """The tokenizer's `{name}_id`, which this preprocessor cannot do without."""
    token_id = getattr(tokenizer, f"{name}_id", None)
    if token_id is None:
        raise ValueError(
            f"The tokenizer must have a `{name}_id` for this preprocessor. "
            f"Received: a {type(tokenizer).__name__} without one"
        )
    return int(token_id)


def _tokenized(tokenizer, texts) -> tf.RaggedTensor:
    """`texts` `(batch,)` -> ragged int32 ids `(batch, None)`."""
    texts = tf.convert_to_tensor(texts)
    if texts.dtype != tf.string or texts.shape.rank != 1:
        raise ValueError(
            "`texts` must be a 1-D string tensor (a batch of texts). "
            f"Received: texts with dtype {texts.dtype.name} and shape {texts.shape}"
        )
    return tf.cast(tokenizer.tokenize(texts), tf.int32)


def _cut(token_ids: tf.RaggedTensor, length: int):
    """The first `length` ids of each row, and which rows were longer."""
    return token_ids[:, :length], token_ids.row_lengths() > length


def _wrapped(token_ids: tf.RaggedTensor, first_id: int, last_id: int) -> tf.RaggedTensor:
    """`first_id ids last_id` in every row."""
    column = tf.ones([token_ids.nrows(), 1], token_ids.dtype)
    return tf.concat(
        [
            tf.RaggedTensor.from_tensor(column * first_id),
            token_ids,
            tf.RaggedTensor.from_tensor(column * last_id),
        ],
        axis=1,
    )


def _padded(token_ids: tf.RaggedTensor, length: int) -> tf.Tensor:
    """Ragged ids of at most `length` per row -> int32 `(batch, length)` padded with 0."""
    return tf.cast(token_ids.to_tensor(default_value=0, shape=[None, length]), tf.int32)


# === Preprocessors ===


class Seq2SeqPreprocessor(tf.Module):
    """Translation pairs -> encoder ids, decoder ids and labels; target ids -> text.

    Sources become their token ids, cut to `max_length`. Targets become
    `[START] ids [END]` cut to `max_length` ids (a long target loses its
    [END]); for teacher forcing the decoder reads all but the last of these
    and learns to predict all but the first, so `labels[:, i]` is the token
    after `decoder_token_ids[:, i]`, and no decoder input is [END].

    Args:
        source_tokenizer: a tokenizer of this package for the sources.
        target_tokenizer: a tokenizer for the targets, with `start_id` and
            `end_id` (may be the source tokenizer).
        max_length: int >= 2, the most ids in a source and in
            `[START] target [END]`.
        name: str or None, the `tf.Module` name.

    Example:

    >>> from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
    >>> tokenizer = WordPieceTokenizer(RESERVED_TOKENS + ["the", "cat", "sat"])
    >>> preprocessor = Seq2SeqPreprocessor(tokenizer, tokenizer, max_length=4)
    >>> token_ids, truncated = preprocessor.encoder_token_ids(["the cat sat", ""])
    >>> token_ids.numpy().tolist(), truncated.numpy().tolist()
    ([[7, 8, 9, 0], [0, 0, 0, 0]], [False, False])
    >>> inputs, labels = preprocessor.teacher_forcing(["the cat"], ["cat sat"])
    >>> inputs["decoder_token_ids"].to_list(), labels.to_list()  # [START]=2, [END]=3
    ([[2, 8, 9]], [[8, 9, 3]])
    >>> preprocessor.detokenize(labels).numpy().tolist()
    [b'cat sat']

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3 (the decoder
        reads the outputs shifted right).
    """

    def __init__(
        self, source_tokenizer, target_tokenizer, max_length: int, name: str | None = None
    ):
        super().__init__(name=name)
        self.max_length = _validation.integer("max_length", max_length, 2)
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.start_id = _special_id(target_tokenizer, "start")
        self.end_id = _special_id(target_tokenizer, "end")

    def encode_source(self, texts):
        """Source token ids, cut to `max_length`.

        Args:
            texts: string `(batch,)`.

        Returns:
            `(token_ids, truncated)`: ragged int32 `(batch, None)` of at most
            `max_length` ids per row, and bool `(batch,)`, True where a source
            had more than `max_length` ids.
        """
        return _cut(_tokenized(self.source_tokenizer, texts), self.max_length)

    def encoder_token_ids(self, texts):
        """The encoder's input for evaluation and serving, as training saw it.

        Args:
            texts: string `(batch,)`.

        Returns:
            `(token_ids, truncated)`: int32 `(batch, max_length)` padded with
            0, and bool `(batch,)` as in `encode_source`.
        """
        token_ids, truncated = self.encode_source(texts)
        return _padded(token_ids, self.max_length), truncated

    def encode_target(self, texts):
        """`[START] ids [END]` of each target, cut to `max_length` ids.

        Args:
            texts: string `(batch,)`.

        Returns:
            `(token_ids, truncated)`: ragged int32 `(batch, None)`, and bool
            `(batch,)`, True where [START], the ids and [END] were more than
            `max_length` (the row then lacks its [END], or more).
        """
        token_ids = _wrapped(_tokenized(self.target_tokenizer, texts), self.start_id, self.end_id)
        return _cut(token_ids, self.max_length)

    def teacher_forcing(self, sources, targets):
        """Training inputs and labels of `(source, target)` pairs, unpadded.

        Args:
            sources: string `(batch,)`.
            targets: string `(batch,)`.

        Returns:
            `({"encoder_token_ids": ..., "decoder_token_ids": ...}, labels)`,
            all ragged int32 `(batch, None)`: the source ids from
            `encode_source`, and the target ids from `encode_target` without
            their last id (decoder inputs) and without their first (labels).
        """
        source_ids, _ = self.encode_source(sources)
        target_ids, _ = self.encode_target(targets)
        inputs = {"encoder_token_ids": source_ids, "decoder_token_ids": target_ids[:, :-1]}
        return inputs, target_ids[:, 1:]

    def detokenize(self, token_ids):
        """Target text of token ids (dense padded with 0, or ragged); special ids dropped.

        Returns:
            string `(batch,)`.
        """
        return self.target_tokenizer.detokenize(token_ids)


class BertPreprocessor(tf.Module):
    """Texts -> `[CLS] ids [SEP]` of at most `sequence_length` ids, and BERT's inputs.

    Each text keeps its first `sequence_length - 2` token ids, between [CLS]
    and [SEP] (so a truncated text still ends in [SEP]). `encode` gives these
    ids ragged (masked-LM masking works on them); `__call__` gives the
    encoder's padded `{"token_ids", "segment_ids"}` (one segment: all zeros),
    for classification, evaluation, serving and attention plots.

    Args:
        tokenizer: a tokenizer of this package with `cls_id` and `sep_id`.
        sequence_length: int >= 3, the length of the encoder's inputs.
        name: str or None, the `tf.Module` name.

    Example:

    >>> from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
    >>> tokenizer = WordPieceTokenizer(RESERVED_TOKENS + ["the", "cat", "sat"])
    >>> preprocessor = BertPreprocessor(tokenizer, sequence_length=4)
    >>> features, truncated = preprocessor(["the cat sat", ""])
    >>> features["token_ids"].numpy().tolist()  # [CLS]=5, [SEP]=6
    [[5, 7, 8, 6], [5, 6, 0, 0]]
    >>> features["segment_ids"].shape, truncated.numpy().tolist()
    (TensorShape([2, 4]), [True, False])

    References:
        Devlin et al., "BERT", 2019, §3 (input representation).
    """

    def __init__(self, tokenizer, sequence_length: int, name: str | None = None):
        super().__init__(name=name)
        self.sequence_length = _validation.integer("sequence_length", sequence_length, 3)
        self.tokenizer = tokenizer
        self.cls_id = _special_id(tokenizer, "cls")
        self.sep_id = _special_id(tokenizer, "sep")

    def encode(self, texts):
        """`[CLS] ids [SEP]` of each text, at most `sequence_length` ids.

        Args:
            texts: string `(batch,)`.

        Returns:
            `(token_ids, truncated)`: ragged int32 `(batch, None)`, and bool
            `(batch,)`, True where a text had more than `sequence_length - 2`
            ids.
        """
        token_ids, truncated = _cut(_tokenized(self.tokenizer, texts), self.sequence_length - 2)
        return _wrapped(token_ids, self.cls_id, self.sep_id), truncated

    def pad(self, token_ids):
        """The encoder's inputs from ragged ids of at most `sequence_length` per row.

        Args:
            token_ids: ragged int `(batch, None)`, such as `encode` returns
                (or its masked version).

        Returns:
            `{"token_ids": (batch, sequence_length), "segment_ids": zeros
            (batch, sequence_length)}`, int32, padded with 0.
        """
        token_ids = _padded(token_ids, self.sequence_length)
        return {"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids)}

    def __call__(self, texts):
        """The encoder's padded inputs of `texts`.

        Args:
            texts: string `(batch,)`.

        Returns:
            `(features, truncated)`: `features` as `pad` returns it, and bool
            `(batch,)` as `encode` returns it.
        """
        token_ids, truncated = self.encode(texts)
        return self.pad(token_ids), truncated


class LanguageModelPreprocessor(tf.Module):
    """Texts -> the training stream's pieces; prompts -> `GPTDecoder.decode`'s inputs.

    For training, every text is its token ids followed by [END], so the
    concatenated stream marks where each text ends (`encode`). For
    generation, a prompt keeps its first `sequence_length` ids (`truncated`
    says which lost some); an empty prompt becomes the single id [END], so
    that it starts after an end of text as every text does in the training
    stream, and every prompt has at least one id (`encode_prompts`).
    `generation_inputs` lays the prompts into the token buffer, prompt mask
    and start index that `GPTDecoder.decode` fills.

    Args:
        tokenizer: a tokenizer of this package with an `end_id`.
        sequence_length: int >= 1, the model's training window, and the most
            ids kept of a prompt.
        name: str or None, the `tf.Module` name.

    Example:

    >>> from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
    >>> tokenizer = WordPieceTokenizer(RESERVED_TOKENS + ["the", "cat", "sat"])
    >>> preprocessor = LanguageModelPreprocessor(tokenizer, sequence_length=2)
    >>> preprocessor.encode(["the cat"]).to_list()  # [END]=3
    [[7, 8, 3]]
    >>> inputs = preprocessor.generation_inputs(["the cat sat", ""], max_new_tokens=3)
    >>> inputs["token_ids"].numpy().tolist()
    [[7, 8, 0, 0, 0], [3, 0, 0, 0, 0]]
    >>> inputs["prompt_mask"].numpy().sum(axis=1).tolist(), int(inputs["start_index"])
    ([2, 1], 1)
    >>> inputs["truncated"].numpy().tolist()
    [True, False]

    References:
        Radford et al., "Language Models are Unsupervised Multitask
        Learners", 2019, §2.
    """

    def __init__(self, tokenizer, sequence_length: int, name: str | None = None):
        super().__init__(name=name)
        self.sequence_length = _validation.integer("sequence_length", sequence_length, 1)
        self.tokenizer = tokenizer
        self.end_id = _special_id(tokenizer, "end")

    def encode(self, texts):
        """Token ids of each text followed by [END]: the pieces of the training stream.

        Args:
            texts: string `(batch,)`.

        Returns:
            ragged int32 `(batch, None)`, never cut.
        """
        token_ids = _tokenized(self.tokenizer, texts)
        column = tf.fill([token_ids.nrows(), 1], tf.constant(self.end_id, token_ids.dtype))
        return tf.concat([token_ids, tf.RaggedTensor.from_tensor(column)], axis=1)

    def next_token_split(self, token_ids):
        """`(inputs, labels)` of windows of the stream: the window without its
        last id, and without its first (the next token of every input)."""
        return token_ids[:, :-1], token_ids[:, 1:]

    def encode_prompts(self, prompts):
        """Prompts as padded ids, with at least one id each.

        Args:
            prompts: string `(batch,)`.

        Returns:
            `(token_ids, lengths, truncated)`: int32 `(batch,
            sequence_length)` padded with 0, an empty prompt being `[END]`;
            int32 `(batch,)` ids per prompt (>= 1); bool `(batch,)`, True
            where a prompt had more than `sequence_length` ids.
        """
        token_ids, truncated = _cut(_tokenized(self.tokenizer, prompts), self.sequence_length)
        lengths = tf.cast(token_ids.row_lengths(), tf.int32)
        end_prompts = tf.one_hot(
            tf.zeros_like(lengths), self.sequence_length, on_value=self.end_id, dtype=tf.int32
        )
        token_ids = tf.where(
            lengths[:, None] > 0, _padded(token_ids, self.sequence_length), end_prompts
        )
        return token_ids, tf.maximum(lengths, 1), truncated

    def generation_inputs(self, prompts, max_new_tokens, max_length=None):
        """What `GPTDecoder.decode` fills: prompts then room for new tokens.

        The buffer is as wide as the longest prompt (after `encode_prompts`)
        plus the new tokens, of which there are `max_new_tokens`, at least 1
        and, with `max_length`, at most `max_length` minus that prompt width.

        Args:
            prompts: string `(batch,)`.
            max_new_tokens: int or int32 scalar tensor.
            max_length: int, int32 scalar tensor or None, default None. The
                most columns of the buffer (the model's
                `max_sequence_length`).

        Returns:
            A dict of `token_ids` int32 `(batch, width + new_tokens)` (the
            prompts, then zeros), `prompt_mask` bool of the same shape (True
            on prompt ids), `start_index` int32 scalar (the shortest prompt's
            length) and `truncated` bool `(batch,)`. Call
            `model.decode(inputs["token_ids"], inputs["prompt_mask"],
            inputs["start_index"], sampler, ...)`.
        """
        token_ids, lengths, truncated = self.encode_prompts(prompts)
        width = tf.maximum(tf.reduce_max(lengths), 1)
        new_tokens = tf.maximum(tf.cast(max_new_tokens, tf.int32), 1)
        if max_length is not None:
            new_tokens = tf.clip_by_value(new_tokens, 1, tf.cast(max_length, tf.int32) - width)
        buffer = tf.pad(token_ids[:, :width], [[0, 0], [0, new_tokens]])
        return {
            "token_ids": buffer,
            "prompt_mask": tf.range(width + new_tokens)[None, :] < lengths[:, None],
            "start_index": tf.reduce_min(lengths),
            "truncated": truncated,
        }

    def detokenize(self, token_ids):
        """Text of token ids (dense padded with 0, or ragged); special ids dropped.

        Returns:
            string `(batch,)`.
        """
        return self.tokenizer.detokenize(token_ids)
