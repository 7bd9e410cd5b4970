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
