"""The child's side of the sandbox: import the learner's files, then run one call per request.

Started by :class:`~charrnn_edu.exercises.sandbox.Sandbox` in isolated mode (``python -I``,
the package's location given explicitly, see :data:`BOOT`), it reads requests on its stdin
and writes responses on its stdout (:mod:`~charrnn_edu.exercises.wire` messages); what the
learner's code prints goes to its stderr. These are the pipes every platform lets a child
inherit. Only the learner's functions run here; the checks run in the parent, with the
parent's numpy. Before the learner's file is imported, the child confines itself
(:func:`~charrnn_edu.exercises.confine.confine`) and hides the exercise's answer
(:func:`hide_answers`): its chapter's functions, the chapters after it, the checks and the
mistakes are not importable, except the names the starter file imports.
:func:`run_call` also serves :class:`~charrnn_edu.exercises.sandbox.InProcess`, which runs
functions of the grader's own process through the same messages.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import inspect
import linecache
import os
import re
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from charrnn_edu.exercises.confine import confine
from charrnn_edu.exercises.wire import END_OF_OUTPUT, pack, unpack

if TYPE_CHECKING:
    from charrnn_edu.exercises.model import Exercise

__all__ = ["FileProblem", "Refused", "run_call", "serve", "answers_rule", "hide_answers", "BOOT"]

# The child's command line: ``python -I -B -u -c BOOT LOCATION``. Isolated mode reads no
# PYTHON* variable and puts neither the working directory nor the user's site on sys.path;
# LOCATION, the folder holding the package, is put first instead.
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from charrnn_edu.exercises.child import main; main()")
PACKAGE = "charrnn_edu"


class FileProblem(Exception):
    """The learner's file cannot give the exercise's functions; the message is one line."""


class Refused(ImportError):
    """The learner's code imported the exercise's answer (or the checks, or the mistakes)."""


# The package's chapters, in order. A later chapter may hold an earlier one's answer in
# another shape (sampling steps the network forward): those after the last chapter under test
# are hidden whole, and so is the rest of the package (its checks, mistakes and oracles).
CHAPTERS = tuple(f"charrnn_edu.{m}" for m in ("encoding", "forward", "loss", "bptt",
                                              "gradcheck", "adagrad", "sampling", "lstm",
                                              "gru"))


def answers_rule(exercises: Sequence[Exercise], functions: Sequence[Callable] = (),
                 starters: Sequence[Exercise] = ()) -> dict:
    """What of the package the child may import, for a learner writing ``exercises``.

    Open: every chapter up to the last one under test. Taken out of them: the ``functions``
    under test (and the exercises'), wherever a chapter holds them, and in the exercises' own
    chapters every function and class that no starter file (of ``starters``) imports.
    """
    tested = [*functions, *(f for e in exercises for f in e.functions)]
    own = {e.module.__name__ for e in exercises} | {f.__module__ for f in tested}
    # An exercise on the machinery after the chapters (chapter 8's training loop) may use
    # every chapter; its own module stays hidden with the rest of the package.
    last = max((CHAPTERS.index(m) if m in CHAPTERS else len(CHAPTERS) - 1 for m in own
                if m.startswith("charrnn_edu.") and not m.startswith("charrnn_edu.exercises.")),
               default=-1)
    imported = {(module, name.strip()) for e in starters for module, names in
                re.findall(r"from (charrnn_edu\.\w+) import (.+)", e.imports)
                for name in names.split(",")}
    remove = {}
    for module in CHAPTERS[:last + 1]:
        remove[module] = sorted(
            name for name, v in vars(importlib.import_module(module)).items()
            if any(v is f for f in tested) or (
                module in own and (inspect.isfunction(v) or inspect.isclass(v))
                and v.__module__ == module and (module, name) not in imported))
    return {"open": list(CHAPTERS[:last + 1]), "remove": remove}


class _Guard(importlib.abc.MetaPathFinder):
    """Refuses to find the package's modules that are not open to the learner."""

    def __init__(self, is_open: Callable[[str], bool]) -> None:
        self.is_open, self.refused = is_open, ""

    def refuse(self, what: str) -> Refused:
        self.refused = self.refused or (f"your code imports {what}, the package's answer (or "
                                        "its checks): write the exercise yourself, importing "
                                        "only what the starter file imports")
        return Refused(self.refused)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.startswith(PACKAGE + ".") and not self.is_open(name):
            raise self.refuse(name)


def hide_answers(rule: dict) -> _Guard:
    """Make the package's answers unimportable here; the guard remembers the first refusal.

    ``rule`` is an :func:`answers_rule`: the chapters that stay open lose the names it
    removes; the rest of the package is refused, and the functions of the hidden chapters
    already loaded (by :mod:`~charrnn_edu.exercises.wire`) are taken out of them.
    """
    whole, remove = set(rule["open"]), {m: set(n) for m, n in rule["remove"].items()}
    for module in sorted(whole):
        importlib.import_module(module)
    guard = _Guard(lambda name: ".".join(name.split(".")[:2]) in whole)
    for name, module in list(sys.modules.items()):
        if not name.startswith(PACKAGE + "."):
            continue
        if name in whole:
            for attr in remove.get(name, set()) & set(vars(module)):
                delattr(module, attr)
            module.__getattr__ = _refusing(guard, name, remove.get(name, set()))  # type: ignore
            continue
        if name in CHAPTERS:            # the child's own modules live on
            for attr, value in list(vars(module).items()):
                if inspect.isfunction(value) and value.__module__ == name:
                    delattr(module, attr)
        del sys.modules[name]
        parent = sys.modules.get(name.rsplit(".", 1)[0])
        if parent is not None and hasattr(parent, name.rsplit(".", 1)[1]):
            delattr(parent, name.rsplit(".", 1)[1])
    sys.meta_path.insert(0, guard)
    folder = str(Path(sys.modules[PACKAGE].__file__ or "").parent)

    def audit(event: str, args: tuple) -> None:
        # Reading a hidden chapter's source to run it is refused too.
        if event == "open" and isinstance(args[0], str) and \
                os.path.abspath(args[0]).startswith(folder + os.sep):
            raise PermissionError(f"{args[0]} is the package's, not the learner's")
    sys.addaudithook(audit)
    return guard


def _refusing(guard: _Guard, module: str, removed: set[str]) -> Callable[[str], Any]:
    def missing(attr: str) -> Any:
        if attr not in removed:
            raise AttributeError(f"module {module!r} has no attribute {attr!r}")
        raise guard.refuse(f"{module}.{attr}")
    return missing


def _where(err: BaseException, files: dict[str, str]) -> str:
    """``softmax.py, line 12: return e / s``: the innermost line of ``err`` in a learner's file."""
    # Only the learner's lines are looked up: the package's files are not theirs to read.
    frames = [(f.f_code.co_filename, line) for f, line in traceback.walk_tb(err.__traceback__)
              if f.f_code.co_filename in files]
    if not frames:
        return ""
    filename, lineno = frames[-1]
    text = linecache.getline(filename, lineno).strip()
    return f"{files[filename]}, line {lineno}" + (f": {text}" * bool(text))


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
    except (MemoryError, Refused):
        raise
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
    """The child's loop: confine itself, load the files, then run one call per request."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is the parent's to handle
    sys.dont_write_bytecode = True
    _send(response_fd, {"ready": True}, output_fd)
    request = _receive(request_fd)
    unconfined = confine(**request["confine"])
    guard = hide_answers(request["answers"])
    try:
        functions, files = _load(request["load"])
    except FileProblem as err:
        _send(response_fd, {"refused": guard.refused} if guard.refused else
              {"problem": str(err)}, output_fd)
        return
    except (MemoryError, Refused):
        _send(response_fd, {"refused": guard.refused} if guard.refused else
              {"memory": "importing your file"}, output_fd)
        return
    _send(response_fd, {"loaded": True, "unconfined": unconfined}, output_fd)
    while True:
        try:
            request = _receive(request_fd)
        except EOFError:
            return
        response = run_call(functions, files, request)
        if guard.refused:
            response = {"refused": guard.refused}
        elif response.get("raised", {}).get("kind") == "MemoryError":
            response = {"memory": f"running {request['call']}"}
        _send(response_fd, response, output_fd)


def main() -> None:
    """The child's entry point (see :data:`BOOT`)."""
    serve(*_own_stdio())


if __name__ == "__main__":
    main()
