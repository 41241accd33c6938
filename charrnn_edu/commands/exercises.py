"""``charrnn exercises``: write each chapter's functions yourself and check them."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
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
from charrnn_edu.exercises.confine import missing_protections
from charrnn_edu.exercises.model import Exercise
from charrnn_edu.exercises.progress import Progress, ProgressError
from charrnn_edu.exercises.runner import DEFAULT_EXAMPLES, Report, run_checks
from charrnn_edu.exercises.sandbox import DEFAULT_TIMEOUT, LearnerError, Sandbox, Stopped
from charrnn_edu.files import default_corpus, read_text, write_atomically
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


def _printed(sandbox: Sandbox | bytes) -> list[str]:
    printed = sandbox if isinstance(sandbox, bytes) else bytes(sandbox.printed)
    text = printed.decode("utf-8", "replace").splitlines()
    if not text:
        return []
    more = f" (first 10 of {len(text)} lines)" if len(text) > 10 else ""
    return ["", f"your code printed{more}:", *(f"  | {printable(line, one_line=True)}"
                                                for line in text[:10])]


def _shown(exercise: Exercise, path: Path, report: Report, printed: list[str]) -> list[str]:
    """What ``check`` shows of a report, before its verdict."""
    return [f"exercise {exercise.name} (chapter {exercise.chapter}): checking {path}", "",
            *format_report(report), *printed, ""]


def _verdict(report: Report) -> str:
    """``All 3 checks pass.``, or how many pass, fail and wait for the learner's code."""
    passed = sum(r.status == "pass" for r in report.results)
    if report.passed:
        return f"All {len(report.results)} checks pass."
    todo, failed = sum(r.status == "todo" for r in report.results), len(report.failed())
    return (f"{passed} of {len(report.results)} checks pass"
            + (f"; {failed} failed" if failed else "")
            + (f"; {todo} wait for your code" if todo else "") + ".")


def _warn_unconfined() -> None:
    """The first line, where the sandbox cannot put every protection in force."""
    missing = missing_protections()
    if missing:
        typer.echo(f"charrnn: warning: not in force here: {'; '.join(missing)}", err=True)


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
    _warn_unconfined()
    with open_sandbox([(path, exercise.functions)], timeout) as sandbox:
        report = run_checks(exercise, sandbox, examples)
        printed = _printed(sandbox)
    typer.echo("\n".join(_shown(exercise, path, report, printed)))
    passed = sum(r.status == "pass" for r in report.results)
    _record(progress, exercise.name, path, "passed" if report.passed else "failing", passed,
            len(report.results))
    if report.stopped:
        raise RunError(report.stopped)
    typer.echo(_verdict(report))
    if not report.passed:
        raise typer.Exit(1)
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


def _size(text: str) -> int:
    """Bytes of ``4G``, ``512M``, ``2GB`` or ``1000000``; a UsageError naming it otherwise."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    number = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = number[-1:] if number[-1:] in units else ""
    try:
        value = float(number[:len(number) - len(unit)]) * units[unit]
    except ValueError:
        value = 0
    if not 2**24 <= value < 2**50:
        raise UsageError(f"--memory must be a size like 4G or 512M (at least 16M), got {text!r}")
    return int(value)


@app.command()
def grade(name: Annotated[str, typer.Argument(help="The exercise.", show_default=False)],
          folder: Annotated[Path, typer.Argument(
              help="The submissions: the exercise's file, or subfolders holding it, or .py "
                   "files side by side.", show_default=False)],
          out: Annotated[Path, typer.Option("--out", help="Write results.csv, results.json "
                                            "and feedback/ here.", show_default=False)],
          timeout: TimeoutOption = DEFAULT_TIMEOUT,
          memory: Annotated[str, typer.Option("--memory", help="Memory (address space) each "
                                              "submission may use.")] = "4G",
          jobs: Annotated[int, typer.Option("--jobs", help="Submissions graded at once.")] = 1,
          examples: ExamplesOption = DEFAULT_EXAMPLES,
          gradescope: Annotated[Path | None, typer.Option(
              "--gradescope", help="Also write Gradescope's results.json here (one "
              "submission only).", show_default=False)] = None) -> None:
    """Grade a class: one row per submission in OUT/results.csv, whatever its code does.

    Each submission runs in its own sandbox (a temporary copy, limits, no network, no
    writes outside it, no answer to import). Exits 0 when every submission was graded,
    whatever their verdicts; 2 for a usage error.
    """
    from charrnn_edu.exercises import grade as grading
    from charrnn_edu.exercises.confine import Limits
    exercise = exercise_named(name)
    check_options(examples, timeout)
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    limits = Limits(memory=_size(memory))
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: give the folder of the submissions")
    found = call(grading.submissions, exercise, folder)
    if gradescope is not None and len(found) != 1:
        raise UsageError(f"--gradescope grades one submission; {folder} holds {len(found)}")
    missing = missing_protections()
    typer.echo("sandbox: every protection is in force" if not missing
               else f"sandbox: not in force here: {'; '.join(missing)}")

    def feedback(path: Path, report: Report | None, printed: bytes, problem: str) -> str:
        if report is None:
            return f"charrnn: error: {problem}"
        return "\n".join([*_shown(exercise, path, report, _printed(printed)),
                          f"charrnn: error: {problem}" if problem else _verdict(report)])

    done = []

    def show(row: grading.Row) -> None:
        done.append(row)
        typer.echo(f"[{len(done)}/{len(found)}] {row.submission}: {row.status}, "
                   f"{row.checks_passed} of {row.checks_total} checks"
                   + (f" ({row.diagnosis})" if row.diagnosis and row.status != "passed" else ""))

    with _stop_is_interrupt():
        rows = grading.grade(exercise, found, feedback, jobs=jobs, on_row=show,
                             timeout=timeout, limits=limits, examples=examples)
    try:
        grading.write_results(out, exercise, rows, missing)
        if gradescope is not None:
            text = json.dumps(grading.gradescope(rows[0]), indent=2) + "\n"
            write_atomically(gradescope, lambda f: f.write(text.encode("utf-8")))
    except OSError as err:
        raise RunError(f"cannot write the results: {err}") from None
    counts = ", ".join(f"{n} {s}" for s in grading.STATUSES
                       if (n := sum(r.status == s for r in rows)))
    typer.echo(f"graded {len(rows)} submission{'s' * (len(rows) != 1)}: {counts}; "
               f"results in {out / 'results.csv'}")


@contextmanager
def _stop_is_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the grader as Ctrl-C does: every sandbox is closed."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    kinds = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    before = {s: signal.signal(getattr(signal, s), interrupt) for s in kinds}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(getattr(signal, s), handler)


@app.command()
def autograder(name: Annotated[str, typer.Argument(help="The exercise.", show_default=False)],
               out: Annotated[Path, typer.Option("--out", help="The zip to write.")]
               = Path("autograder.zip"),
               timeout: TimeoutOption = DEFAULT_TIMEOUT,
               memory: Annotated[str, typer.Option("--memory", help="Memory each submission "
                                                   "may use.")] = "4G") -> None:
    """Build Gradescope's autograder zip for an exercise: setup.sh, run_autograder, a wheel.

    setup.sh installs this package from the wheel inside (built now from the installed
    package); run_autograder grades /autograder/submission into
    /autograder/results/results.json.
    """
    from charrnn_edu.exercises.autograder import bundle
    exercise = exercise_named(name)
    check_options(1, timeout)
    _size(memory)
    data = call(bundle, exercise, starter_filename(exercise), timeout, memory)
    try:
        write_atomically(out, lambda f: f.write(data))
    except OSError as err:
        raise RunError(f"cannot write {out}: {err.strerror or err}") from None
    typer.echo(f"wrote {out} ({len(data) // 1024:,} KB): upload it as the autograder of "
               f"{exercise.name} on Gradescope; students submit {starter_filename(exercise)}")


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
