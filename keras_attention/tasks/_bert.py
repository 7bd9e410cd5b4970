"""What the BERT tasks (masked LM, classification) share: the `[CLS] text
[SEP]` preprocessor, encoder attention plots and the encoder's logits signature."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_attention.data.preprocessors import BertPreprocessor
from keras_attention.models import BertEncoder
from keras_attention.tasks.base import Task, ids_spec


class BertEncoderTask(Task):
    """What the BERT tasks share: the `[CLS] text [SEP]` preprocessor, encoder
    attention plots and the encoder's logits signature."""

    preset_class = BertEncoder
    # BERT's own: these tasks read text and never write it.
    tokenizer_kind = "wordpiece"
    smallest_max_length = 3
    smallest_max_length_reason = "`[CLS] text [SEP]` with one token of text"
    searches_normalization = False  # post-LN with learned positions, as BERT
    searches_position = False

    def make_preprocessor(self) -> BertPreprocessor:
        return BertPreprocessor(self.tokenizer, self.data_config.max_length)

    def attention(self, model, text):
        """Self-attention of every encoder layer and head over `[CLS] text [SEP]`."""
        inputs, _ = self.preprocessor(tf.constant([text], tf.string))
        length = int(np.sum(inputs["token_ids"].numpy() != 0))
        inputs = {name: value[:, :length] for name, value in inputs.items()}
        scores = model.encoder.attention_scores(inputs)
        tokens = [self.tokenizer.id_to_token(int(i)) for i in inputs["token_ids"].numpy()[0]]
        return scores, tokens, tokens, repr(text)

    def serving_limits(self, model):
        length = self.data_config.max_length
        return [
            f"Texts are cut to their first {length - 2} token ids, so that `[CLS] text [SEP]` fits "
            f"the model's {length} positions (`truncated` says which were).",
            *super().serving_limits(model),
        ]

    def _logits_signature(self, model):
        def logits(token_ids, segment_ids):
            outputs = model({"token_ids": token_ids, "segment_ids": segment_ids})
            return outputs if isinstance(outputs, dict) else {"logits": outputs}

        return (logits, [ids_spec("token_ids"), ids_spec("segment_ids")])
