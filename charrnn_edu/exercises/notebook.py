"""Grading inside a notebook: ``check("softmax", softmax)``, as otter-grader's ``grader.check``.

The functions are the notebook's own. Their source, with the imports and helpers they use,
is written to a file of a temporary folder and run in the same child process as
``charrnn exercises check``: an endless loop or a crash stops the child, not the notebook.
Where no child process can be started (a kernel in the browser), or a function's source
cannot be found, the checks run in the notebook's own process, and the verdict says so.
"""

from __future__ import annotations

import ast
import inspect
import sys
import tempfile
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from charrnn_edu.exercises.catalog import EXERCISES, find_exercise, signature_text, starter_filename
from charrnn_edu.exercises.feedback import format_report
from charrnn_edu.exercises.runner import DEFAULT_EXAMPLES, Report, run_checks
from charrnn_edu.exercises.sandbox import DEFAULT_TIMEOUT, FileProblem, InProcess, Sandbox, Stopped

__all__ = ["Verdict", "check", "source_of", "exercise_cells"]

IN_PROCESS = ("checked in this process ({why}): code that loops forever or crashes stops the "
              "notebook too")


@dataclass(frozen=True)
class Verdict:
    """What :func:`check` found; a notebook shows it as the text ``charrnn`` would print."""

    report: Report
    where: str

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return self.report.passed

    def __repr__(self) -> str:
        report = self.report
        lines = [f"exercise {report.exercise.name} (chapter {report.exercise.chapter}), "
                 f"{self.where}", "", *format_report(report), ""]
        if report.stopped:
            lines.append(f"stopped: {report.stopped}")
        elif report.passed:
            lines.append(f"All {len(report.results)} checks pass.")
        else:
            passed = sum(r.status == "pass" for r in report.results)
            lines.append(f"{passed} of {len(report.results)} checks pass.")
        return "\n".join(lines)


def source_of(functions: dict[str, Callable]) -> str:
    """A module holding ``functions`` under their keys: their source, imports and helpers.

    Raises
    ------
    OSError
        If a function's source cannot be found (defined at a prompt, or built-in).
    ValueError
        If a function uses a global that is not a module, a function, a class or a number
        or text: a file of its own could not recreate it.
    """
    header, bodies, seen = ["import numpy as np"], [], set()

    def add(function: Callable) -> None:
        if function.__name__ in seen:
            return
        seen.add(function.__name__)
        source = textwrap.dedent(inspect.getsource(function))
        # Prompts and doctests can leave linecache pointing at other lines: only the def.
        tree = ast.parse(source)
        if [(type(node), getattr(node, "name", "")) for node in tree.body] != [
                (ast.FunctionDef, function.__name__)]:
            raise OSError(f"the source found for {function.__name__} is not its def alone")
        bodies.append(source)
        code = function.__code__
        names = set(code.co_names) | {n for c in code.co_consts
                                      if isinstance(c, types.CodeType) for n in c.co_names}
        for name in sorted(names):
            if name not in function.__globals__ or not name.isidentifier():
                continue                # a builtin, an attribute name, a tool's own name
            value = function.__globals__[name]
            home = getattr(value, "__module__", None)
            if isinstance(value, types.ModuleType):
                header.append(f"import {value.__name__} as {name}")
            elif callable(value) and home == function.__module__:
                add(value)              # the notebook's own helper
            elif callable(value) and home:
                header.append(f"from {home} import {value.__name__} as {name}")
            elif isinstance(value, bool | int | float | str):
                header.append(f"{name} = {value!r}")
            else:
                raise ValueError(f"{function.__name__} uses the global {name}, a "
                                 f"{type(value).__name__}: make it an argument or a constant")

    for function in functions.values():
        add(function)
    aliases = [f"{key} = {f.__name__}" for key, f in functions.items() if key != f.__name__]
    return ("\n".join(dict.fromkeys(header)) + "\n\n\n" + "\n\n".join(bodies)
            + "".join(f"\n{line}" for line in aliases))


def _can_start_a_child() -> bool:
    return sys.platform not in ("emscripten", "wasi")


def check(name: str, *functions: Callable, examples: int = DEFAULT_EXAMPLES,
          timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """Grade the notebook's ``functions`` by the exercise ``name``'s checks and diagnoses.

    ``check("softmax", softmax)``; an exercise of several functions takes them all:
    ``check("encoding", vocabulary, encode, decode)``. Functions named otherwise are taken
    in the exercise's order: ``check("softmax", my_softmax)``.

    Raises
    ------
    ValueError
        If there is no such exercise, or a function it needs is not among ``functions``.
    """
    exercise = find_exercise(name)
    given = {f.__name__: f for f in functions}
    if not set(exercise.function_names) <= set(given) and len(functions) == len(given) == len(
            exercise.function_names):
        given = dict(zip(exercise.function_names, functions, strict=True))   # by position
    missing = [n for n in exercise.function_names if n not in given]
    if missing:
        raise ValueError(f"exercise {name} needs {', '.join(missing)}: call "
                         f"check({name!r}, {', '.join(exercise.function_names)})")
    wanted = {n: given[n] for n in exercise.function_names}
    why = "" if _can_start_a_child() else "no child process can be started here"
    source = ""
    if not why:
        try:
            source = source_of(wanted)
        except (OSError, SyntaxError, TypeError, ValueError) as err:
            why = f"the source of your code is not at hand: {err}"
    if why:
        return Verdict(run_checks(exercise, InProcess(given), examples),
                       IN_PROCESS.format(why=why))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / starter_filename(exercise)
        path.write_text(source, encoding="utf-8")
        try:
            with Sandbox([(path, exercise.functions)], timeout) as sandbox:
                report = run_checks(exercise, sandbox, examples)
        except (FileProblem, Stopped) as err:
            report = Report(exercise, stopped=str(err))
        except OSError as err:          # the platform refused to start the child
            return Verdict(run_checks(exercise, InProcess(given), examples),
                           IN_PROCESS.format(why=f"no child process: {err}"))
    return Verdict(report, "checked in a child process")


def exercise_cells(chapter: int | str) -> list[str]:
    """The code of the cells that end a chapter's notebook: each exercise, written and checked.

    Each cell holds the exercise's imports, its functions with a ``raise NotImplementedError``
    body to replace, and the ``check`` that grades them; run as it is, it says they wait.
    """
    cells = []
    for exercise in (e for e in EXERCISES if str(e.chapter) == str(chapter)):
        imports = ["import numpy as np", *exercise.imports.splitlines(),
                   "from charrnn_edu.exercises import check"]
        stubs = [f"def {signature_text(f)}:\n    # {exercise.title}: your code here"
                 f"\n    raise NotImplementedError"
                 for f in exercise.functions]
        call = f"check({exercise.name!r}, {', '.join(exercise.function_names)})"
        cells.append("\n".join(line for line in imports if line) + "\n\n\n"
                     + "\n\n\n".join(stubs) + "\n\n\n" + call)
    return cells
