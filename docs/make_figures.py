"""Draw the documentation's pictures from real computations and a real run.

    python docs/make_figures.py [--run runs/dates] [--docsum-run runs/docsum]

Writes into docs/images/:
  positional_encoding.png  the sinusoidal encoding matrix (SinusoidalPositionEncoding)
  masks.png                global, causal, local and causal+local masks (compute_attention_mask)
  dates_attention.png      cross-attention of the trained dates model (trains it if missing)
  training_curves.png      that run's loss and accuracy per epoch
  it_attention.png         where "it" looks, in a small encoder trained to resolve it
  docsum_copy.png          what the docsum model copies while it writes a summary (with
                           --docsum-run, a finished run of models/docsum.toml)
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_attention.layers import SinusoidalPositionEncoding, compute_attention_mask  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"


def positional_encoding(path):
    encoding = np.asarray(SinusoidalPositionEncoding()(np.zeros((1, 64, 128), "float32")))[0]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    image = axis.imshow(encoding, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    axis.set_xlabel("embedding channel (sin on even, cos on odd)")
    axis.set_ylabel("position")
    axis.set_title("Sinusoidal position encoding, d = 128 (Vaswani et al. §3.5)")
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def masks(path, length=10):
    cases = [
        ("global", {}),
        ("causal", {"use_causal_mask": True}),
        ("local, window 2", {"attention_window": 2}),
        ("causal + local", {"use_causal_mask": True, "attention_window": 2}),
    ]
    figure, axes = plt.subplots(1, len(cases), figsize=(12, 3.2))
    for axis, (title, kwargs) in zip(axes, cases):
        mask = compute_attention_mask(length, length, **kwargs)
        mask = np.ones((length, length)) if mask is None else np.asarray(mask)[0]
        axis.imshow(mask, cmap="Greens", vmin=0, vmax=1)
        axis.set_title(title)
        axis.set_xlabel("key position")
        axis.set_ylabel("query position")
    figure.suptitle("Attention masks: white weights are forced to zero")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def it_attention(path):
    """Train a 2-layer encoder to name what "it" refers to, then draw where "it" looks.

    The sentences are generated from one template, "the ANIMAL didn't cross
    the PLACE because it was too ADJECTIVE": a tiredness adjective makes "it"
    the animal, a width adjective makes it the place. The model reads the
    whole sentence and predicts the referent at the position of "it".
    """
    import keras

    from keras_attention import layers

    rng = np.random.default_rng(0)
    animals = ["dog", "cat", "horse", "boy", "girl", "fox", "cow", "man"]
    places = ["street", "river", "road", "bridge", "field", "canal", "valley", "highway"]
    animate_adjectives = ["tired", "sleepy", "scared", "lazy", "old", "slow"]
    place_adjectives = ["wide", "deep", "busy", "long", "flooded", "icy"]
    template = "the {animal} didn't cross the {place} because it was too {adjective}".split()
    words = {w for w in template if "{" not in w}
    vocabulary = ["[PAD]"] + sorted(words | set(animals + places + animate_adjectives + place_adjectives))
    index = {word: i for i, word in enumerate(vocabulary)}
    position = template.index("it")

    def sentence(animal, place, adjective):
        return [w.format(animal=animal, place=place, adjective=adjective) for w in template]

    inputs, targets = [], []
    for _ in range(20000):
        animal, place = rng.choice(animals), rng.choice(places)
        animate = rng.random() < 0.5
        adjective = rng.choice(animate_adjectives if animate else place_adjectives)
        inputs.append([index[w] for w in sentence(animal, place, adjective)])
        targets.append(index[animal if animate else place])
    keras.utils.set_random_seed(0)
    token_ids = keras.Input((len(template),), dtype="int32")
    embedding = layers.TokenAndPositionEmbedding(len(vocabulary), len(template), 64, position="learned")
    blocks = [layers.TransformerEncoderBlock(4, 128, name=f"layer_{i}") for i in range(2)]
    x = embedding(token_ids)
    for block in blocks:
        x = block(x)
    referent = keras.layers.Dense(len(vocabulary))(x[:, position])
    model = keras.Model(token_ids, referent)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(np.array(inputs), np.array(targets), epochs=3, batch_size=64, verbose=0)

    figure, axes = plt.subplots(2, 1, figsize=(8, 4.6))
    for axis, adjective in zip(axes, ("tired", "wide")):
        words_in = sentence("dog", "street", adjective)
        ids = np.array([[index[w] for w in words_in]])
        hidden = embedding(ids)
        hidden = blocks[0](hidden)
        _, scores = blocks[1](hidden, return_attention_scores=True)
        answer = vocabulary[int(np.argmax(model(ids)))]
        axis.imshow(np.asarray(scores)[0, :, position], cmap="viridis", vmin=0, vmax=1)
        axis.set_xticks(range(len(words_in)))
        axis.set_xticklabels(words_in, rotation=30, fontsize=8)
        axis.set_yticks(range(4))
        axis.set_yticklabels([f"head {h}" for h in range(4)], fontsize=8)
        axis.set_title(f"\"...it was too {adjective}\": it → {answer}", fontsize=10)
    figure.suptitle('Where "it" looks (second layer, every head)')
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def dates_run(run_dir: Path, text: str):
    from keras_attention.runs import Run, train

    if not (run_dir / "model.keras").exists():
        train(ROOT / "models" / "dates.toml", run_dir)
    Run.load(run_dir).attention(text, IMAGES / "dates_attention.png")
    shutil.copy(run_dir / "training_curves.png", IMAGES / "training_curves.png")


def docsum_copy(run_dir: Path, text: str, path: Path):
    """The pointer-generator's copy attention: rows are the summary's tokens,
    columns the docstring's; a bright cell is a token copied from there."""
    from keras_attention.runs import Run
    from keras_attention.visualization import plot_attention

    attention = Run.load(run_dir).attention(text)
    plot_attention(
        {"copy attention": attention.scores["copy_attention"]},
        attention.query_tokens,
        attention.key_tokens,
        path,
        title=attention.title,
    )


DOCSUM_TEXT = "Close the file. A closed file cannot be read or written any more."


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=str(ROOT / "runs" / "dates"))
    parser.add_argument("--text", default="Tuesday, March 5, 2024")
    parser.add_argument("--docsum-run", help="a finished run of models/docsum.toml")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    positional_encoding(IMAGES / "positional_encoding.png")
    masks(IMAGES / "masks.png")
    it_attention(IMAGES / "it_attention.png")
    dates_run(Path(args.run), args.text)
    if args.docsum_run:
        docsum_copy(Path(args.docsum_run), DOCSUM_TEXT, IMAGES / "docsum_copy.png")
    print(f"Figures written to {IMAGES}")


if __name__ == "__main__":
    main()
