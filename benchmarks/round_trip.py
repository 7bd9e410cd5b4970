"""How much text comes back as it went in: the library's lossless tokenizer
(SentencePiece, learned by `SentencePieceTokenizer.train`, the default of the
tasks that write text) against WordPiece (`WordPieceTokenizer.train`, BERT's,
the default of those tasks before), each learned from the same half of
Python's stdlib docstrings with the same vocabulary size and casing.

Prints, per tokenizer, the share of texts for which
`detokenize(tokenize(text)) == text` (or `== text.lower()` with
`--lower-case`): the held-out docstrings, the training docstrings, and the
everyday strings of tests/reference/everyday_text.py (prices, quotes, URLs,
scripts, emoji...), plus a few examples of what WordPiece changes.

    python benchmarks/round_trip.py
    python benchmarks/round_trip.py --vocabulary-size 8000 --lower-case
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_attention import data  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests.reference.everyday_text import EVERYDAY  # noqa: E402


def _round_trip(tokenizer, texts, lower_case):
    back = tokenizer.detokenize(tokenizer.tokenize(texts)).numpy()
    expected = [text.lower() if lower_case else text for text in texts]
    changed = [(text, again.decode("utf-8")) for text, again, want in zip(texts, back, expected)
               if again.decode("utf-8") != want]
    return 1 - len(changed) / len(texts), changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocabulary-size", type=int, default=4000)
    parser.add_argument("--lower-case", action="store_true")
    args = parser.parse_args(argv)

    docstrings = data.python_docstrings()
    train, held_out = docstrings[: len(docstrings) // 2], docstrings[len(docstrings) // 2:]
    print(f"{len(train)} docstrings to learn from, {len(held_out)} held out, {len(EVERYDAY)} everyday "
          f"strings; vocabulary size {args.vocabulary_size}, lower_case={args.lower_case}")
    print("| tokenizer | held-out docstrings | training docstrings | everyday strings |")
    print("|---|---|---|---|")
    examples = {}
    for name, tokenizer_class in (("SentencePiece (ours, lossless)", data.SentencePieceTokenizer),
                                  ("WordPiece (peer)", data.WordPieceTokenizer)):
        tokenizer = tokenizer_class.train(train, vocabulary_size=args.vocabulary_size,
                                          lower_case=args.lower_case, show_progress=False)
        rates = []
        for texts in (held_out, train, EVERYDAY):
            rate, changed = _round_trip(tokenizer, texts, args.lower_case)
            rates.append(rate)
            examples.setdefault(name, []).extend(changed)
        print(f"| {name} | " + " | ".join(f"{rate:.1%}" for rate in rates) + " |")
    for name, changed in examples.items():
        if changed:
            print(f"\n{name} changes, e.g.:")
            for text, again in [pair for pair in changed if len(pair[0]) < 60][:6]:
                print(f"  {text!r} -> {again!r}")


if __name__ == "__main__":
    main()
