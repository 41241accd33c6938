"""``charrnn lab``: a chapter with one classic mistake planted in it, to find and repair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from charrnn_edu.commands.common import RunError, call, typer_factory
from charrnn_edu.commands.learner import (
    TimeoutOption,
    ToOption,
    check_options,
    exercise_named,
    format_report,
    learner_file,
    open_sandbox,
    print_table,
    wrap,
    write_new,
)
from charrnn_edu.exercises.catalog import EXERCISES, MISTAKES, find_mistake, planted_source
from charrnn_edu.exercises.model import Exercise, Mistake
from charrnn_edu.exercises.runner import DEFAULT_EXAMPLES, run_checks
from charrnn_edu.exercises.sandbox import DEFAULT_TIMEOUT, Sandbox, Stopped
from charrnn_edu.forward import RNN
from charrnn_edu.gradcheck import check, table
from charrnn_edu.spec.properties import Case

app = typer_factory(
    name="lab",
    help="The bug lab: a copy of a chapter with one classic mistake planted in it, for you "
         "to find with the gradient check and repair.")


def _chapter_exercises(mistake: Mistake) -> list[Exercise]:
    return [e for e in EXERCISES if all(f.__module__ == mistake.module.__name__
                                         for f in e.functions)]


@app.command("list")
def lab_list(exercise: Annotated[str | None, typer.Argument(
        help="Only the mistakes of this exercise [default: all].", show_default=False)] = None
             ) -> None:
    """List the mistakes the lab can plant, with the chapter file each goes into."""
    if exercise is not None:
        exercise_named(exercise)
    print_table([(m.key, m.module.__name__.split(".")[-1] + ".py", m.equation, m.title)
                 for m in MISTAKES if exercise in (None, m.exercise)])
    typer.echo("\nPlant one in a copy of its chapter with: charrnn lab start NAME")


@app.command("start")
def lab_start(name: Annotated[str, typer.Argument(help="The mistake (see 'charrnn lab list').",
                                                  show_default=False)],
              to: ToOption = None) -> None:
    """Write a copy of the chapter with the mistake planted somewhere in it."""
    mistake = call(find_mistake, name)
    path = to or Path(f"lab_{mistake.key.replace('-', '_')}.py")
    chapter = mistake.module.__name__.replace(".", "/") + ".py"
    write_new(path, f"# charrnn lab: a copy of {chapter} with one classic mistake planted in "
              "it.\n# Find it with the gradient check and repair it; see how you are doing "
              f"with\n#   charrnn lab check {mistake.key} {path}\n" + planted_source(mistake),
              f"charrnn lab check {name}")
    typer.echo(f"wrote {path}, a copy of {chapter} with a bug in it. Find it (the gradient "
               f"check is your tool), fix it, then run\n  charrnn lab check {mistake.key} {path}")


def _gradient_check(sandbox: Sandbox) -> list[str]:
    """Chapter 5's table for the file's ``gradients``, with random h0."""
    problem = Case(seed=3, m=5, K=6, tau=8, sigma=0.5, random_h0=True).build()
    try:
        _, grads, _ = sandbox.call("gradients", *problem)
        rows = check(*problem, analytic=RNN(*(np.asarray(g, dtype=float) for g in grads)))
    except (Exception, Stopped) as err:
        return ["", f"gradient check: your gradients cannot be checked ({err})"]
    return ["", "gradient check of your gradients (chapter 5, random h0):",
            *(f"  {line}" for line in table(rows).splitlines())]


@app.command("check")
def lab_check(name: Annotated[str, typer.Argument(help="The mistake.", show_default=False)],
              file: Annotated[Path, typer.Argument(help="Your copy.", show_default=False)],
              hint: Annotated[bool, typer.Option("--hint", help="Say what the mistake is.")]
              = False,
              timeout: TimeoutOption = DEFAULT_TIMEOUT) -> None:
    """Check your copy of the chapter: every check of its exercises, and the gradient check.

    Exits 0 when the bug is gone (every check passes), 1 when it is not.
    """
    mistake = call(find_mistake, name)
    check_options(1, timeout)
    path = learner_file(file, f"charrnn lab start {name}")
    exercises = _chapter_exercises(mistake)
    lines, passed = [], True
    with open_sandbox([(path, tuple(f for e in exercises for f in e.functions))],
                      timeout) as box:
        for exercise in exercises:
            report = run_checks(exercise, box, DEFAULT_EXAMPLES)
            lines += ["", f"{exercise.name}:", *format_report(report, hints=hint)]
            passed = passed and report.passed
            if report.stopped:
                raise RunError(report.stopped)
        if any("gradients" in e.function_names for e in exercises):
            lines += _gradient_check(box)
    typer.echo("\n".join([f"lab {mistake.key}: checking {path}", *lines, ""]))
    if hint and not passed:
        typer.echo(f"hint: {mistake.title}, breaking {mistake.equation}\n{wrap(mistake.advice)}")
    if not passed:
        typer.echo("Not yet: a check still fails. The first wrong output is where to look.")
        raise typer.Exit(1)
    typer.echo("Fixed: every check passes.")
