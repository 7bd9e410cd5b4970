"""Is the input pipeline ever the bottleneck? Examples/s of each tf.data pipeline
against the training step's consumption, in the same run.

For each task (translation on the embedded dates, language model, masked LM and
classification on Python's docstrings) this script measures

  * the pipeline: examples per second of iterating the (repeated, shuffled)
    tf.data pipeline alone, and
  * the consumer: examples per second of `train_on_batch` of the recipe's
    model on those batches (data already in memory),

and prints pipeline / consumer (goal: >= 5x, the pipeline never starves the
model). It also prints the padding fraction of the translation batches with
and without length bucketing on the same data.

    python benchmarks/input_pipeline.py [--batches 30]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_attention import data  # noqa: E402
from keras_attention.models import BertClassifier, BertMaskedLM, GPTDecoder, Seq2SeqTransformer  # noqa: E402
from keras_attention.training import MaskedSparseCategoricalCrossentropy  # noqa: E402

BATCH = 64
LENGTH = 64


def _examples_per_second(iterate, batches):
    iterate(3)  # warm up (tracing, first shuffle buffer fill)
    start = time.perf_counter()
    iterate(batches)
    return batches * BATCH / (time.perf_counter() - start)


def pipeline_rate(dataset, batches):
    iterator = iter(dataset)

    def iterate(count):
        for _ in range(count):
            next(iterator)

    return _examples_per_second(iterate, batches)


def consumer_rate(model, loss, dataset, batches):
    model.compile(optimizer="adam", loss=loss)
    cached = list(dataset.take(batches + 3))

    def iterate(count, position=[0]):
        for _ in range(count):
            batch = cached[position[0] % len(cached)]
            position[0] += 1
            model.train_on_batch(*batch)

    return _examples_per_second(iterate, batches)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    pairs = data.date_pairs(20000, seed=0)
    texts = data.python_docstrings()
    topic_texts, topic_labels = data.docstring_topics()
    date_tokenizer = data.WordPieceTokenizer.train(
        [s for s, _ in pairs] + [t for _, t in pairs], vocabulary_size=600, show_progress=False
    )
    text_tokenizer = data.WordPieceTokenizer.train(texts, vocabulary_size=4000, show_progress=False)
    masked = MaskedSparseCategoricalCrossentropy()
    sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    cases = [
        (
            "translation (dates, transformer_tiny)",
            data.seq2seq_dataset(pairs, date_tokenizer, date_tokenizer, BATCH, 24, repeat=True),
            Seq2SeqTransformer.from_preset(
                "transformer_tiny", encoder_vocabulary_size=date_tokenizer.vocabulary_size,
                max_sequence_length=24,
            ),
            masked,
        ),
        (
            "language model (docstrings, gpt_mini)",
            data.language_model_dataset(texts, text_tokenizer, LENGTH, BATCH, repeat=True),
            GPTDecoder.from_preset("gpt_mini", vocabulary_size=text_tokenizer.vocabulary_size),
            masked,
        ),
        (
            "masked LM (docstrings, bert_mini)",
            data.masked_lm_dataset(texts, text_tokenizer, LENGTH, BATCH, repeat=True),
            BertMaskedLM.from_preset(
                "bert_mini", vocabulary_size=text_tokenizer.vocabulary_size, max_sequence_length=LENGTH
            ),
            sparse,
        ),
        (
            "classification (docstring topics, bert_mini)",
            data.classification_dataset(topic_texts, topic_labels, text_tokenizer, LENGTH, BATCH, repeat=True),
            BertClassifier.from_preset(
                "bert_mini", num_classes=len(set(topic_labels)),
                vocabulary_size=text_tokenizer.vocabulary_size, max_sequence_length=LENGTH,
            ),
            sparse,
        ),
    ]
    print(f"batch {BATCH}, {args.batches} timed batches per side; TF pipelines vs train_on_batch")
    print(f"{'pipeline':<46} {'pipeline ex/s':>14} {'model ex/s':>11} {'ratio':>7}")
    for name, dataset, model, loss in cases:
        produced = pipeline_rate(dataset, args.batches)
        consumed = consumer_rate(model, loss, dataset, args.batches)
        print(f"{name:<46} {produced:14.0f} {consumed:11.0f} {produced / consumed:6.1f}x")

    for bucket in (False, True):
        dataset = data.seq2seq_dataset(pairs, date_tokenizer, date_tokenizer, BATCH, 24, bucket=bucket)
        fraction = data.padding_fraction(dataset)
        print(f"padding fraction of the date batches, bucketing {'on ' if bucket else 'off'}: {fraction:.3f}")


if __name__ == "__main__":
    main()
