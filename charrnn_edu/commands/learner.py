"""What ``charrnn exercises`` and ``charrnn lab`` share: the learner's file, sandbox and verdict.

Every error is a :class:`~charrnn_edu.commands.common.UsageError` (exit 2: an unknown
exercise, a file that is missing or a directory, a file that exists already) or a
:class:`~charrnn_edu.commands.common.RunError` (exit 1: a failed check, a file that cannot be
imported, code that loops, exits or prints without end).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from charrnn_edu.commands.common import RunError, UsageError, call
from charrnn_edu.exercises.catalog import Exercise, find_exercise
from charrnn_edu.exercises.feedback import (  # noqa: F401  (the CLI's, from the exercises)
    WIDTH,
    format_report,
    wrap,
)
from charrnn_edu.exercises.sandbox import FileProblem, Sandbox, Stopped

TimeoutOption = Annotated[float, typer.Option(
    "--timeout", help="Seconds your code may run, in all, before it is stopped.")]
ToOption = Annotated[Path | None, typer.Option(
    "--to", help="The file to write [default: a name of its own, here].", show_default=False)]


def exercise_named(name: str) -> Exercise:
    """The exercise called ``name``, or a UsageError that lists them."""
    return call(find_exercise, name)


# Beyond these a check would run for hours (examples) or a time limit would never come; the
# operating system's timers refuse larger waits anyway.
MAX_EXAMPLES, MAX_TIMEOUT = 10_000, 86_400.0


def check_options(examples: int = 1, timeout: float = 1.0) -> None:
    """Refuse an example count or a timeout out of bounds.

    At least one example and at most MAX_EXAMPLES; a positive number of seconds up to
    MAX_TIMEOUT (a day).
    """
    if examples < 1:
        raise UsageError(f"--examples must be at least 1, got {examples}")
    if examples > MAX_EXAMPLES:
        raise UsageError(f"--examples must be at most {MAX_EXAMPLES:,}, got {examples:,}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")
    if timeout > MAX_TIMEOUT:
        raise UsageError(f"--timeout must be at most {MAX_TIMEOUT:,.0f} seconds (a day), got "
                         f"{timeout:g}")


def learner_file(path: Path, start: str) -> Path:
    """``path`` if it is a readable UTF-8 file; else a one-line error."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory: give the .py file in it to check")
    if path.exists() and not path.is_file():
        raise UsageError(f"{path} is not a regular file: give your .py file")
    if not path.is_file():
        raise UsageError(f"{path} does not exist: create it with '{start} --to {path}'")
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise RunError(f"{path} is not UTF-8 text (byte {err.start}): save it as UTF-8") from None
    except OSError as err:
        raise UsageError(f"{path} cannot be read: {err.strerror or err}") from None
    return path


def open_sandbox(files: list[tuple[Path, tuple]], timeout: float) -> Sandbox:
    """The child process that imports the learner's ``files``; a file that fails is a RunError."""
    try:
        return Sandbox(files, timeout)
    except (FileProblem, Stopped) as err:
        raise RunError(str(err)) from None


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Rows in columns as wide as their widest cell; the last column as it comes."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  "
                   + row[-1])


def write_new(path: Path, text: str, check: str) -> None:
    """Write ``text`` to a new .py file; one that exists is left as it is."""
    if path.exists():
        raise UsageError(f"{path} already exists and is left as it is: check it with "
                         f"'{check} {path}', or write a new one with --to OTHER.py")
    if path.suffix != ".py":
        raise UsageError(f"{path} is not a .py file: give a name ending in .py with --to")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as f:       # "x": never overwrite, even in a race
            f.write(text)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
