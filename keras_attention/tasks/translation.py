"""Translation (and summarisation): text pairs -> `Seq2SeqTransformer`; exact
match, BLEU and optionally ROUGE and a baseline, decoded exactly as served."""

from __future__ import annotations


import numpy as np
import tensorflow as tf

from keras_attention import data
from keras_attention.data.preprocessors import Seq2SeqPreprocessor
from keras_attention.models import Seq2SeqTransformer
from keras_attention.tasks.base import TEXT_SPEC, GroupedExamples, Task, ids_spec
from keras_attention.training.metrics import (
    ROUGE_TYPES,
    exact_match,
    first_sentence,
    rouge,
    text_scores,
)

__all__ = ["TranslationTask"]

_GENERATION_BATCH = 64
# How many pairs `embedded:dates` generates unless `data.num_examples` says.
_DATES = 20000
# The share of impossible dates in `embedded:dates` (answer ""). 6% of 36,000
# pairs (the default recipe) is about 1,080 times 29 February of a common year
# (some 14 for each of the 75; with the 360 of leap years, as many for each of
# the 25) and 1,080 other days past a month's end (180 of each kind): enough
# to learn which days exist, while 93% of the pairs stay the real dates a
# reader mostly meets.
_IMPOSSIBLE_SHARE = 0.06

# Output constraints a translation recipe can ask for: strings -> bool, in TF ops.
CONSTRAINTS = {"iso_date": data.is_iso_date}
# Baselines a recipe can score beside the model (`evaluation.baseline`): source -> answer.
BASELINES = {"first_sentence": first_sentence}


def _embedded_dates(task) -> list:
    # Training templates, context words and impossible dates only: the
    # held-out ones are test splits of their own (`generalization_splits`).
    pairs = data.date_pairs(
        task.data_config.num_examples or _DATES, seed=task.seed, impossible=_IMPOSSIBLE_SHARE
    )
    # One example per distinct source, so no test source is seen in training.
    return list(dict(pairs).items())


def _embedded_docstring_summaries(task) -> GroupedExamples:
    # Split by module: no module's docstrings are in two of train, validation and test.
    pairs, modules = data.docstring_summaries()
    return GroupedExamples(pairs, modules, "module")


# The scores of the test split that metrics.json gives at its top level.
_HEADLINE_SCORES = ("exact_match", "bleu", "chrf", *ROUGE_TYPES, "signatures", "case_insensitive")


def _rouge_text(scores: dict) -> str:
    if "rougeL" not in scores:
        return ""
    return "   ROUGE-1/2/L: " + " / ".join(f"{scores[name]:.4f}" for name in ROUGE_TYPES)


def _constraint_scores(constraint, answers: list, references: list) -> dict:
    """How answers meet an output constraint, split by what was expected.

    `validity`: the share of answers that satisfy the constraint, over the
    examples whose expected answer is not "" (for the dates: the share of real
    dates answered with a real date); an expected "" is no answer to check.
    `no_answer`: over the examples whose expected answer is "" (impossible
    dates), the share answered "". Each comes with its count of examples,
    and is left out when it has none.
    """
    satisfied = constraint(tf.constant(answers, tf.string)).numpy()
    expected = [bool(reference) for reference in references]
    scores = {}
    if any(expected):
        scores["validity"] = float(np.mean([ok for ok, wanted in zip(satisfied, expected) if wanted]))
        scores["validity_examples"] = sum(expected)
    if not all(expected):
        unanswered = [answer == "" for answer, wanted in zip(answers, expected) if not wanted]
        scores["no_answer"] = {"exact_match": float(np.mean(unanswered)), "examples": len(unanswered)}
    return scores


class TranslationTask(Task):
    """Text pairs -> Seq2SeqTransformer; exact match and BLEU on the test split, with
    `evaluation.rouge` ROUGE-1/2/L too, and with `evaluation.baseline` a baseline
    scored the same way (summarisation: the first sentence)."""

    kind = "translation"
    decoding_keys = ("beam_size", "length_penalty", "no_repeat_ngram_size")
    preset_class = Seq2SeqTransformer
    smallest_max_length = 2
    smallest_max_length_reason = "a target's [START] and [END]"
    embedded = {
        "embedded:dates": _embedded_dates,
        "embedded:docstring_summaries": _embedded_docstring_summaries,
    }
    outputs = ("translation", "score", "truncated", "valid")

    @property
    def tokenizer_directories(self):
        if self.data_config.shared_vocabulary:
            return ("tokenizer",)
        return ("source_tokenizer", "target_tokenizer")

    def read_file(self, path):
        pairs, self.report = data.read_sentence_pairs(path, strict=self.data_config.strict)
        return pairs

    def read_test_file(self, path):
        """Pairs whose expected answer may be "" (the answer to an impossible date)."""
        pairs, self.report = data.read_sentence_pairs(
            path, strict=self.data_config.strict, empty_targets=True
        )
        return pairs

    def tokenizer_texts(self):
        sources = [source for source, _ in self.train_examples]
        targets = [target for _, target in self.train_examples]
        if self.data_config.shared_vocabulary:
            return {"tokenizer": sources + targets}
        return {"source_tokenizer": sources, "target_tokenizer": targets}

    @property
    def source_tokenizer(self):
        return self.tokenizers.get("source_tokenizer") or self.tokenizers["tokenizer"]

    @property
    def target_tokenizer(self):
        return self.tokenizers.get("target_tokenizer") or self.tokenizers["tokenizer"]

    def make_preprocessor(self) -> Seq2SeqPreprocessor:
        """Strings -> ids for the model, ids -> strings: one object for the
        pipeline, evaluation, attention plots and the export."""
        return Seq2SeqPreprocessor(
            self.source_tokenizer, self.target_tokenizer, self.data_config.max_length
        )

    def dataset(self, pairs, shuffle, start=0):
        return data.seq2seq_dataset(
            pairs,
            self.source_tokenizer,
            self.target_tokenizer,
            max_length=self.data_config.max_length,
            **self._batching(shuffle, start),
        )

    def model_arguments(self):
        shared = self.data_config.shared_vocabulary
        return dict(
            encoder_vocabulary_size=self.source_tokenizer.vocabulary_size,
            decoder_vocabulary_size=None if shared else self.target_tokenizer.vocabulary_size,
            max_sequence_length=self.data_config.max_length,
        )

    def tuned_arguments(self, values):
        arguments = super().tuned_arguments(values)
        num_layers = arguments.pop("num_layers")
        return {"num_encoder_layers": num_layers, "num_decoder_layers": num_layers, **arguments}

    # --- the one decode path (TensorFlow ops) ------------------------------

    def translate(self, model, texts: tf.Tensor) -> dict:
        """Translate a batch of strings with the recipe's decoding, in TF ops.

        This is the one decode path of the task: evaluation (`metrics.json`),
        the CLI, the attention plots and the SavedModel's `serving_default`
        all call it, so what is scored is what is served. An empty (or blank)
        text translates to "". With `evaluation.output_constraint` (e.g.
        "iso_date"), the answer is the best beam that satisfies it or is ""
        (the model's own "there is none", as for an impossible date), and ""
        when no beam is either; `valid` is false for every "".

        Returns:
            A dict of `translation` string `(batch,)`, `score` float32
            `(batch,)` (the chosen beam's length-normalised log-probability),
            `truncated` bool `(batch,)`, `valid` bool `(batch,)` (a non-empty
            answer that satisfies the constraint, if any) and `token_ids`
            int32 `(batch, max_length)` (the chosen beam, from [START]).
        """
        evaluation = self.recipe.evaluation
        target = self.target_tokenizer
        source_ids, truncated = self.preprocessor.encoder_token_ids(texts)
        sequences, scores = model.decode_beams(
            source_ids,
            target.start_id,
            target.end_id,
            self.data_config.max_length,
            evaluation.beam_size,
            evaluation.length_penalty,
            evaluation.no_repeat_ngram_size,
        )
        empty = tf.equal(tf.strings.length(tf.strings.strip(texts)), 0)
        # (batch, beam) translations, best first.
        beams = tf.reshape(
            self.preprocessor.detokenize(tf.reshape(sequences, [-1, tf.shape(sequences)[-1]])),
            tf.shape(scores),
        )
        constraint = evaluation.output_constraint
        if constraint:
            # The best hypothesis that satisfies the constraint or is "": a
            # model taught to answer "" (an impossible date) means it, and a
            # worse beam that satisfies the constraint would be made up.
            # Neither: "" and valid=False too.
            satisfied = tf.reshape(CONSTRAINTS[constraint](tf.reshape(beams, [-1])), tf.shape(scores))
            allowed = tf.logical_or(satisfied, tf.equal(beams, ""))
            choice = tf.argmax(tf.cast(allowed, tf.int32), axis=1, output_type=tf.int32)
            valid = tf.logical_and(
                tf.logical_and(tf.reduce_any(allowed, axis=1), tf.logical_not(empty)),
                tf.gather(satisfied, choice, batch_dims=1),
            )
        else:
            valid = tf.logical_not(empty)
            choice = tf.zeros_like(scores[:, 0], tf.int32)
        best = tf.gather(sequences, choice, batch_dims=1)
        best = tf.where(valid[:, None], best, tf.zeros_like(best))
        return {
            "translation": tf.where(valid, tf.gather(beams, choice, batch_dims=1), ""),
            "score": tf.gather(scores, choice, batch_dims=1),
            "truncated": truncated,
            "valid": valid,
            "token_ids": best,
        }

    def _translate_function(self, model):
        """`translate` traced once for any batch size, per model and decoding
        settings (a trace bakes them in, so they are part of the key)."""
        key = (id(model), self.recipe.evaluation, self.data_config.max_length,
               id(self.source_tokenizer), id(self.target_tokenizer),
               self.source_tokenizer.trace_key(), self.target_tokenizer.trace_key())
        cache = self.__dict__.setdefault("_translate_functions", {})
        if key not in cache:
            cache[key] = tf.function(
                lambda texts: self.translate(model, texts), input_signature=[TEXT_SPEC]
            )
        return cache[key]

    def predict(self, model, texts):
        """Translate `texts` (a list of str) with `translate`, in batches."""
        translate = self._translate_function(model)
        outputs = []
        for start in range(0, len(texts), _GENERATION_BATCH):
            chunk = tf.constant(list(texts[start : start + _GENERATION_BATCH]), tf.string)
            outputs += [text.decode("utf-8") for text in translate(chunk)["translation"].numpy()]
        return outputs

    def attention(self, model, text: str):
        """Cross-attention of the model's own translation of `text`.

        Returns:
            `(scores, query_tokens, key_tokens, title)` for `plot_attention`:
            rows are the output tokens, columns the input tokens.
        """
        texts = tf.constant([text])
        source = self.preprocessor.encoder_token_ids(texts)[0].numpy()
        length = max(1, int((source[0] != 0).sum()))
        translated = self._translate_function(model)(texts)
        start, end = self.target_tokenizer.start_id, self.target_tokenizer.end_id
        # The served beam from [START]; all padding when no beam was valid (the
        # answer is ""), which reads as [START] predicting [END].
        body = [int(i) for i in translated["token_ids"].numpy()[0] if i != 0]
        body = body[1:] if body[:1] == [start] else body
        body = body[: body.index(end)] if end in body else body
        decoder_ids = np.array([[start, *body]], dtype="int32")
        scores = model.attention_scores(
            {"encoder_token_ids": source[:, :length], "decoder_token_ids": decoder_ids}
        )
        # Cross-attention of every layer, and a pointer-generator's copy attention.
        cross = {
            name: value
            for name, value in scores.items()
            if name.endswith(("cross_attention", "copy_attention"))
        }
        outputs = [*body, end]  # what each decoder position predicts
        query_tokens = [self.target_tokenizer.id_to_token(int(i)) for i in outputs]
        key_tokens = [self.source_tokenizer.id_to_token(int(i)) for i in source[0, :length]]
        translation = translated["translation"].numpy()[0].decode()
        return cross, query_tokens, key_tokens, f"{text!r} -> {translation!r}"

    def serving_signatures(self, model):
        def serve(text):
            # The task's one decode path: what evaluation scored is what is served.
            outputs = self.translate(model, text)
            return {name: outputs[name] for name in self.outputs}

        def logits(encoder_token_ids, decoder_token_ids):
            inputs = {"encoder_token_ids": encoder_token_ids, "decoder_token_ids": decoder_token_ids}
            return {"logits": model(inputs)}

        signatures = {
            "serving_default": (serve, [TEXT_SPEC]),
            "token_ids_to_logits": (
                logits, [ids_spec("encoder_token_ids"), ids_spec("decoder_token_ids")]
            ),
        }
        return signatures, [self.preprocessor]

    def serving_limits(self, model):
        evaluation = self.recipe.evaluation
        length = self.data_config.max_length
        constraint = evaluation.output_constraint
        return [
            f"Input texts are cut to their first {length} token ids (`truncated` says which were).",
            f"Translations are at most {length - 1} tokens long; decoding: {self._decoding()}.",
            "An empty or blank text translates to \"\" (`valid` false).",
            (f"Output constraint `{constraint}`: the answer is the best beam that satisfies it or is "
             "\"\" (the model's own answer that there is none), else \"\"; `valid` is false for "
             "every \"\" (never a made-up answer)."
             if constraint else "No output constraint: the best beam is answered as it is."),
            *super().serving_limits(model),
        ]

    # --- evaluation ------------------------------------------------------

    def _normalization(self) -> str:
        """How predictions and references are compared, for metrics.json."""
        if self._lower_cased():
            return ("none: scores compare the raw texts (cased); the model writes lower-cased "
                    "text (data.lower_case), so `case_insensitive` scores both sides lower-cased")
        return "none: scores compare the raw texts"

    def _lower_cased(self) -> bool:
        """Whether the target tokenizer lower-cases: all the model can write."""
        return bool(getattr(self.target_tokenizer, "lower_case", False))

    def _decoding(self) -> str:
        evaluation = self.recipe.evaluation
        repeats = ""
        if evaluation.no_repeat_ngram_size:
            repeats = f", no repeated {evaluation.no_repeat_ngram_size}-grams"
        if evaluation.beam_size == 1:
            return f"greedy (beam size 1{repeats}), as served"
        return (f"beam search (beam size {evaluation.beam_size}, length penalty "
                f"{evaluation.length_penalty}{repeats}), as served")

    def generalization_splits(self) -> dict[str, list]:
        """Test splits beyond the random one, for the embedded dates: formats
        never seen in training, the test split with words re-cased, dates
        among context words never seen in training, and impossible dates
        never seen in training beside real dates at a month's end. Each has
        as many examples as the random split."""
        if self.source != "embedded:dates":
            return {}
        count = min(self.recipe.evaluation.max_examples, max(len(self.test_examples), 1))
        return {
            "held_out_templates": data.date_pairs(
                count, seed=self.seed + 1, templates="held_out", impossible=_IMPOSSIBLE_SHARE
            ),
            "case_perturbed": [
                (data.perturb_case(source, seed=self.seed + i), target)
                for i, (source, target) in enumerate(self.test_examples[:count])
            ],
            "unseen_context": data.date_pairs(
                count, seed=self.seed + 2, context="held_out", impossible=_IMPOSSIBLE_SHARE
            ),
            "impossible_dates": data.impossible_date_pairs(count, seed=self.seed + 3),
        }

    def _text_scores(self, raw, examples) -> tuple[dict, list, list]:
        """`(scores, predictions, references)` of answers `raw` to `examples`,
        on the raw strings: exact match, sacreBLEU's BLEU and chrF with their
        signatures, with `evaluation.rouge` ROUGE-1/2/L, and the
        case-insensitive ones when the model writes lower-cased text."""
        references = [target for _, target in examples]
        scores = {"exact_match": exact_match(raw, references), **text_scores(raw, references)}
        if self.recipe.evaluation.rouge:
            scores.update(rouge(raw, references))  # rouge-score lower-cases itself
        if self._lower_cased():
            lowered = [text.lower() for text in raw], [text.lower() for text in references]
            scores["case_insensitive"] = {
                "exact_match": exact_match(*lowered),
                **text_scores(raw, references, lowercase=True),
            }
        scores["examples"] = len(examples)
        return scores, list(raw), references

    def _score(self, model, examples) -> tuple[dict, list]:
        """Scores of one split, and its `(source, prediction, reference)` rows."""
        sources = [source for source, _ in examples]
        raw = self.predict(model, sources)
        scores, predictions, references = self._text_scores(raw, examples)
        constraint = self.recipe.evaluation.output_constraint
        if constraint:
            scores.update(_constraint_scores(CONSTRAINTS[constraint], raw, references))
        return scores, list(zip(sources, predictions, references))

    def evaluate(self, model, log=print):
        evaluation = self.recipe.evaluation
        examples = self.test_split()
        scores, rows = self._score(model, examples)
        metrics = {
            **{name: scores[name] for name in _HEADLINE_SCORES if name in scores},
            "test_examples": len(examples),
            "decoding": self._decoding(),
            "normalization": self._normalization(),
            "splits": {"random": scores},
        }
        log(f"Held-out exact match: {metrics['exact_match']:.4f}   BLEU: {metrics['bleu']:.2f}   "
            f"chrF: {metrics['chrf']:.2f}{_rouge_text(metrics)}   ({len(examples)} test examples)")
        if "case_insensitive" in metrics:
            lowered = metrics["case_insensitive"]
            log(f"  case-insensitive: exact match {lowered['exact_match']:.4f}   "
                f"BLEU: {lowered['bleu']:.2f}   chrF: {lowered['chrf']:.2f}")
        log(f"  sacreBLEU signatures: BLEU {metrics['signatures']['bleu']}; "
            f"chrF {metrics['signatures']['chrf']}")
        baseline = evaluation.baseline
        if baseline:
            # The same test split, normalised and scored the same way as the model.
            answers = [BASELINES[baseline](source) for source, _ in examples]
            metrics[f"baseline_{baseline}"], _, _ = self._text_scores(answers, examples)
            scored = metrics[f"baseline_{baseline}"]
            log(f"Baseline {baseline!r}: exact match {scored['exact_match']:.4f}   "
                f"BLEU: {scored['bleu']:.2f}{_rouge_text(scored)}")
        for name, split in self.generalization_splits().items():
            metrics["splits"][name], _ = self._score(model, split)
        for name, split in metrics["splits"].items():
            validity = f"   validity {split['validity']:.4f}" if "validity" in split else ""
            if "no_answer" in split:
                validity += (f"   \"\" when none {split['no_answer']['exact_match']:.4f}"
                             f" of {split['no_answer']['examples']}")
            log(f"  {name:20} exact match {split['exact_match']:.4f}{validity}"
                f"   ({split['examples']} examples)")
        validities = [split["validity"] for split in metrics["splits"].values() if "validity" in split]
        if validities:
            metrics["validity"] = min(validities)
        for source, prediction, reference in rows[: evaluation.num_samples]:
            mark = "ok" if prediction.strip() == reference.strip() else "WRONG"
            log(f"  {source!r:40} -> {prediction!r:16} [{mark}, expected {reference!r}]")
        metrics["samples"] = [
            {"source": s, "prediction": p, "reference": r}
            for s, p, r in rows[: evaluation.num_samples]
        ]
        return metrics
