"""Metrics: masked token accuracy (a Keras metric), BLEU, ROUGE, exact match,
perplexity, and the first-sentence baseline of summarisation."""

from __future__ import annotations

import math
import re

import keras
from keras import ops

from keras_attention.training.losses import target_weights

__all__ = [
    "MaskedAccuracy",
    "bleu",
    "exact_match",
    "first_sentence",
    "perplexity",
    "rouge",
    "text_scores",
]


@keras.saving.register_keras_serializable(package="keras_attention")
class MaskedAccuracy(keras.metrics.Metric):
    """Fraction of real (non-pad) target tokens whose argmax prediction is right.

    The tokens counted are those `training.losses.target_weights` weighs:
    not the pad token, and weighted by the sample weight.

    Args:
        pad_id: int or None, default 0. None: no id is padding (GPT-2).
        name: default "accuracy".

    Example:

    >>> import numpy as np
    >>> metric = MaskedAccuracy()
    >>> metric.update_state(np.array([[2, 1, 0]]), np.eye(3)[None, [2, 2, 0]])
    >>> float(metric.result())
    0.5
    """

    def __init__(self, pad_id: int | None = 0, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = pad_id
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predictions = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        mask = target_weights(y_true, self.pad_id, sample_weight)
        correct = ops.cast(ops.equal(predictions, y_true), "float32") * mask
        self.correct.assign_add(ops.sum(correct))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


def _check_pairs(predictions: list[str], references: list[str]) -> None:
    if len(predictions) != len(references) or not references:
        raise ValueError(
            "`predictions` and `references` must be non-empty and of equal length. "
            f"Received: {len(predictions)} predictions, {len(references)} references"
        )


def exact_match(predictions: list[str], references: list[str]) -> float:
    """Fraction of predictions equal to their reference (after stripping spaces at the ends).

    >>> exact_match(["2024-03-05", "1999-01-01"], ["2024-03-05", "1999-01-02"])
    0.5
    """
    _check_pairs(predictions, references)
    return sum(p.strip() == r.strip() for p, r in zip(predictions, references)) / len(references)


def bleu(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU as published: sacreBLEU's defaults (13a tokenisation,
    cased) on the raw strings, on the 0-100 scale.

    >>> round(bleu(["the cat sat on the mat"], ["the cat sat on the mat"]), 1)
    100.0

    References:
        Papineni et al., "BLEU", 2002; Post, "A Call for Clarity in
        Reporting BLEU Scores", 2018 (sacrebleu).
    """
    return text_scores(predictions, references)["bleu"]


def text_scores(
    predictions: list[str], references: list[str], lowercase: bool = False
) -> dict:
    """sacreBLEU's corpus BLEU and chrF of raw strings, with their signatures.

    No normalisation of ours comes between the texts and sacreBLEU: BLEU is
    its default (13a tokenisation, cased, exponential smoothing) and chrF its
    default (character 6-grams, beta 2), so the numbers are those papers
    report and the signatures say exactly how they were computed. With
    `lowercase` both are case-insensitive, and their signatures say "lc".

    Args:
        predictions: list of str, the system's texts.
        references: list of str, one reference per prediction.
        lowercase: bool, default False.

    Returns:
        `{"bleu": float, "chrf": float, "signatures": {"bleu": str, "chrf": str}}`,
        scores on the 0-100 scale.

    Example:

    >>> scores = text_scores(["It's $5,000."], ["It's $5,000."])
    >>> round(scores["bleu"], 6), round(scores["chrf"], 6)
    (100.0, 100.0)
    >>> scores["signatures"]["bleu"].split("|")[:3]
    ['nrefs:1', 'case:mixed', 'eff:no']
    >>> round(text_scores(["IT'S"], ["it's"], lowercase=True)["chrf"], 6)
    100.0

    References:
        Post, "A Call for Clarity in Reporting BLEU Scores", 2018; Popović,
        "chrF: character n-gram F-score", 2015.
    """
    from sacrebleu.metrics import BLEU, CHRF

    _check_pairs(predictions, references)
    scores, signatures = {}, {}
    for name, metric in (("bleu", BLEU(lowercase=lowercase)), ("chrf", CHRF(lowercase=lowercase))):
        scores[name] = float(metric.corpus_score(predictions, [references]).score)
        signatures[name] = str(metric.get_signature())
    return {**scores, "signatures": signatures}


ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F-measures, in [0, 1] (rouge-score).

    Each prediction is scored against its reference by Google's `rouge-score`
    package (its tokenizer: lower-cased, letters and digits only; Porter
    stemming), and the per-example F-measures are averaged. ROUGE-L is the
    longest common subsequence of the two texts as one sentence each.

    Args:
        predictions: list of str, the system's texts.
        references: list of str, one reference per prediction.

    Returns:
        `{"rouge1": float, "rouge2": float, "rougeL": float}`.

    Example:

    >>> scores = rouge(["the cat sat on the mat"], ["the cat sat on the mat"])
    >>> {name: round(value, 3) for name, value in scores.items()}
    {'rouge1': 1.0, 'rouge2': 1.0, 'rougeL': 1.0}

    References:
        Lin, "ROUGE: A Package for Automatic Evaluation of Summaries", 2004.
    """
    from rouge_score import rouge_scorer

    _check_pairs(predictions, references)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for prediction, reference in zip(predictions, references):
        scores = scorer.score(reference, prediction)  # (target, prediction)
        for name in ROUGE_TYPES:
            totals[name] += scores[name].fmeasure
    return {name: total / len(references) for name, total in totals.items()}


# A sentence ends at ".", "!" or "?" followed by a space and what starts a
# sentence (a capital, a digit, a quote, a bracket), or by the end of the text:
# "e.g. the" and "3.11" do not end one.
_SENTENCE_END = re.compile(r"""[.!?](?=\s+[A-Z0-9"'(\[`*]|\s*$)""")


def first_sentence(text: str) -> str:
    """The text's first sentence: summarisation's lead baseline.

    Whitespace is collapsed first; the sentence ends at the first ".", "!" or
    "?" that is followed by a space and a capital letter, digit, quote or
    bracket, or by the end of the text. A text with no such end is returned
    whole.

    Example:

    >>> first_sentence("Return the value.  It is cached.")
    'Return the value.'
    >>> first_sentence("Use a key, e.g. the name, since 3.11. Then stop")
    'Use a key, e.g. the name, since 3.11.'
    >>> first_sentence("No full stop here")
    'No full stop here'
    """
    text = " ".join(text.split())
    end = _SENTENCE_END.search(text)
    return text[: end.end()] if end else text


def perplexity(mean_cross_entropy: float) -> float:
    """`exp(mean token cross-entropy)` (natural log), capped to avoid overflow.

    >>> perplexity(0.0)
    1.0
    """
    return math.exp(min(mean_cross_entropy, 700.0))
