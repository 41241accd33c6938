"""The ``charrnn exercises`` and ``charrnn lab`` commands: where the exercises meet the shell.

Only this module prints. Every error is one line ``charrnn: error: ...`` on stderr, with exit
code 2 for a usage error (an unknown exercise, a file that is missing or a directory, a
file that exists already) and 1 for a run that did not pass (a failed check, a file that
cannot be imported, code that loops, exits or prints without end).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer

from charrnn_edu.exercises.catalog import (
    EXERCISES,
    MISTAKES,
    find_exercise,
    find_mistake,
    planted_source,
    starter_filename,
    starter_source,
)
from charrnn_edu.exercises.model import Exercise, Mistake
from charrnn_edu.exercises.progress import Progress, ProgressError
from charrnn_edu.exercises.runner import DEFAULT_EXAMPLES, Report, run_checks
from charrnn_edu.exercises.sandbox import (
    DEFAULT_TIMEOUT,
    FileProblem,
    LearnerError,
    Sandbox,
    Stopped,
)
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.gradcheck import complex_step_gradients, relative_error
from charrnn_edu.spec.properties import Case

__all__ = ["app", "lab"]

app = typer.Typer(
    name="exercises",
    help="Write each chapter's functions yourself and check them with the package's tests.\n\n"
         "Your code runs in a separate process with a time limit; the checks compare its "
         "results with the package's. Your progress (the file of each exercise and its last "
         "verdict) is kept in $CHARRNN_HOME/exercises.json, by default "
         "~/.charrnn/exercises.json; set CHARRNN_HOME to keep it elsewhere.",
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    rich_markup_mode=None)
lab = typer.Typer(
    name="lab",
    help="The bug lab: a copy of a chapter with one classic mistake planted in it, for you "
         "to find with the gradient check and repair.",
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    rich_markup_mode=None)

WIDTH = 96
ExamplesOption = Annotated[int, typer.Option(
    "--examples", help="Hypothesis examples per check (more: slower, more thorough).")]
TimeoutOption = Annotated[float, typer.Option(
    "--timeout", help="Seconds your code may run, in all, before it is stopped.")]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"charrnn: error: {message}", err=True)
    raise typer.Exit(code)


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


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


def _options(examples: int = 1, timeout: float = 1.0) -> None:
    if examples < 1:
        _fail(f"--examples must be at least 1, got {examples}", 2)
    if not (timeout > 0 and math.isfinite(timeout)):
        _fail(f"--timeout must be a positive number of seconds, got {timeout}", 2)


def _learner_file(path: Path, start: str) -> Path:
    """``path`` if it is a readable UTF-8 file; else a one-line error."""
    if path.is_dir():
        _fail(f"{path} is a directory: give the .py file in it to check", 2)
    if path.exists() and not path.is_file():
        _fail(f"{path} is not a regular file: give your .py file", 2)
    if not path.is_file():
        _fail(f"{path} does not exist: create it with '{start} --to {path}'", 2)
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        _fail(f"{path} is not UTF-8 text (byte {err.start}): save it as UTF-8", 1)
    except OSError as err:
        _fail(f"{path} cannot be read: {err.strerror or err}", 2)
    return path


def _sandbox(files: list[tuple[Path, tuple]], timeout: float) -> Sandbox:
    try:
        return Sandbox(files, timeout)
    except (FileProblem, Stopped) as err:
        _fail(str(err), 1)


def format_report(report: Report, hints: bool = True) -> list[str]:
    """One line per check, a failure with its smallest example, then what it points to."""
    lines, width = [], max(len(r.check.name) for r in report.results) if report.results else 0
    for result in report.results:
        mark = {"pass": "pass", "fail": "FAIL", "todo": "todo"}[result.status]
        lines.append(f"  {mark}  {result.check.name.ljust(width)}  {result.check.what}")
        if result.status == "fail":
            lines.append(_wrap(f"error: {result.error}", " " * 8))
            if result.example:
                label = "example" if result.check.strategy is None else "smallest failing example"
                lines.append(_wrap(f"{label}: {result.example}", " " * 8))
    todo = sorted({r.error for r in report.results if r.status == "todo"})
    if todo:
        lines += ["", _wrap(f"{' and '.join(todo)} {'is' if len(todo) == 1 else 'are'} not "
                            "written yet, and that is how every exercise starts: replace the "
                            "`raise NotImplementedError(...)` line with your code (its "
                            "docstring says what to compute, with the shapes) and check again.",
                            "")]
    if hints:
        for mistake in report.diagnoses:
            lines += ["", f"diagnosis: {mistake.title}, breaking {mistake.equation}",
                      _wrap(mistake.advice)]
        notes = {"none": "returned None: is a `return` missing at its end?",
                 "nan": "returned nan or inf for finite inputs: look for exp of a large "
                        "number, log of 0, or 0 / 0."}
        for kind, name in report.notes.items():
            lines += ["", _wrap(f"note: {name} {notes[kind]}", "")]
    if any("[Case(" in r.example for r in report.results if r.status == "fail"):
        step = report.exercise.name == "backward-step"
        lines += ["", "To rerun an example [Case(...)] in Python:",
                  "  from charrnn_edu.spec.properties import Case",
                  *(["  from charrnn_edu.exercises.ch4_bptt import step_problem",
                     "  rnn, cache, y_t, da_next = step_problem(Case(...))"]
                    if step else ["  rnn, x, y, h0 = Case(...).build()"])]
    return lines


def _printed(sandbox: Sandbox) -> list[str]:
    text = bytes(sandbox.printed).decode("utf-8", "replace").splitlines()
    if not text:
        return []
    more = f" (first 10 of {len(text)} lines)" if len(text) > 10 else ""
    return ["", f"your code printed{more}:", *(f"  | {line}" for line in text[:10])]


# ---------------------------------------------------------------- charrnn exercises

def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  "
                   + row[-1])


@app.command("list")
def list_exercises() -> None:
    """List the exercises, chapter by chapter, with where you stand on each."""
    progress = _progress()
    _table([("exercise", "ch.", "what you write", "status"),
            *((e.name, str(e.chapter), e.title, progress.status(e.name)) for e in EXERCISES)])
    done = sum(progress.status(e.name).startswith("passed") for e in EXERCISES)
    typer.echo(f"\n{done} of {len(EXERCISES)} passed. Start one with: "
               "charrnn exercises start NAME")


def _write_new(path: Path, text: str, check: str) -> None:
    if path.exists():
        _fail(f"{path} already exists and is left as it is: check it with '{check} {path}', "
              "or write a new one with --to OTHER.py", 2)
    if path.suffix != ".py":
        _fail(f"{path} is not a .py file: give a name ending in .py with --to", 2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as f:       # "x": never overwrite, even in a race
            f.write(text)
    except OSError as err:
        _fail(f"cannot write {path}: {err.strerror or err}", 2)


ToOption = Annotated[Path | None, typer.Option(
    "--to", help="The file to write [default: a name of its own, here].", show_default=False)]


@app.command()
def start(name: Annotated[str, typer.Argument(help="The exercise (see 'charrnn exercises "
                                                   "list').", show_default=False)],
          to: ToOption = None) -> None:
    """Write a starter file: the equations, imports, signature and docstring, no body."""
    exercise = _exercise(name)
    path = to or Path(starter_filename(exercise))
    progress = _progress()
    _write_new(path, starter_source(exercise, str(path)), f"charrnn exercises check {name}")
    _record(progress, exercise.name, path, "started")
    typer.echo(f"wrote {path}: write {', '.join(exercise.function_names)} in it, then run\n"
               f"  charrnn exercises check {exercise.name} {path}")


@app.command()
def check(name: Annotated[str, typer.Argument(help="The exercise.", show_default=False)],
          file: Annotated[Path, typer.Argument(help="Your file.", show_default=False)],
          examples: ExamplesOption = DEFAULT_EXAMPLES,
          timeout: TimeoutOption = DEFAULT_TIMEOUT) -> None:
    """Run the package's own tests on your functions; name the mistake behind a failure.

    Exits 0 when every check passes, 1 when one fails or your code cannot run, 2 for a usage
    error.
    """
    exercise = _exercise(name)
    _options(examples, timeout)
    path = _learner_file(file, f"charrnn exercises start {name}")
    progress = _progress()
    with _sandbox([(path, exercise.functions)], timeout) as sandbox:
        report = run_checks(exercise, sandbox, examples)
        printed = _printed(sandbox)
    typer.echo("\n".join([f"exercise {exercise.name} (chapter {exercise.chapter}): checking "
                          f"{path}", "", *format_report(report), *printed, ""]))
    passed = sum(r.status == "pass" for r in report.results)
    _record(progress, exercise.name, path, "passed" if report.passed else "failing", passed,
            len(report.results))
    if report.stopped:
        _fail(report.stopped, 1)
    if not report.passed:
        todo = sum(r.status == "todo" for r in report.results)
        failed = len(report.failed())
        typer.echo(f"{passed} of {len(report.results)} checks pass"
                   + (f"; {failed} failed" if failed else "")
                   + (f"; {todo} wait for your code" if todo else "") + ".")
        raise typer.Exit(1)
    typer.echo(f"All {len(report.results)} checks pass.")
    following = [e for e in EXERCISES[EXERCISES.index(exercise) + 1:]
                 if not progress.status(e.name).startswith("passed")]
    typer.echo(f"Next: charrnn exercises start {following[0].name}" if following
               else "Every exercise after this one has passed too.")


@app.command()
def train(iterations: Annotated[int, typer.Option("--iterations", help="Iterations to train.")]
          = 5000,
          every: Annotated[int, typer.Option("--every", help="Show the losses and samples "
                                             "every this many iterations.")] = 1000,
          folder: Annotated[Path | None, typer.Option(
              "--folder", help="Take your files from here, by their starter names "
              "[default: the files you last checked].", show_default=False)] = None,
          timeout: TimeoutOption = DEFAULT_TIMEOUT) -> None:
    """Train the network with your own bptt (or step) and adagrad functions, next to the package.

    Slow: your functions run one call at a time in a separate process. Your files are
    checked first; a failing check stops here with its diagnosis.
    """
    from charrnn_edu.exercises.train import ROUTES, train_side_by_side
    _options(1, timeout)
    if iterations < 1 or every < 1:
        _fail(f"--iterations and --every must be at least 1, got {iterations} and {every}", 2)
    progress = _progress()

    def file_of(name: str) -> Path:
        entry = progress.entries.get(name)
        return (folder / starter_filename(find_exercise(name)) if folder is not None
                else Path(entry.file) if entry else Path(starter_filename(find_exercise(name))))

    route = next((r for r in ROUTES if all(file_of(n).is_file() for n in r)), None)
    if route is None:
        _fail("no files to train with: pass the exercises bptt (or forward-step and "
              "backward-step) and adagrad first, or give their folder with --folder", 2)
    exercises = [find_exercise(n) for n in route]
    with _sandbox([(file_of(e.name), e.functions) for e in exercises], timeout) as sandbox:
        for exercise in exercises:
            report = run_checks(exercise, sandbox, 20)
            if not report.passed:
                typer.echo("\n".join([f"exercise {exercise.name}: {file_of(exercise.name)} does "
                                      "not pass its checks yet", "", *format_report(report)]))
                _fail(report.stopped or f"train needs {exercise.name} to pass first", 1)
        typer.echo(f"training with {', '.join(str(file_of(n)) for n in route)} and, beside it, "
                   f"the package, on {default_corpus().name}")
        names = tuple(n for e in exercises for n in e.function_names)
        try:
            for moment in train_side_by_side(sandbox.namespace(names),
                                             read_text(default_corpus()), iterations, every,
                                             before_call=sandbox.renew):
                typer.echo(f"\niteration {moment.iteration:,}: smooth loss {moment.yours:.3f} "
                           f"yours, {moment.package:.3f} the package's")
                for who, text in (("yours", moment.your_sample),
                                  ("package", moment.package_sample)):
                    typer.echo(f"  {who:8s}{text.replace(chr(10), ' / ')}")
        except (Exception, Stopped) as err:     # the learner's code may raise anything
            _fail(str(err) if isinstance(err, LearnerError | Stopped | FloatingPointError)
                  else f"{type(err).__name__}: {err}", 1)


# ---------------------------------------------------------------- charrnn lab

def _chapter_exercises(mistake: Mistake) -> list[Exercise]:
    return [e for e in EXERCISES if all(f.__module__ == mistake.module.__name__
                                         for f in e.functions)]


@lab.command("list")
def lab_list(exercise: Annotated[str | None, typer.Argument(
        help="Only the mistakes of this exercise [default: all].", show_default=False)] = None
             ) -> None:
    """List the mistakes the lab can plant, with the chapter file each goes into."""
    if exercise is not None:
        _exercise(exercise)
    _table([(m.key, m.module.__name__.split(".")[-1] + ".py", m.equation, m.title)
            for m in MISTAKES if exercise in (None, m.exercise)])
    typer.echo("\nPlant one in a copy of its chapter with: charrnn lab start NAME")


@lab.command("start")
def lab_start(name: Annotated[str, typer.Argument(help="The mistake (see 'charrnn lab list').",
                                                  show_default=False)],
              to: ToOption = None) -> None:
    """Write a copy of the chapter with the mistake planted somewhere in it."""
    try:
        mistake = find_mistake(name)
    except ValueError as err:
        _fail(str(err), 2)
    path = to or Path(f"lab_{mistake.key.replace('-', '_')}.py")
    chapter = mistake.module.__name__.replace(".", "/") + ".py"
    _write_new(path, f"# charrnn lab: a copy of {chapter} with one classic mistake planted in "
               "it.\n# Find it with the gradient check and repair it; see how you are doing "
               f"with\n#   charrnn lab check {mistake.key} {path}\n" + planted_source(mistake),
               f"charrnn lab check {name}")
    typer.echo(f"wrote {path}, a copy of {chapter} with a bug in it. Find it (the gradient "
               f"check is your tool), fix it, then run\n  charrnn lab check {mistake.key} {path}")


def _gradient_check(sandbox: Sandbox) -> list[str]:
    """Chapter 5's table for the file's ``gradients``: complex step, random h0."""
    problem = Case(seed=3, m=5, K=6, tau=8, sigma=0.5, random_h0=True).build()
    try:
        _, grads, _ = sandbox.call("gradients", *problem)
        rows = [(n, float(np.max(relative_error(np.asarray(g), e)))) for n, g, e in
                zip("bcUWV", grads, complex_step_gradients(*problem), strict=True)]
    except (Exception, Stopped) as err:
        return ["", f"gradient check: your gradients cannot be checked ({err})"]
    return ["", "gradient check of your gradients against complex-step derivatives (chapter 5,"
            " random h0):", *(f"  d{n}  max relative error {e:.2e}  {'ok' if e < 1e-7 else 'WRONG'}"
                              for n, e in rows)]


@lab.command("check")
def lab_check(name: Annotated[str, typer.Argument(help="The mistake.", show_default=False)],
              file: Annotated[Path, typer.Argument(help="Your copy.", show_default=False)],
              hint: Annotated[bool, typer.Option("--hint", help="Say what the mistake is.")]
              = False,
              timeout: TimeoutOption = DEFAULT_TIMEOUT) -> None:
    """Check your copy of the chapter: every check of its exercises, and the gradient check.

    Exits 0 when the bug is gone (every check passes), 1 when it is not.
    """
    try:
        mistake = find_mistake(name)
    except ValueError as err:
        _fail(str(err), 2)
    _options(1, timeout)
    path = _learner_file(file, f"charrnn lab start {name}")
    exercises = _chapter_exercises(mistake)
    lines, passed = [], True
    with _sandbox([(path, tuple(f for e in exercises for f in e.functions))], timeout) as box:
        for exercise in exercises:
            report = run_checks(exercise, box, DEFAULT_EXAMPLES)
            lines += ["", f"{exercise.name}:", *format_report(report, hints=hint)]
            passed = passed and report.passed
            if report.stopped:
                _fail(report.stopped, 1)
        if any("gradients" in e.function_names for e in exercises):
            lines += _gradient_check(box)
    typer.echo("\n".join([f"lab {mistake.key}: checking {path}", *lines, ""]))
    if hint and not passed:
        typer.echo(f"hint: {mistake.title}, breaking {mistake.equation}\n{_wrap(mistake.advice)}")
    if not passed:
        typer.echo("Not yet: a check still fails. The first wrong output is where to look.")
        raise typer.Exit(1)
    typer.echo("Fixed: every check passes.")
