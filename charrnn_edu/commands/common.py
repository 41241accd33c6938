"""What every ``charrnn`` command shares: the app factory, the errors, the progress bar.

Library code raises exceptions; only here do they become one-line messages and exit codes
(:func:`run_app`): 2 for a usage error (:class:`UsageError`: a bad option, a missing or
unreadable input file), 1 for a run that failed (:class:`RunError`: a gradient check that
did not pass, training that diverged, a full disk), 128 + N for a run stopped by signal N
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). Never a traceback, never a raw warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import typer

from charrnn_edu import checkpoint, files, runs, signals
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.threads import one_blas_thread
from charrnn_edu.training import Trainer

T = TypeVar("T")
CHECKPOINT_EVERY = 10_000             # iterations between two saves of a run


def typer_factory(name: str, help: str) -> typer.Typer:
    """A command group with the settings every ``charrnn`` group shares."""
    return typer.Typer(name=name, help=help, add_completion=False, no_args_is_help=True,
                       pretty_exceptions_enable=False, rich_markup_mode=None)


# C0 and C1 control characters and DEL: a terminal acts on them instead of showing them (ESC
# starts a sequence that can clear the screen, set the window title or write the clipboard),
# and a line break would let a field read from a file add lines of its own to a message.
_CONTROLS = frozenset([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)])
_SHOWN = {c: f"\\x{c:02x}" for c in _CONTROLS - {0x09, 0x0A}}
_ONE_LINE = {**_SHOWN, 0x0A: "\\n", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def printable(text: str, *, one_line: bool = False) -> str:
    r"""``text`` with its control characters written as escapes, ``\x1b`` say: data, not commands.

    Newline and tab are kept, unless ``one_line``: then the newline is escaped too, so a
    message stays one line whatever a field read from a file holds.
    """
    return text.translate(_ONE_LINE if one_line else _SHOWN)


def for_terminal(text: str, err: bool = False) -> str:
    """Untrusted text (a sample, a vocabulary) escaped if stdout (stderr) is a terminal.

    Written to a file or a pipe, the text stays as it is: the characters are the data.
    """
    stream = sys.stderr if err else sys.stdout
    try:
        tty = stream is not None and stream.isatty()
    except (AttributeError, ValueError):          # no isatty, or a closed stream
        tty = False
    return printable(text) if tty else text


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


class RunError(Exception):
    """The run itself failed: exit code 1."""


def load_corpus(data: Path | None, encoding: str) -> tuple[Path, str, Vocabulary]:
    """Read the corpus named by ``--data`` and build its vocabulary, or raise UsageError."""
    path = default_corpus() if data is None else data
    try:
        text = read_text(path, encoding)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from None
    return path, text, Vocabulary.from_text(text)


def out_folder(flag: str, out: Path) -> None:
    """Refuse an output folder that is a file."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{flag} {out} is a file, not a folder: choose a folder for the run")


def flat_note(K: int) -> None:
    """Say why a figure of a one-character text is flat."""
    if K == 1:
        typer.echo("charrnn: note: the text has a single distinct character (K = 1), so the "
                   "loss is 0 throughout and the figure is flat", err=True)


def command_line(ctx: typer.Context, leave_out: Collection[str] = ()) -> str:
    """The command with the options typed on it, in their declared order (for provenance)."""
    parts = ctx.command_path.split()
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if param.name in leave_out or source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params[param.name]
        if isinstance(value, bool):
            parts += [param.opts[0]] if value else list(param.secondary_opts[:1])
        else:
            parts += [param.opts[0], str(value)]
    return " ".join(parts)


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the library; its refusals of bad input become usage errors, failures run errors."""
    try:
        return function(*args, **kwargs)
    except checkpoint.DamagedCheckpoint as err:                # the file, not the command
        raise RunError(str(err)) from None
    except (ValueError, checkpoint.CheckpointError) as err:   # CheckpointError is a ValueError
        raise UsageError(str(err)) from None
    except runs.RunFailed as err:
        raise RunError(str(err)) from None


class ProgressBar:
    """A rich progress bar fed by the trainer's callback (the library itself never prints)."""

    def __init__(self, total: int, trainer: Trainer, folder: Path) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
        self.bar = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("epoch {task.fields[epoch]}"),
            TextColumn("smooth loss {task.fields[smooth]:.2f}"),
            TextColumn("{task.fields[rate]:,.0f} it/s, {task.fields[chars]:,.0f} characters/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task("train", total=total, completed=trainer.iteration,
                                      epoch=trainer.epoch, smooth=trainer.smooth_loss, rate=0.0,
                                      chars=0.0)
        self.characters = trainer.settings.seq_length * trainer.settings.batch
        self.start, self.first = time.perf_counter(), trainer.iteration
        self.folder, self.total, self.announced = folder, total, False

    def __call__(self, trainer: Trainer) -> None:
        """Move the bar to where ``trainer`` is; say once where the run is saved."""
        if not self.announced:         # once training is under way (the first sample at most)
            self.bar.console.print(f"training in {self.folder} (PID {os.getpid()}): iteration "
                                   f"{trainer.iteration:,} of {self.total:,}; Ctrl-C saves and "
                                   "stops", highlight=False, markup=False)
            self.announced = True
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = (trainer.iteration - self.first) / elapsed
        self.bar.update(self.task, completed=trainer.iteration, epoch=trainer.epoch,
                        smooth=trainer.smooth_loss, rate=rate, chars=rate * self.characters)


def train_run(trainer: Trainer, total: int, folder: Path, corpus: files.Corpus,
              checkpoint_every: int, stop: signals.StopSignals, quiet: bool,
              saved: int | None) -> float:
    """runs.train with a progress bar (unless quiet); failures become RunError."""
    progress = None if quiet else ProgressBar(total, trainer, folder)
    try:
        if progress is not None:
            progress.bar.start()
        return call(runs.train, trainer, total, folder, corpus, checkpoint_every, stop,
                    progress, saved=saved)
    finally:
        if progress is not None:
            progress.bar.stop()


def _ignore_a_bad_backend() -> None:
    """Leave out an MPLBACKEND that matplotlib refuses: importing it would fail otherwise.

    charrnn draws into files only, by their suffix, and never needs a backend; a valid
    MPLBACKEND is kept as it is.
    """
    value = os.environ.get("MPLBACKEND")
    if not value or "matplotlib" in sys.modules:
        return
    del os.environ["MPLBACKEND"]
    import matplotlib
    from matplotlib import rcsetup

    try:
        rcsetup.validate_backend(value)
    except ValueError:
        return
    os.environ["MPLBACKEND"] = matplotlib.rcParams["backend"] = value


def _stdout_broken(err: OSError) -> bool:
    """Whether ``err`` came from writing stdout (a full /dev/full); stdout is silenced then.

    The innermost frame wrote to the stream it holds (``click.echo``'s ``file``, say): every
    file the package writes names itself in ``err.filename`` instead. The bytes left in the
    buffer would fail again as Python exits, so from here on stdout goes nowhere.
    """
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not any(v is sys.stdout for v in tb.tb_frame.f_locals.values()):
        return False
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True


def _os_error(err: OSError) -> str:
    where = f" {err.filename}" if err.filename else ""
    return f"cannot write{where}: {err.strerror or err}"


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run ``app`` as ``charrnn``; every error becomes one line and the exit code returned."""
    command = typer.main.get_command(app)
    if sys.stdout is None:              # started with stdout closed (`charrnn ... >&-`)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the process's stdout from now on
    # matplotlib logs raw lines when it cannot write its cache (a read-only HOME) and then
    # uses a temporary folder: nothing the user must act on, so only its errors are shown.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    _ignore_a_bad_backend()
    # Typer turns a KeyboardInterrupt into a silent exit code 130 before it reaches the
    # except below; a Ctrl-C seen here is told apart by this handler's mark. Commands that
    # stop gently (train, study, sample) install their own handlers over it.
    interrupted: list[int] = []

    def mark(signum: int, frame: object) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    ours = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if ours:
        signal.signal(signal.SIGINT, mark)
    try:
        code = _run(command, argv, interrupted)
    finally:
        if ours:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted and code == 130:
        typer.echo("charrnn: interrupted", err=True)
    return code


def _run(command: Any, argv: list[str] | None, interrupted: list[int]) -> int:
    try:
        # Overflow and NaN are diagnosed by the library in words (a diverged run, a refused
        # option); numpy's and matplotlib's warnings would only repeat them with line numbers.
        # Every command runs one BLAS thread, as training does (charrnn_edu.threads).
        with warnings.catch_warnings(), np.errstate(all="ignore"), one_blas_thread():
            warnings.simplefilter("ignore")
            code = command.main(args=argv, prog_name="charrnn", standalone_mode=False)
    except typer.TyperException as err:
        # Typer's own errors (an unknown option, a value of the wrong type) are usage errors;
        # click's several-line usage banner becomes one line that points at --help.
        ctx = getattr(err, "ctx", None)
        if type(err).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
        else:
            where = ctx.command_path if ctx is not None else "charrnn"
            typer.echo(f"charrnn: error: {printable(err.format_message(), one_line=True)} "
                       f"(see '{where} --help')", err=True)
        code = err.exit_code
    except UsageError as err:
        typer.echo(f"charrnn: error: {printable(str(err), one_line=True)}", err=True)
        code = 2
    except (RunError, runs.RunFailed, runs.FolderBusy, runs.FolderRefused) as err:
        typer.echo(f"charrnn: error: {printable(str(err), one_line=True)}", err=True)
        code = 1
    except typer.Exit as err:
        code = err.exit_code
    except signals.Interrupted as err:
        typer.echo(f"charrnn: stopped at once by a second {err}; the last save is kept",
                   err=True)
        code = 128 + err.signum
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("charrnn: interrupted", err=True)
        interrupted.clear()                     # said
        code = 130
    except UnicodeEncodeError as err:
        typer.echo(f"charrnn: error: the output's encoding, {err.encoding}, cannot show "
                   f"{ascii(err.object[err.start:err.start + 1])}: set a UTF-8 locale "
                   "(LC_ALL=C.UTF-8) or PYTHONIOENCODING=utf-8", err=True)
        code = 1
    except OSError as err:
        if err.filename is None and _stdout_broken(err):
            typer.echo(f"charrnn: error: cannot write to the standard output: "
                       f"{err.strerror or err}", err=True)
        else:
            typer.echo(f"charrnn: error: {printable(_os_error(err), one_line=True)}", err=True)
        code = 1
    except MemoryError:
        typer.echo("charrnn: error: out of memory: try a smaller --hidden or a shorter text",
                   err=True)
        code = 1
    return code if isinstance(code, int) else 0
