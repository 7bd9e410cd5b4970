"""tf.data input pipelines: preprocess in `Dataset.map`, batch, pad with id 0.

Each pipeline turns texts into token ids with the task's preprocessor
(`keras_attention.data.preprocessors`) inside `tf.data.Dataset.map` (so
strings never reach the model), caches the deterministic preprocessed
examples, then shuffles, optionally repeats, batches and prefetches.
Everything random draws from `seed`, so two pipelines built with the same
arguments yield the same batches. The element structure is the
`(inputs, targets)` or `(inputs, targets, sample_weights)` that
`keras.Model.fit` takes.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from keras_attention import _validation
from keras_attention.data.preprocessors import (
    BertPreprocessor,
    LanguageModelPreprocessor,
    Seq2SeqPreprocessor,
)

__all__ = [
    "classification_dataset",
    "language_model_dataset",
    "masked_lm_dataset",
    "padding_fraction",
    "seq2seq_dataset",
]

# Texts are preprocessed this many at a time, then unbatched.
_PREPROCESS_BATCH_SIZE = 256
# Shuffle buffers hold at most this many examples (all of them when fewer).
_SHUFFLE_BUFFER_SIZE = 10_000
_TOKEN_ID_KEYS = ("encoder_token_ids", "decoder_token_ids", "token_ids")
# Fraction of 80% "[MASK]", 10% random token, 10% unchanged (BERT §3.1).
_MASK_TOKEN_RATE = 0.8
_RANDOM_TOKEN_RATE = 0.1


# === Shared stages ===


def _preprocessed(columns, preprocess):
    """One example per row of `columns` (a tensor, or a tuple of them), made by
    `preprocess` from batches of rows."""
    return (
        tf.data.Dataset.from_tensor_slices(columns)
        .batch(_PREPROCESS_BATCH_SIZE)
        .map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(_dense_rows)
    )


def _dense_rows(*example):
    # Unbatched ragged rows have a rank-0 ragged spec; a map returns them as
    # the dense vectors they are, which `padded_batch` needs.
    return example[0] if len(example) == 1 else example


def _shuffled(dataset, shuffle, seed, repeat, num_examples=_SHUFFLE_BUFFER_SIZE):
    # Cached before shuffling: tokenization is deterministic and done once,
    # while the order changes every epoch (and is the same for a given seed).
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(
            min(num_examples, _SHUFFLE_BUFFER_SIZE),
            seed=seed,
            reshuffle_each_iteration=True,
        )
    if repeat:
        dataset = dataset.repeat()
    return dataset


def _bucket_boundaries(max_length, min_boundary=4, growth=1.1):
    # Geometric spacing (tensor2tensor's rule): short sequences get narrow
    # buckets, long ones wide buckets, and their number grows only as log.
    boundaries = []
    boundary = min_boundary
    while boundary <= max_length:
        boundaries.append(boundary)
        boundary = max(boundary + 1, int(boundary * growth))
    return boundaries


# === Pipelines ===


def seq2seq_dataset(
    pairs: list[tuple[str, str]],
    source_tokenizer,
    target_tokenizer,
    batch_size: int,
    max_length: int,
    shuffle: bool = True,
    bucket: bool = True,
    seed: int = 0,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Batches of `(source, target)` pairs for an encoder-decoder, with teacher forcing.

    Sources are tokenized and truncated to `max_length` ids. Targets become
    `[START] ids [END]` truncated to `max_length` ids (a long target loses its
    [END]); the decoder reads all but the last of these and is trained to
    predict all but the first, so `targets[:, i]` is the token after
    `decoder_token_ids[:, i]` (`Seq2SeqPreprocessor.teacher_forcing`).
    Everything is padded with 0.

    With `bucket`, examples are grouped by length (the longer of source and
    decoder input, in buckets about 10% wide) before padding to the longest
    in each batch, which wastes much less compute on padding than padding
    random batches (see `padding_fraction`). Batch shapes then vary; Keras
    retraces `fit` for new shapes.

    Args:
        pairs: list of `(source, target)` strings.
        source_tokenizer: a tokenizer of this package for the sources.
        target_tokenizer: a tokenizer for the targets, with `start_id` and
            `end_id`.
        batch_size: int >= 1.
        max_length: int >= 2, the most ids in a source and in
            `[START] target [END]`.
        shuffle: bool, default True. Shuffle examples every epoch.
        bucket: bool, default True. Batch examples of similar length.
        seed: int, default 0. Seed of the shuffle.
        repeat: bool, default False. Repeat forever (then pass
            `steps_per_epoch` to `fit`).

    Returns:
        A `tf.data.Dataset` of `({"encoder_token_ids": (batch, source_length),
        "decoder_token_ids": (batch, target_length)}, targets (batch,
        target_length))`, all int32.

    Example:

    >>> from keras_attention.data import WordPieceTokenizer, date_pairs
    >>> pairs = date_pairs(64)
    >>> tokenizer = WordPieceTokenizer.train(
    ...     [text for pair in pairs for text in pair], 200, show_progress=False)
    >>> dataset = seq2seq_dataset(pairs, tokenizer, tokenizer, batch_size=8,
    ...                           max_length=16)
    >>> inputs, targets = next(iter(dataset))
    >>> sorted(inputs), inputs["decoder_token_ids"].shape == targets.shape
    (['decoder_token_ids', 'encoder_token_ids'], True)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §5.1 (batching by
        approximate sequence length).
    """
    _validation.integer("batch_size", batch_size, 1)
    preprocessor = Seq2SeqPreprocessor(source_tokenizer, target_tokenizer, max_length)
    pairs = list(pairs)
    if not pairs:
        raise ValueError("`pairs` must not be empty. Received: pairs=[]")
    for pair in pairs:
        if not (
            isinstance(pair, (tuple, list))
            and len(pair) == 2
            and all(isinstance(text, str) for text in pair)
        ):
            raise ValueError(
                "`pairs` must contain `(source, target)` string pairs. "
                f"Received an element {pair!r}"
            )
    sources, targets = (list(texts) for texts in zip(*pairs))
    # Shifted per example, before padding, so no decoder input is [END].
    dataset = _preprocessed((sources, targets), preprocessor.teacher_forcing)
    dataset = _shuffled(dataset, shuffle, seed, repeat, len(pairs))
    if bucket:

        def length(inputs, labels):
            return tf.maximum(
                tf.shape(inputs["encoder_token_ids"])[0],
                tf.shape(inputs["decoder_token_ids"])[0],
            )

        boundaries = _bucket_boundaries(max_length)
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=length,
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    else:
        dataset = dataset.padded_batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)


def language_model_dataset(
    texts: list[str],
    tokenizer,
    sequence_length: int,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Next-token prediction batches cut from one stream of all the texts.

    The texts are tokenized, each followed by [END], and concatenated into
    one stream, which is cut into windows of `sequence_length + 1` ids
    starting every `sequence_length` ids (so every next-token transition is
    trained on exactly once; the incomplete last window is dropped). The
    model reads a window without its last id and predicts it without its
    first. A stream shorter than `sequence_length + 1` gives an empty
    dataset.

    Args:
        texts: list of str.
        tokenizer: a tokenizer of this package with an `end_id`.
        sequence_length: int >= 1, the length of each input.
        batch_size: int >= 1.
        shuffle: bool, default True. Shuffle windows every epoch.
        seed: int, default 0. Seed of the shuffle.
        repeat: bool, default False. Repeat forever.

    Returns:
        A `tf.data.Dataset` of `(token_ids, next_token_ids)`, both int32
        `(batch, sequence_length)`.

    Example:

    >>> import tensorflow as tf
    >>> from keras_attention.data import WordPieceTokenizer
    >>> texts = ["The cat sat on the mat.", "The dog sat on the log."] * 4
    >>> tokenizer = WordPieceTokenizer.train(texts, 100, show_progress=False)
    >>> dataset = language_model_dataset(texts, tokenizer, sequence_length=8,
    ...                                  batch_size=2, shuffle=False)
    >>> token_ids, next_token_ids = next(iter(dataset))
    >>> token_ids.shape
    TensorShape([2, 8])
    >>> bool(tf.reduce_all(token_ids[:, 1:] == next_token_ids[:, :-1]))
    True

    References:
        Radford et al., "Language Models are Unsupervised Multitask
        Learners", 2019, §2.
    """
    texts = _validation.texts("texts", texts)
    preprocessor = LanguageModelPreprocessor(tokenizer, sequence_length)
    _validation.integer("batch_size", batch_size, 1)
    window = sequence_length + 1
    dataset = (
        _preprocessed(texts, preprocessor.encode)
        .unbatch()  # the stream, one id at a time
        .window(window, shift=sequence_length, drop_remainder=True)
        .flat_map(lambda ids: ids.batch(window))
    )
    dataset = _shuffled(dataset, shuffle, seed, repeat)
    dataset = dataset.batch(batch_size).map(preprocessor.next_token_split)
    return dataset.prefetch(tf.data.AUTOTUNE)


def masked_lm_dataset(
    texts: list[str],
    tokenizer,
    sequence_length: int,
    batch_size: int,
    mask_rate: float = 0.15,
    max_predictions: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Masked-language-model batches (BERT pre-training) with dynamic masking.

    Each text becomes "[CLS] tokens [SEP]", truncated to `sequence_length`.
    In each row, `ceil(mask_rate * n)` of its n maskable tokens (not [CLS],
    [SEP] or padding), at most `max_predictions`, are chosen at random with
    tensorflow-text's `RandomItemSelector`; `MaskValuesChooser` replaces 80%
    of them by [MASK], 10% by a random token and leaves 10% unchanged. Random
    tokens are never reserved tokens. The model predicts the original ids at
    the chosen positions; the padded prediction slots have weight 0.

    Masks are drawn after shuffling, in a sequential stream seeded by `seed`:
    the same arguments give the same batches, and with `shuffle` (or
    `repeat`) each epoch masks the texts differently.

    Args:
        texts: list of str.
        tokenizer: a tokenizer of this package with `mask_id`, `cls_id` and
            `sep_id`.
        sequence_length: int >= 3.
        batch_size: int >= 1.
        mask_rate: float in (0, 1), default 0.15.
        max_predictions: int >= 1 or None, default None, meaning
            `max(1, round(sequence_length * mask_rate))`.
        shuffle: bool, default True.
        seed: int, default 0. Seed of the shuffle and of the masking.
        repeat: bool, default False. Repeat forever.

    Returns:
        A `tf.data.Dataset` of `(inputs, mask_ids, mask_weights)`: `inputs`
        is `{"token_ids": (batch, sequence_length), "segment_ids": zeros
        (batch, sequence_length), "mask_positions": (batch, P)}` int32 with P
        = `max_predictions`; `mask_ids` int32 `(batch, P)` are the original
        ids at `mask_positions`; `mask_weights` float32 `(batch, P)` is 1 for
        real predictions and 0 for padding.

    Example:

    >>> from keras_attention.data import WordPieceTokenizer
    >>> texts = ["The cat sat on the mat.", "The dog sat on the log."] * 4
    >>> tokenizer = WordPieceTokenizer.train(texts, 100, show_progress=False)
    >>> dataset = masked_lm_dataset(texts, tokenizer, sequence_length=12,
    ...                             batch_size=4)
    >>> inputs, mask_ids, mask_weights = next(iter(dataset))
    >>> inputs["token_ids"].shape, inputs["mask_positions"].shape, mask_weights.dtype
    (TensorShape([4, 12]), TensorShape([4, 2]), tf.float32)

    References:
        Devlin et al., "BERT", 2019, §3.1 (Task #1: Masked LM);
        Liu et al., "RoBERTa", 2019, §4.1 (dynamic masking).
    """
    texts = _validation.texts("texts", texts)
    preprocessor = BertPreprocessor(tokenizer, sequence_length)
    _validation.integer("batch_size", batch_size, 1)
    if isinstance(mask_rate, bool) or not isinstance(mask_rate, (int, float)) or not (
        0.0 < mask_rate < 1.0
    ):
        raise ValueError(
            f"`mask_rate` must be a float in (0, 1). Received: mask_rate={mask_rate!r}"
        )
    if max_predictions is None:
        max_predictions = max(1, round(sequence_length * mask_rate))
    _validation.integer("max_predictions", max_predictions, 1)
    mask_id = tokenizer.mask_id
    if mask_id is None:
        raise ValueError(
            "The tokenizer must have a `mask_id` for masked-LM batches. "
            f"Received: a {type(tokenizer).__name__} without one"
        )
    unselectable_ids = [tokenizer.pad_id, preprocessor.cls_id, preprocessor.sep_id]
    # Ids are shifted down by the number of reserved ids while masking, so
    # that MaskValuesChooser's random tokens, drawn from [0, vocabulary_size
    # - shift), land on ordinary tokens only once shifted back.
    shift = max(tokenizer.special_ids) + 1
    chooser = tf_text.MaskValuesChooser(
        vocab_size=tokenizer.vocabulary_size - shift,
        mask_token=mask_id - shift,
        mask_token_rate=_MASK_TOKEN_RATE,
        random_token_rate=_RANDOM_TOKEN_RATE,
    )

    def mask(token_ids):  # (batch, None) ragged
        # The graph-level seed of this map function only: its random ops get
        # fixed op seeds, so the (sequential) stream of masks is reproducible.
        tf.random.set_seed(seed)
        # RandomItemSelector shuffles each row inside a parallel `map_fn`,
        # where a stateful shuffle would draw in a varying order; a stateless
        # one keyed by the batch and the row's first flat position does not.
        batch_seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64)

        def shuffle_row(positions):
            first_position = tf.cast(tf.reduce_min(positions), tf.int64)
            row_seed = tf.stack([batch_seed, first_position])
            return tf.random.experimental.stateless_shuffle(positions, seed=row_seed)

        selector = tf_text.RandomItemSelector(
            max_selections_per_batch=max_predictions,
            selection_rate=float(mask_rate),
            unselectable_ids=[i - shift for i in unselectable_ids],
            shuffle_fn=shuffle_row,
        )
        masked_ids, positions, original_ids = tf_text.mask_language_model(
            token_ids - shift, selector, chooser
        )
        inputs = preprocessor.pad(masked_ids + shift)
        inputs["mask_positions"] = tf.cast(positions, tf.int32).to_tensor(
            shape=[None, max_predictions]
        )
        mask_ids = (original_ids + shift).to_tensor(shape=[None, max_predictions])
        mask_weights = tf.ones_like(original_ids, tf.float32).to_tensor(
            shape=[None, max_predictions]
        )
        return inputs, mask_ids, mask_weights

    def encode(texts):
        token_ids, _ = preprocessor.encode(texts)
        return token_ids

    dataset = _preprocessed(texts, encode)
    dataset = _shuffled(dataset, shuffle, seed, repeat, len(texts))
    # Not parallel: the masks come from stateful random ops, drawn in order.
    dataset = dataset.ragged_batch(batch_size).map(mask)
    return dataset.prefetch(tf.data.AUTOTUNE)


def classification_dataset(
    texts: list[str],
    labels: list[int] | list[str],
    tokenizer,
    sequence_length: int,
    batch_size: int,
    label_names: list[str] | None = None,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Text-classification batches: "[CLS] tokens [SEP]" and an integer label.

    String labels are mapped to their index in `label_names` (by default the
    sorted unique labels); integer labels are used as they are, and must be
    below `len(label_names)` when names are given.

    Args:
        texts: list of str.
        labels: list of int or list of str, one per text.
        tokenizer: a tokenizer of this package with `cls_id` and `sep_id`.
        sequence_length: int >= 3. Inputs are truncated and padded to it.
        batch_size: int >= 1.
        label_names: list of str or None, default None.
        shuffle: bool, default True.
        seed: int, default 0. Seed of the shuffle.
        repeat: bool, default False. Repeat forever.

    Returns:
        A `tf.data.Dataset` of `({"token_ids": (batch, sequence_length),
        "segment_ids": zeros (batch, sequence_length)}, labels (batch,))`,
        all int32.

    Example:

    >>> from keras_attention.data import WordPieceTokenizer
    >>> texts = ["A fine film.", "A dull film.", "Fine acting.", "Dull plot."]
    >>> tokenizer = WordPieceTokenizer.train(texts, 100, show_progress=False)
    >>> dataset = classification_dataset(texts, ["pos", "neg", "pos", "neg"],
    ...                                  tokenizer, sequence_length=8,
    ...                                  batch_size=4, shuffle=False)
    >>> inputs, labels = next(iter(dataset))
    >>> inputs["token_ids"].shape, labels.numpy().tolist()
    (TensorShape([4, 8]), [1, 0, 1, 0])

    References:
        Devlin et al., "BERT", 2019, §4.1 (sequence classification from [CLS]).
    """
    texts = _validation.texts("texts", texts)
    preprocessor = BertPreprocessor(tokenizer, sequence_length)
    _validation.integer("batch_size", batch_size, 1)
    label_ids = _label_ids(list(labels), label_names)
    if len(label_ids) != len(texts):
        raise ValueError(
            "`labels` must have one label per text. "
            f"Received: {len(label_ids)} labels for {len(texts)} texts"
        )

    def encode(texts, labels):
        token_ids, _ = preprocessor.encode(texts)
        return token_ids, labels

    # Cached unpadded; padded per batch.
    dataset = _preprocessed((texts, np.array(label_ids, np.int32)), encode)
    dataset = _shuffled(dataset, shuffle, seed, repeat, len(texts))
    dataset = dataset.ragged_batch(batch_size).map(
        lambda token_ids, labels: (preprocessor.pad(token_ids), labels)
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _label_ids(labels, label_names):
    if all(isinstance(label, str) for label in labels):
        if label_names is None:
            label_names = sorted(set(labels))
        index = {name: i for i, name in enumerate(label_names)}
        for label in labels:
            if label not in index:
                raise ValueError(
                    f"Every label must be one of `label_names` {list(label_names)}. "
                    f"Received: label {label!r}"
                )
        return [index[label] for label in labels]
    if all(
        isinstance(label, (int, np.integer)) and not isinstance(label, bool)
        for label in labels
    ):
        limit = len(label_names) if label_names is not None else None
        for label in labels:
            if label < 0 or (limit is not None and label >= limit):
                expected = f"in [0, {limit})" if limit is not None else ">= 0"
                raise ValueError(
                    f"Integer labels must be {expected}. Received: label {label!r}"
                )
        return [int(label) for label in labels]
    raise ValueError(
        "`labels` must be all str or all int. "
        f"Received labels of types {sorted({type(label).__name__ for label in labels})}"
    )


def padding_fraction(dataset: tf.data.Dataset, num_batches: int | None = None) -> float:
    """The fraction of token ids that are padding (id 0) in a dataset's inputs.

    For dict inputs, the entries "encoder_token_ids", "decoder_token_ids"
    and "token_ids" are counted (not segment ids or mask positions); for
    tensor inputs, the tensor. The inputs are the first element of each
    dataset element.

    Args:
        dataset: a batched dataset of `(inputs, ...)` elements, such as the
            pipelines of this module return.
        num_batches: int >= 1 or None, default None (all batches; do not use
            None with a repeated dataset).

    Returns:
        A float in [0, 1].

    Example:

    >>> import tensorflow as tf
    >>> dataset = tf.data.Dataset.from_tensors(([[5, 6, 0, 0]], [[6, 0, 0, 0]]))
    >>> padding_fraction(dataset)
    0.5
    """
    if num_batches is not None:
        _validation.integer("num_batches", num_batches, 1)
        dataset = dataset.take(num_batches)
    padding = total = 0
    for element in dataset.as_numpy_iterator():
        inputs = element[0] if isinstance(element, tuple) else element
        if isinstance(inputs, dict):
            arrays = [inputs[key] for key in _TOKEN_ID_KEYS if key in inputs]
        else:
            arrays = [inputs]
        for array in arrays:
            padding += int(np.sum(array == 0))
            total += int(np.size(array))
    if not total:
        raise ValueError(
            "`dataset` must yield token ids. Received a dataset with no token-id "
            "entries in its first elements"
        )
    return padding / total
