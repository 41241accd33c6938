"""Portable: the package and its commands run without POSIX's fcntl, resource and SIGHUP.

Windows has none of the three. Its stand-ins are simulated here on the machine that runs the
tests: the POSIX modules blocked, SIGHUP removed, and Windows' ``msvcrt.locking`` replaced by
a fake that keeps the same rules (a locked byte of an open file refused at once to any other
open file, released only by its holder).
"""

import ctypes
import os
import subprocess
import sys

import pytest

from charrnn_edu.evaluation import physical_memory
from charrnn_edu.files import default_corpus

WINDOWS = r'''
import contextlib, io, os, signal, sys, types
from pathlib import Path

sys.modules["fcntl"] = None         # import fcntl, import resource: ImportError, as on Windows
sys.modules["resource"] = None
del signal.SIGHUP

# The standard library tells Windows by whether msvcrt imports: load what typer needs first.
import subprocess  # noqa: F401

msvcrt = types.ModuleType("msvcrt")
msvcrt.LK_UNLCK, msvcrt.LK_LOCK, msvcrt.LK_NBLCK = 0, 1, 2
held, calls = {}, []                # (file, first byte, bytes) -> the fd that holds it


def locking(fd, mode, nbytes):
    stat = os.fstat(fd)
    key = (stat.st_dev, stat.st_ino, os.lseek(fd, 0, os.SEEK_CUR), nbytes)
    calls.append((mode, key[2]))
    if mode == msvcrt.LK_NBLCK:
        if key in held:
            raise PermissionError(13, "Permission denied")
        held[key] = fd
    elif mode == msvcrt.LK_UNLCK:
        if held.get(key) != fd:
            raise PermissionError(13, "Permission denied")
        del held[key]
    else:                           # LK_LOCK waits; in one process it would wait forever
        assert key not in held, "a lock this process holds, waited for"
        held[key] = fd


msvcrt.locking = locking
sys.modules["msvcrt"] = msvcrt

import numpy as np

import charrnn_edu.cli as cli
from charrnn_edu import checkpoint, runs, signals
from charrnn_edu.sampling import generate

assert runs.fcntl is None and runs.msvcrt is msvcrt
assert signals.StopSignals.SIGNALS == (signal.SIGINT, signal.SIGTERM)


def charrnn(*args):
    try:
        cli.main([str(a) for a in args])
    except SystemExit as done:
        return done.code
    raise AssertionError("main returned without an exit code")


here, corpus = Path(sys.argv[1]), Path(sys.argv[2])
out = here / "run"
assert charrnn("--help") == 0
assert charrnn("train", "--data", corpus, "--iterations", 40, "--hidden", 8, "--seq-length", 10,
               "--checkpoint-every", 20, "--sample-every", 20, "--sample-length", 20,
               "--quiet", "--out", out) == 0
assert (out / "checkpoint.npz").exists() and not held
assert calls == [(msvcrt.LK_NBLCK, runs._LOCKED_BYTE), (msvcrt.LK_UNLCK, runs._LOCKED_BYTE)]
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    assert charrnn("sample", out, "--length", 300, "--seed", 1) == 0
trainer = checkpoint.load(out / "checkpoint.npz")
assert printed.getvalue() == generate(trainer.best, trainer.vocab, 300,
                                      np.random.default_rng(1)) + "\n"
assert charrnn("train", "--resume", out, "--data", corpus, "--iterations", 60, "--quiet") == 0

with runs.RunFolder(out):           # a second writer is refused, and told who holds it
    try:
        runs.RunFolder(out).__enter__()
    except runs.FolderBusy as err:
        assert f"PID {os.getpid()}" in str(err), err
    else:
        raise AssertionError("two writers held one run folder")
assert not held

new = here / "new"                  # stopped before its first save: nothing is left
try:
    with runs.RunFolder(new):
        raise KeyboardInterrupt
except KeyboardInterrupt:
    pass
assert not new.exists() and not held

del os.O_NOFOLLOW                   # as on Windows: a .lock that is a link is looked for first
victim, linked = here / "victim.txt", here / "linked"
victim.write_text("precious")
linked.mkdir()
(linked / ".lock").symlink_to(victim)
try:
    runs.RunFolder(linked).__enter__()
except runs.FolderRefused as err:
    assert "symbolic link" in str(err), err
else:
    raise AssertionError("a .lock link was written through")
assert victim.read_text() == "precious" and not held

calls.clear()                       # the progress file's lock waits for its holder
with runs.waiting_lock(here / ".exercises.json.lock"):
    assert len(held) == 1
assert not held
assert calls == [(msvcrt.LK_LOCK, runs._LOCKED_BYTE), (msvcrt.LK_UNLCK, runs._LOCKED_BYTE)]
print("all ran")
'''


def test_help_train_and_sample_run_without_fcntl_resource_and_sighup(tmp_path):
    corpus = tmp_path / "text.txt"
    corpus.write_text(default_corpus().read_text("utf-8")[:3000], encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", WINDOWS, str(tmp_path), str(corpus)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Usage: charrnn" in done.stdout and "Commands" in done.stdout     # --help
    assert "run saved in" in done.stdout                                      # train
    assert done.stdout.rstrip().endswith("all ran")


@pytest.mark.skipif(not hasattr(os, "sysconf"), reason="POSIX only")
def test_physical_memory_on_posix():
    assert physical_memory() == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") > 0


class FakeKernel32:
    """Windows' GlobalMemoryStatusEx, filling in the structure it is handed."""

    def __init__(self, total, succeeds=True):
        self.total, self.succeeds = total, succeeds

    def GlobalMemoryStatusEx(self, pointer):
        status = pointer._obj
        assert status.dwLength == ctypes.sizeof(status)       # Windows refuses any other
        status.ullTotalPhys = self.total
        return int(self.succeeds)


@pytest.mark.parametrize("succeeds", [True, False])
def test_physical_memory_on_windows(monkeypatch, succeeds):
    monkeypatch.delattr(os, "sysconf", raising=False)
    monkeypatch.setattr(ctypes, "windll", type("windll", (), {})(), raising=False)
    monkeypatch.setattr(ctypes.windll, "kernel32", FakeKernel32(8 * 2**30, succeeds),
                        raising=False)
    if succeeds:
        assert physical_memory() == 8 * 2**30
    else:
        with pytest.raises(OSError, match="memory"):
            physical_memory()
