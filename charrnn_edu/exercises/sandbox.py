r"""Running a learner's file in a child process, and calling its functions from the parent.

Only the learner's functions run in the child: the parent sends the inputs of one call, the
child sends back the result *and* the arguments after the call (what the function changed in
place), and the parent compares. A file that patches numpy patches only the child's numpy.
Messages are data only, never pickles: a JSON header and the raw bytes of numeric arrays.
The child's time and printing are limited; an endless loop, ``sys.exit``, ``os._exit`` or a
crash end the child, never the check, and become one clear message. :class:`InProcess` runs
functions in this process through the same messages (the package's and the mistakes').

This module is the parent's side; the child's is :mod:`~charrnn_edu.exercises.child`, the
messages are :mod:`~charrnn_edu.exercises.wire`, and the operating system's confinement
(the temporary copy, the limits, Landlock, ending the whole process tree) is
:mod:`~charrnn_edu.exercises.confine`. The time budget and the byte counts are the parent's
own, read off the pipes, and the child talks over its stdin and stdout, so the grader runs
where ``resource``, ``fcntl`` and SIGHUP do not exist (Windows), the same way as on POSIX.
"""

from __future__ import annotations

import builtins
import inspect
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import charrnn_edu
from charrnn_edu.exercises.child import BOOT, FileProblem, answers_rule, run_call
from charrnn_edu.exercises.confine import Limits, copy_in, end_tree, environment, popen_options
from charrnn_edu.exercises.model import Exercise
from charrnn_edu.exercises.wire import (
    END_OF_OUTPUT,
    answer,
    finite,
    pack,
    pump,
    unpack,
    write_all,
    write_back,
)

__all__ = ["LearnerError", "Stopped", "FileProblem", "Learner", "InProcess", "Sandbox",
           "RAISED", "DEFAULT_TIMEOUT", "answers_rule"]

DEFAULT_TIMEOUT = 30.0
OUTPUT_LIMIT = 100_000          # bytes the learner's code may print
MESSAGE_LIMIT = 200_000_000     # bytes of one message from the child
RAISED = "raised"               # the outcome of a call that raised
_TICK = 0.5                     # seconds of one wait: Windows' waits ignore Ctrl-C until 3.14


class LearnerError(Exception):
    """The learner's function raised: its name, the exception, and where in their file.

    Made with :meth:`of`, it is also an instance of the builtin exception the learner's code
    raised (a ValueError stays a ValueError), so a check may expect one.
    """

    @staticmethod
    def of(function: str, kind: str, message: str, where: str = "") -> LearnerError:
        """The error, also an instance of the builtin exception called ``kind`` if any."""
        builtin = getattr(builtins, kind, None)
        if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin is not \
                Exception:
            return type(f"Learner{kind}", (LearnerError, builtin), {})(function, kind,
                                                                      message, where)
        return LearnerError(function, kind, message, where)

    def __init__(self, function: str, kind: str, message: str, where: str = "") -> None:
        super().__init__(f"{function} raised {kind}" + (f": {message}" if message else "")
                         + (f" ({where})" if where else ""))
        self.function, self.kind = function, kind


class Stopped(BaseException):
    """The child cannot go on (time limit, exit, too much printing): ends every check.

    ``kind`` says why, as a grade's status: ``"timeout"``, ``"memory"``, ``"refused"`` (the
    code imported the answer) or ``"crashed"`` (anything else).
    """

    def __init__(self, reason: str, kind: str = "crashed") -> None:
        super().__init__(reason)
        self.kind = kind


# ---------------------------------------------------------------- calling the functions

class Learner:
    """Calls a set of functions by name through messages; subclasses say where they run.

    Attributes
    ----------
    notes : dict of str to str
        ``"none"`` or ``"nan"`` to the name of a function that returned None, or nan or inf
        for finite arguments: what a check's diagnosis says when no known mistake fits.
    """

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}

    def _exchange(self, request: dict) -> dict:
        raise NotImplementedError

    def call(self, name: str, *args: Any) -> Any:
        """The function's result; its changes to ``args`` are copied into them."""
        response = self._exchange({"call": name, "args": list(args)})
        if "raised" in response:
            raise LearnerError.of(name, **response["raised"])
        write_back(args, response["args"])
        result = response["result"]
        if result is None and name not in ("adagrad_step", "adam_step"):
            self.notes.setdefault("none", name)
        elif finite(args) and not finite(result):
            self.notes.setdefault("nan", name)
        return result

    def outcome(self, name: str, *args: Any) -> Any:
        """The result and the arguments after the call, or :data:`RAISED`, for a diagnosis."""
        response = self._exchange({"call": name, "args": list(args)})
        return RAISED if "raised" in response else (response["result"], response["args"])

    def namespace(self, names: tuple[str, ...]) -> SimpleNamespace:
        """The functions as attributes: ``f.softmax(o)`` calls the learner's softmax."""
        return SimpleNamespace(**{name: (lambda *a, _n=name: self.call(_n, *a)) for name in names})


class InProcess(Learner):
    """Functions of this process, called through the same copies as a child's."""

    def __init__(self, functions: dict[str, Callable]) -> None:
        super().__init__()
        self.functions = functions

    def _exchange(self, request: dict) -> dict:
        return unpack(pack(run_call(self.functions, {}, unpack(pack(request)))))


class Sandbox(Learner):
    """A child process that imports the learner's files and runs their functions on request.

    The child runs in a fresh temporary copy of the files (or of ``folder``), under
    ``limits`` and the confinement of :mod:`~charrnn_edu.exercises.confine`, and cannot import
    the answers (:func:`answers_rule`); :meth:`close` ends its whole process tree.

    Parameters
    ----------
    files : list of (path, references)
        Each learner file with the package's functions it must define (their names and
        signatures are the ones to match).
    timeout : float
        Seconds the child may spend, in all, before it is stopped; :meth:`renew` starts over.
    limits : Limits or None
        The operating system's limits on the child (the defaults of :class:`Limits`).
    folder : Path or None
        A folder holding the files, copied whole (a submission of several files).
    exercises : sequence of Exercise or None
        The exercises the files answer, for what stays importable; by default the
        exercises whose functions are the ``references``.
    started : callable
        Called with the sandbox as soon as its child runs, before the files are imported.

    Attributes
    ----------
    unconfined : list of str
        What the child could not put in force (see
        :func:`~charrnn_edu.exercises.confine.missing_protections`).
    stopped : Stopped or None
        Why the child was stopped, once it was.

    Raises
    ------
    FileProblem
        If a file cannot be imported or lacks a function; the message is one line.
    Stopped
        If importing the files did not finish in time, ended the child, or was refused.
    """

    def __init__(self, files: list[tuple[Path, tuple[Callable, ...]]],
                 timeout: float = DEFAULT_TIMEOUT, *, limits: Limits | None = None,
                 folder: Path | None = None, exercises: Sequence[Exercise] | None = None,
                 started: Callable[[Sandbox], None] = lambda box: None) -> None:
        super().__init__()
        from charrnn_edu.exercises.catalog import EXERCISES, signature_text
        references = [f for _, refs in files for f in refs]
        if exercises is None:
            exercises = [e for e in EXERCISES if set(e.functions) & set(references)]
        self.timeout, self.printed, self.stopped = timeout, bytearray(), None
        self.unconfined: list[str] = []
        self.root, copies = copy_in([path for path, _ in files], folder)
        location = str(Path(charrnn_edu.__file__).resolve().parent.parent)
        # The messages go over the child's stdin and stdout and what it prints comes on its
        # stderr: the three pipes Windows lets a child inherit (``pass_fds`` is POSIX only).
        # -u: what the learner's code prints reaches the pipe before the call's result does.
        try:
            self.child = subprocess.Popen(
                [sys.executable, "-I", "-B", "-u", "-c", BOOT, location],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                bufsize=0, env=environment(self.root), cwd=self.root / "work",
                **popen_options())
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        started(self)                   # from now on, close() from another thread stops it
        # One thread per pipe, since Windows cannot wait on pipes (its selectors take sockets
        # only, and communicate() ends the conversation): each reads into one queue that
        # _exchange waits on with its time budget. The queue is short, so a child that prints
        # without end waits for the parent, as it would on a full pipe.
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=8)
        self.readers = [threading.Thread(target=pump, args=(pipe, kind, self.events),
                                         daemon=True)
                        for pipe, kind in ((self.child.stdout, "message"),
                                           (self.child.stderr, "printed"))]
        for reader in self.readers:
            reader.start()
        self.writer: threading.Thread | None = None
        self.ends = self.results = 0    # END_OF_OUTPUT bytes read, messages read
        self.output_open, self.closed = True, False
        load = [[str(copy), str(path),
                 [[f.__name__, sum(p.default is p.empty for p in inspect.signature(f).parameters
                                   .values()), len(inspect.signature(f).parameters),
                   signature_text(f, width=None)] for f in references]]
                for copy, (path, references) in zip(copies, files, strict=True)]
        try:
            self.budget, self.doing = 120.0, "starting Python"    # not the learner's time
            self._exchange(None)
            self.renew()
            self.doing = "importing your file"
            response = self._exchange({
                "load": load, "answers": answers_rule(exercises, references, EXERCISES),
                "confine": {"root": str(self.root), "parent": os.getpid(),
                            "limits": vars(limits or Limits())}})
        except BaseException:
            self.close()
            raise
        if "problem" in response:
            self.close()
            raise FileProblem(str(response["problem"])[:1000])
        self.unconfined = [str(u)[:200] for u in response.get("unconfined", [])][:20]

    def renew(self) -> None:
        """Give the child its whole time limit again (before each training call)."""
        self.budget = self.timeout

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the child and every process it started, free its pipes, remove its copy."""
        self.closed = True               # an _exchange in another thread stops at its next tick
        end_tree(self.child, self.root)
        if self.writer is not None:
            self.writer.join(1.0)       # the dead child's pipe refuses the rest at once
        if self.child.stdin is not None:
            self.child.stdin.close()
        # Each reader closes its pipe at the end; emptying the queue lets none wait on it.
        # A process the learner's code started may hold stderr open: its reader is left to
        # end with it, so close never hangs.
        deadline = time.monotonic() + 1.0
        while any(r.is_alive() for r in self.readers) and time.monotonic() < deadline:
            try:
                self.events.get(timeout=0.05)
            except queue.Empty:
                pass

    def _stop(self, reason: str, kind: str = "crashed") -> Stopped:
        self.close()
        self.stopped = Stopped(reason, kind)
        return self.stopped

    def _exchange(self, request: dict | None) -> dict:
        if request and "call" in request:
            self.doing = f"running {request['call']}"
        if request:
            # A thread writes, so a child that stops reading costs its time budget, not a hang.
            self.writer = threading.Thread(target=write_all, args=(self.child.stdin, pack(request)),
                                           daemon=True)
            self.writer.start()
        # Done when the message is whole and so is the output before it (its END_OF_OUTPUT).
        incoming, response = bytearray(), None
        while response is None or (self.ends < self.results and self.output_open):
            start = time.monotonic()
            try:
                kind, chunk = self.events.get(timeout=min(max(self.budget, 0.0), _TICK))
            except queue.Empty:
                kind, chunk = "", b""
            self.budget -= time.monotonic() - start
            if not kind:
                if self.closed:
                    raise Stopped("the grader stopped this check")
                if self.budget > 0:
                    continue
                raise self._stop(f"your code did not finish within {self.timeout:g} s "
                                 f"({self.doing}): is there an endless loop? (a slow "
                                 "function may have more time with --timeout)", "timeout")
            if kind == "printed":
                self.ends += chunk.count(END_OF_OUTPUT)
                self.printed += chunk.replace(END_OF_OUTPUT, b"")
                self.output_open = bool(chunk)
                if len(self.printed) > OUTPUT_LIMIT:
                    raise self._stop(f"your code printed more than {OUTPUT_LIMIT:,} "
                                     f"bytes ({self.doing}): is there a print in a "
                                     "loop? Print less, or remove the prints")
                continue
            if not chunk:
                code = self._ended()
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                if code == -24:             # SIGXCPU: the CPU-time limit
                    raise self._stop(f"your code used more CPU time than its limit "
                                     f"({self.doing}): is there an endless loop?", "timeout")
                raise self._stop(f"your code ended the checking process ({how}) while "
                                 f"{self.doing}: do not call sys.exit or os._exit in "
                                 "an exercise")
            incoming += chunk
            if len(incoming) > MESSAGE_LIMIT or (len(incoming) >= 8 and int.from_bytes(
                    incoming[:8], "big") > MESSAGE_LIMIT):
                raise self._stop(f"your code returned more than {MESSAGE_LIMIT:,} bytes")
            if len(incoming) >= 8 and len(incoming) >= 8 + int.from_bytes(incoming[:8], "big"):
                try:
                    response = answer(unpack(bytes(incoming)))
                except ValueError as err:
                    raise self._stop(f"the checking process sent {err}") from None
                self.results += 1
        for kind in ("memory", "refused"):
            if kind in response:
                raise self._stop(str(response[kind])[:400] if kind == "refused" else
                                 f"your code ran out of memory ({self.doing}; its limit is "
                                 "--memory)", kind)
        return response

    def _ended(self) -> int:
        """The exit code of a child that closed its stdout, killed if it goes on running."""
        try:
            return self.child.wait(max(self.budget, 1.0))
        except subprocess.TimeoutExpired:
            self.child.kill()
            return self.child.wait()

