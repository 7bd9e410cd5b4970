"""The `keras-attention` command line: every command parses; errors exit 2 with a message."""

import pytest

from keras_attention.cli import build_parser, main

COMMANDS = {
    "train": ["train", "models/dates.toml", "--set", "training.epochs=1", "--out", "runs/x"],
    "evaluate": ["evaluate", "runs/x"],
    "translate": ["translate", "runs/x", "March 5, 2024"],
    "generate": ["generate", "runs/x", "Return a"],
    "classify": ["classify", "runs/x", "text"],
    "attention": ["attention", "runs/x", "text", "--out", "a.png"],
    "export": ["export", "runs/x", "--overwrite"],
    "serve": ["serve", "exports/x", "--port", "8600"],
    "tune": ["tune", "tuning/dates.toml", "--workers", "2"],
    "demo": ["demo", "--epochs", "1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_parses(command):
    args = build_parser().parse_args(COMMANDS[command])
    assert args.command == command and callable(args.handler)


def test_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["translate", str(tmp_path / "nowhere"), "hello"]) == 2
    assert "not a finished run directory" in capsys.readouterr().err


def test_a_missing_recipe_is_a_clear_error(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.toml")]) == 2
    assert "Recipe not found" in capsys.readouterr().err


def test_version_names_the_package_version(capsys):
    from importlib.metadata import version

    import keras_attention

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"keras-attention {keras_attention.__version__}"
    assert keras_attention.__version__ == version("keras-attention-zoo")


def _run_command(*arguments, **kwargs):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", "import sys, keras_attention_cli; sys.exit(keras_attention_cli.main())",
         *arguments],
        capture_output=True, text=True, timeout=120, **kwargs,
    )


def test_help_and_version_answer_without_importing_tensorflow():
    import subprocess
    import sys

    # What `keras-attention --help`, `--version` and a command's --help import:
    # no TensorFlow (seconds to import), so they answer at once.
    probe = (
        "import sys, keras_attention_cli\n"
        "for argv in (['--help'], ['--version'], ['translate', '--help'], ['serve', '--help']):\n"
        "    try:\n"
        "        keras_attention_cli.main(argv)\n"
        "    except SystemExit as done:\n"
        "        assert done.code == 0, (argv, done.code)\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'keras_attention') if m in sys.modules)\n"
        "print('imported:', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "imported: []"


def test_the_answer_commands_are_the_tasks_that_answer_texts():
    from keras_attention.tasks import TASKS
    from keras_attention_cli import ANSWER_COMMANDS, DECODING_KEYS

    kinds = [kind for kind, _ in ANSWER_COMMANDS.values()]
    assert sorted(kinds) == sorted(DECODING_KEYS) == sorted(k for k in TASKS if k != "masked_lm")
    for kind in kinds:
        assert DECODING_KEYS[kind] == TASKS[kind].decoding_keys


def test_each_answer_command_offers_only_its_tasks_decoding_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["translate", "runs/x", "hello", "--top-k", "3"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --top-k 3" in capsys.readouterr().err
    parser = build_parser()
    assert parser.parse_args(["generate", "runs/x", "a", "--top-k", "3"]).top_k == 3
    assert parser.parse_args(["translate", "runs/x", "a", "--no-constraint"]).constrained is False
    with pytest.raises(SystemExit):
        parser.parse_args(["classify", "runs/x", "a", "--beam-size", "4"])


def test_tensorflows_start_up_lines_stay_out_of_a_commands_output(tmp_path):
    # A command that imports TensorFlow and fails: stderr holds our one line only.
    result = _run_command("evaluate", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"keras-attention evaluate: error: {tmp_path / 'nowhere'} is not a finished run "
        "directory (no model.keras in it)."
    ]
