"""Classification: labelled text -> `BertClassifier`; accuracy on the test split."""

from __future__ import annotations

import collections
import json

import keras
import tensorflow as tf

from keras_attention import data
from keras_attention.models import BertClassifier
from keras_attention.tasks._bert import BertEncoderTask
from keras_attention.tasks.base import TEXT_SPEC
from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy

__all__ = ["ClassificationTask"]


class ClassificationTask(BertEncoderTask):
    """Labelled text -> BertClassifier; accuracy on the test split."""

    kind = "classification"
    embedded = {
        "embedded:docstring_topics": lambda task: list(zip(*data.docstring_topics()))
    }
    head_layers = ("logits",)

    def model_class(self):
        return BertClassifier

    def read_file(self, path):
        texts, labels, self.report = data.read_labelled(path, strict=self.data_config.strict)
        return list(zip(texts, labels))

    def read_examples(self, data_path=None):
        examples = super().read_examples(data_path)
        self.label_names = sorted({str(label) for _, label in examples})
        return examples

    def tokenizer_texts(self):
        return {"tokenizer": [text for text, _ in self.train_examples]}

    def prepare_tokenizers(self, run_dir, show_progress=True, reuse=False):
        super().prepare_tokenizers(run_dir, show_progress, reuse)
        (run_dir / "label_names.json").write_text(json.dumps(self.label_names))

    def keeps_head(self, run):
        # Logits of another label set would start training from wrong answers.
        names = run.directory / "label_names.json"
        return names.is_file() and json.loads(names.read_text()) == self.label_names

    def load_tokenizers(self, run_dir):
        super().load_tokenizers(run_dir)
        self.label_names = json.loads((run_dir / "label_names.json").read_text())

    def dataset(self, examples, shuffle, start=0):
        return data.classification_dataset(
            [text for text, _ in examples],
            [str(label) for _, label in examples],
            self.tokenizer,
            sequence_length=self.data_config.max_length,
            label_names=self.label_names,
            **self._batching(shuffle, start),
        )

    def model_arguments(self):
        return dict(
            num_classes=len(self.label_names),
            vocabulary_size=self.tokenizer.vocabulary_size,
            max_sequence_length=self.data_config.max_length,
        )

    def loss(self, model=None):
        # Class 0 is a real class: no pad id. Weighted mean, as the token tasks.
        return MaskedSparseCategoricalCrossentropy(pad_id=None)

    def metrics(self, model=None):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def classify(self, model, texts: tf.Tensor) -> dict:
        """Strings -> `probabilities` `(batch, classes)`, `label` and
        `truncated`, in TF ops: the one path of evaluation, the CLI and the export."""
        inputs, truncated = self.preprocessor(texts)
        probabilities = tf.nn.softmax(tf.cast(model(inputs), tf.float32), axis=-1)
        label = tf.gather(tf.constant(self.label_names), tf.argmax(probabilities, axis=-1))
        return {"probabilities": probabilities, "label": label, "truncated": truncated}

    def predict(self, model, texts):
        labels = []
        for start in range(0, len(texts), 256):
            chunk = tf.constant(list(texts[start : start + 256]), tf.string)
            labels += [label.decode("utf-8") for label in self.classify(model, chunk)["label"].numpy()]
        return labels

    def evaluate(self, model, log=print):
        evaluation = self.recipe.evaluation
        examples = self.test_split()
        predictions = self.predict(model, [text for text, _ in examples])
        references = [str(label) for _, label in examples]
        accuracy = sum(p == r for p, r in zip(predictions, references)) / len(examples)
        log(f"Held-out accuracy: {accuracy:.4f} ({len(examples)} test examples, "
            f"{len(self.label_names)} classes)")
        samples = list(zip(examples, predictions))[: evaluation.num_samples]
        for (text, label), prediction in samples:
            log(f"  {text[:60]!r:64} -> {prediction} (expected {label})")
        metrics = {
            "accuracy": accuracy,
            "test_examples": len(examples),
            "samples": [{"text": t, "prediction": p, "label": str(l)} for (t, l), p in samples],
        }
        # Labels the run never saw: counted as wrong (it cannot predict them), and said.
        known = set(self.label_names)
        unknown = collections.Counter(label for label in references if label not in known)
        if unknown:
            metrics["unknown_labels"] = dict(sorted(unknown.items()))
            log(f"  {sum(unknown.values())} examples have labels the run does not know "
                f"(counted as wrong): {dict(sorted(unknown.items()))}")
        return metrics

    def serving_limits(self, model):
        return [
            f"`label` is one of the {len(self.label_names)} labels seen in training: "
            f"{', '.join(self.label_names)}; `probabilities` follow that order.",
            *super().serving_limits(model),
        ]

    def serving_signatures(self, model):
        signatures = {
            "serving_default": (lambda text: self.classify(model, text), [TEXT_SPEC]),
            "token_ids_to_logits": self._logits_signature(model),
        }
        return signatures, [self.preprocessor]
