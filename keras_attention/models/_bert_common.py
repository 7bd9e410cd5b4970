"""The base of the models that put a head on a `BertEncoder` (not exported)."""

from __future__ import annotations

import keras

from keras_attention.models.bert_encoder import BertEncoder


class BertTask(keras.Model):
    """Base of the models that put a head on a `BertEncoder` (not exported).

    A subclass builds its functional graph around `encoder` and keeps it as
    `self.encoder`; its config holds the serialized encoder, which
    `from_config` deserializes. Head layers use the encoder's dtype policy,
    and so does the model (so `compile` adds loss scaling under
    `mixed_float16`).
    """

    @staticmethod
    def _check_encoder(encoder):
        if not isinstance(encoder, BertEncoder):
            raise ValueError(
                "`encoder` must be a `BertEncoder`. "
                f"Received: encoder={encoder!r} of type {type(encoder).__name__}"
            )
        return encoder

    def _finish(self, encoder):
        self.encoder = encoder
        self.dtype_policy = encoder.dtype_policy

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["encoder"], dict):
            config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
