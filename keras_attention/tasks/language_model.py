"""Language modelling: plain text -> `GPTDecoder`; perplexity on the test
split, sampled continuations."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_attention import data
from keras_attention.data.preprocessors import LanguageModelPreprocessor
from keras_attention.models import GPTDecoder, Sampler
from keras_attention.models.generation import TemperatureSampler
from keras_attention.tasks.base import TextTask, ids_spec
from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy
from keras_attention.training.metrics import perplexity

__all__ = ["LanguageModelTask"]


def mean_token_cross_entropy(model, dataset) -> float:
    """Mean cross-entropy per real (non-pad) target token over a finite dataset."""
    loss = MaskedSparseCategoricalCrossentropy(reduction="sum")
    total, count = 0.0, 0.0
    for inputs, targets in dataset:
        total += float(loss(targets, model(inputs, training=False)))
        count += float(np.sum(np.not_equal(targets, 0)))
    return total / max(count, 1.0)


class LanguageModelTask(TextTask):
    """Plain text -> GPTDecoder; perplexity on the test split, sample continuations."""

    kind = "language_model"
    command = "generate"
    command_help = "continue prompts with a trained language-model run"
    preset_class = GPTDecoder
    searches_normalization = False  # always pre-LN, as GPT-2

    def make_preprocessor(self) -> LanguageModelPreprocessor:
        """Prompts -> ids for `generate`; ids -> strings."""
        return LanguageModelPreprocessor(self.tokenizer, self.data_config.max_length)

    def dataset(self, texts, shuffle):
        return data.language_model_dataset(
            texts,
            self.tokenizer,
            sequence_length=self.data_config.max_length,
            **self._batching(shuffle),
        )

    def model_arguments(self):
        return dict(
            vocabulary_size=self.tokenizer.vocabulary_size,
            max_sequence_length=self.data_config.max_length
            + self.recipe.evaluation.max_new_tokens,
        )

    def sampler(self) -> Sampler:
        """The recipe's decoding: greedy at temperature 0, else sampling."""
        evaluation = self.recipe.evaluation
        if evaluation.temperature == 0:
            return Sampler()
        return Sampler(
            temperature=evaluation.temperature,
            top_k=evaluation.top_k,
            top_p=evaluation.top_p,
            seed=evaluation.seed,
        )

    def predict(self, model, texts):
        """Continue each prompt by `evaluation.max_new_tokens` tokens."""
        token_ids, lengths, _ = self.preprocessor.encode_prompts(tf.constant(list(texts), tf.string))
        generated = model.generate(
            token_ids.numpy()[:, : int(tf.reduce_max(lengths))],
            self.recipe.evaluation.max_new_tokens,
            sampler=self.sampler(),
        )
        decoded = self.preprocessor.detokenize(generated).numpy()
        return [text.decode("utf-8") for text in decoded]

    def attention(self, model, text):
        """Causal self-attention of every layer and head over `text`'s tokens."""
        token_ids, lengths, _ = self.preprocessor.encode_prompts(tf.constant([text], tf.string))
        ids = token_ids.numpy()[:, : int(lengths[0])]
        scores = model.attention_scores(ids)
        tokens = [self.tokenizer.id_to_token(int(i)) for i in ids[0]]
        return scores, tokens, tokens, repr(text)

    def evaluate(self, model, log=print):
        evaluation = self.recipe.evaluation
        test = self.dataset(self.test_split(), False)
        cross_entropy = mean_token_cross_entropy(model, test)
        metrics = {"cross_entropy": cross_entropy, "perplexity": perplexity(cross_entropy)}
        log(f"Held-out perplexity: {metrics['perplexity']:.2f} (cross-entropy {cross_entropy:.4f})")
        prompts = [" ".join(text.split()[:6]) for text in self.test_examples[: evaluation.num_samples]]
        samples = self.predict(model, prompts) if prompts else []
        for prompt, sample in zip(prompts, samples):
            log(f"  {prompt!r} -> {sample!r}")
        metrics["samples"] = [{"prompt": p, "generated": g} for p, g in zip(prompts, samples)]
        return metrics

    def serving_signatures(self, model):
        seeds = _SeedHolder(self.recipe.evaluation.seed)
        preprocessor = self.preprocessor

        def serve(prompt, max_new_tokens, temperature):
            inputs = preprocessor.generation_inputs(prompt, max_new_tokens, model.max_sequence_length)
            tokens = model.decode(
                inputs["token_ids"],
                inputs["prompt_mask"],
                inputs["start_index"],
                TemperatureSampler(temperature),
                seed_generator=seeds.seed_generator,
            )
            return {"text": preprocessor.detokenize(tokens), "truncated": inputs["truncated"]}

        def logits(token_ids):
            return {"logits": model(token_ids)}

        signatures = {
            "serving_default": (
                serve,
                [
                    tf.TensorSpec([None], tf.string, name="prompt"),
                    tf.TensorSpec([], tf.int32, name="max_new_tokens"),
                    tf.TensorSpec([], tf.float32, name="temperature"),
                ],
            ),
            "token_ids_to_logits": (logits, [ids_spec("token_ids")]),
        }
        return signatures, [preprocessor, seeds]


class _SeedHolder(keras.layers.Layer):
    """Keeps the sampling seed generator (a variable) inside the SavedModel."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True
