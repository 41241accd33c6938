"""The ``charrnn exercises`` commands and ``charrnn lab``: where the exercises meet the shell.

Only this module prints. It follows the CLI's rules: every error is one line
``charrnn: error: ...`` on stderr with exit code 2 for a usage error (an unknown exercise, a
file that exists already, a learner's file that cannot be imported) and 1 for a run that did
not pass (a failed check, a mutation the lab did not catch). The checks need Hypothesis; it
is imported only by the commands that run them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from charrnn_edu.exercises.catalog import (
    EXERCISES,
    Exercise,
    find_exercise,
    starter_filename,
    starter_source,
)
from charrnn_edu.exercises.learner import LearnerFileError, load_functions
from charrnn_edu.exercises.progress import Progress, ProgressError

if TYPE_CHECKING:
    from charrnn_edu.exercises.lab import LabRow
    from charrnn_edu.exercises.runner import Report

__all__ = ["app", "lab"]

app = typer.Typer(
    name="exercises",
    help="Write each chapter's functions yourself and check them with the package's tests.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

WIDTH = 96
DEFAULT_EXAMPLES = 50     # as charrnn_edu.exercises.runner, which needs Hypothesis to import

ExamplesOption = Annotated[int, typer.Option(
    "--examples", help="Hypothesis examples per check (more: slower, more thorough).")]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"charrnn: error: {message}", err=True)
    raise typer.Exit(code)


def _exercise(name: str) -> Exercise:
    try:
        return find_exercise(name)
    except ValueError as err:
        _fail(str(err), 2)


def _progress() -> Progress:
    try:
        return Progress.load()
    except ProgressError as err:
        _fail(str(err), 2)


def _record(progress: Progress, name: str, file: Path, status: str, passed: int = 0,
            checks: int = 0) -> None:
    """Save where the learner stands; a progress file that cannot be written only warns."""
    try:
        progress.record(name, file, status, passed, checks)
    except OSError as err:
        typer.echo(f"charrnn: warning: cannot save your progress in {progress.path}: "
                   f"{err.strerror or err} (set CHARRNN_HOME to a writable folder)", err=True)


def _positive_examples(examples: int) -> None:
    if examples < 1:
        _fail(f"--examples must be at least 1, got {examples}", 2)


def _needs_hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ModuleNotFoundError:
        _fail("the checks need Hypothesis, which is not installed: pip install hypothesis "
              "(or pip install 'charrnn-edu[dev]')", 2)


def _wrap(text: str, indent: str = "  ") -> str:
    """``text`` filled to WIDTH, never breaking inside brackets.

    So code like ``o.max(axis=0, keepdims=True)`` stays on one line, ready to copy.
    """
    words, depth = [], 0
    for word in text.split():
        if depth > 0:
            words[-1] += " " + word
        else:
            words.append(word)
        opened = sum(word.count(c) for c in "([{") - sum(word.count(c) for c in ")]}")
        depth = max(0, depth + opened)
    # A bracketed group of plain words, or a long one, is prose: it may break between words.
    words = [part for word in words
             for part in ([word] if len(word) <= 60 and any(c in word for c in "=_.*/+[")
                          else word.split())]
    lines, line = [], indent
    for word in words:
        if line.strip() and len(line) + 1 + len(word) > WIDTH:
            lines.append(line)
            line = indent
        line += ("" if not line.strip() else " ") + word
    return "\n".join([*lines, line])


# ---------------------------------------------------------------- charrnn exercises list

@app.command("list")
def list_exercises() -> None:
    """List the exercises, chapter by chapter, with where you stand on each."""
    progress = _progress()
    rows = [(exercise.name, str(exercise.chapter), exercise.title, progress.status(exercise.name))
            for exercise in EXERCISES]
    header = ("exercise", "ch.", "what you write", "status")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                   + "  " + row[3])
    done = sum(progress.status(e.name).startswith("passed") for e in EXERCISES)
    typer.echo(f"\n{done} of {len(EXERCISES)} passed. Start one with: "
               "charrnn exercises start NAME")


# ---------------------------------------------------------------- charrnn exercises start

@app.command()
def start(
    name: Annotated[str, typer.Argument(help="The exercise (see 'charrnn exercises list').",
                                        show_default=False)],
    to: Annotated[Path | None, typer.Option(
        "--to", help="The file to write [default: NAME.py, with - as _, here].",
        show_default=False)] = None,
) -> None:
    """Write a starter file: the signature, the docstring with equations and shapes, no body."""
    exercise = _exercise(name)
    path = to or Path(starter_filename(exercise))
    if path.exists():
        _fail(f"{path} already exists and is left as it is: check it with 'charrnn exercises "
              f"check {exercise.name} {path}', or write a new one with --to OTHER.py", 2)
    if path.suffix != ".py":
        _fail(f"{path} is not a .py file: give a name ending in .py with --to", 2)
    progress = _progress()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as f:       # "x": never overwrite, even in a race
            f.write(starter_source(exercise, str(path)))
    except OSError as err:
        _fail(f"cannot write {path}: {err.strerror or err}", 2)
    _record(progress, exercise.name, path, "started")
    names = ", ".join(exercise.function_names)
    typer.echo(f"wrote {path}: write {names} in it, then run\n"
               f"  charrnn exercises check {exercise.name} {path}")


# ---------------------------------------------------------------- charrnn exercises check

def format_report(report: Report, path: Path | None = None) -> str:
    """The check's output: one line per check, failures with their example, then diagnoses."""
    exercise = report.exercise
    lines = [f"exercise {exercise.name} (chapter {exercise.chapter})"
             + (f": checking {path}" if path else ""), ""]
    width = max(len(r.check.name) for r in report.results)
    for result in report.results:
        mark = {"pass": "pass", "fail": "FAIL", "todo": "todo"}[result.status]
        lines.append(f"  {mark}  {result.check.name.ljust(width)}  {result.check.what}")
        if result.status == "fail":
            lines.append(_wrap(f"error: {result.error}", " " * 8))
            if result.example:
                label = "example" if result.check.strategy is None else "smallest failing example"
                lines.append(_wrap(f"{label}: {result.example}", " " * 8))
    lines.append("")
    if report.unimplemented:
        names = " and ".join(report.unimplemented)
        lines.append(_wrap(
            f"{names} {'is' if len(report.unimplemented) == 1 else 'are'} not implemented yet, "
            "and that is how every exercise starts. Open "
            f"{path or 'your file'}, replace the `raise NotImplementedError(...)` "
            "line with your code (its docstring says what to compute, with the shapes), and run "
            "this check again.", ""))
        lines.append("")
    for diagnosis in report.diagnoses:
        lines.append(f"diagnosis: {diagnosis.title}")
        lines.append(_wrap(diagnosis.advice))
        lines.append("")
    failed = len(report.failed())
    if any("[Case(" in r.example for r in report.results if r.status == "fail"):
        lines += ["To rerun an example [Case(...)] in Python:",
                  "  from charrnn_edu.exercises.properties import Case",
                  "  rnn, x, y, h0 = Case(...).build()", ""]
    total = len(report.results)
    if report.passed:
        lines.append(f"All {total} checks pass.")
    else:
        todo = sum(r.status == "todo" for r in report.results)
        passed = total - failed - todo
        lines.append(f"{passed} of {total} checks pass"
                     + (f"; {failed} failed" if failed else "")
                     + (f"; {todo} wait for your code" if todo else "") + ".")
    return "\n".join(lines)


@app.command()
def check(
    name: Annotated[str, typer.Argument(help="The exercise.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="Your file.", show_default=False)],
    examples: ExamplesOption = DEFAULT_EXAMPLES,
) -> None:
    """Run the package's own tests on your functions; explain what a failure usually means.

    Exits 0 when every check passes, 1 otherwise, 2 when the file cannot be imported.
    """
    exercise = _exercise(name)
    _positive_examples(examples)
    _needs_hypothesis()
    from charrnn_edu.exercises.runner import run_checks

    progress = _progress()
    try:
        functions = load_functions(exercise, file)
    except LearnerFileError as err:
        _fail(str(err), 2)
    report = run_checks(exercise, functions, examples)
    typer.echo(format_report(report, file))
    passed = sum(r.status == "pass" for r in report.results)
    _record(progress, exercise.name, file, "passed" if report.passed else "failing", passed,
            len(report.results))
    if report.passed:
        following = [e for e in EXERCISES[EXERCISES.index(exercise) + 1:]
                     if not progress.status(e.name).startswith("passed")]
        if following:
            typer.echo(f"Next: charrnn exercises start {following[0].name}")
        else:
            typer.echo("Every exercise after this one has passed too.")
        return
    raise typer.Exit(1)


# ---------------------------------------------------------------- charrnn lab

def format_lab(rows: list[LabRow]) -> str:
    """The lab's table: mutation, description, the check that caught it, the diagnosis.

    "caught by" names the check meant to catch the mutation, and how many others failed too.
    """
    header = ("mutation", "description", "caught by", "diagnosis")
    table: list[tuple[str, str, str, str] | str] = []
    for row in rows:
        if not table or row.mutation.exercise != rows[rows.index(row) - 1].mutation.exercise:
            table.append(f"{row.mutation.exercise}:")
        failed = row.report.failed()
        others = [name for name in failed if name != row.mutation.caught_by]
        if row.mutation.caught_by in failed:
            caught = row.mutation.caught_by + (f" (+{len(others)})" if others else "")
        else:
            caught = "MISSED" + (f" (only {', '.join(others)})" if others else "")
        intended = [d for d in row.report.diagnoses if d.key == row.mutation.diagnosis]
        diagnosis = intended[0].title if intended else (
            "MISSED" + "".join(f"; {d.title}" for d in row.report.diagnoses))
        table.append((f"  {row.mutation.name}", row.mutation.description, caught, diagnosis))
    cells = [header] + [line for line in table if isinstance(line, tuple)]
    widths = [max(len(line[i]) for line in cells) for i in range(3)]
    text = [line if isinstance(line, str)
            else "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)) + "  " + line[3]
            for line in [header, *table]]
    caught_count = sum(row.caught for row in rows)
    text.append(f"\n{caught_count} of {len(rows)} mutations caught by the intended check with the "
                "intended diagnosis; (+N): N more checks failed.")
    return "\n".join(text)


def lab(
    exercise: Annotated[str | None, typer.Argument(
        help="Only the mutations of this exercise [default: all].", show_default=False)] = None,
    examples: ExamplesOption = DEFAULT_EXAMPLES,
) -> None:
    """The bug lab: classic mistakes as small mutations of the package, and what catches them.

    Each mutation runs through its exercise's checks, as 'charrnn exercises check' would run a
    learner's file. Exits 1 if a mutation escapes its intended check or diagnosis.
    """
    chosen = None if exercise is None else _exercise(exercise)
    _positive_examples(examples)
    _needs_hypothesis()
    from charrnn_edu.exercises.lab import run_lab

    rows = run_lab(chosen, examples)
    typer.echo(format_lab(rows))
    if not all(row.caught for row in rows):
        raise typer.Exit(1)
