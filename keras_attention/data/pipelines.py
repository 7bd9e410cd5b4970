"""tf.data input pipelines: preprocess in `Dataset.map`, batch, pad with id 0.

Each pipeline turns texts into token ids with the task's preprocessor
(`keras_attention.data.preprocessors`) inside `tf.data.Dataset.map` (so
strings never reach the model), caches the deterministic preprocessed
examples, then shuffles, batches and prefetches: one pass over the
examples, or with `repeat` an endless stream of passes, each shuffled and
batched on its own. Everything random draws from `seed` (and, in a stream,
the pass), so two pipelines built with the same arguments yield the same
batches, and a stream can start at any batch (`start`: where a resumed
training run left off). The element structure is the
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


def _passes(examples, batch, shuffle, seed, repeat, start, num_examples=_SHUFFLE_BUFFER_SIZE):
    """The batches of `examples`: one pass, or with `repeat` an endless stream of passes.

    `batch(examples, index)` batches pass `index` of the (shuffled) examples.
    They are cached before shuffling: tokenization is deterministic and done
    once. Without `repeat`, a shuffled pass is shuffled again each time it is
    iterated. With `repeat`, pass k is shuffled with a seed made of `seed`
    and k, and batched on its own, so the stream is the same whatever
    iterated it before: one that starts at batch `start` is the stream from
    0 without its first `start` batches, and the passes before the one
    holding that batch are skipped by their number, not made.
    """
    _validation.integer("start", start, 0)
    if start and not repeat:
        raise ValueError(f"`start` needs `repeat=True` (a stream of passes). Received: start={start!r}")
    examples = examples.cache()
    buffer_size = min(num_examples, _SHUFFLE_BUFFER_SIZE)
    if not repeat:
        if shuffle:
            examples = examples.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
        return batch(examples, tf.constant(0, tf.int64))

    def one_pass(index):
        if not shuffle:
            return batch(examples, index)
        # The graph-level seed of this function only: the shuffle's seeds are
        # (1, pass seed) whatever the global seed (and TF's seed handling
        # fails on a tensor op seed beside a global seed of 0).
        tf.random.set_seed(1)
        pass_seed = tf.random.stateless_uniform(
            [], seed=tf.stack([tf.constant(seed, tf.int64), index]), minval=0, maxval=2**62, dtype=tf.int64
        )
        return batch(examples.shuffle(buffer_size, seed=pass_seed, reshuffle_each_iteration=False), index)

    in_order = batch(examples, tf.constant(0, tf.int64))
    if not any(True for _ in examples.take(1)):
        return in_order  # no batch to repeat: empty, as TF's `repeat` of an empty dataset
    first_pass, skipped = 0, start
    if start:  # every pass has as many batches, whatever its order: partial ones are kept
        first_pass, skipped = divmod(start, int(in_order.reduce(0, lambda count, _: count + 1)))
    return tf.data.Dataset.counter(first_pass).flat_map(one_pass).skip(skipped)


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
    start: int = 0,
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
        repeat: bool, default False. An endless stream of passes, each
            shuffled (with `shuffle`) and bucketed on its own (then pass
            `steps_per_epoch` to `fit`).
        start: int, default 0. With `repeat`, the batch of the stream to
            start at: the batches before it are left out (a resumed
            training run's data continues where it stopped).

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
    examples = _preprocessed((sources, targets), preprocessor.teacher_forcing)
    boundaries = _bucket_boundaries(max_length)

    def length(inputs, labels):
        return tf.maximum(
            tf.shape(inputs["encoder_token_ids"])[0],
            tf.shape(inputs["decoder_token_ids"])[0],
        )

    def batch(examples, index):
        if not bucket:
            return examples.padded_batch(batch_size)
        return examples.bucket_by_sequence_length(
            element_length_func=length,
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )

    dataset = _passes(examples, batch, shuffle, seed, repeat, start, len(pairs))
    return dataset.prefetch(tf.data.AUTOTUNE)


def language_model_dataset(
    texts: list[str],
    tokenizer,
    sequence_length: int,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
    start: int = 0,
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
        repeat: bool, default False. An endless stream of passes, each
            shuffled and batched on its own.
        start: int, default 0. With `repeat`, the batch of the stream to
            start at.

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
    windows = (
        _preprocessed(texts, preprocessor.encode)
        .unbatch()  # the stream, one id at a time
        .window(window, shift=sequence_length, drop_remainder=True)
        .flat_map(lambda ids: ids.batch(window))
    )

    def batch(windows, index):
        return windows.batch(batch_size).map(preprocessor.next_token_split)

    dataset = _passes(windows, batch, shuffle, seed, repeat, start)
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
    start: int = 0,
) -> tf.data.Dataset:
    """Masked-language-model batches (BERT pre-training) with dynamic masking.

    Each text becomes "[CLS] tokens [SEP]", truncated to `sequence_length`.
    In each row, `ceil(mask_rate * n)` of its n maskable tokens (not [CLS],
    [SEP] or padding), at most `max_predictions`, are chosen at random with
    tensorflow-text's `RandomItemSelector`; `MaskValuesChooser` replaces 80%
    of them by [MASK], 10% by a random token and leaves 10% unchanged. Random
    tokens are never reserved tokens. The model predicts the original ids at
    the chosen positions; the padded prediction slots have weight 0.

    Masks are drawn after shuffling by stateless random ops keyed by `seed`,
    the pass and the batch's place in it: the same arguments give the same
    batches, a stream started at `start` masks as one started at 0, and
    each pass of a stream masks the texts differently (without `repeat`,
    each iteration draws the same masks, for texts in a new order with
    `shuffle`).

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
        repeat: bool, default False. An endless stream of passes, each
            shuffled, batched and masked on its own.
        start: int, default 0. With `repeat`, the batch of the stream to
            start at.

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

    def mask(batch_key, token_ids):  # batch_key (2,) int64; token_ids (batch, None) ragged
        selection_key, values_key = tf.unstack(tf.random.experimental.stateless_split(batch_key, 2))

        # RandomItemSelector shuffles each row inside a parallel `map_fn`; a
        # stateless shuffle keyed by the batch and the row's first flat
        # position draws the same whatever the order the rows run in.
        def shuffle_row(positions):
            first_position = tf.cast(tf.reduce_min(positions), tf.int64)
            row_seed = tf.random.experimental.stateless_fold_in(selection_key, first_position)
            return tf.random.experimental.stateless_shuffle(positions, seed=row_seed)

        chooser = _StatelessMaskValuesChooser(
            vocab_size=tokenizer.vocabulary_size - shift,
            mask_token=mask_id - shift,
            mask_token_rate=_MASK_TOKEN_RATE,
            random_token_rate=_RANDOM_TOKEN_RATE,
            seed=values_key,
        )

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

    def batch(examples, index):
        pass_key = tf.stack([tf.constant(seed, tf.int64), index])
        return (
            examples.ragged_batch(batch_size)
            .enumerate()
            .map(lambda number, token_ids: mask(
                tf.random.experimental.stateless_fold_in(pass_key, number), token_ids
            ), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        )

    examples = _preprocessed(texts, encode)
    dataset = _passes(examples, batch, shuffle, seed, repeat, start, len(texts))
    return dataset.prefetch(tf.data.AUTOTUNE)


class _StatelessMaskValuesChooser(tf_text.MaskValuesChooser):
    """tensorflow-text's `MaskValuesChooser` (which `mask_language_model`
    requires) drawing with stateless random ops keyed by `seed`, a `(2,)`
    int64 tensor: each selected item becomes `mask_token` with probability
    `mask_token_rate`, a random id in `[0, vocab_size)` with probability
    `random_token_rate`, and stays as it is otherwise."""

    def __init__(self, vocab_size, mask_token, mask_token_rate, random_token_rate, seed):
        super().__init__(vocab_size, mask_token, mask_token_rate, random_token_rate)
        self.mask_token_rate = mask_token_rate
        self.seed = seed

    def get_mask_values(self, masked_lm_ids):  # (batch, None) ragged
        ids = masked_lm_ids.flat_values
        choice_key, token_key = tf.unstack(tf.random.experimental.stateless_split(self.seed, 2))
        choice = tf.random.stateless_uniform(tf.shape(ids), seed=choice_key)
        random_ids = tf.random.stateless_uniform(
            tf.shape(ids), seed=token_key, minval=0, maxval=self.vocab_size, dtype=ids.dtype
        )
        values = tf.where(choice < self.mask_token_rate, tf.cast(self.mask_token, ids.dtype), ids)
        randomized = (choice >= self.mask_token_rate) & (
            choice < self.mask_token_rate + self.random_token_rate
        )
        return masked_lm_ids.with_flat_values(tf.where(randomized, random_ids, values))


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
    start: int = 0,
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
        repeat: bool, default False. An endless stream of passes, each
            shuffled and batched on its own.
        start: int, default 0. With `repeat`, the batch of the stream to
            start at.

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

    def batch(examples, index):  # cached unpadded; padded per batch
        return examples.ragged_batch(batch_size).map(
            lambda token_ids, labels: (preprocessor.pad(token_ids), labels)
        )

    examples = _preprocessed((texts, np.array(label_ids, np.int32)), encode)
    dataset = _passes(examples, batch, shuffle, seed, repeat, start, len(texts))
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
