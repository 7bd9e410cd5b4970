"""Crash-safe file operations shared by `train` and `export`.

Everything this library writes into a directory it does not own goes through
here: text written atomically (temporary file + rename), scratch directories
named after the process that owns them (so a later process can tell a dead
one's leftovers from a live one's work), and a lock per run directory.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: fall back to the pid check alone
    fcntl = None


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def write_text_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    partial = path.parent / f".{path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def scratch_path(path: Path, kind: str) -> Path:
    """A hidden sibling of `path` for work in progress: `.NAME.KIND-PID-RANDOM`."""
    return path.parent / f".{path.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def remove_stale_scratch(path: Path, kinds: tuple[str, ...]) -> list[Path]:
    """Delete the scratch siblings of `path` (see `scratch_path`) whose process has died.

    Only names this library writes are touched: `.NAME.KIND-PID-RANDOM`, and
    `.NAME.KIND-RANDOM` from versions that did not record the pid. A live
    process's scratch directory is left alone.
    """
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.(?:{'|'.join(map(re.escape, kinds))})-(?:(\d+)-)?[0-9a-f]{{8}}"
    )
    removed = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if not match or entry.is_symlink():
            continue
        if match[1] is not None and (int(match[1]) == os.getpid() or process_alive(int(match[1]))):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


class DirectoryBusy(RuntimeError):
    """Another live process holds the lock of a directory."""


# What `DirectoryLock` writes into its file (`pid N` alone from a process cut
# short, or an older release), and so what it may take over.
_LOCK_LINE = re.compile(r"pid \d+(?: on [^\n]*: [^\n]*)?\n")


class DirectoryLock:
    """An exclusive lock on a directory: a `.lock` file in it naming the owner.

    The operating system releases the lock when its owner dies (`flock`), so a
    lock file left by a killed process is simply taken over. Use as a context
    manager; `DirectoryBusy` says which process holds it.

    Args:
        directory: the directory to lock (created if missing).
        owner: what holds the lock, written into the file, e.g. "keras-attention train".
    """

    name = ".lock"

    def __init__(self, directory: str | Path, owner: str = "keras-attention"):
        self.path = Path(directory) / self.name
        self.owner = owner
        self._file = None

    def _owner(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def _check_ours(self) -> None:
        """Refuse a `.lock` this library did not write (a user's file, a
        directory, a link): taking it over would overwrite and then delete it.
        An empty file is ours, cut short between its truncation and write."""
        if not os.path.lexists(self.path):
            return
        content = None
        if self.path.is_file() and not self.path.is_symlink():
            try:
                content = self.path.read_text(errors="replace")
            except OSError:
                content = None
        if content is None or (content and not _LOCK_LINE.fullmatch(content)):
            raise FileExistsError(
                f"{self.path} exists and was not written by keras-attention (a lock file holds "
                "one line, 'pid N on HOST: COMMAND'). Move it away, or choose another directory."
            )

    def acquire(self) -> "DirectoryLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_ours()
        while True:
            file = open(self.path, "a+")
            try:
                if fcntl is not None:
                    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:  # without flock, a live pid in the file is the lock
                    owner = self._owner().split()
                    if owner and owner[0] == "pid" and process_alive(int(owner[1])):
                        raise BlockingIOError(errno.EAGAIN, "locked")
            except BlockingIOError:
                file.close()
                raise DirectoryBusy(
                    f"{self.path.parent} is in use by another process ({self._owner()}; lock "
                    f"file {self.path}). Wait for it to finish, or choose another directory."
                ) from None
            # The file may have been removed by its last owner between our
            # open and our lock: then the lock is on a deleted file; retry.
            try:
                if os.stat(self.path).st_ino == os.fstat(file.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            file.close()
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()} on {socket.gethostname()}: {self.owner}\n")
        file.flush()
        self._file = file
        return self

    def release(self) -> None:
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()
            self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
