"""``charrnn exercises``: write each chapter's functions yourself and check them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from charrnn_edu import files
from charrnn_edu.commands.common import RunError, UsageError, call, printable, typer_factory
from charrnn_edu.commands.learner import (
    TimeoutOption,
    ToOption,
    check_options,
    exercise_named,
    format_report,
    learner_file,
    open_sandbox,
    print_table,
    write_new,
)
from charrnn_edu.commands.options import (
    FUNCTION_HELP,
    LAYOUT_HELP,
    MAX_HIDDEN,
    SEED,
    Layout,
    Loss,
    bounded,
    figure_file,
)
from charrnn_edu.exercises.catalog import EXERCISES, find_exercise, starter_filename, starter_source
from charrnn_edu.exercises.progress import Progress, ProgressError
from charrnn_edu.exercises.runner import DEFAULT_EXAMPLES, run_checks
from charrnn_edu.exercises.sandbox import DEFAULT_TIMEOUT, LearnerError, Sandbox, Stopped
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.settings import Settings

app = typer_factory(
    name="exercises",
    help="Write each chapter's functions yourself and check them with the package's tests.\n\n"
         "Your code runs in a separate process with a time limit; the checks compare its "
         "results with the package's. Your progress (the file of each exercise and its last "
         "verdict) is kept in $CHARRNN_HOME/exercises.json, by default "
         "~/.charrnn/exercises.json; set CHARRNN_HOME to keep it elsewhere.")

ExamplesOption = Annotated[int, typer.Option(
    "--examples", help="Hypothesis examples per check (more: slower, more thorough).")]


def _progress() -> Progress:
    try:
        return Progress.load()
    except ProgressError as err:
        raise UsageError(str(err)) from None


def _record(progress: Progress, name: str, file: Path, status: str, passed: int = 0,
            checks: int = 0) -> None:
    """Save where the learner stands; a progress file that cannot be written only warns."""
    try:
        progress.record(name, file, status, passed, checks)
    except ProgressError as err:
        typer.echo(f"charrnn: warning: cannot save your progress: {err}", err=True)
    except OSError as err:
        typer.echo(f"charrnn: warning: cannot save your progress in {progress.path}: "
                   f"{err.strerror or err} (set CHARRNN_HOME to a writable folder)", err=True)


def _printed(sandbox: Sandbox) -> list[str]:
    text = bytes(sandbox.printed).decode("utf-8", "replace").splitlines()
    if not text:
        return []
    more = f" (first 10 of {len(text)} lines)" if len(text) > 10 else ""
    return ["", f"your code printed{more}:", *(f"  | {printable(line, one_line=True)}"
                                                for line in text[:10])]


@app.command("list")
def list_exercises() -> None:
    """List the exercises, chapter by chapter, with where you stand on each."""
    progress = _progress()
    print_table([("exercise", "ch.", "what you write", "status"),
                 *((e.name, str(e.chapter), e.title, progress.status(e.name))
                   for e in EXERCISES)])
    done = sum(progress.status(e.name).startswith("passed") for e in EXERCISES)
    typer.echo(f"\n{done} of {len(EXERCISES)} passed. Start one with: "
               "charrnn exercises start NAME")


@app.command()
def start(name: Annotated[str, typer.Argument(help="The exercise (see 'charrnn exercises "
                                                   "list').", show_default=False)],
          to: ToOption = None) -> None:
    """Write a starter file: the equations, imports, signature and docstring, no body."""
    exercise = exercise_named(name)
    path = to or Path(starter_filename(exercise))
    progress = _progress()
    write_new(path, starter_source(exercise, str(path)), f"charrnn exercises check {name}")
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
    exercise = exercise_named(name)
    check_options(examples, timeout)
    path = learner_file(file, f"charrnn exercises start {name}")
    progress = _progress()
    with open_sandbox([(path, exercise.functions)], timeout) as sandbox:
        report = run_checks(exercise, sandbox, examples)
        printed = _printed(sandbox)
    typer.echo("\n".join([f"exercise {exercise.name} (chapter {exercise.chapter}): checking "
                          f"{path}", "", *format_report(report), *printed, ""]))
    passed = sum(r.status == "pass" for r in report.results)
    _record(progress, exercise.name, path, "passed" if report.passed else "failing", passed,
            len(report.results))
    if report.stopped:
        raise RunError(report.stopped)
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


YOURS_ONLY = ("function", "step", "layout", "loss")
"""The options of ``train --yours``: they describe the learner's own code."""


@app.command()
def train(ctx: typer.Context,
          iterations: Annotated[int, typer.Option("--iterations", help="Iterations to train.")]
          = 5000,
          every: Annotated[int, typer.Option("--every", help="Show the losses and a sample "
                                             "every this many iterations.")] = 1000,
          folder: Annotated[Path | None, typer.Option(
              "--folder", help="Take your files from here, by their starter names "
              "[default: the files you last checked].", show_default=False)] = None,
          optimizer: Annotated[str, typer.Option(
              "--optimizer", help="adagrad (the report's: summed loss) or adam (the 2026 "
              "edition's preset: mean loss, scaled initialisation, eta 0.001).")] = "adagrad",
          timeout: TimeoutOption = DEFAULT_TIMEOUT,
          yours: Annotated[Path | None, typer.Option(
              "--yours", help="Train your own loss_and_gradients(params, x, y, h0) -> (loss, "
              "grads) and optimiser step in this .py file instead, in your --layout and "
              "--loss (see docs: Check your own code).", show_default=False)] = None,
          function: Annotated[str, typer.Option("--function", help=FUNCTION_HELP)]
          = "loss_and_gradients",
          step: Annotated[str | None, typer.Option(
              "--step", help="The name of your optimiser step in the --yours file: "
              "step(params, grads, memory, eta, eps) for adagrad, step(params, grads, first, "
              "second, t, eta, beta1, beta2, eps) for adam, changing params and the state "
              "in place [default: adagrad_step or adam_step].", show_default=False)] = None,
          layout: Annotated[Layout, typer.Option("--layout", help=LAYOUT_HELP)]
          = Layout.columns,
          loss: Annotated[Loss | None, typer.Option(
              "--loss", help="Your loss over the tau steps: the sum (3.1) or the mean "
              "[default: sum with adagrad, mean with adam].", show_default=False)] = None,
          hidden: Annotated[int | None, typer.Option(
              "--hidden", "--m", help=f"Hidden size m [default: {Settings().hidden}].",
              show_default=False, callback=bounded(1, MAX_HIDDEN))] = None,
          seq_length: Annotated[int | None, typer.Option(
              "--seq-length", help=f"Sequence length tau [default: {Settings().seq_length}].",
              show_default=False, callback=bounded(1))] = None,
          seed: Annotated[int | None, typer.Option(
              "--seed", help=f"Seed of the initial parameters [default: {Settings().seed}].",
              show_default=False, callback=SEED)] = None,
          plot: Annotated[Path | None, typer.Option(
              "--plot", help="Also run your code free, never set back to the package's, and "
              "draw its smooth loss beside the package's in this .png, .svg or .pdf "
              "(twice the calls).", show_default=False)] = None) -> None:
    """Train with your own bptt (or step) and adagrad (or adam), in lockstep with the package.

    At every iteration your step and the package's start from the same parameters, and
    what is compared is that one step, every array within rounding of the package's. Exits
    0 when every step agrees, 1 at the first that does not (naming the iteration and the
    array). Slow: your functions run one call at a time in a separate process. Your files
    are checked first; a failing check stops here with its diagnosis. With --yours, your
    own code as you wrote it, in your layout and loss, is trained instead.
    """
    from charrnn_edu.exercises.own_code import YourCode, contracts
    from charrnn_edu.exercises.train import routes
    from charrnn_edu.settings import PRESETS
    from charrnn_edu.training import too_short
    check_options(1, timeout)
    if iterations < 1 or every < 1:
        raise UsageError(f"--iterations and --every must be at least 1, got {iterations} and "
                         f"{every}")
    if optimizer not in ("adagrad", "adam"):
        raise UsageError(f"--optimizer must be adagrad or adam, got {optimizer!r}")
    typed = [f"--{n}" for n in YOURS_ONLY if ctx.get_parameter_source(n).name == "COMMANDLINE"]
    if yours is None and typed:
        raise UsageError(f"{', '.join(typed)} go with --yours FILE")
    if yours is not None and folder is not None:
        raise UsageError("--folder takes your exercise files; --yours FILE your own code: "
                         "give one of them")
    preset = PRESETS["classic" if optimizer == "adagrad" else "2026"]
    chosen = {k: v for k, v in (("hidden", hidden), ("seq_length", seq_length), ("seed", seed),
                                ("loss", loss and loss.value)) if v is not None}
    settings = replace(preset, **chosen)
    if plot is not None:
        figure_file("--plot", plot)
    text = read_text(default_corpus())
    if (short := too_short(len(text), settings)) is not None:
        raise UsageError(f"{default_corpus().name} has {short[0]:,} characters; --seq-length "
                         f"{settings.seq_length} needs {short[1]:,}")
    if yours is not None:
        if not yours.is_file():
            what = "is a directory" if yours.is_dir() else "does not exist"
            raise UsageError(f"--yours {yours} {what}: give the .py file that defines "
                             f"{function} and your {optimizer} step")
        path = learner_file(yours, "charrnn exercises start")
        for flag, name in (("--function", function), ("--step", step)):
            if name is not None and not name.isidentifier():
                raise UsageError(f"{flag} {name!r} is not a Python name")
        pair = contracts(function, step, optimizer)
        with open_sandbox([(path, pair)], timeout) as sandbox:
            _lockstep(sandbox, YourCode(sandbox, layout.value, function, step), text, settings,
                      iterations, every,
                      f"training {function} and {pair[1].__name__} of {path} (--layout "
                      f"{layout.value}, --loss {settings.loss}, {optimizer})", plot, path)
        return
    progress = _progress()

    def file_of(name: str) -> Path:
        entry = progress.entries.get(name)
        return (folder / starter_filename(find_exercise(name)) if folder is not None
                else Path(entry.file) if entry else Path(starter_filename(find_exercise(name))))

    route = next((r for r in routes(optimizer) if all(file_of(n).is_file() for n in r)), None)
    if route is None:
        raise UsageError(f"no files to train with: pass the exercises bptt (or forward-step and "
                         f"backward-step) and {optimizer} first, or give their folder with "
                         "--folder")
    exercises = [find_exercise(n) for n in route]
    with open_sandbox([(file_of(e.name), e.functions) for e in exercises], timeout) as sandbox:
        for exercise in exercises:
            report = run_checks(exercise, sandbox, 20)
            if not report.passed:
                typer.echo("\n".join([f"exercise {exercise.name}: {file_of(exercise.name)} does "
                                      "not pass its checks yet", "", *format_report(report)]))
                raise RunError(report.stopped or f"train needs {exercise.name} to pass first")
        names = tuple(n for e in exercises for n in e.function_names)
        _lockstep(sandbox, sandbox.namespace(names), text, settings, iterations, every,
                  f"training with {', '.join(str(file_of(n)) for n in route)}", plot)


def _lockstep(sandbox: Sandbox, f: object, text: str, settings: Settings, iterations: int,
              every: int, training: str, plot: Path | None, file: Path | None = None) -> None:
    """Train ``f`` in lockstep with the package, printing each Moment; exit 1 at a difference.

    With ``plot``, the free-running curves are drawn there however the training ends.
    """
    from charrnn_edu.conventions import ShapeProblem
    from charrnn_edu.exercises.train import StepDisagrees, train_in_lockstep
    typer.echo(f"{training} in lockstep with the package, on {default_corpus().name}: at "
               "every iteration both take one step from the same parameters, and every array "
               "of your step must be within rounding of the package's")
    free: list[tuple[float, float]] | None = None if plot is None else []
    try:
        for moment in train_in_lockstep(f, text, iterations, every, settings=settings,
                                        before_call=sandbox.renew, free=free):
            typer.echo(f"\niteration {moment.iteration:,}: smooth loss {moment.yours:.3f} "
                       "yours, "
                       f"{moment.package:.3f} the package's; largest difference so far "
                       f"{moment.largest:.1e} of the tolerance")
            typer.echo(f"  yours   {printable(moment.your_sample.replace(chr(10), ' / '))}")
    except StepDisagrees as err:
        _draw(plot, free)
        typer.echo(f"\nyour step differs from the package's at {err}")
        raise typer.Exit(1) from None
    except ShapeProblem as err:
        raise RunError(f"{file}: {err}") from None
    except (Exception, Stopped) as err:     # the learner's code may raise anything
        raise RunError(str(err) if isinstance(err, LearnerError | Stopped | FloatingPointError
                                              | ValueError)
                       else f"{type(err).__name__}: {err}") from None
    _draw(plot, free)
    typer.echo(f"\nEvery one of the {iterations:,} steps agrees with the package's. (Run free, "
               "two correct programs part after a few hundred iterations: AdaGrad and Adam "
               "divide by the root of small sums, which magnifies rounding; lockstep compares "
               "each step from the same start.)")


def _draw(plot: Path | None, free: list[tuple[float, float]] | None) -> None:
    """Save the free-running curves, and say why correct code drifts from the package's."""
    if plot is None or not free:
        return
    from charrnn_edu.exercises.train import draw_free_running
    try:
        call(files.save_figure, draw_free_running(free), plot)
    except OSError as err:
        raise RunError(f"cannot write {plot}: {err.strerror or err}") from None
    yours, package = free[-1]
    if yours == package:
        typer.echo(f"\nwrote {plot}: run free, your smooth loss is the package's to the last "
                   f"bit after {len(free):,} iterations, {yours:.3f}")
        return
    typer.echo(f"\nwrote {plot}: run free, your smooth loss is {yours:.3f} after {len(free):,} "
               f"iterations, the package's {package:.3f}. Correct code drifts too: adding in "
               "another order changes the last bit of a gradient, and the optimiser's division "
               "by the root of small sums magnifies it, step after step")
