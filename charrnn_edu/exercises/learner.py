"""Loading a learner's file: its functions, or one line that says what is wrong with it.

The file is imported with importlib from its path, under a module name of its own, with its
folder on ``sys.path`` while it runs (so it may import files beside it) and without writing
``__pycache__`` there. Every way a file can fail to give the exercise's functions (missing,
not UTF-8, a syntax error, an exception while it runs, a function missing or with the wrong
parameters) becomes a :class:`LearnerFileError` whose message is one line naming the file,
the line where it can, and the fix.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from charrnn_edu.exercises.catalog import Exercise, Function, signature_text

__all__ = ["LearnerFileError", "load_functions"]


class LearnerFileError(Exception):
    """The learner's file cannot give the exercise's functions (a usage error: exit code 2)."""


def _line_in(err: BaseException, path: Path) -> str:
    """``, line N`` of the innermost frame of ``err``'s traceback that is in ``path``."""
    lines = [frame.lineno for frame in traceback.extract_tb(err.__traceback__)
             if Path(frame.filename).resolve() == path.resolve()]
    return f", line {lines[-1]}" if lines else ""


def _import(path: Path, module_name: str) -> object:
    spec = importlib.util.spec_from_file_location(module_name, path.resolve())
    if spec is None or spec.loader is None:
        raise LearnerFileError(f"{path} cannot be imported: give a .py file")
    module = importlib.util.module_from_spec(spec)
    folder, write_bytecode = str(path.resolve().parent), sys.dont_write_bytecode
    sys.path.insert(0, folder)
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        where = f", line {err.lineno}" if err.lineno else ""
        text = f": {err.text.strip()}" if err.text and err.text.strip() else ""
        raise LearnerFileError(f"{path}{where}: syntax error, {err.msg}{text}") from None
    except (Exception, SystemExit) as err:     # whatever the file does when it runs
        message = " ".join(str(err).split()) or "(no message)"
        raise LearnerFileError(
            f"{path}{_line_in(err, path)}: running the file raised {type(err).__name__}: "
            f"{message} (code outside the functions runs when the file is imported)") from None
    finally:
        sys.dont_write_bytecode = write_bytecode
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _check_signature(path: Path, function: Function, found: Callable) -> None:
    """Raise unless ``found`` can be called as the checks call the reference."""
    expected = inspect.signature(function.reference)
    try:
        actual = inspect.signature(found)
    except (TypeError, ValueError):
        return                                  # a builtin or C function: let the checks try
    parameters = list(expected.parameters.values())
    required = [p for p in parameters if p.default is p.empty]
    try:
        actual.bind(*parameters)                # every argument by position, as the checks do
        actual.bind(*required)
    except TypeError:
        raise LearnerFileError(
            f"{path}: {function.name}{actual} does not take the exercise's parameters; write "
            f"it as def {signature_text(function.reference, width=None)}") from None


def load_functions(exercise: Exercise, path: str | Path) -> dict[str, Callable]:
    """Import ``path`` and return the exercise's functions defined in it, by name.

    Raises
    ------
    LearnerFileError
        One line naming what is wrong and how to fix it.
    """
    path = Path(path)                           # as the learner wrote it, for the messages
    if not path.is_file():
        raise LearnerFileError(f"{path} does not exist: create it with 'charrnn exercises start "
                               f"{exercise.name} --to {path.name}'")
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise LearnerFileError(f"{path} is not UTF-8 text (byte {err.start}): save it as "
                               "UTF-8") from None
    except OSError as err:
        raise LearnerFileError(f"{path} cannot be read: {err.strerror or err}") from None
    module = _import(path, f"charrnn_exercise_{exercise.name.replace('-', '_')}")
    functions = {}
    for function in exercise.functions:
        found = getattr(module, function.name, None)
        if found is None:
            raise LearnerFileError(f"{path} defines no {function.name}: the exercise needs "
                                   f"def {signature_text(function.reference, width=None)}")
        if not callable(found):
            raise LearnerFileError(f"{path}: {function.name} is {found!r}, not a function")
        _check_signature(path, function, found)
        functions[function.name] = found
    return functions
