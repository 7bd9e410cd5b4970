"""`keras_attention._files`: atomic text, scratch directories that a later
process can tell from a live one's, and the run-directory lock."""

import os
import subprocess
import sys

import pytest

from keras_attention import _files
from keras_attention._files import (
    DirectoryBusy,
    DirectoryLock,
    process_alive,
    remove_stale_scratch,
    scratch_path,
    write_text_atomically,
)


@pytest.fixture(scope="module")
def dead_pid():
    """The id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_process_alive(dead_pid):
    assert process_alive(os.getpid())
    assert not process_alive(dead_pid)


def test_write_text_atomically_replaces_the_file_whole(tmp_path):
    path = tmp_path / "metrics.json"
    write_text_atomically(path, "old")
    write_text_atomically(path, "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["metrics.json"]


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    path = tmp_path / "recipe.toml"
    write_text_atomically(path, "old")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_files.os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomically(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["recipe.toml"]


def test_scratch_paths_are_hidden_siblings_named_after_the_process(tmp_path):
    first, second = scratch_path(tmp_path / "run", "train"), scratch_path(tmp_path / "run", "train")
    assert first.parent == tmp_path and first != second
    assert first.name.startswith(f".run.train-{os.getpid()}-") and len(first.name.rsplit("-", 1)[1]) == 8


def test_only_dead_processes_scratch_of_the_given_kinds_is_removed(tmp_path, dead_pid):
    run = tmp_path / "run"
    dead = tmp_path / f".run.train-{dead_pid}-0123abcd"
    old_format = tmp_path / ".run.export-89abcdef"  # before the pid was recorded
    live = scratch_path(run, "train")
    parent = tmp_path / f".run.train-{os.getppid()}-0123abcd"  # another live process
    other_kind = tmp_path / f".run.convert-{dead_pid}-0123abcd"
    other_run = tmp_path / f".runs.train-{dead_pid}-0123abcd"
    user = tmp_path / ".run.train-mine"
    for directory in (dead, old_format, live, parent, other_kind, other_run, user):
        directory.mkdir()
        (directory / "file").write_text("x")
    dead_file = tmp_path / f".run.train-{dead_pid}-fedcba98"
    dead_file.write_text("x")
    link = tmp_path / f".run.train-{dead_pid}-00000000"
    link.symlink_to(user)

    removed = remove_stale_scratch(run, ("train", "export"))
    assert sorted(removed) == sorted([dead, old_format, dead_file])
    assert not any(path.exists() for path in removed)
    for kept in (live, parent, other_kind, other_run, user):
        assert (kept / "file").read_text() == "x"
    assert link.is_symlink()
    assert remove_stale_scratch(tmp_path / "missing" / "run", ("train",)) == []


def test_the_lock_names_its_owner_and_refuses_a_second_holder(tmp_path):
    directory = tmp_path / "run"  # created by the lock
    with DirectoryLock(directory, "keras-attention train") as lock:
        assert lock.path == directory / ".lock"
        owner = lock.path.read_text()
        assert owner.startswith(f"pid {os.getpid()} on ") and owner.endswith(": keras-attention train\n")
        with pytest.raises(DirectoryBusy, match=r"run is in use by another process \(pid .*: keras-attention train; "
                                                r"lock file .*\.lock\)"):
            DirectoryLock(directory, "keras-attention export").acquire()
        assert lock.path.read_text() == owner  # the refused one wrote nothing
    assert not (directory / ".lock").exists()
    with DirectoryLock(directory, "keras-attention export"):
        assert (directory / ".lock").read_text().endswith(": keras-attention export\n")


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path, dead_pid):
    (tmp_path / ".lock").write_text(f"pid {dead_pid} on somewhere: keras-attention train\n")
    with DirectoryLock(tmp_path, "keras-attention convert") as lock:
        assert lock.path.read_text().startswith(f"pid {os.getpid()} ")


@pytest.mark.parametrize("content", ["my own notes\n", "pid 12 is what I call it"])
def test_a_lock_file_this_library_did_not_write_is_refused_and_kept(tmp_path, content):
    (tmp_path / ".lock").write_text(content)
    with pytest.raises(FileExistsError, match=r"\.lock exists and was not written by keras-attention"):
        DirectoryLock(tmp_path, "keras-attention train").acquire()
    assert (tmp_path / ".lock").read_text() == content
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".lock").mkdir()  # not even a file
    with pytest.raises(FileExistsError, match="not written by keras-attention"):
        DirectoryLock(tmp_path / "sub").acquire()
    assert (tmp_path / "sub" / ".lock").is_dir()


def test_a_lock_held_by_another_process_is_refused(tmp_path):
    # The module loaded from its file alone: the package's __init__ would import TensorFlow.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import importlib.util, sys; spec = importlib.util.spec_from_file_location('files', sys.argv[1]); "
         "files = importlib.util.module_from_spec(spec); spec.loader.exec_module(files); "
         "lock = files.DirectoryLock(sys.argv[2], 'the other one').acquire(); print('held', flush=True); "
         "sys.stdin.read()", _files.__file__, str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(DirectoryBusy, match=f"pid {holder.pid} on .*: the other one"):
            DirectoryLock(tmp_path).acquire()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with DirectoryLock(tmp_path):  # its owner died: the operating system let go
        pass
