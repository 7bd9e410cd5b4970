"""Language modelling: plain text -> `GPTDecoder`; perplexity on the test
split, sampled continuations."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_attention import data
from keras_attention.data.preprocessors import LanguageModelPreprocessor
from keras_attention.models import GPTDecoder, Sampler
from keras_attention.models.generation import RowSampler
from keras_attention.tasks.base import TextTask, ids_spec
from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy, target_weights
from keras_attention.training.metrics import MaskedAccuracy, perplexity
from keras_attention.training.recipe import toml_value

__all__ = ["LanguageModelTask"]


def mean_token_cross_entropy(model, dataset, pad_id: int | None = 0) -> float:
    """Mean cross-entropy per real target token over a finite dataset.

    The tokens counted are the training loss's (`target_weights`): every
    target but the pad token `pad_id` (None: no id is padding, as in GPT-2,
    whose id 0 is a token), weighted by the sample weights of datasets that
    yield `(inputs, targets, sample_weights)`.
    """
    loss = MaskedSparseCategoricalCrossentropy(pad_id=pad_id, reduction="sum")
    total, count = 0.0, 0.0
    for inputs, targets, *sample_weight in dataset:
        sample_weight = sample_weight[0] if sample_weight else None
        total += float(loss(targets, model(inputs, training=False), sample_weight=sample_weight))
        count += float(keras.ops.sum(target_weights(targets, pad_id, sample_weight)))
    return total / max(count, 1.0)


class LanguageModelTask(TextTask):
    """Plain text -> GPTDecoder; perplexity on the test split, sample continuations."""

    kind = "language_model"
    decoding_keys = ("max_new_tokens", "temperature", "top_k", "top_p")
    preset_class = GPTDecoder
    searches_normalization = False  # always pre-LN, as GPT-2

    def make_preprocessor(self) -> LanguageModelPreprocessor:
        """Prompts -> ids for `generate`; ids -> strings."""
        return LanguageModelPreprocessor(self.tokenizer, self.data_config.max_length)

    def dataset(self, texts, shuffle, start=0):
        return data.language_model_dataset(
            texts,
            self.tokenizer,
            sequence_length=self.data_config.max_length,
            **self._batching(shuffle, start),
        )

    def model_arguments(self):
        """The vocabulary of the tokenizer; the length of a training window
        plus `evaluation.max_new_tokens`, or with `model.init_from` the
        length of that run's model (its position embedding has that many
        rows), which must hold them."""
        length = self.data_config.max_length + self.recipe.evaluation.max_new_tokens
        run = self.init_run()
        if run is not None:
            run_length = run.setting("max_sequence_length")
            if run_length is not None:
                if length > run_length:
                    raise ValueError(
                        f"`data.max_length` ({self.data_config.max_length}) plus "
                        f"`evaluation.max_new_tokens` ({self.recipe.evaluation.max_new_tokens}) "
                        f"is longer than the model of `model.init_from` {run.describe()} can "
                        f"read ({run_length} tokens): lower them."
                    )
                length = run_length
        return dict(vocabulary_size=self.tokenizer.vocabulary_size, max_sequence_length=length)

    def build_model(self, overrides: dict | None = None, log=None) -> GPTDecoder:
        """The recipe's GPTDecoder (see `Task.build_model`), whose padding id
        must be the tokenizer's: a model that took a real token for padding
        (GPT-2's id 0 is `"!"`) would neither attend to it nor learn it."""
        model = super().build_model(overrides, log)
        pad_id = getattr(self.tokenizer, "pad_id", None)
        if model.pad_token_id != pad_id:
            raise ValueError(
                f"`model.overrides.pad_token_id` is {model.pad_token_id!r} (from `model.preset` "
                f"{self.recipe.model.preset!r} and `model.overrides`), but the tokenizer's "
                f"padding id is {pad_id!r}"
                + (" (it has no pad token)" if pad_id is None else "")
                + f": set `pad_token_id = {toml_value(pad_id)}` in [model.overrides]."
            )
        return model

    def target_pad_id(self, model=None) -> int | None:
        """The id whose targets are padding, not tokens: the model's
        `pad_token_id` (None for GPT-2: every target counts, id 0 included).
        Without a model (or one without the attribute), GPTDecoder's default 0."""
        return getattr(model, "pad_token_id", 0)

    def loss(self, model=None):
        return MaskedSparseCategoricalCrossentropy(
            label_smoothing=self.recipe.training.label_smoothing, pad_id=self.target_pad_id(model)
        )

    def metrics(self, model=None):
        return [MaskedAccuracy(pad_id=self.target_pad_id(model))]

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
        """Continue each prompt by `evaluation.max_new_tokens` tokens, each row
        after its own prompt, as the export does."""
        if not texts:  # as the other tasks: no prompts, no continuations
            return []
        max_new_tokens = self.recipe.evaluation.max_new_tokens
        token_ids, lengths, _ = self.preprocessor.encode_prompts(tf.constant(list(texts), tf.string))
        lengths = lengths.numpy()
        width = lengths.max()
        # The prompts' mask, not their ids: a model without a pad token
        # (GPT-2) has no id that marks padding.
        generated = model.generate(
            token_ids.numpy()[:, :width], max_new_tokens, sampler=self.sampler(),
            padding_mask=np.arange(width)[None, :] < lengths[:, None],
        )
        # A prompt shorter than the longest would get more new tokens than asked.
        kept = np.arange(generated.shape[1])[None, :] < (lengths + max_new_tokens)[:, None]
        decoded = self.preprocessor.detokenize(tf.ragged.boolean_mask(generated, kept)).numpy()
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
        cross_entropy = mean_token_cross_entropy(model, test, pad_id=self.target_pad_id(model))
        metrics = {"cross_entropy": cross_entropy, "perplexity": perplexity(cross_entropy)}
        log(f"Held-out perplexity: {metrics['perplexity']:.2f} (cross-entropy {cross_entropy:.4f})")
        prompts = [" ".join(text.split()[:6]) for text in self.test_examples[: evaluation.num_samples]]
        samples = self.predict(model, prompts) if prompts else []
        for prompt, sample in zip(prompts, samples):
            log(f"  {prompt!r} -> {sample!r}")
        metrics["samples"] = [{"prompt": p, "generated": g} for p, g in zip(prompts, samples)]
        return metrics

    def serving_limits(self, model):
        length = self.data_config.max_length
        return [
            f"Prompts are cut to their first {length} token ids (`truncated` says which were); an "
            "empty prompt starts after an end of text.",
            f"The model's maximum length is {model.max_sequence_length} tokens: `max_new_tokens` is "
            "at most that minus the longest prompt of the batch.",
            "`serving_default` decodes each row with its own `max_new_tokens`, `temperature` (0: "
            "greedy), `top_k` (0: off) and `top_p` (1: off), through the same sampler as "
            "`GPTDecoder.generate`; sampling draws from a seed stored in the export (the "
            f"recipe's `evaluation.seed`, {self.recipe.evaluation.seed}), which advances call "
            "after call. Texts do not stop at an end of text.",
            *super().serving_limits(model),
        ]

    def serving_signatures(self, model):
        """`serving_default`: every input batch-shaped, one value per row (TF
        Serving's row format), decoded row by row as `generate` decodes with a
        `Sampler` of those settings (`RowSampler`, the same sampling code).

        Inputs: `prompt` string, `max_new_tokens` int32 (>= 1; at most what
        the model's maximum length leaves after the longest prompt),
        `temperature` float32 (>= 0; 0 is greedy), `top_k` int32 (>= 0; 0 is
        no top-k), `top_p` float32 (in (0, 1]; 1 is no top-p), all `(batch,)`.
        Each row continues its own prompt by its own `max_new_tokens` tokens.
        Outputs: `text` string and `truncated` bool, `(batch,)`.
        """
        seeds = _SeedHolder(self.recipe.evaluation.seed)
        preprocessor = self.preprocessor

        def serve(prompt, max_new_tokens, temperature, top_k, top_p):
            settings = {"max_new_tokens": max_new_tokens, "temperature": temperature,
                        "top_k": top_k, "top_p": top_p}
            checks = [
                tf.debugging.assert_equal(
                    tf.shape(value), tf.shape(prompt),
                    message=f"`{name}` must have one value per prompt (shape (batch,))",
                )
                for name, value in settings.items()
            ]
            checks += [
                tf.debugging.assert_positive(max_new_tokens, message="`max_new_tokens` must be >= 1"),
                tf.debugging.assert_non_negative(top_k, message="`top_k` must be >= 0 (0: no top-k)"),
                tf.debugging.assert_greater_equal(
                    temperature, 0.0, message="`temperature` must be a finite number >= 0"
                ),
                tf.debugging.assert_less(
                    temperature, float("inf"), message="`temperature` must be a finite number >= 0"
                ),
                tf.debugging.assert_positive(top_p, message="`top_p` must be in (0, 1] (1: no top-p)"),
                tf.debugging.assert_less_equal(
                    top_p, 1.0, message="`top_p` must be in (0, 1] (1: no top-p)"
                ),
            ]
            with tf.control_dependencies(checks):
                inputs = preprocessor.generation_inputs(
                    prompt, tf.reduce_max(max_new_tokens), model.max_sequence_length
                )
            tokens = model.decode(
                inputs["token_ids"],
                inputs["prompt_mask"],
                inputs["start_index"],
                RowSampler(temperature, top_k, top_p),
                seed_generator=seeds.seed_generator,
            )
            # Each row keeps its prompt and its own number of new tokens.
            lengths = tf.reduce_sum(tf.cast(inputs["prompt_mask"], tf.int32), axis=1)
            kept = tf.range(tf.shape(tokens)[1])[None, :] < (lengths + max_new_tokens)[:, None]
            # Ragged, not zero-filled: id 0 is a token where there is no pad token.
            tokens = tf.ragged.boolean_mask(tokens, kept)
            return {"text": preprocessor.detokenize(tokens), "truncated": inputs["truncated"]}

        def logits(token_ids):
            return {"logits": model(token_ids)}

        signatures = {
            "serving_default": (
                serve,
                [
                    tf.TensorSpec([None], tf.string, name="prompt"),
                    tf.TensorSpec([None], tf.int32, name="max_new_tokens"),
                    tf.TensorSpec([None], tf.float32, name="temperature"),
                    tf.TensorSpec([None], tf.int32, name="top_k"),
                    tf.TensorSpec([None], tf.float32, name="top_p"),
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
