"""Fine-tuning a pretrained encoder vs training from scratch, at equal steps.

Pretrains `models/bert-mini.toml` (masked LM on the standard library's
docstrings), then trains `models/bert-topics.toml` (docstring -> module) twice
with the same seed, data split, tokenizer, architecture and number of steps:
once from the masked-LM run's encoder (`model.init_from`, as the recipe says)
and once from random weights (`model.init_from=""`, with the pretrained run's
tokenizer as `data.tokenizer`, so only the initial weights differ). A third
run, from scratch with a tokenizer learned from the classification data as a
from-scratch recipe would, is printed too. Prints the held-out accuracy of each
and the ratio fine-tuned / from scratch.

The pretraining corpus leaves out the texts of the classifier's validation and
test splits, so the encoder has never read them, even without labels.

    python benchmarks/fine_tuning.py [--pretrain-epochs 4] [--epochs 6] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _train(recipe: str, out: Path, overrides: list[str]) -> tuple[dict, list[str]]:
    from keras_attention.runs import train

    lines = []
    started = time.time()
    with contextlib.redirect_stdout(sys.stderr):  # Keras' progress lines stay out of the table
        metrics = train(ROOT / "models" / recipe, out, overrides, log=lines.append)
    print(f"  {recipe} -> {out.name}: {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    return metrics, lines


def _held_out_texts(overrides: list[str]) -> set[str]:
    """The texts of bert-topics' validation and test splits (same seed, same split)."""
    from keras_attention.tasks import get_task
    from keras_attention.training.recipe import load_recipe

    task = get_task(load_recipe(ROOT / "models" / "bert-topics.toml", overrides))
    task.load_data()
    return {text for text, _ in task.validation_examples + task.test_examples}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=6, help="fine-tuning / from-scratch epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from keras_attention import data

    print(f"TF {tf.__version__}, Keras {keras.__version__}")
    work = Path(args.out or tempfile.mkdtemp(prefix="fine-tuning-"))
    work.mkdir(parents=True, exist_ok=True)
    seed = f"training.seed={args.seed}"

    held_out = _held_out_texts([seed])
    corpus = [text for text in data.python_docstrings() if text not in held_out]
    (work / "pretraining.txt").write_text("".join(text + "\n" for text in corpus), encoding="utf-8")
    pretrain = [seed, f"data.source={work / 'pretraining.txt'}", f"training.epochs={args.pretrain_epochs}"]
    metrics, lines = _train("bert-mini.toml", work / "bert-mini", pretrain)
    sizes = next(line for line in lines if "parameters" in line)
    print(f"pretraining (models/bert-mini.toml, {args.pretrain_epochs} epochs of batch 32): {sizes}")
    print(f"  {len(corpus)} docstrings (bert-topics' {len(held_out)} validation and test texts "
          f"left out); masked-token accuracy {metrics['masked_accuracy']:.3f}, "
          f"perplexity {metrics['perplexity']:.1f}")

    pretrained = work / "bert-mini"
    common = [seed, f"training.epochs={args.epochs}"]
    runs = {  # name: (run directory, overrides)
        "fine-tuned from bert-mini": ("fine-tuned", [f"model.init_from={pretrained}"]),
        "from scratch, same tokenizer": (
            "scratch", ['model.init_from=""', f"data.tokenizer={pretrained / 'tokenizer'}"]
        ),
        "from scratch, own tokenizer": ("scratch-own-tokenizer", ['model.init_from=""']),
    }
    accuracy = {}
    for name, (directory, overrides) in runs.items():
        metrics, lines = _train("bert-topics.toml", work / directory, overrides + common)
        accuracy[name] = metrics["accuracy"]
        print(f"{name}: held-out accuracy {metrics['accuracy']:.4f} ({metrics['test_examples']} "
              f"test examples), {metrics['training_seconds']:.0f} s")
        for line in lines:
            if line.startswith(("Initialised", "BertClassifier")):
                print(f"  {line}")
    fine = accuracy["fine-tuned from bert-mini"]
    print()
    print("| model | held-out accuracy | fine-tuned ÷ this |")
    print("|---|---:|---:|")
    for name, value in accuracy.items():
        print(f"| {name} | {value:.3f} | {fine / value:.2f}x |" if value else f"| {name} | {value:.3f} | - |")
    print(f"\nruns in {work}")


if __name__ == "__main__":
    main()
