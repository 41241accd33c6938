"""The child's side of the sandbox: import the learner's files, then run one call per request.

Started by :class:`~charrnn_edu.exercises.sandbox.Sandbox` as
``python -u -m charrnn_edu.exercises.child``, it reads requests on its stdin and writes
responses on its stdout (:mod:`~charrnn_edu.exercises.wire` messages); what the learner's code
prints goes to its stderr. These are the pipes every platform lets a child inherit. Only the
learner's functions run here; the checks run in the parent, with the parent's numpy.
:func:`run_call` also serves :class:`~charrnn_edu.exercises.sandbox.InProcess`, which runs
functions of the grader's own process through the same messages.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from charrnn_edu.exercises.wire import END_OF_OUTPUT, pack, unpack

__all__ = ["FileProblem", "run_call", "serve"]


class FileProblem(Exception):
    """The learner's file cannot give the exercise's functions; the message is one line."""


def _where(err: BaseException, files: dict[str, str]) -> str:
    """``softmax.py, line 12: return e / s``: the innermost line of ``err`` in a learner's file."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename in files]
    if not frames:
        return ""
    frame = frames[-1]
    return f"{files[frame.filename]}, line {frame.lineno}" + (f": {frame.line}" * bool(frame.line))


def run_call(functions: dict[str, Callable], files: dict[str, str], request: dict) -> dict:
    """Run one call of a request; the response the parent gets."""
    name, args = request["call"], request["args"]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = functions[name](*args)
    except BaseException as err:        # whatever the learner's code raises
        message = " ".join(str(err).split())
        return {"raised": {"kind": type(err).__name__, "message": message[:300],
                           "where": _where(err, files)}}
    return {"result": result, "args": args}


# ---------------------------------------------------------------- the child's loop

def _send(fd: int, value: Any, output_fd: int) -> None:
    """End the output so far with :data:`END_OF_OUTPUT`, then send ``value``.

    The parent waits for both, so it has all that a call printed when it has its result.
    """
    os.write(output_fd, END_OF_OUTPUT)
    data = memoryview(pack(value))
    while data:
        data = data[os.write(fd, data):]


def _receive(fd: int) -> Any:
    def exactly(n: int) -> bytes:
        parts = bytearray()
        while len(parts) < n:
            chunk = os.read(fd, n - len(parts))
            if not chunk:
                raise EOFError
            parts += chunk
        return bytes(parts)
    size = exactly(8)
    return unpack(size + exactly(int.from_bytes(size, "big")))


def _import(path: str, shown: str, index: int) -> Any:
    spec = importlib.util.spec_from_file_location(f"charrnn_learner_{index}", path)
    if spec is None or spec.loader is None:
        raise FileProblem(f"{shown} cannot be imported: give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module         # dataclasses look their module up there
    sys.path.insert(0, str(Path(path).parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        text = f": {err.text.strip()}" if err.text and err.text.strip() else ""
        raise FileProblem(f"{shown}, line {err.lineno}: syntax error, {err.msg}{text}") from None
    except BaseException as err:        # whatever the file does when it runs
        where = _where(err, {path: shown}).removeprefix(shown)
        message = " ".join(str(err).split())
        raise FileProblem(f"{shown}{where}: running the file raised {type(err).__name__}"
                          f"{': ' + message if message else ''} (code outside the functions "
                          "runs when the file is imported)") from None
    return module


def _load(request: list) -> tuple[dict[str, Callable], dict[str, str]]:
    functions, files = {}, {}
    for index, (path, shown, wanted) in enumerate(request):
        module, files[path] = _import(path, shown, index), shown
        for name, required, total, written in wanted:
            found = getattr(module, name, None)
            if found is None:
                raise FileProblem(f"{shown} defines no {name}: the exercise needs def {written}")
            if not callable(found):
                raise FileProblem(f"{shown}: {name} is {found!r:.60}, not a function")
            try:
                signature = inspect.signature(found)
                signature.bind(*range(total))
                signature.bind(*range(required))
            except TypeError:
                raise FileProblem(f"{shown}: {name}{signature} does not take the exercise's "
                                  f"parameters; write it as def {written}") from None
            except ValueError:
                pass                    # a builtin without a signature: let the checks try
            functions[name] = found
    return functions, files


def _own_stdio() -> tuple[int, int, int]:
    """The request, response and output pipes on fds of the child's own, before learner code.

    Left on fds 0 and 1, a learner's ``print`` would land inside a response and ``input``
    would read a request; instead ``input`` reads nothing and ``print`` goes to stderr, the
    pipe where the parent collects what the learner's code printed. The child marks the end
    of each call's output through its own copy of stderr, which closing or redirecting
    ``sys.stderr`` or fd 2 does not reach.
    """
    request_fd, response_fd, output_fd = os.dup(0), os.dup(1), os.dup(2)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    os.dup2(2, 1)
    return request_fd, response_fd, output_fd


def serve(request_fd: int, response_fd: int, output_fd: int) -> None:
    """The child's loop: load the files, then run one call per request until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is the parent's to handle
    sys.dont_write_bytecode = True
    _send(response_fd, {"ready": True}, output_fd)
    try:
        functions, files = _load(_receive(request_fd)["load"])
    except FileProblem as err:
        _send(response_fd, {"problem": str(err)}, output_fd)
        return
    _send(response_fd, {"loaded": True}, output_fd)
    while True:
        try:
            request = _receive(request_fd)
        except EOFError:
            return
        _send(response_fd, run_call(functions, files, request), output_fd)


if __name__ == "__main__":
    serve(*_own_stdio())
