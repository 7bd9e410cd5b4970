"""How long work shows its progress: a live bar on a terminal; in a log file
or a pipe, one plain line when the work is done (no colour codes, no
carriage returns)."""

from __future__ import annotations

import sys

import keras


def progress_verbosity() -> int:
    """Keras's `verbose` for progress written to stdout: 1 (a live bar) on a
    terminal, 2 (one line at the end) otherwise."""
    return 1 if sys.stdout.isatty() else 2


def progress_bar(target: int | None, unit_name: str) -> keras.utils.Progbar:
    """A `keras.utils.Progbar` over `target` units, shown as `progress_verbosity` says."""
    return keras.utils.Progbar(target, unit_name=unit_name, verbose=progress_verbosity())
