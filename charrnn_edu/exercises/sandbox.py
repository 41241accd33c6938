r"""Running a learner's file in a child process, and calling its functions from the parent.

Only the learner's functions run in the child: the parent sends the inputs of one call, the
child sends back the result *and* the arguments after the call (what the function changed in
place), and the parent compares. A file that patches numpy patches only the child's numpy.
Messages are data only, never pickles: a JSON header and the raw bytes of numeric arrays.
The child's time and printing are limited; an endless loop, ``sys.exit``, ``os._exit`` or a
crash end the child, never the check, and become one clear message. :class:`InProcess` runs
functions in this process through the same messages (the package's and the mistakes').

This module is the parent's side; the child's is :mod:`~charrnn_edu.exercises.child` and the
messages are :mod:`~charrnn_edu.exercises.wire`. The limits are the parent's own (a time
budget and byte counts, read off the pipes), not ``resource`` limits, so every module of the
grader imports where ``resource``, ``fcntl`` and SIGHUP do not exist (Windows). Starting the
child does need POSIX: it inherits its pipes through ``pass_fds``, and the parent waits on
them with :mod:`selectors`, which Windows offers for sockets only.
"""

from __future__ import annotations

import builtins
import inspect
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from charrnn_edu.exercises.child import FileProblem, run_call
from charrnn_edu.exercises.wire import pack, unpack
from charrnn_edu.forward import RNN

__all__ = ["LearnerError", "Stopped", "FileProblem", "Learner", "InProcess", "Sandbox",
           "RAISED", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 30.0
OUTPUT_LIMIT = 100_000          # bytes the learner's code may print
MESSAGE_LIMIT = 200_000_000     # bytes of one message from the child
RAISED = "raised"               # the outcome of a call that raised


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
    """The child cannot go on (time limit, exit, too much printing): ends every check."""


# ---------------------------------------------------------------- calling the functions

def _leaves(value: Any) -> list[Any]:
    if isinstance(value, RNN | tuple | list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _finite(value: Any) -> bool:
    return all(np.all(np.isfinite(v)) for v in _leaves(value)
               if isinstance(v, np.ndarray | float | complex) and not isinstance(v, bool))


def _write_back(args: tuple, after: Any) -> None:
    """Copy what the call changed in its arguments into the parent's, in the same arrays."""
    if not isinstance(after, list) or len(after) != len(args):
        return
    for arg, new in zip(args, after, strict=True):
        pairs = (zip(arg, new, RNN.names(), strict=True) if isinstance(arg, RNN)
                 and isinstance(new, RNN) else [(arg, new, None)])
        for old, value, name in pairs:
            if (isinstance(old, np.ndarray) and isinstance(value, np.ndarray) and value.shape
                    == old.shape and np.can_cast(value.dtype, old.dtype, "same_kind")):
                old[...] = value
            elif name is not None:
                setattr(arg, name, value)


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
        _write_back(args, response["args"])
        result = response["result"]
        if result is None and name != "adagrad_step":
            self.notes.setdefault("none", name)
        elif _finite(args) and not _finite(result):
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

    Parameters
    ----------
    files : list of (path, references)
        Each learner file with the package's functions it must define (their names and
        signatures are the ones to match).
    timeout : float
        Seconds the child may spend, in all, before it is stopped; :meth:`renew` starts over.

    Raises
    ------
    FileProblem
        If a file cannot be imported or lacks a function; the message is one line.
    Stopped
        If importing the files did not finish in time, or ended the child.
    """

    def __init__(self, files: list[tuple[Path, tuple[Callable, ...]]],
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.timeout, self.printed = timeout, bytearray()
        request_r, self.request_w = os.pipe()
        self.response_r, response_w = os.pipe()
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        self.child = subprocess.Popen(
            [sys.executable, "-m", "charrnn_edu.exercises.child", str(request_r),
             str(response_w)], pass_fds=(request_r, response_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        os.close(request_r)
        os.close(response_w)
        from charrnn_edu.exercises.catalog import signature_text
        load = [[str(path.resolve()), str(path),
                 [[f.__name__, sum(p.default is p.empty for p in inspect.signature(f).parameters
                                   .values()), len(inspect.signature(f).parameters),
                   signature_text(f, width=None)] for f in references]]
                for path, references in files]
        try:
            self.budget, self.doing = 120.0, "starting Python"    # not the learner's time
            self._exchange(None)
            self.renew()
            self.doing = "importing your file"
            response = self._exchange({"load": load})
        except BaseException:
            self.close()
            raise
        if "problem" in response:
            self.close()
            raise FileProblem(response["problem"])

    def renew(self) -> None:
        """Give the child its whole time limit again (before each training call)."""
        self.budget = self.timeout

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the child and free its pipes."""
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        for fd in (self.request_w, self.response_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.child.stdout is not None:
            self.child.stdout.close()

    def _stop(self, reason: str) -> Stopped:
        self.close()
        return Stopped(reason)

    def _exchange(self, request: dict | None) -> dict:
        if request and "call" in request:
            self.doing = f"running {request['call']}"
        outgoing, incoming = memoryview(pack(request) if request else b""), bytearray()
        out_fd = self.child.stdout.fileno() if self.child.stdout else -1
        with selectors.DefaultSelector() as selector:
            selector.register(self.response_r, selectors.EVENT_READ)
            if out_fd >= 0:
                selector.register(out_fd, selectors.EVENT_READ)
            if outgoing:
                selector.register(self.request_w, selectors.EVENT_WRITE)
            while True:
                start = time.monotonic()
                events = selector.select(max(self.budget, 0.0))
                self.budget -= time.monotonic() - start
                if not events and self.budget <= 0:
                    raise self._stop(f"your code did not finish within {self.timeout:g} s "
                                     f"({self.doing}): is there an endless loop? (a slow "
                                     "function may have more time with --timeout)")
                for key, _ in events:
                    if key.fd == self.request_w:
                        try:
                            outgoing = outgoing[os.write(self.request_w, outgoing):]
                        except BrokenPipeError:
                            outgoing = memoryview(b"")
                        if not outgoing:
                            selector.unregister(self.request_w)
                        continue
                    chunk = os.read(key.fd, 1 << 20)
                    if key.fd == out_fd:
                        self.printed += chunk
                        if not chunk:
                            selector.unregister(out_fd)
                        elif len(self.printed) > OUTPUT_LIMIT:
                            raise self._stop(f"your code printed more than {OUTPUT_LIMIT:,} "
                                             f"bytes ({self.doing}): is there a print in a "
                                             "loop? Print less, or remove the prints")
                        continue
                    if not chunk:
                        code = self.child.wait()
                        how = (f"signal {-code}" if code < 0 else f"exit code {code}")
                        raise self._stop(f"your code ended the checking process ({how}) while "
                                         f"{self.doing}: do not call sys.exit or os._exit in "
                                         "an exercise")
                    incoming += chunk
                    if len(incoming) > MESSAGE_LIMIT:
                        raise self._stop(f"your code returned more than {MESSAGE_LIMIT:,} bytes")
                    if len(incoming) >= 8 and len(incoming) >= 8 + int.from_bytes(
                            incoming[:8], "big"):
                        try:
                            return unpack(bytes(incoming))
                        except ValueError as err:
                            raise self._stop(f"the checking process sent {err}") from None
