"""BERT sequence classifier: a `BertEncoder` with a dense head on the pooled output."""

from __future__ import annotations

import keras
from keras import ops

from keras_attention import _validation
from keras_attention.models._bert_common import BertTask
from keras_attention.models.bert_encoder import BertEncoder, bert_initializer, bert_inputs

__all__ = ["BertClassifier"]


@keras.saving.register_keras_serializable(package="keras_attention")
class BertClassifier(BertTask):
    """Classifies sequences (or sequence pairs) from a `BertEncoder`'s pooled output.

    Dropout then `Dense(num_classes)` on `pooled_output` (the `[CLS]` token),
    the fine-tuning head of BERT's sentence-level tasks.

    Args:
        encoder: a `BertEncoder`; it becomes a nested layer of this model.
        num_classes: int >= 1.
        dropout: float in [0, 1), default 0.1, before the output layer.
        **kwargs: `keras.Model` arguments (`name`, `trainable`). The head
            uses the encoder's dtype policy.

    Call arguments:
        inputs: dict with `"token_ids"` and `"segment_ids"`, both
            `(batch, length)` int32.

    Returns:
        float32 logits `(batch, num_classes)`.

    Example:

    >>> import numpy as np
    >>> model = BertClassifier.from_preset("bert_test", num_classes=3)
    >>> logits = model({"token_ids": np.array([[2, 5, 6, 3, 0]]),
    ...                 "segment_ids": np.zeros((1, 5), "int32")})
    >>> tuple(logits.shape)
    (1, 3)

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
        for Language Understanding", 2019, §3.2 (fine-tuning) and §4.1.
    """

    def __init__(
        self, encoder: BertEncoder, num_classes: int, dropout: float = 0.1, **kwargs
    ):
        self._check_encoder(encoder)
        _validation.positive_int("num_classes", num_classes)
        _validation.rate("dropout", dropout)
        # === Layers ===
        head_dropout = keras.layers.Dropout(
            dropout, dtype=encoder.dtype_policy, name="classifier_dropout"
        )
        logits_dense = keras.layers.Dense(
            num_classes,
            kernel_initializer=bert_initializer(),
            dtype=encoder.dtype_policy,
            name="logits",
        )

        # === Functional Model ===
        inputs = bert_inputs()
        pooled_output = encoder(inputs)["pooled_output"]
        logits = ops.cast(logits_dense(head_dropout(pooled_output)), "float32")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        self.head_dropout = head_dropout
        self.logits_dense = logits_dense
        self._finish(encoder)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
        }

    @classmethod
    def from_preset(cls, name: str, num_classes: int, **overrides) -> "BertClassifier":
        """A classifier on `BertEncoder.from_preset(name, **overrides)`.

        The head's dropout is the encoder's (so `dropout=0.0` turns off both).
        """
        _validation.positive_int("num_classes", num_classes)
        encoder = BertEncoder.from_preset(name, **overrides)
        return cls(encoder, num_classes, dropout=encoder.dropout)

    @classmethod
    def from_pretrained(
        cls, path, num_classes: int | None = None, **overrides
    ) -> "BertClassifier":
        """A classifier on a checkpoint's pretrained encoder (see `BertEncoder.from_pretrained`).

        The output layer comes from the checkpoint when it has one (Hugging
        Face `classifier.*`, a keras-hub `BertTextClassifier` preset;
        `num_classes` then defaults to its size and must match it). Otherwise `num_classes` is required and the output layer
        starts random, with a warning: fine-tune it.
        """
        from keras_attention.convert._models import bert_classifier

        return bert_classifier(cls, BertEncoder, path, num_classes, **overrides)
