r"""The operating system's part of the sandbox: a temporary copy, limits, Landlock, no survivors.

The parent (:class:`~charrnn_edu.exercises.sandbox.Sandbox`) copies the learner's files into
a fresh temporary folder, which is the child's working directory, TMPDIR and (beside it)
HOME, gives the child an environment of its own, starts it in a session of its own and, at
the end, stops every process of its tree and removes the folder (:func:`end_tree`). The
child (:mod:`~charrnn_edu.exercises.child`) confines itself before any learner code runs
(:func:`confine`): ``resource`` limits on address space, CPU time, file size and open files;
on Linux it dies with its parent, adopts its orphans, and enters a Landlock domain that
writes only inside the temporary folder, neither binds nor connects TCP sockets, and cannot
signal processes outside it. :func:`missing_protections` says which of these this machine
cannot give.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "DEFAULT_MEMORY", "landlock_abi", "missing_protections", "copy_in",
           "environment", "confine", "end_tree", "descendants"]

DEFAULT_MEMORY = 4 * 2**30      # bytes of address space: numpy and a few large arrays
LINUX = sys.platform.startswith("linux")
POSIX = os.name == "posix"

# Landlock's constants, from <linux/landlock.h>; the syscalls have one number on every arch.
_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446
_VERSION, _PATH_BENEATH = 1, 1
_WRITES = sum(1 << bit for bit in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))   # write, remove, make
_REFER, _TRUNCATE = 1 << 13, 1 << 14                                   # ABI 2, ABI 3
_TCP = (1 << 0) | (1 << 1)                                             # bind, connect: ABI 4
_SCOPES = (1 << 0) | (1 << 1)                  # abstract unix sockets, signals: ABI 6
_NO_NEW_PRIVS, _PDEATHSIG, _SUBREAPER = 38, 1, 36                      # prctl options


@dataclass(frozen=True)
class Limits:
    """What one child may use: bytes of address space and of one file, CPU seconds, files."""

    memory: int = DEFAULT_MEMORY
    cpu: int = 3600                 # a backstop: the parent's clock stops a loop first
    file_size: int = 64 * 2**20
    open_files: int = 256

    def __post_init__(self) -> None:
        if min(self.memory, self.cpu, self.file_size, self.open_files) < 1:
            raise ValueError(f"every limit must be positive, got {self}")


class _Ruleset(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers; 0 where there is none (not Linux, < 5.13)."""
    if not LINUX:
        return 0
    try:
        return max(int(_libc().syscall(_CREATE, None, ctypes.c_size_t(0), _VERSION)), 0)
    except (OSError, AttributeError):
        return 0


def missing_protections(abi: int | None = None) -> list[str]:
    """Each protection of the sandbox that is not in force on this machine, in a few words.

    ``abi`` is the Landlock ABI to judge by (the kernel's by default). Empty on Linux 6.12
    and later.
    """
    abi = landlock_abi() if abi is None else abi
    missing = []
    if not POSIX:
        missing += ["no memory, CPU-time, file-size or open-file limits (Windows has no "
                    "setrlimit)", "processes the code starts are not stopped with it"]
    elif sys.platform == "darwin":
        missing.append("no memory limit (macOS does not enforce RLIMIT_AS)")
    if not LINUX:
        missing.append("a process the code starts in a session of its own may outlive it")
    where = "Linux only" if not LINUX else f"this kernel's Landlock ABI is {abi}"
    if abi < 1:
        missing.append(f"no write confinement: the code can write wherever the grader can "
                       f"(Landlock is {where})")
    if abi < 4:
        missing.append(f"no network confinement: the code can open TCP connections "
                       f"(Landlock network rules need ABI 4, Linux 6.7; {where})")
    if abi < 6:
        missing.append(f"no signal confinement: the code can signal the grader's processes "
                       f"(Landlock scopes need ABI 6, Linux 6.12; {where})")
    return missing


# ---------------------------------------------------------------- the parent's side

def copy_in(files: list[Path], folder: Path | None) -> tuple[Path, list[Path]]:
    """A fresh temporary folder holding ``folder`` (or each file alone) and an empty home.

    Returns the folder and where each file is inside it. Symbolic links are not followed.
    """
    root = Path(tempfile.mkdtemp(prefix="charrnn-sandbox-")).resolve()
    work = root / "work"
    try:
        if folder is not None:
            shutil.copytree(folder, work, symlinks=True)
            copies = [work / Path(f).resolve().relative_to(Path(folder).resolve())
                      for f in files]
        else:
            work.mkdir()
            copies = []
            for i, file in enumerate(files):
                target = work / (str(i) if i else "") / Path(file).name
                target.parent.mkdir(exist_ok=True)
                shutil.copyfile(file, target)
                copies.append(target)
        (root / "home").mkdir()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root, copies


def environment(root: Path) -> dict[str, str]:
    """The child's whole environment: what Python needs to start, and homes in ``root``."""
    keep = ("PATH", "SYSTEMROOT", "WINDIR", "COMSPEC", "LANG", "LC_ALL") if not POSIX \
        else ("PATH", "LANG", "LC_ALL")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    work, home = str(root / "work"), str(root / "home")
    env.update(HOME=home, USERPROFILE=home, TMPDIR=work, TEMP=work, TMP=work,
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def popen_options() -> dict:
    """Its own session (POSIX) or process group (Windows): the grader's signals do not reach it."""
    if POSIX:
        return {"start_new_session": True}
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux's /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if LINUX else []:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            continue                    # not a process, or it ended meanwhile
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def end_tree(child: subprocess.Popen, root: Path | None) -> None:
    """Stop the child, every process below it and its group; wait for it; remove ``root``.

    The child adopts its orphans (Linux), so its tree holds even processes that left its
    session; each is stopped before the next look, so none can start another unseen.
    """
    if POSIX and child.poll() is None:
        stopped: set[int] = set()
        while (found := descendants(child.pid) - stopped):
            for pid in found:
                _signal(pid, signal.SIGSTOP)
            stopped |= found
        for pid in stopped:
            _signal(pid, signal.SIGKILL)
    if POSIX:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            pass                        # the group has gone already
    if child.poll() is None:
        child.kill()
    child.wait()
    if root is not None:
        for _ in range(20):             # a killed grandchild may still be closing its files
            shutil.rmtree(root, ignore_errors=True)
            if not root.exists():
                break
            time.sleep(0.05)


# ---------------------------------------------------------------- the child's side

def confine(root: str, limits: dict, parent: int) -> list[str]:
    """Confine this process before learner code runs; what could not be done, in words."""
    failed = []
    try:
        import resource
    except ImportError:
        resource = None                 # Windows
    if resource is None:
        failed.append("no resource limits")
    else:
        wanted = {"RLIMIT_AS": limits["memory"], "RLIMIT_CPU": limits["cpu"],
                  "RLIMIT_FSIZE": limits["file_size"], "RLIMIT_NOFILE": limits["open_files"],
                  "RLIMIT_CORE": 0}
        for name, value in wanted.items():
            try:
                kind = getattr(resource, name)
                hard = resource.getrlimit(kind)[1]
                value = value if hard == resource.RLIM_INFINITY else min(value, hard)
                resource.setrlimit(kind, (value, value))
            except (AttributeError, ValueError, OSError):
                failed.append(f"no {name} limit")
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a file too big fails to write
    if LINUX:
        libc = _libc()
        # Killed when the thread that started it ends (a kill -9 of the grader included):
        # so a Sandbox is closed by the thread that opened it, or before that thread ends.
        libc.prctl(_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        libc.prctl(_SUBREAPER, 1, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)                 # the grader has gone already
        failed += _landlock(libc, root)
    return failed


def _landlock(libc: ctypes.CDLL, root: str) -> list[str]:
    """Enter a Landlock domain: writes only beneath ``root``, no TCP, no signals out."""
    abi = landlock_abi()
    if abi < 1:
        return ["no Landlock"]
    fs = _WRITES | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    rules = _Ruleset(fs, _TCP if abi >= 4 else 0, _SCOPES if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = libc.syscall(_CREATE, ctypes.byref(rules), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        return [f"no Landlock (errno {ctypes.get_errno()})"]
    try:
        for path, allowed in ((root, fs), (os.devnull, 1 << 1 | (_TRUNCATE if abi >= 3 else 0))):
            fd = os.open(path, getattr(os, "O_PATH", 0) | os.O_CLOEXEC)
            try:
                beneath = _PathBeneath(allowed, fd)
                if libc.syscall(_ADD_RULE, ruleset, _PATH_BENEATH, ctypes.byref(beneath), 0):
                    return [f"no Landlock (a rule for {path} failed)"]
            finally:
                os.close(fd)
        if libc.prctl(_NO_NEW_PRIVS, 1, 0, 0, 0) or libc.syscall(_RESTRICT, ruleset, 0):
            return [f"no Landlock (errno {ctypes.get_errno()})"]
    finally:
        os.close(ruleset)
    return []

