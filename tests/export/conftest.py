"""Tiny trained runs shared by the export tests (trained once per session)."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

TINY = {
    "dates": ["model.overrides={hidden_dim = 32, intermediate_dim = 64, num_heads = 2}",
              "data.num_examples=400", "data.vocabulary_size=200", "data.max_length=20"],
    "gpt-mini": ["model.preset=gpt_tiny", "data.num_examples=200", "data.vocabulary_size=300",
                 "data.max_length=16", "evaluation.max_new_tokens=5"],
    "bert-topics": ["model.preset=bert_test", "data.num_examples=300", "data.vocabulary_size=300", "data.max_length=16"],
    "bert-mini": ["model.preset=bert_test", "data.num_examples=200", "data.vocabulary_size=300", "data.max_length=16"],
}
COMMON = ["training.epochs=1", "training.steps_per_epoch=4", "training.batch_size=8",
          "training.warmup_steps=10", "evaluation.max_examples=8", "evaluation.num_samples=1"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """`trained(recipe_name) -> (run_dir, task, model)`, training each recipe once."""
    from keras_attention.runs import Run, train

    cache = {}

    def get(name):
        if name not in cache:
            out = tmp_path_factory.mktemp(name) / "run"
            options = TINY[name] + COMMON
            if name == "bert-topics":  # fine-tuned from the bert-mini run, as the recipe says
                options = options + [f"model.init_from={json.dumps(str(get('bert-mini')[0]))}"]
            train(ROOT / "models" / f"{name}.toml", out, options, log=lambda *_: None)
            run = Run.load(out)
            cache[name] = (out, run.task, run.model)
        return cache[name]

    return get
