"""Tasks: what differs between translation, language modelling, masked LM and
classification — their data, model, loss, evaluation and inference.

The runner (`keras_attention.training.run`) drives any task the same way:
load data, prepare tokenizers, build datasets and a model, `fit`, evaluate,
predict.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import tensorflow as tf

import keras

from keras_attention import data
from keras_attention.training.losses import MaskedSparseCategoricalCrossentropy
from keras_attention.training.metrics import MaskedAccuracy, bleu, exact_match, perplexity

__all__ = ["TASKS", "Task", "TranslationTask", "get_task"]

_GENERATION_BATCH = 64


def _load_given_tokenizer(path: str):
    """A recipe's `data.tokenizer`: a saved tokenizer directory or a SentencePiece model file."""
    if Path(path).is_file():
        return data.SentencePieceTokenizer(path)
    return data.load_tokenizer(path)


# Output constraints a translation recipe can ask for: strings -> bool, in TF ops.
_CONSTRAINTS = {"iso_date": data.is_iso_date}


def pad_token_ids(token_ids: tf.RaggedTensor, length: int):
    """Ragged ids -> `(batch, length)` int32 padded with 0, and which rows were cut."""
    truncated = token_ids.row_lengths() > length
    dense = token_ids[:, :length].to_tensor(default_value=0, shape=[None, length])
    return tf.cast(dense, tf.int32), truncated


def split(examples: list, validation_fraction: float, test_fraction: float, seed: int):
    """Deterministic shuffled split into (train, validation, test)."""
    examples = list(examples)
    random.Random(seed).shuffle(examples)
    num_test = int(round(len(examples) * test_fraction))
    num_validation = int(round(len(examples) * validation_fraction))
    test = examples[:num_test]
    validation = examples[num_test : num_test + num_validation]
    train = examples[num_test + num_validation :]
    if not train:
        raise ValueError(
            f"No training examples left after the split: {len(examples)} examples, "
            f"validation_fraction={validation_fraction}, test_fraction={test_fraction}"
        )
    return train, validation, test


class Task:
    """Base of the tasks; a subclass fills in the task-specific parts."""

    kind = ""
    tokenizer_directories = ("tokenizer",)
    # The `keras_attention.models` class whose `from_preset` takes `model.overrides`.
    preset_class = ""

    def __init__(self, recipe: dict):
        self.recipe = recipe
        self.data_config = recipe["data"]
        self.seed = recipe["training"]["seed"]
        self.tokenizers: dict = {}
        self.report = None
        self._check_overrides()

    def _check_overrides(self):
        """Refuse a misspelt `model.overrides` key before any data is read."""
        from keras_attention import models

        model_class = getattr(models, self.preset_class)
        accepted = model_class.argument_names()
        for key in self.recipe["model"]["overrides"]:
            if key not in accepted:
                raise ValueError(
                    f"`model.overrides.{key}` is not an argument of {model_class.__name__}. "
                    f"Arguments: {', '.join(accepted)}"
                )

    # --- data -------------------------------------------------------------

    def read_examples(self, data_path: str | None = None) -> list:
        raise NotImplementedError

    def load_data(self, data_path: str | None = None):
        config = self.data_config
        examples = self.read_examples(data_path)
        if config["num_examples"]:
            examples = examples[: config["num_examples"]]
        self.train_examples, self.validation_examples, self.test_examples = split(
            examples, config["validation_fraction"], config["test_fraction"], self.seed
        )

    def tokenizer_texts(self) -> dict[str, list[str]]:
        """Texts to learn each tokenizer from (training split only)."""
        raise NotImplementedError

    def prepare_tokenizers(self, run_dir: Path, show_progress: bool = True, reuse: bool = False):
        """Learn (or load) the tokenizers and save them in `run_dir`.

        With `reuse` (a resumed run) the tokenizers already in `run_dir` are
        loaded, so the resumed model sees the same ids.
        """
        config = self.data_config
        for name, texts in self.tokenizer_texts().items():
            directory = run_dir / name
            if reuse and (directory / "tokenizer.json").exists():
                self.tokenizers[name] = data.load_tokenizer(directory)
                continue
            if config["tokenizer"]:
                tokenizer = _load_given_tokenizer(config["tokenizer"])
            else:
                tokenizer = data.WordPieceTokenizer.train(
                    texts,
                    vocabulary_size=config["vocabulary_size"],
                    lower_case=config["lower_case"],
                    show_progress=show_progress,
                )
            tokenizer.save(directory)
            self.tokenizers[name] = tokenizer

    def load_tokenizers(self, run_dir: Path):
        for name in self.tokenizer_directories:
            self.tokenizers[name] = data.load_tokenizer(run_dir / name)

    def _dataset(self, examples, shuffle: bool):
        """One split's tf.data pipeline (training batches when `shuffle`)."""
        raise NotImplementedError

    def _batching(self, shuffle: bool) -> dict:
        """The pipeline arguments every task shares."""
        training = self.recipe["training"]
        return dict(
            batch_size=training["batch_size"],
            shuffle=shuffle,
            seed=self.seed,
            repeat=shuffle and training["steps_per_epoch"] > 0,
        )

    def datasets(self):
        """`(train, validation)` tf.data datasets (validation None when empty)."""
        validation = (
            self._dataset(self.validation_examples, False) if self.validation_examples else None
        )
        return self._dataset(self.train_examples, True), validation

    def _from_preset(self, model_class, **arguments):
        """The recipe's preset of `model_class`, with data-derived `arguments`
        and then the recipe's `model.overrides` applied."""
        model = self.recipe["model"]
        arguments.update(model["overrides"])
        try:
            return model_class.from_preset(model["preset"], **arguments)
        except ValueError as error:
            raise ValueError(
                f"The recipe's model (preset {model['preset']!r}, `model.overrides` "
                f"{model['overrides']!r}) is invalid: {error}"
            ) from None

    # --- model ------------------------------------------------------------

    def build_model(self) -> keras.Model:
        raise NotImplementedError

    def loss(self):
        return MaskedSparseCategoricalCrossentropy(
            label_smoothing=self.recipe["training"]["label_smoothing"]
        )

    def metrics(self):
        return [MaskedAccuracy()]

    def model_width(self, model) -> int:
        return getattr(model, "hidden_dim", None) or model.encoder.hidden_dim

    # --- evaluation and inference ----------------------------------------

    def evaluate(self, model, log=print) -> dict:
        raise NotImplementedError

    def predict(self, model, texts: list[str]) -> list[str]:
        raise NotImplementedError

    def attention(self, model, text: str):
        """`(scores, query_tokens, key_tokens, title)` to draw for `text`."""
        raise NotImplementedError


class TranslationTask(Task):
    """Sentence pairs -> Seq2SeqTransformer; exact match and BLEU on the test split."""

    kind = "translation"
    preset_class = "Seq2SeqTransformer"

    @property
    def tokenizer_directories(self):
        if self.data_config["shared_vocabulary"]:
            return ("tokenizer",)
        return ("source_tokenizer", "target_tokenizer")

    def read_examples(self, data_path=None):
        source = data_path or self.data_config["source"]
        self.source = source
        if source == "embedded:dates":
            # Training templates only: the held-out ones are a test split of
            # their own (`generalization_splits`).
            pairs = data.date_pairs(self.data_config["num_examples"] or 20000, seed=self.seed)
            # One example per distinct source, so no test source is seen in training.
            return list(dict(pairs).items())
        if source.startswith("embedded:"):
            raise ValueError(
                f"`data.source` {source!r} is not a translation dataset. "
                "Use 'embedded:dates' or a TSV file of sentence pairs."
            )
        pairs, self.report = data.read_sentence_pairs(source, strict=self.data_config["strict"])
        return pairs

    def tokenizer_texts(self):
        sources = [source for source, _ in self.train_examples]
        targets = [target for _, target in self.train_examples]
        if self.data_config["shared_vocabulary"]:
            return {"tokenizer": sources + targets}
        return {"source_tokenizer": sources, "target_tokenizer": targets}

    @property
    def source_tokenizer(self):
        return self.tokenizers.get("source_tokenizer") or self.tokenizers["tokenizer"]

    @property
    def target_tokenizer(self):
        return self.tokenizers.get("target_tokenizer") or self.tokenizers["tokenizer"]

    def _dataset(self, pairs, shuffle):
        return data.seq2seq_dataset(
            pairs,
            self.source_tokenizer,
            self.target_tokenizer,
            max_length=self.data_config["max_length"],
            **self._batching(shuffle),
        )

    def build_model(self):
        from keras_attention.models import Seq2SeqTransformer

        shared = self.data_config["shared_vocabulary"]
        return self._from_preset(
            Seq2SeqTransformer,
            encoder_vocabulary_size=self.source_tokenizer.vocabulary_size,
            decoder_vocabulary_size=None if shared else self.target_tokenizer.vocabulary_size,
            max_sequence_length=self.data_config["max_length"],
        )

    # --- the one decode path (TensorFlow ops) ------------------------------

    def source_ids(self, texts: tf.Tensor):
        """Strings `(batch,)` -> `(ids (batch, max_length) int32 padded with 0,
        truncated (batch,) bool)`: the model's input, as training saw it."""
        return pad_token_ids(self.source_tokenizer.tokenize(texts), self.data_config["max_length"])

    def translate(self, model, texts: tf.Tensor) -> dict:
        """Translate a batch of strings with the recipe's decoding, in TF ops.

        This is the one decode path of the task: evaluation (`metrics.json`),
        the CLI, the attention plots and the SavedModel's `serving_default`
        all call it, so what is scored is what is served. An empty (or blank)
        text translates to "". With `evaluation.output_constraint` (e.g.
        "iso_date"), the answer is the best beam that satisfies it, or "" with
        `valid` false when none does.

        Returns:
            A dict of `translation` string `(batch,)`, `score` float32
            `(batch,)` (the chosen beam's length-normalised log-probability),
            `truncated` bool `(batch,)`, `valid` bool `(batch,)` (a non-empty
            answer that satisfies the constraint, if any) and `token_ids`
            int32 `(batch, max_length)` (the chosen beam, from [START]).
        """
        evaluation = self.recipe["evaluation"]
        target = self.target_tokenizer
        source_ids, truncated = self.source_ids(texts)
        sequences, scores = model.decode_beams(
            source_ids,
            target.start_id,
            target.end_id,
            self.data_config["max_length"],
            evaluation["beam_size"],
            evaluation["length_penalty"],
        )
        empty = tf.equal(tf.strings.length(tf.strings.strip(texts)), 0)
        # (batch, beam) translations, best first.
        beams = tf.reshape(
            target.detokenize(tf.reshape(sequences, [-1, tf.shape(sequences)[-1]])),
            tf.shape(scores),
        )
        constraint = evaluation["output_constraint"]
        if constraint:
            # The best hypothesis that satisfies the constraint; none: "" and
            # valid=False, never a made-up answer.
            allowed = tf.reshape(_CONSTRAINTS[constraint](tf.reshape(beams, [-1])), tf.shape(scores))
            valid = tf.logical_and(tf.reduce_any(allowed, axis=1), tf.logical_not(empty))
            choice = tf.argmax(tf.cast(allowed, tf.int32), axis=1, output_type=tf.int32)
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
        key = (id(model), json.dumps(self.recipe["evaluation"], sort_keys=True),
               self.data_config["max_length"], id(self.source_tokenizer), id(self.target_tokenizer))
        cache = self.__dict__.setdefault("_translate_functions", {})
        if key not in cache:
            cache[key] = tf.function(
                lambda texts: self.translate(model, texts),
                input_signature=[tf.TensorSpec([None], tf.string)],
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
        source = self.source_ids(texts)[0].numpy()
        length = max(1, int((source[0] != 0).sum()))
        translated = self._translate_function(model)(texts)
        generated = translated["token_ids"].numpy()[0]
        end = self.target_tokenizer.end_id
        stop = list(generated).index(end) if end in generated else int((generated != 0).sum())
        stop = max(stop, 1)
        decoder_ids = generated[None, :stop]
        scores = model.attention_scores(
            {"encoder_token_ids": source[:, :length], "decoder_token_ids": decoder_ids}
        )
        cross = {name: value for name, value in scores.items() if name.endswith("cross_attention")}
        outputs = list(generated[1 : stop + 1])
        query_tokens = [self.target_tokenizer.id_to_token(int(i)) for i in outputs]
        key_tokens = [self.source_tokenizer.id_to_token(int(i)) for i in source[0, :length]]
        translation = translated["translation"].numpy()[0].decode()
        return cross, query_tokens, key_tokens, f"{text!r} -> {translation!r}"

    def _normalization(self) -> str:
        """How predictions and references are compared, for metrics.json."""
        if getattr(self.target_tokenizer, "lower_case", False):
            return "lower-cased and accent-stripped on both sides, as the target tokenizer does"
        return "none"

    def _normalized(self, predictions, references):
        """Both sides normalised as the target tokenizer normalises text: a
        lower-casing tokenizer can only emit lower-cased text."""
        if self._normalization() == "none":
            return predictions, references

        def normalize(texts):
            strings = self.target_tokenizer.normalize(tf.constant(texts, tf.string))
            return [text.decode("utf-8") for text in strings.numpy()]

        return normalize(predictions), normalize(references)

    def _decoding(self) -> str:
        evaluation = self.recipe["evaluation"]
        if evaluation["beam_size"] == 1:
            return "greedy (beam size 1), as served"
        return (f"beam search (beam size {evaluation['beam_size']}, length penalty "
                f"{evaluation['length_penalty']}), as served")

    def generalization_splits(self) -> dict[str, list]:
        """Test splits beyond the random one, for the embedded dates: formats
        never seen in training, and the test split with words re-cased."""
        if getattr(self, "source", None) != "embedded:dates":
            return {}
        count = min(self.recipe["evaluation"]["max_examples"], max(len(self.test_examples), 1))
        held_out = data.date_pairs(count, seed=self.seed + 1, templates="held_out")
        return {
            "held_out_templates": held_out,
            "case_perturbed": [
                (data.perturb_case(source, seed=self.seed + i), target)
                for i, (source, target) in enumerate(self.test_examples[:count])
            ],
        }

    def _score(self, model, examples) -> tuple[dict, list]:
        """Scores of one split, and its `(source, prediction, reference)` rows."""
        sources = [source for source, _ in examples]
        raw = self.predict(model, sources)
        predictions, references = self._normalized(raw, [target for _, target in examples])
        scores = {
            "exact_match": exact_match(predictions, references),
            "bleu": bleu(predictions, references),
            "examples": len(examples),
        }
        constraint = self.recipe["evaluation"]["output_constraint"]
        if constraint:
            valid = _CONSTRAINTS[constraint](tf.constant(raw, tf.string)).numpy()
            scores["validity"] = float(np.mean(valid))
        return scores, list(zip(sources, predictions, references))

    def evaluate(self, model, log=print):
        evaluation = self.recipe["evaluation"]
        examples = self.test_examples[: evaluation["max_examples"]]
        if not examples:
            raise ValueError("No test examples: set `data.test_fraction` > 0.")
        scores, rows = self._score(model, examples)
        metrics = {
            "exact_match": scores["exact_match"],
            "bleu": scores["bleu"],
            "test_examples": len(examples),
            "decoding": self._decoding(),
            "normalization": self._normalization(),
            "splits": {"random": scores},
        }
        log(f"Held-out exact match: {metrics['exact_match']:.4f}   BLEU: {metrics['bleu']:.2f}"
            f"   ({len(examples)} test examples)")
        for name, split in self.generalization_splits().items():
            metrics["splits"][name], _ = self._score(model, split)
        for name, split in metrics["splits"].items():
            validity = f"   validity {split['validity']:.4f}" if "validity" in split else ""
            log(f"  {name:20} exact match {split['exact_match']:.4f}{validity}"
                f"   ({split['examples']} examples)")
        if "validity" in scores:
            metrics["validity"] = min(split["validity"] for split in metrics["splits"].values())
        for source, prediction, reference in rows[: evaluation["num_samples"]]:
            mark = "ok" if prediction.strip() == reference.strip() else "WRONG"
            log(f"  {source!r:40} -> {prediction!r:16} [{mark}, expected {reference!r}]")
        metrics["samples"] = [
            {"source": s, "prediction": p, "reference": r}
            for s, p, r in rows[: evaluation["num_samples"]]
        ]
        return metrics


def _read_texts(task: Task, data_path: str | None, embedded: dict) -> list:
    """The task's examples from an embedded source or a text file."""
    source = data_path or task.data_config["source"]
    if source.startswith("embedded:"):
        if source not in embedded:
            raise ValueError(
                f"`data.source` {source!r} is not available for task "
                f"{task.kind!r}. Embedded sources: {sorted(embedded)}"
            )
        return embedded[source]()
    return task.read_file(source)


def _mean_token_cross_entropy(model, dataset) -> float:
    """Mean cross-entropy per real (non-pad) target token over a finite dataset."""
    loss = MaskedSparseCategoricalCrossentropy(reduction="sum")
    total, count = 0.0, 0.0
    for inputs, targets in dataset:
        total += float(loss(targets, model(inputs, training=False)))
        count += float(np.sum(np.not_equal(targets, 0)))
    return total / max(count, 1.0)


class LanguageModelTask(Task):
    """Plain text -> GPTDecoder; perplexity on the test split, sample continuations."""

    kind = "language_model"
    preset_class = "GPTDecoder"

    def read_file(self, path):
        texts, self.report = data.read_text(path, strict=self.data_config["strict"])
        return texts

    def read_examples(self, data_path=None):
        return _read_texts(self, data_path, {"embedded:docstrings": data.python_docstrings})

    def tokenizer_texts(self):
        return {"tokenizer": list(self.train_examples)}

    @property
    def tokenizer(self):
        return self.tokenizers["tokenizer"]

    def _dataset(self, texts, shuffle):
        return data.language_model_dataset(
            texts,
            self.tokenizer,
            sequence_length=self.data_config["max_length"],
            **self._batching(shuffle),
        )

    def build_model(self):
        from keras_attention.models import GPTDecoder

        return self._from_preset(
            GPTDecoder,
            vocabulary_size=self.tokenizer.vocabulary_size,
            max_sequence_length=self.data_config["max_length"]
            + self.recipe["evaluation"]["max_new_tokens"],
        )

    def _sampler(self):
        from keras_attention.models import Sampler

        evaluation = self.recipe["evaluation"]
        if evaluation["temperature"] == 0:
            return Sampler()
        return Sampler(
            temperature=evaluation["temperature"],
            top_k=evaluation["top_k"] or None,
            top_p=evaluation["top_p"] if evaluation["top_p"] < 1 else None,
            seed=evaluation["seed"],
        )

    def predict(self, model, texts):
        """Continue each prompt by `evaluation.max_new_tokens` tokens."""
        ragged = self.tokenizer.tokenize(np.array(texts, dtype=object)).to_list()
        width = min(max(len(ids) for ids in ragged), self.data_config["max_length"])
        prompts = np.zeros((len(texts), max(width, 1)), "int32")
        for row, ids in enumerate(ragged):
            ids = ids[-width:] or [self.tokenizer.start_id]
            prompts[row, : len(ids)] = ids
        generated = model.generate(
            prompts, self.recipe["evaluation"]["max_new_tokens"], sampler=self._sampler()
        )
        decoded = self.tokenizer.detokenize(generated).numpy()
        return [text.decode("utf-8") for text in decoded]

    def attention(self, model, text):
        """Causal self-attention of every layer and head over `text`'s tokens."""
        ids = self.tokenizer.tokenize(np.array([text], dtype=object)).to_list()[0]
        ids = ids[: self.data_config["max_length"]] or [self.tokenizer.unk_id]
        scores = model.attention_scores(np.array([ids], "int32"))
        tokens = [self.tokenizer.id_to_token(i) for i in ids]
        return scores, tokens, tokens, repr(text)

    def evaluate(self, model, log=print):
        if not self.test_examples:
            raise ValueError("No test examples: set `data.test_fraction` > 0.")
        evaluation = self.recipe["evaluation"]
        test = self._dataset(self.test_examples[: evaluation["max_examples"]], False)
        cross_entropy = _mean_token_cross_entropy(model, test)
        metrics = {"cross_entropy": cross_entropy, "perplexity": perplexity(cross_entropy)}
        log(f"Held-out perplexity: {metrics['perplexity']:.2f} (cross-entropy {cross_entropy:.4f})")
        prompts = [" ".join(text.split()[:6]) for text in self.test_examples[: evaluation["num_samples"]]]
        samples = self.predict(model, prompts) if prompts else []
        for prompt, sample in zip(prompts, samples):
            log(f"  {prompt!r} -> {sample!r}")
        metrics["samples"] = [{"prompt": p, "generated": g} for p, g in zip(prompts, samples)]
        return metrics


def _encoder_attention(task, encoder, text):
    """Self-attention of every encoder layer and head over `[CLS] text [SEP]`."""
    tokenizer = task.tokenizer
    ids = tokenizer.tokenize(np.array([text], dtype=object)).to_list()[0]
    ids = [tokenizer.cls_id] + ids[: task.data_config["max_length"] - 2] + [tokenizer.sep_id]
    token_ids = np.array([ids], "int32")
    scores = encoder.attention_scores(
        {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)}
    )
    tokens = [tokenizer.id_to_token(i) for i in ids]
    return scores, tokens, tokens, repr(text)


class ClassificationTask(Task):
    """Labelled text -> BertClassifier; accuracy on the test split."""

    kind = "classification"
    preset_class = "BertEncoder"

    def read_file(self, path):
        texts, labels, self.report = data.read_labelled(path, strict=self.data_config["strict"])
        return list(zip(texts, labels))

    def read_examples(self, data_path=None):
        def topics():
            texts, labels = data.docstring_topics()
            return list(zip(texts, labels))

        examples = _read_texts(self, data_path, {"embedded:docstring_topics": topics})
        self.label_names = sorted({str(label) for _, label in examples})
        return examples

    def tokenizer_texts(self):
        return {"tokenizer": [text for text, _ in self.train_examples]}

    def prepare_tokenizers(self, run_dir, show_progress=True, reuse=False):
        super().prepare_tokenizers(run_dir, show_progress, reuse)
        (run_dir / "label_names.json").write_text(json.dumps(self.label_names))

    def load_tokenizers(self, run_dir):
        super().load_tokenizers(run_dir)
        self.label_names = json.loads((run_dir / "label_names.json").read_text())

    @property
    def tokenizer(self):
        return self.tokenizers["tokenizer"]

    def _dataset(self, examples, shuffle):
        return data.classification_dataset(
            [text for text, _ in examples],
            [str(label) for _, label in examples],
            self.tokenizer,
            sequence_length=self.data_config["max_length"],
            label_names=self.label_names,
            **self._batching(shuffle),
        )

    def build_model(self):
        from keras_attention.models import BertClassifier

        return self._from_preset(
            BertClassifier,
            num_classes=len(self.label_names),
            vocabulary_size=self.tokenizer.vocabulary_size,
            max_sequence_length=self.data_config["max_length"],
        )

    def loss(self):
        # Class 0 is a real class: no pad id. Weighted mean, as the token tasks.
        return MaskedSparseCategoricalCrossentropy(pad_id=None)

    def metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def attention(self, model, text):
        return _encoder_attention(self, model.encoder, text)

    def predict(self, model, texts):
        labels = [self.label_names[0]] * len(texts)
        dataset = self._dataset(list(zip(texts, labels)), False)
        logits = model.predict(dataset.map(lambda inputs, _: inputs), verbose=0)
        return [self.label_names[i] for i in np.argmax(logits, axis=-1)]

    def evaluate(self, model, log=print):
        evaluation = self.recipe["evaluation"]
        examples = self.test_examples[: evaluation["max_examples"]]
        if not examples:
            raise ValueError("No test examples: set `data.test_fraction` > 0.")
        predictions = self.predict(model, [text for text, _ in examples])
        references = [str(label) for _, label in examples]
        accuracy = sum(p == r for p, r in zip(predictions, references)) / len(examples)
        log(f"Held-out accuracy: {accuracy:.4f} ({len(examples)} test examples, "
            f"{len(self.label_names)} classes)")
        samples = list(zip(examples, predictions))[: evaluation["num_samples"]]
        for (text, label), prediction in samples:
            log(f"  {text[:60]!r:64} -> {prediction} (expected {label})")
        return {
            "accuracy": accuracy,
            "test_examples": len(examples),
            "samples": [{"text": t, "prediction": p, "label": str(l)} for (t, l), p in samples],
        }


class MaskedLMTask(Task):
    """Plain text -> BertMaskedLM pretraining (15% masking); masked-token accuracy."""

    kind = "masked_lm"
    preset_class = "BertEncoder"
    read_file = LanguageModelTask.read_file
    read_examples = LanguageModelTask.read_examples
    tokenizer_texts = LanguageModelTask.tokenizer_texts
    tokenizer = LanguageModelTask.tokenizer

    def _dataset(self, texts, shuffle):
        return data.masked_lm_dataset(
            texts,
            self.tokenizer,
            sequence_length=self.data_config["max_length"],
            **self._batching(shuffle),
        )

    def build_model(self):
        from keras_attention.models import BertMaskedLM

        return self._from_preset(
            BertMaskedLM,
            vocabulary_size=self.tokenizer.vocabulary_size,
            max_sequence_length=self.data_config["max_length"],
        )

    def loss(self):
        # sum(w * loss) / sum(w) over the prediction slots: padded slots (id 0,
        # weight 0) count for nothing. No label smoothing, as BERT.
        return MaskedSparseCategoricalCrossentropy()

    def metrics(self):
        # Compiled as `weighted_metrics`, so the slots' weights apply too.
        return [MaskedAccuracy()]

    def evaluate(self, model, log=print):
        if not self.test_examples:
            raise ValueError("No test examples: set `data.test_fraction` > 0.")
        test = self._dataset(self.test_examples[: self.recipe["evaluation"]["max_examples"]], False)
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

    def attention(self, model, text):
        return _encoder_attention(self, model.encoder, text)

    def predict(self, model, texts):
        raise ValueError(
            "A masked-LM run is a pretrained encoder: fine-tune it with a "
            "classification recipe rather than predicting with it."
        )


TASKS = {
    task.kind: task
    for task in (TranslationTask, LanguageModelTask, ClassificationTask, MaskedLMTask)
}


def get_task(recipe: dict) -> Task:
    kind = recipe["task"]["kind"]
    if kind not in TASKS:
        raise ValueError(
            f"`task.kind` {kind!r} has no implementation yet. Available: {sorted(TASKS)}"
        )
    return TASKS[kind](recipe)
