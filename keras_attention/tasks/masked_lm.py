"""Masked-LM pretraining: plain text -> `BertMaskedLM` (15% masking);
masked-token accuracy on the test split."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_attention import data
from keras_attention.models import BertMaskedLM
from keras_attention.tasks._bert import BertEncoderTask
from keras_attention.tasks.base import TEXT_SPEC, TextTask
from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy
from keras_attention.training.metrics import MaskedAccuracy, perplexity

__all__ = ["MaskedLMTask"]


class MaskedLMTask(TextTask, BertEncoderTask):
    """Plain text -> BertMaskedLM pretraining (15% masking); masked-token accuracy."""

    kind = "masked_lm"
    tunable = False
    head_layers = ("mlm_transform", "mlm_transform_norm", "mlm_output_bias")

    def model_class(self):
        return BertMaskedLM

    def dataset(self, texts, shuffle, start=0):
        return data.masked_lm_dataset(
            texts,
            self.tokenizer,
            sequence_length=self.data_config.max_length,
            **self._batching(shuffle, start),
        )

    def model_arguments(self):
        return dict(
            vocabulary_size=self.tokenizer.vocabulary_size,
            max_sequence_length=self.data_config.max_length,
        )

    def loss(self, model=None):
        # sum(w * loss) / sum(w) over the prediction slots: padded slots (id 0,
        # weight 0) count for nothing. No label smoothing, as BERT.
        return MaskedSparseCategoricalCrossentropy()

    def metrics(self, model=None):
        # Compiled as `weighted_metrics`, so the slots' weights apply too.
        return [MaskedAccuracy()]

    def evaluate(self, model, log=print):
        test = self.dataset(self.test_split(), False)
        loss, accuracy = 0.0, 0.0
        total = 0.0
        cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
        for inputs, targets, weights in test:
            logits = model(inputs, training=False)
            loss += float(cross_entropy(targets, logits, sample_weight=weights))
            correct = np.equal(np.argmax(logits, axis=-1), targets) * np.asarray(weights)
            accuracy += float(np.sum(correct))
            total += float(np.sum(weights))
        total = max(total, 1.0)
        metrics = {
            "masked_accuracy": accuracy / total,
            "cross_entropy": loss / total,
            "perplexity": perplexity(loss / total),
        }
        log(f"Held-out masked-token accuracy: {metrics['masked_accuracy']:.4f}, "
            f"perplexity {metrics['perplexity']:.2f}")
        return metrics

    def predict(self, model, texts):
        raise ValueError(
            "A masked-LM run is a pretrained encoder: fine-tune it with a "
            "classification recipe rather than predicting with it."
        )

    def serving_signatures(self, model):
        encoder = model.encoder

        def serve(text):
            inputs, truncated = self.preprocessor(text)
            outputs = encoder(inputs)
            return {"pooled_output": tf.cast(outputs["pooled_output"], tf.float32), "truncated": truncated}

        signatures = {
            "serving_default": (serve, [TEXT_SPEC]),
            "token_ids_to_logits": self._logits_signature(encoder),
        }
        return signatures, [self.preprocessor]
