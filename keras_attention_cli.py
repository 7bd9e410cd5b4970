"""The `keras-attention` command: train, evaluate, translate/generate/classify,
attention, export, convert, serve, tune.

A module of its own, beside the `keras_attention` package rather than in it:
importing the package imports TensorFlow (it registers what saved models
name), which takes seconds. The parser needs none of it, so `--help`,
`--version` and argument errors answer at once, and each command imports the
library when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def _train(args) -> int:
    from keras_attention.runs import train

    out = args.out or str(Path("runs") / Path(args.recipe).stem)
    train(args.recipe, out, overrides=args.set, data_path=args.data)
    return 0


def _evaluate(args) -> int:
    from keras_attention.runs import Run

    if args.data and args.test:
        raise ValueError("Give --data (re-split a data file) or --test (score a whole file), not both.")
    Run.load(args.run).evaluate(args.test, data=args.data)
    return 0


# Decoding flags: (flag, recipe key, type).
_DECODING_FLAGS = (
    ("--beam-size", "beam_size", int),
    ("--length-penalty", "length_penalty", float),
    ("--no-repeat-ngram-size", "no_repeat_ngram_size", int),
    ("--max-new-tokens", "max_new_tokens", int),
    ("--temperature", "temperature", float),
    ("--top-k", "top_k", int),
    ("--top-p", "top_p", float),
)
# The commands that answer texts, one per task that has one: command -> (task
# kind, help). Each takes the flags of its task's `decoding_keys`. Written out
# here so the parser needs no TensorFlow; tests/test_cli.py checks it against
# `keras_attention.tasks.TASKS`.
ANSWER_COMMANDS = {
    "translate": ("translation", "translate texts with a trained translation run"),
    "generate": ("language_model", "continue prompts with a trained language-model run"),
    "classify": ("classification", "label texts with a trained classification run"),
}
DECODING_KEYS = {
    "translation": ("beam_size", "length_penalty", "no_repeat_ngram_size"),
    "language_model": ("max_new_tokens", "temperature", "top_k", "top_p"),
    "classification": (),
}
_PREDICT_BATCH = 256


def _read_inputs(path: str) -> list[str]:
    """One input per line of a UTF-8 text file (a trailing newline ends the last)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--input {path}: no such file.")
    texts = file.read_text(encoding="utf-8").splitlines()
    if not texts:
        raise ValueError(f"--input {path} is empty: one input per line is expected.")
    return texts


def _predict(args) -> int:
    """translate / generate / classify: the run's task maps texts to texts."""
    from keras_attention.runs import Run

    import keras

    from keras_attention._files import write_text_atomically
    from keras_attention._progress import progress_verbosity

    if bool(args.text) == bool(args.input):
        raise ValueError(f"`{args.command}` takes texts or --input FILE (one of them).")
    if args.output and not args.input:
        raise ValueError("--output goes with --input.")
    if args.output and Path(args.output).exists():
        raise FileExistsError(f"--output {args.output} exists; choose a new file.")
    run = Run.load(args.run)
    if run.kind != args.task_kind:
        commands = [name for name, (kind, _) in ANSWER_COMMANDS.items() if kind == run.kind]
        raise ValueError(
            f"`{args.command}` needs a {args.task_kind} run; {args.run} is a {run.kind} run"
            + (f" (use `keras-attention {commands[0]}`)." if commands else ".")
        )
    decoding = {key: getattr(args, key) for _, key, _ in _DECODING_FLAGS if getattr(args, key, None) is not None}
    run = run.with_decoding(**decoding)
    constrained = getattr(args, "constrained", True)
    texts = list(args.text) if args.text else _read_inputs(args.input)
    # A bar only while answers go to a file: on stdout it would mix with them.
    progress = keras.utils.Progbar(
        len(texts), unit_name="text", verbose=progress_verbosity() if args.output else 0
    )
    outputs = []
    for start in range(0, len(texts), _PREDICT_BATCH):
        outputs += run.predict(texts[start : start + _PREDICT_BATCH], constrained=constrained)
        progress.update(len(outputs))
    _say_why_answers_are_empty(run, texts, outputs, constrained)
    if args.text:
        for text, output in zip(texts, outputs):
            print(f"{text}\t{output}")
        return 0
    # One answer per input line, in order; an answer never spans lines.
    lines = "".join(" ".join(output.splitlines()) + "\n" for output in outputs)
    if args.output:
        write_text_atomically(Path(args.output), lines)
        print(f"{len(outputs)} answers written to {args.output}")
    else:
        sys.stdout.write(lines)
    return 0


def _say_why_answers_are_empty(run, texts, outputs, constrained) -> None:
    """On stderr: how many non-blank inputs were answered "" because no beam
    satisfied the recipe's output constraint, and how to see the raw answers."""
    constraint = run.recipe.evaluation.output_constraint if constrained else None
    empty = sum(1 for text, output in zip(texts, outputs) if text.strip() and not output)
    if constraint and empty:
        print(
            f"{empty} of {len(texts)} answers are \"\": no beam of the model satisfied the "
            f"output constraint `{constraint}` (evaluation.output_constraint), or the model "
            "answered \"\" itself. --no-constraint shows what the model wrote.",
            file=sys.stderr,
        )


def _attention(args) -> int:
    from keras_attention.runs import Run

    attention = Run.load(args.run).attention(args.text, args.out)
    print(f"{attention.title}\nAttention heatmaps written to {attention.path}")
    return 0


def _export(args) -> int:
    from keras_attention.runs import export_run

    path = export_run(args.run, args.out, overwrite=args.overwrite)
    print(f"SavedModel written to {path} (version {path.name}); serve the newest version with: "
          f"keras-attention serve {path.parent}")
    return 0


def _convert(args) -> int:
    from keras_attention.convert import convert

    convert(args.source, args.out, overwrite=args.overwrite)
    return 0


def _serve(args) -> int:
    from keras_attention.export import serve

    serve(
        args.path, port=args.port, host=args.host, name=args.name,
        max_request_bytes=args.max_request_bytes, limit_concurrency=args.limit_concurrency,
        timeout_s=args.timeout, max_sequence_length=args.max_sequence_length,
        enable_batching=args.enable_batching, max_batch_size=args.max_batch_size,
        batch_timeout_ms=args.batch_timeout_ms, num_threads=args.num_threads,
    )
    return 0


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 65535], got {value!r}")
    return int(value)


def _positive(kind):
    def parse(value: str):
        try:
            number = kind(value)
        except ValueError:
            number = 0
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be a positive {kind.__name__}, got {value!r}")
        return number

    return parse


def _tune(args) -> int:
    from keras_attention.tuning import launch_distributed_search, run_search

    out = args.out or str(Path("runs") / f"tune-{Path(args.spec).stem}")
    if args.workers:
        return launch_distributed_search(args.spec, out, args.workers)
    run_search(args.spec, out)
    return 0


def _demo(args) -> int:
    from keras_attention import demo

    demo.main(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-attention",
        description="Train, evaluate, inspect and run transformer models from recipes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--verbose", action="store_true",
        help="show TensorFlow's own log lines (hidden otherwise)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a recipe (models/*.toml) into a run directory")
    train.add_argument("recipe", help="a recipe TOML file, e.g. models/dates.toml")
    train.add_argument("--data", help="your own data file instead of the recipe's source")
    train.add_argument("--out", help="run directory (default: runs/<recipe name>)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TABLE.KEY=VALUE",
        help="override a recipe value, e.g. --set training.epochs=3 (repeatable)",
    )
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="re-evaluate a finished run")
    evaluate.add_argument("run", help="a run directory")
    evaluate.add_argument("--data", help="re-read and re-split this data file (default: the run's saved test split)")
    evaluate.add_argument(
        "--test", help="score every example of this file (your test set), with the run's vocabularies "
        "and labels; blank and malformed lines are reported by number; writes "
        "RUN/evaluation-<name>.json"
    )
    evaluate.set_defaults(handler=_evaluate)

    for name, (kind, help_text) in ANSWER_COMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument("run", help="a run directory")
        command.add_argument("text", nargs="*", help="texts (or --input FILE)")
        command.add_argument("--input", help="a text file, one input per line")
        command.add_argument("--output", help="write one answer per line here (a new file)")
        for flag, key, flag_type in _DECODING_FLAGS:
            if key in DECODING_KEYS[kind]:
                command.add_argument(flag, dest=key, type=flag_type, help=f"decoding: evaluation.{key}")
        if kind == "translation":
            command.add_argument(
                "--no-constraint", dest="constrained", action="store_false",
                help="answer the best beam as it is, even where the recipe's "
                "evaluation.output_constraint would answer \"\"",
            )
        command.set_defaults(handler=_predict, task_kind=kind)

    attention = commands.add_parser(
        "attention", help="draw per-layer, per-head attention heatmaps for a text"
    )
    attention.add_argument("run")
    attention.add_argument("text")
    attention.add_argument("--out", default="attention.png", help="PNG file to write")
    attention.set_defaults(handler=_attention)

    export = commands.add_parser(
        "export", help="export a run as a SavedModel that serves text in, text out",
        description="Write the run's SavedModel as the next numeric version of a base directory "
        "(BASE/N, N one more than its highest version, 1 in a new one), as TF Serving lays models "
        "out; older versions stay. The base must be new, empty or hold only numeric versions.",
    )
    export.add_argument("run", help="a run directory")
    export.add_argument("--out", help="base directory of versions (default: RUN/export)")
    export.add_argument(
        "--overwrite", action="store_true",
        help="replace an unversioned export of an earlier keras-attention at --out by a base "
        "holding version 1, when its marker lists every file in it, unchanged (never a version "
        "directory or anything else)",
    )
    export.set_defaults(handler=_export)

    convert = commands.add_parser(
        "convert", help="convert a pretrained BERT or GPT-2 checkpoint (keras-hub preset or Hugging Face) into a run"
    )
    convert.add_argument(
        "source", help="a keras-hub preset directory or a Hugging Face checkpoint directory"
    )
    convert.add_argument("--out", required=True, help="the run directory to write")
    convert.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing run at --out (never a directory of other files)",
    )
    convert.set_defaults(handler=_convert)

    serve = commands.add_parser(
        "serve", help="serve a SavedModel over TF Serving's REST API on localhost"
    )
    serve.add_argument(
        "path", help="a SavedModel directory, or a base directory of numeric versions (newest served)"
    )
    serve.add_argument("--port", type=_port, default=8501)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--name", default="model", help="the model name in the URL")
    serve.add_argument("--max-request-bytes", type=_positive(int), default=1 << 20,
                       help="larger request bodies get 413 (default 1 MiB)")
    serve.add_argument("--limit-concurrency", type=_positive(int), default=128,
                       help="predict requests processed at once; more get 503 (default 128; "
                            "open connections do not count)")
    serve.add_argument("--timeout", type=_positive(float), default=10.0,
                       help="seconds for a request's headers or body to arrive, and the longest "
                            "a client may leave its answer unread (default 10)")
    serve.add_argument("--max-sequence-length", type=_positive(int), default=512,
                       help="longest token-id input when the model has no position table (default 512)")
    serve.add_argument("--enable-batching", action="store_true",
                       help="merge concurrent requests to a signature into one model call")
    serve.add_argument("--max-batch-size", type=_positive(int), default=32,
                       help="most instances in a request, and in a merged call (default 32)")
    serve.add_argument("--batch-timeout-ms", type=_positive(float), default=5.0,
                       help="how long a batch waits to fill up (default 5 ms)")
    serve.add_argument("--num-threads", type=_positive(int), default=4,
                       help="threads running model calls (default 4)")
    serve.set_defaults(handler=_serve)

    tune = commands.add_parser(
        "tune", help="run (or resume) a Keras Tuner search spec (tuning/*.toml)"
    )
    tune.add_argument("spec", help="a search spec TOML file, e.g. tuning/dates.toml")
    tune.add_argument("--out", help="search directory (default: runs/tune-<spec name>)")
    tune.add_argument(
        "--workers", type=int, default=0,
        help="run a Keras Tuner chief and this many workers on 127.0.0.1",
    )
    tune.set_defaults(handler=_tune)

    demo = commands.add_parser(
        "demo", help="train a tiny transformer to reverse sequences and print its attention"
    )
    demo.add_argument("--epochs", type=int, default=4)
    demo.add_argument("--steps-per-epoch", type=int, default=150)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_demo)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras-attention-zoo")
    except PackageNotFoundError:  # a source tree that is not installed
        return "unknown"


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA, absl)
    kept from the terminal: they are written to the process's stderr before
    `TF_CPP_MIN_LOG_LEVEL` is read, so the file descriptor itself is pointed
    elsewhere meanwhile. If the import fails, what it wrote is shown."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # device start-up logs too
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _user_errors() -> tuple:
    """The errors a command reports as one line (bad input, not a bug)."""
    from keras_attention._files import DirectoryBusy
    from keras_attention.training.callbacks import TrainingDiverged

    return (ValueError, FileNotFoundError, FileExistsError, TrainingDiverged, DirectoryBusy)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        _import_tensorflow_quietly()
    try:
        return args.handler(args)
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise
        print(f"keras-attention {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
