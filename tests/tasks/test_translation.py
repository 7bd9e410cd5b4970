"""`TranslationTask`: reading pairs, its preprocessor, the one decode path
(`translate`, with output constraints), its metrics and serving signatures."""

import numpy as np
import pytest
import sacrebleu
import tensorflow as tf

from keras_attention.data import RESERVED_TOKENS, WordPieceTokenizer
from keras_attention.data.readers import MalformedDataError
from keras_attention.tasks import TranslationTask, get_task
from keras_attention.training.recipe import validate_recipe
from tests.reference.everyday_text import EVERYDAY

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran"]
TINY_MODEL = {"num_encoder_layers": 1, "num_decoder_layers": 1, "hidden_dim": 16,
              "intermediate_dim": 32, "num_heads": 2}


def _task(data=None, evaluation=None) -> TranslationTask:
    recipe = validate_recipe({"data": {"max_length": 6, **(data or {})}, "evaluation": evaluation or {},
                              "model": {"preset": "transformer_tiny", "overrides": TINY_MODEL}})
    task = get_task(recipe)
    task.tokenizers = {"tokenizer": WordPieceTokenizer(RESERVED_TOKENS + WORDS)}
    return task


def _ids(*words):
    return [(RESERVED_TOKENS + WORDS).index(word) for word in words]


def _decoded(strings):
    return [text.decode() for text in strings.numpy()]


def test_read_file_reads_tab_separated_pairs_and_reports_bad_lines(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("the cat\tle chat\nbroken\n\n a dog \t un chien \nonly\t\n")
    task = _task({"source": str(path)})
    assert task.read_examples() == [("the cat", "le chat"), ("a dog", "un chien")]
    assert task.report.malformed == [(2, "expected 2 tab-separated columns, got 1"),
                                     (5, "empty field in column 2")]
    with pytest.raises(MalformedDataError, match=r"pairs.tsv: 2 of 5 lines malformed: line 2 \(expected 2"):
        _task({"source": str(path), "strict": True}).read_examples()
    with pytest.raises(FileNotFoundError):
        task.read_file(str(tmp_path / "missing.tsv"))


def test_the_embedded_dates_have_one_pair_per_source():
    """ISO dates, and "" for the impossible dates among them (6%)."""
    task = _task({"num_examples": 2000})
    pairs = task.read_examples()
    assert 0 < len(pairs) <= 2000 and len({source for source, _ in pairs}) == len(pairs)
    assert all(target == "" or len(target) == 10 and target[4] == "-" for _, target in pairs)
    assert 0.04 < sum(not target for _, target in pairs) / len(pairs) < 0.08


def test_the_preprocessor_gives_the_tokenizers_ids():
    task = _task()
    token_ids, truncated = task.preprocessor.encoder_token_ids(["the cat sat", "a dog ran on the mat"])
    assert token_ids.numpy().tolist() == [_ids("the", "cat", "sat") + [0, 0, 0],
                                          _ids("a", "dog", "ran", "on", "the", "mat")]
    assert truncated.numpy().tolist() == [False, False]
    inputs, labels = task.preprocessor.teacher_forcing(["the cat"], ["cat sat on the mat"])
    start, end = task.tokenizer.start_id, task.tokenizer.end_id
    # [START] cat sat on the mat [END] is 7 ids: cut to max_length 6, [END] lost.
    assert inputs["decoder_token_ids"].to_list() == [[start] + _ids("cat", "sat", "on", "the")]
    assert labels.to_list() == [_ids("cat", "sat", "on", "the", "mat")]
    assert end not in labels.to_list()[0]


def test_separate_vocabularies_feed_the_encoder_and_the_decoder():
    task = _task({"shared_vocabulary": False})
    assert task.tokenizer_directories == ("source_tokenizer", "target_tokenizer")
    target = WordPieceTokenizer(RESERVED_TOKENS + ["le", "chat"])
    task.tokenizers = {"source_tokenizer": task.tokenizers["tokenizer"], "target_tokenizer": target}
    task.train_examples = [("the cat", "le chat")]
    assert task.tokenizer_texts() == {"source_tokenizer": ["the cat"], "target_tokenizer": ["le chat"]}
    assert task.model_arguments() == {"encoder_vocabulary_size": 15, "decoder_vocabulary_size": 9,
                                      "max_sequence_length": 6}
    _, labels = task.preprocessor.teacher_forcing(["the cat"], ["le chat"])
    assert labels.to_list() == [[7, 8, target.end_id]]
    assert _task().model_arguments()["decoder_vocabulary_size"] is None  # shared


def test_decoding_keys_and_tuned_arguments():
    task = _task()
    assert task.decoding_keys == ("beam_size", "length_penalty", "no_repeat_ngram_size")
    values = {"num_layers": 3, "hidden_dim": 32, "num_heads": 2, "intermediate_multiplier": 2, "dropout": 0.0}
    assert task.tuned_arguments(values) == {
        "num_encoder_layers": 3, "num_decoder_layers": 3, "hidden_dim": 32, "num_heads": 2,
        "intermediate_dim": 64, "dropout": 0.0,
    }


def test_serving_signatures_take_text_and_ids():
    task = _task(evaluation={"beam_size": 2})
    model = task.build_model()
    signatures, tracked = task.serving_signatures(model)
    assert tracked == [task.preprocessor]
    serve, serve_specs = signatures["serving_default"]
    assert [(spec.name, spec.dtype, spec.shape.as_list()) for spec in serve_specs] == [("text", tf.string, [None])]
    outputs = serve(tf.constant(["the cat sat", "  ", "the cat sat on the mat a dog"]))
    assert sorted(outputs) == ["score", "translation", "truncated", "valid"]
    assert {name: value.shape.as_list() for name, value in outputs.items()} == {name: [3] for name in outputs}
    assert outputs["translation"].numpy()[1] == b""  # a blank text translates to ""
    assert outputs["valid"].numpy().tolist()[1] is False
    assert outputs["truncated"].numpy().tolist() == [False, False, True]
    logits, logits_specs = signatures["token_ids_to_logits"]
    assert [spec.name for spec in logits_specs] == ["encoder_token_ids", "decoder_token_ids"]
    result = logits(tf.constant([[7, 8, 0]]), tf.constant([[2, 7]]))
    assert result["logits"].shape.as_list() == [1, 2, task.tokenizer.vocabulary_size]


def test_serving_limits_say_the_lengths_decoding_and_constraint():
    limits = _task(evaluation={"beam_size": 3, "length_penalty": 0.5, "output_constraint": "iso_date"}) \
        .serving_limits(model=None)
    assert limits[0] == "Input texts are cut to their first 6 token ids (`truncated` says which were)."
    assert limits[1] == ("Translations are at most 5 tokens long; decoding: beam search (beam size 3, "
                         "length penalty 0.5), as served.")
    assert limits[3].startswith("Output constraint `iso_date`")
    assert limits[4].startswith("Vocabulary (tokenizer): 15 WordPieceTokenizer tokens, case kept")


def test_evaluation_scores_what_predict_answers(tmp_path):
    """Exact match and BLEU of hand-made predictions, against sacrebleu itself."""
    task = _task(evaluation={"num_samples": 1})
    task.test_examples = [("s1", "the cat sat on the mat"), ("s2", "a dog ran"), ("s3", "the dog sat")]
    answers = {"s1": "the cat sat on the mat", "s2": "a dog sat", "s3": "the dog sat"}
    task.predict = lambda model, texts: [answers[text] for text in texts]
    logged = []
    metrics = task.evaluate(model=None, log=logged.append)
    expected_bleu = sacrebleu.corpus_bleu(list(answers.values()),
                                          [[target for _, target in task.test_examples]]).score
    assert metrics["exact_match"] == pytest.approx(2 / 3)
    assert metrics["bleu"] == pytest.approx(expected_bleu) and 0 < metrics["bleu"] < 100
    assert metrics["chrf"] == pytest.approx(sacrebleu.corpus_chrf(
        list(answers.values()), [[target for _, target in task.test_examples]]).score)
    assert metrics["test_examples"] == 3 and metrics["normalization"] == "none: scores compare the raw texts"
    assert metrics["decoding"] == "greedy (beam size 1), as served"
    assert metrics["splits"] == {"random": {
        "exact_match": metrics["exact_match"], "bleu": metrics["bleu"], "chrf": metrics["chrf"],
        "signatures": metrics["signatures"], "examples": 3}}
    assert metrics["samples"] == [{"source": "s1", "prediction": "the cat sat on the mat",
                                   "reference": "the cat sat on the mat"}]
    assert "validity" not in metrics
    assert any("Held-out exact match: 0.6667" in line for line in logged)


def test_validity_is_the_share_of_answers_that_satisfy_the_constraint():
    task = _task(evaluation={"output_constraint": "iso_date"})
    task.test_examples = [("a", "2020-01-01"), ("b", "2020-02-02"), ("c", "2021-02-29"), ("d", "x")]
    answers = {"a": "2020-01-01", "b": "2020-02-03", "c": "2021-02-29", "d": ""}
    task.predict = lambda model, texts: [answers[text] for text in texts]
    metrics = task.evaluate(model=None, log=lambda *_: None)
    assert metrics["validity"] == pytest.approx(0.5)  # 2021-02-29 is no date, "" is none
    assert metrics["splits"]["random"]["validity"] == pytest.approx(0.5)
    assert "no_answer" not in metrics["splits"]["random"]


def test_an_expected_empty_answer_is_scored_apart_from_validity():
    """Validity counts the examples that expect an answer (a right "" for an
    impossible date is not an invalid answer); `no_answer` gives the share
    of those that expect "" answered "". A "" where a date was expected is
    invalid."""
    task = _task(evaluation={"output_constraint": "iso_date"})
    task.test_examples = [("a", "2020-01-01"), ("b", "2020-02-02"), ("c", "2020-02-29"),
                          ("february 29, 2023", ""), ("april 31, 2024", ""), ("31.06.2021", "")]
    answers = {"a": "2020-01-01", "b": "2020-02-02", "c": "", "february 29, 2023": "",
               "april 31, 2024": "", "31.06.2021": "2021-06-30"}
    task.predict = lambda model, texts: [answers[text] for text in texts]
    logged = []
    metrics = task.evaluate(model=None, log=logged.append)
    random = metrics["splits"]["random"]
    assert random["exact_match"] == pytest.approx(4 / 6)
    assert random["validity"] == pytest.approx(2 / 3) and random["validity_examples"] == 3
    assert random["no_answer"] == {"exact_match": pytest.approx(2 / 3), "examples": 3}
    assert metrics["validity"] == pytest.approx(2 / 3)
    assert any('"" when none 0.6667 of 3' in line for line in logged)
    task.test_examples = [("february 29, 2023", ""), ("april 31, 2024", "")]
    metrics = task.evaluate(model=None, log=lambda *_: None)
    assert "validity" not in metrics and metrics["splits"]["random"]["no_answer"]["exact_match"] == 1.0


# Everyday text a lossy tokenizer alters (WordPiece: `don ’ t`, `3. 14`, `$ 5, 000`).
EVERYDAY_TARGETS = [text for text in EVERYDAY if text.strip() and "\t" not in text and "\n" not in text]


def _perfect_model(task):
    """A stand-in for a model that writes each reference exactly as its
    target tokenizer lets it: the tokenizer's round trip of the reference."""
    references = dict(task.test_examples)
    tokenizer = task.target_tokenizer
    return lambda model, texts: [
        tokenizer.detokenize(tokenizer.tokenize([references[text]])).numpy()[0].decode()
        for text in texts
    ]


def _everyday_task(tmp_path, lower_case=False):
    pairs = tmp_path / "pairs.tsv"
    rows = [(f"source {i}", EVERYDAY_TARGETS[i % len(EVERYDAY_TARGETS)]) for i in range(200)]
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    recipe = validate_recipe({
        "data": {"source": str(pairs), "lower_case": lower_case, "vocabulary_size": 600,
                 "test_fraction": 0.2, "validation_fraction": 0.1},
        "model": {"preset": "transformer_tiny"},
    })
    task = get_task(recipe)
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    return task


def test_a_perfect_model_scores_exact_match_1_and_bleu_100_on_the_raw_references(tmp_path):
    """The default tokenizer writes text back as it was, and BLEU and chrF are
    sacreBLEU's on the raw reference strings: a model that writes every
    reference exactly scores 100, whatever punctuation, numbers and URLs the
    references hold. (A WordPiece tokenizer, the default before, writes
    `$ 5, 000`: exact match 0 and BLEU about 60 here.)"""
    task = _everyday_task(tmp_path)
    task.predict = _perfect_model(task)
    metrics = task.evaluate(model=None, log=lambda *_: None)
    references = [target for _, target in task.test_examples]
    assert metrics["exact_match"] == 1.0
    assert metrics["bleu"] == pytest.approx(sacrebleu.corpus_bleu(references, [references]).score)
    assert metrics["bleu"] == pytest.approx(100.0) and metrics["chrf"] == pytest.approx(100.0)
    expected_signatures = {}
    for name, metric in (("bleu", sacrebleu.BLEU()), ("chrf", sacrebleu.CHRF())):
        metric.corpus_score(references, [references])
        expected_signatures[name] = str(metric.get_signature())
    assert metrics["signatures"] == expected_signatures
    assert "case_insensitive" not in metrics


def test_lower_cased_runs_score_raw_references_and_say_so_case_insensitively(tmp_path):
    """With `data.lower_case` the model writes lower-cased text (and nothing
    else changes: accents and punctuation stay). `bleu` still compares with
    the raw, cased references, as published; `case_insensitive` scores both
    sides lower-cased, as sacreBLEU's `lowercase=True` does, and says so in
    its signature."""
    task = _everyday_task(tmp_path, lower_case=True)
    task.predict = _perfect_model(task)
    metrics = task.evaluate(model=None, log=lambda *_: None)
    references = [target for _, target in task.test_examples]
    lowered = [text.lower() for text in references]
    assert metrics["bleu"] == pytest.approx(sacrebleu.corpus_bleu(lowered, [references]).score)
    assert metrics["bleu"] < 100
    assert metrics["exact_match"] == pytest.approx(np.mean([text == text.lower() for text in references]))
    case_insensitive = metrics["case_insensitive"]
    assert case_insensitive["exact_match"] == 1.0
    assert case_insensitive["bleu"] == pytest.approx(100.0)
    assert case_insensitive["chrf"] == pytest.approx(100.0)
    assert "case:lc" in case_insensitive["signatures"]["bleu"]
    assert "lower-cased" in metrics["normalization"]


class _FixedBeams:
    """A stand-in model whose beam search returns given texts, best first."""

    def __init__(self, tokenizer, beams):
        self.tokenizer, self.beams = tokenizer, beams

    def decode_beams(self, source_ids, start_id, end_id, max_length, beam_size, length_penalty,
                     no_repeat_ngram_size=None):
        self.decoding = (beam_size, length_penalty, no_repeat_ngram_size)
        rows = []
        for texts in self.beams:
            ids = self.tokenizer.tokenize(texts).to_tensor(shape=[len(texts), max_length - 2])
            start = tf.fill([len(texts), 1], start_id)
            end = tf.fill([len(texts), 1], end_id)
            rows.append(tf.concat([start, ids, end], axis=1))
        scores = -tf.range(len(self.beams[0]), dtype=tf.float32)[None] - tf.zeros([len(self.beams), 1])
        return tf.stack(rows), scores


def test_iso_date_constraint_answers_with_the_best_real_date_or_nothing(tmp_path):
    """The best beam that is a calendar date wins over better-scored impossible
    ones; when no beam is a date, the answer is "" and `valid` is false. A ""
    beam (a model taught that an impossible date has no answer) ranked above
    every real date is the answer, not the worse-scored date below it."""
    recipe = validate_recipe({
        "data": {"num_examples": 300, "vocabulary_size": 400},
        "evaluation": {"beam_size": 3, "output_constraint": "iso_date"},
    })
    task = get_task(recipe)
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    model = _FixedBeams(task.target_tokenizer, [
        ["2020-06-31", "2020-06-30", "2020-06-01"],   # the second beam is the first real date
        ["2021-02-29", "2021-13-01", "2021-00-10"],   # none is
        ["1999-12-25", "1999-12-26", "2000-02-30"],   # the best one is
        ["", "2023-02-28", "2023-03-01"],             # the model's own "": there is none
        ["2023-02-29", "", "2024-02-29"],             # "" before any real date
        ["2023-02-28", "", "2023-03-01"],             # a real date before ""
    ])
    outputs = task.translate(model, tf.constant(["a", "b", "c", "d", "e", "f"]))
    assert [t.decode() for t in outputs["translation"].numpy()] == [
        "2020-06-30", "", "1999-12-25", "", "", "2023-02-28"]
    assert outputs["valid"].numpy().tolist() == [True, False, True, False, False, True]
    assert outputs["score"].numpy().tolist() == [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0]  # the chosen beam's
    assert not np.any(outputs["token_ids"].numpy()[[1, 3, 4]])  # no made-up ids either
    task.recipe = task.recipe.replace(evaluation={"output_constraint": None})
    outputs = task.translate(model, tf.constant(["a", "b", "c", "d", "e", "f"]))
    assert [t.decode() for t in outputs["translation"].numpy()] == [
        "2020-06-31", "2021-02-29", "1999-12-25", "", "2023-02-29", "2023-02-28"]


def test_predict_translates_in_batches_as_translate_does():
    task = _task(evaluation={"length_penalty": 1.0, "no_repeat_ngram_size": 2})
    model = _FixedBeams(task.tokenizer, [["the cat sat"]] * 3)
    assert task.predict(model, ["x", "y", "z"]) == ["the cat sat"] * 3
    assert _decoded(task.translate(model, tf.constant(["x", "y", "z"]))["translation"]) == ["the cat sat"] * 3
    assert model.decoding == (1, 1.0, 2)  # the recipe's decoding reaches the model


def test_generalization_splits_only_for_the_embedded_dates():
    task = _task({"source": "embedded:dates"}, evaluation={"max_examples": 4})
    task.source = "embedded:dates"
    task.test_examples = [("5 March 2024", "2024-03-05")] * 6
    splits = task.generalization_splits()
    assert sorted(splits) == ["case_perturbed", "held_out_templates", "impossible_dates",
                              "unseen_context"]
    assert all(len(split) == 4 for split in splits.values())
    assert all(source.lower() == "5 march 2024" and target == "2024-03-05"
               for source, target in splits["case_perturbed"])
    task.source = "pairs.tsv"
    assert task.generalization_splits() == {}


def test_rouge_and_the_baseline_are_scored_on_the_test_split(tmp_path):
    """`evaluation.rouge` adds ROUGE-1/2/L; `evaluation.baseline =
    "first_sentence"` scores each source's first sentence on the same split,
    the same way. Expected values come from rouge-score and sacrebleu called
    directly."""
    from rouge_score import rouge_scorer

    pairs = tmp_path / "pairs.tsv"
    rows = [(f"Return item {i} of the list. It may be cached.", f"Get the item number {i}.") for i in range(40)]
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in rows))
    recipe = validate_recipe({
        "data": {"source": str(pairs), "vocabulary_size": 300, "test_fraction": 0.2},
        "model": {"preset": "transformer_tiny"},
        "evaluation": {"rouge": True, "baseline": "first_sentence"},
    })
    task = get_task(recipe)
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    task.predict = lambda model, texts: ["Get the item." for _ in texts]
    metrics = task.evaluate(model=None, log=lambda *_: None)

    references = [target for _, target in task.test_examples]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)

    def expected(predictions):
        scores = [scorer.score(r, p) for p, r in zip(predictions, references)]
        return {
            **{name: pytest.approx(np.mean([s[name].fmeasure for s in scores])) for name in ("rouge1", "rouge2", "rougeL")},
            "bleu": pytest.approx(sacrebleu.corpus_bleu(predictions, [references]).score),
        }

    model_scores = expected(["Get the item."] * len(references))
    assert {name: metrics[name] for name in model_scores} == model_scores
    baseline = metrics["baseline_first_sentence"]
    firsts = [source.split(". ")[0] + "." for source, _ in task.test_examples]
    assert {name: baseline[name] for name in model_scores} == expected(firsts)
    assert baseline["examples"] == len(references) == 8
    assert metrics["rougeL"] > baseline["rougeL"]


def test_without_the_keys_no_rouge_and_no_baseline_is_scored(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"source {i}. More.\ttarget {i}\n" for i in range(30)))
    task = get_task(validate_recipe({"data": {"source": str(pairs), "vocabulary_size": 300, "test_fraction": 0.2}}))
    task.load_data()
    task.prepare_tokenizers(tmp_path, show_progress=False)
    task.predict = lambda model, texts: list(texts)
    metrics = task.evaluate(model=None, log=lambda *_: None)
    assert not {"rouge1", "rouge2", "rougeL"} & set(metrics) and not any(k.startswith("baseline") for k in metrics)
