"""The `keras-attention` command."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from keras_attention import demo

    demo.main(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-attention",
        description="Transformer layers and models for Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="train a tiny transformer to reverse sequences and print its attention",
    )
    demo.add_argument("--epochs", type=int, default=4)
    demo.add_argument("--steps-per-epoch", type=int, default=150)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
