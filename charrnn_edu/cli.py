"""The ``charrnn`` command: every chapter of the package, runnable from the shell.

This module parses options, calls the library and prints. Library code raises exceptions;
only here do they become one-line messages and exit codes: 2 for a usage error (a bad
option, a missing or unreadable input file), 1 for a run that failed (a gradient check that
did not pass, training that diverged, a full disk), 128 + N for a run stopped by signal N
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). Never a traceback, never a raw warning.
"""

from __future__ import annotations

import os

# One BLAS thread unless the user says otherwise, set before numpy is first imported: every
# product in training is small, and a second thread waiting for a busy core made batched
# products 5 to 10 times slower on a loaded 2-core machine (benchmarks/speed.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import replace  # noqa: E402
from enum import StrEnum  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Any, TypeVar  # noqa: E402

import numpy as np  # noqa: E402
import typer  # noqa: E402

from charrnn_edu import __version__, checkpoint, evaluation, files, runs, signals  # noqa: E402
from charrnn_edu.encoding import Vocabulary  # noqa: E402
from charrnn_edu.exercises.commands import app as exercises_app  # noqa: E402
from charrnn_edu.exercises.commands import lab as lab_command  # noqa: E402
from charrnn_edu.files import default_corpus, read_text  # noqa: E402
from charrnn_edu.forward import RNN  # noqa: E402
from charrnn_edu.gradcheck import ATOL, RTOL, check, passes, table  # noqa: E402
from charrnn_edu.sampling import generate_chunks  # noqa: E402
from charrnn_edu.training import PRESETS, Settings, Trainer, trained_length  # noqa: E402

app = typer.Typer(
    name="charrnn",
    help="A character-level vanilla RNN, built, trained and checked step by step.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Upper bounds of the options: beyond them a run would not fit in memory or would never end.
MAX_ITERATIONS = 100_000_000          # two float lists of this length: ~6 GB
MAX_SAMPLE = 10_000                   # per sample in training or a report (a signal waits for it)
MAX_LENGTH = 100_000_000              # characters of `charrnn sample` (streamed)
MAX_SEED = 2**63 - 1
MAX_HIDDEN = 1_000_000                # and within half the machine's memory
MAX_BATCH = 4_096                     # streams; the text must also hold batch * (tau + 1)
T = TypeVar("T")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"charrnn-edu {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """A character-level vanilla RNN, built, trained and checked step by step."""


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


class RunError(Exception):
    """The run itself failed: exit code 1."""


def in_range(flag: str, value: float | None, low: float, high: float = math.inf, *,
             above: bool = False) -> None:
    """Raise UsageError unless ``value`` is finite and in [low, high] (low excluded if ``above``).

    ``None`` (an option not given) passes.
    """
    if value is None:
        return
    if (math.isfinite(value) and (value > low if above else value >= low) and value <= high):
        return
    if isinstance(value, int):
        bound = (f"an integer from {_show(low + above)} to {_show(high)}" if high < math.inf
                 else f"an integer of at least {_show(low + above)}")
    else:
        bound = "a finite number " + (f"above {_show(low)}" if above else f"at least {_show(low)}")
        if high < math.inf:
            bound += f" and at most {_show(high)}"
    raise UsageError(f"{flag} must be {bound}, got {value}")


def _show(v: float) -> str:
    return f"{v:,}" if isinstance(v, int) or float(v).is_integer() else f"{v:g}"


DataOption = Annotated[Path | None, typer.Option(
    "--data", help="Text file to use [default: the bundled data/shakespeare.txt].",
    show_default=False)]
EncodingOption = Annotated[str | None, typer.Option(
    "--encoding", help="Text encoding of --data (the report's novel needs latin-1) "
                       "[default: utf-8, or the resumed run's].", show_default=False)]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random draw.")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def load_corpus(data: Path | None, encoding: str) -> tuple[Path, str, Vocabulary]:
    """Read the corpus named by ``--data`` and build its vocabulary, or raise UsageError."""
    path = default_corpus() if data is None else data
    try:
        text = read_text(path, encoding)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from None
    return path, text, Vocabulary.from_text(text)


# The settings in which the presets differ: what `--preset` asks for on --resume (the
# optimiser, loss and initialisation first: they tell the presets apart most plainly).
PRESET_FIELDS = tuple(sorted((k for k in Settings().to_dict()
                              if len({getattr(p, k) for p in PRESETS.values()}) > 1),
                             key=lambda k: k not in ("optimizer", "loss", "init")))


class Preset(StrEnum):
    """The course's editions and the tuned preset (see ``charrnn_edu.training.PRESETS``)."""

    classic = "classic"
    edition_2026 = "2026"
    tuned = "tuned"


PRESET_HELP = ("classic: AdaGrad, summed loss, sigma 0.01 (the report); 2026: Adam, mean "
               "loss, scaled initialisation; tuned: 2026 with m = 256, tau = 50, eta = 0.0005, "
               "float32 and 5% held out (beats the report; chapter 9).")
PresetOption = Annotated[Preset | None, typer.Option(
    "--preset", help=PRESET_HELP + " [default: classic]", show_default=False)]


class Dtype(StrEnum):
    """Floating-point precision of training."""

    float64 = "float64"
    float32 = "float32"


DtypeOption = Annotated[Dtype | None, typer.Option(
    "--dtype", help="float32 trains faster; gradient checks always use float64 "
                    "[default: float64; float32 tuned].", show_default=False)]


class Engine(StrEnum):
    """Who computes each training iteration (``charrnn_edu.training.ENGINES``)."""

    fast = "fast"
    chapters = "chapters"


EngineOption = Annotated[Engine, typer.Option(
    "--engine", help="fast: charrnn_edu.engine; chapters: chapters 4 and 6 as written (slow, "
                     "the same numbers to rounding).")]
BatchOption = Annotated[int | None, typer.Option(
    "--batch", help="Streams read side by side, B (1 is the report's loop) [default: 1].",
    show_default=False)]


class H0(StrEnum):
    """The hidden state before the first step of a gradient check."""

    zero = "zero"
    random = "random"


@app.command()
def gradcheck(
    data: DataOption = None,
    encoding: EncodingOption = None,
    hidden: Annotated[int, typer.Option("--hidden", help="Hidden size m (1 to 50).")] = 5,
    seq_length: Annotated[int, typer.Option(
        "--seq-length", help="Sequence length tau (1 to 1000).")] = 25,
    step: Annotated[float, typer.Option("--step", help="Centred-difference step h.")] = 1e-4,
    eps: Annotated[float, typer.Option("--eps", help="Floor of the relative error's "
                                                     "denominator, equation (1).")] = 1e-6,
    sigma: Annotated[float, typer.Option(
        "--sigma", help="Std of the initial weights (0 to 1).")] = 0.01,
    seed: SeedOption = 0,
    h0: Annotated[H0, typer.Option("--h0", help="Hidden state before the first step.")] = H0.zero,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", help=f"An element passes with a relative error below this, or an "
                            f"absolute one below {ATOL:g}.")] = RTOL,
) -> None:
    """Check BPTT's gradients against centred differences and complex steps (chapter 5).

    Uses the first seq-length characters of the corpus, as the report does. Exits 0 when
    every element of every gradient agrees with both (see charrnn_edu.gradcheck), 1 otherwise.
    """
    in_range("--hidden", hidden, 1, 50)
    in_range("--seq-length", seq_length, 1, 1000)
    in_range("--step", step, 0, 1, above=True)
    in_range("--eps", eps, 0, 1, above=True)
    in_range("--sigma", sigma, 0, 1)
    in_range("--seed", seed, 0, MAX_SEED)
    in_range("--tolerance", tolerance, 0, 1, above=True)
    encoding = encoding or "utf-8"
    path, text, vocab = load_corpus(data, encoding)
    if len(text) < seq_length + 1:
        raise UsageError(f"{path} has {len(text)} characters; the check needs seq-length + 1 "
                         f"= {seq_length + 1} (use a longer text or a smaller --seq-length)")
    ids = vocab.encode(text[:seq_length + 1])
    rng = np.random.default_rng(seed)
    rnn = RNN.init(len(vocab), hidden, sigma, rng=rng)
    start = np.zeros((hidden, 1)) if h0 is H0.zero else rng.uniform(-1, 1, (hidden, 1))
    rows = check(rnn, ids[:-1], ids[1:], start, step=step, eps=eps, rtol=tolerance)

    typer.echo(f"corpus: {path.name} ({len(text):,} characters, K = {len(vocab)}, {encoding})")
    typer.echo(f"m = {hidden}, tau = {seq_length}, h = {step:g}, eps = {eps:g}, "
               f"sigma = {sigma:g}, seed = {seed}, h0 = {h0.value}")
    typer.echo("")
    typer.echo(table(rows))
    typer.echo("")
    verdict = passes(rows)
    typer.echo(f"{'passed' if verdict else 'FAILED'}: largest centred-difference error "
               f"{max(r.max_rel for r in rows):.2e} (an element passes below {tolerance:g}, "
               f"or within {ATOL:g}), largest complex-step error "
               f"{max(r.complex_rel for r in rows):.2e}")
    if not verdict:
        raise typer.Exit(1)


class _Progress:
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
        if not self.announced:         # once training is under way (the first sample at most)
            self.bar.console.print(f"training in {self.folder} (PID {os.getpid()}): iteration "
                                   f"{trainer.iteration:,} of {self.total:,}; Ctrl-C saves and "
                                   "stops", highlight=False, markup=False)
            self.announced = True
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = (trainer.iteration - self.first) / elapsed
        self.bar.update(self.task, completed=trainer.iteration, epoch=trainer.epoch,
                        smooth=trainer.smooth_loss, rate=rate, chars=rate * self.characters)


def _train(trainer: Trainer, total: int, folder: Path, corpus: files.Corpus,
           checkpoint_every: int, stop: signals.StopSignals, quiet: bool,
           saved: int | None) -> float:
    """runs.train with a progress bar (unless quiet); failures become RunError."""
    progress = None if quiet else _Progress(total, trainer, folder)
    try:
        if progress is not None:
            progress.bar.start()
        return _library(runs.train, trainer, total, folder, corpus, checkpoint_every, stop,
                        progress, saved=saved)
    finally:
        if progress is not None:
            progress.bar.stop()


def _physical_memory() -> int:
    return evaluation.physical_memory()


def _out_folder(flag: str, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{flag} {out} is a file, not a folder: choose a folder for the run")


def _library(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the library; its refusals of bad input become usage errors, failures run errors."""
    try:
        return function(*args, **kwargs)
    except checkpoint.DamagedCheckpoint as err:                # the file, not the command
        raise RunError(str(err)) from None
    except (ValueError, checkpoint.CheckpointError) as err:   # CheckpointError is a ValueError
        raise UsageError(str(err)) from None
    except runs.RunFailed as err:
        raise RunError(str(err)) from None


def _total(epochs: float, per_epoch: int) -> int:
    """The iteration ``--epochs`` asks to reach, refused unless it is 1 to MAX_ITERATIONS."""
    total = round(epochs * per_epoch)
    if not 1 <= total <= MAX_ITERATIONS:
        raise UsageError(f"--epochs {epochs:g} is {total:,} iterations of this text "
                         f"({per_epoch:,} per epoch); it must be 1 to {MAX_ITERATIONS:,}")
    return total


@app.command()
def train(
    data: DataOption = None,
    encoding: EncodingOption = None,
    iterations: Annotated[int | None, typer.Option(
        "--iterations", help="Train until this many iterations in all [default: 100000].",
        show_default=False)] = None,
    epochs: Annotated[float | None, typer.Option(
        "--epochs", help="Or: train this many passes over the text.")] = None,
    preset: PresetOption = None,
    hidden: Annotated[int | None, typer.Option(
        "--hidden", help="Hidden size m [default: 100; 256 tuned].", show_default=False)] = None,
    seq_length: Annotated[int | None, typer.Option(
        "--seq-length", help="Sequence length tau [default: 25; 50 tuned].",
        show_default=False)] = None,
    eta: Annotated[float | None, typer.Option(
        "--eta", help="Learning rate [default: 0.1 classic, 0.001 2026, 0.0005 tuned].",
        show_default=False)] = None,
    sigma: Annotated[float | None, typer.Option(
        "--sigma", help="Std of the initial weights, classic init [default: 0.01].",
        show_default=False)] = None,
    clip_bound: Annotated[float | None, typer.Option(
        "--clip", help="Clip gradients to ±this [default: 5].", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed of every random draw [default: 0].", show_default=False)] = None,
    dtype: DtypeOption = None,
    batch: BatchOption = None,
    val_frac: Annotated[float | None, typer.Option(
        "--val-frac", help="Hold out this last fraction of the text (0 to 0.5) and measure its "
                           "loss [default: 0, the report's way; 0.05 tuned].",
        show_default=False)] = None,
    eval_every: Annotated[int | None, typer.Option(
        "--eval-every", help="Measure the held-out loss every this many iterations "
                             "[default: 5000; 10000 tuned].", show_default=False)] = None,
    engine: EngineOption = Engine.fast,
    sample_every: Annotated[int | None, typer.Option(
        "--sample-every", help="Synthesise text every this many iterations [default: 10000].",
        show_default=False)] = None,
    sample_length: Annotated[int | None, typer.Option(
        "--sample-length", help="Characters per sample, at most 10000 [default: 200].",
        show_default=False)] = None,
    checkpoint_every: Annotated[int | None, typer.Option(
        "--checkpoint-every", help="Save the run every this many iterations [default: 10000, "
                                   "or the resumed run's].", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Run folder [default: runs/<name of the text file>].",
        show_default=False)] = None,
    resume: Annotated[Path | None, typer.Option(
        "--resume", help="Continue the run in this folder, with its settings.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Train the RNN with the report's loop: BPTT, clipping, AdaGrad or Adam (chapters 4-6).

    Writes the run folder: checkpoint.npz (latest and best parameters, resumable),
    settings.json, history.csv (loss of every iteration), samples.md and, with --val-frac,
    held_out.csv (the held-out loss), all of them at every save. Ctrl-C, SIGTERM or SIGHUP
    stop after the current iteration and save first; --resume continues bit-for-bit.
    """
    if iterations is not None and epochs is not None:
        raise UsageError("give --iterations or --epochs, not both")
    if resume is not None and out is not None and out != resume:
        raise UsageError("give --out (a new run) or --resume (a run to continue), not both")
    in_range("--iterations", iterations, 1, MAX_ITERATIONS)
    in_range("--epochs", epochs, 0, MAX_ITERATIONS, above=True)
    in_range("--hidden", hidden, 1, MAX_HIDDEN)
    in_range("--seq-length", seq_length, 1, MAX_ITERATIONS)
    in_range("--sample-every", sample_every, 1, MAX_ITERATIONS)
    in_range("--checkpoint-every", checkpoint_every, 1, MAX_ITERATIONS)
    in_range("--eta", eta, 0, above=True)
    in_range("--clip", clip_bound, 0, above=True)
    in_range("--sigma", sigma, 0)
    in_range("--seed", seed, 0, MAX_SEED)
    in_range("--sample-length", sample_length, 0, MAX_SAMPLE)
    in_range("--batch", batch, 1, MAX_BATCH)
    in_range("--val-frac", val_frac, 0, 0.5)
    in_range("--eval-every", eval_every, 1, MAX_ITERATIONS)

    if resume is not None and not resume.is_dir():
        raise UsageError(f"--resume {resume}: no run folder there (train one with --out)")
    encoding = encoding or (runs.read_corpus(resume).get("encoding") if resume else None) or "utf-8"
    path, text, vocab = load_corpus(data, encoding)
    corpus = files.Corpus.of(path, text, encoding)
    folder_path = resume or out or Path("runs") / path.stem
    _out_folder("--resume" if resume else "--out", folder_path)
    chosen = {"hidden": hidden, "seq_length": seq_length, "eta": eta, "sigma": sigma,
              "clip": clip_bound, "seed": seed, "sample_every": sample_every,
              "sample_length": sample_length, "dtype": dtype and dtype.value, "batch": batch,
              "val_frac": val_frac, "eval_every": eval_every}
    with runs.RunFolder(folder_path, create=resume is None) as folder, \
            signals.StopSignals() as stop:
        if resume is not None:
            given = [(f"--{k.replace('_', '-')} {v}", k, v) for k, v in chosen.items()]
            if preset is not None:     # what the preset sets, unless an option overrides it
                given += [(f"--preset {preset.value}", k, getattr(PRESETS[preset.value], k))
                          for k in PRESET_FIELDS if chosen.get(k) is None]
            trainer = _library(runs.resume, folder.path, text, corpus, given)
            trainer.engine = engine.value
            checkpoint_every = (checkpoint_every
                                or runs.read_record(folder.path).get("checkpoint_every", 10_000))
        else:
            if (folder.path / runs.CHECKPOINT).exists():
                raise UsageError(f"{folder.path} already holds a run: continue it with "
                                 f"--resume {folder.path} or choose another --out")
            settings = _library(replace, PRESETS[(preset or Preset.classic).value],
                                **{k: v for k, v in chosen.items() if v is not None})
            trainer = _library(runs.start, text, vocab, settings, _physical_memory() // 2,
                               engine.value)
            checkpoint_every = checkpoint_every or 10_000
        total = (_total(epochs, trainer.iterations_per_epoch) if epochs is not None
                 else 100_000 if iterations is None else iterations)
        first, start = trainer.iteration, time.perf_counter()
        if total <= first:
            typer.echo(f"the run in {folder.path} is already at iteration {first:,} "
                       f"(asked for {total:,}): nothing to do")
            return
        _train(trainer, total, folder.path, corpus, checkpoint_every, stop, quiet,
               saved=first if resume is not None else None)
    seconds = max(time.perf_counter() - start, 1e-9)
    if trainer.iteration == first:                      # stopped before the first iteration
        typer.echo("charrnn: stopped before training began; nothing new was saved", err=True)
        raise typer.Exit(stop.exit_code)
    done = "stopped" if trainer.iteration < total else "done"
    typer.echo(f"{done} at iteration {trainer.iteration:,} (epoch {trainer.epoch}): smooth loss "
               f"{trainer.smooth_loss:.2f}, best {trainer.best_loss:.2f} at iteration "
               f"{trainer.best_iteration:,}; {(trainer.iteration - first) / seconds:,.0f} it/s")
    typer.echo(f"run saved in {folder.path}" + (
        f"; continue with: charrnn train --resume {folder.path}"
        if trainer.iteration < total else ""))
    if trainer.samples:
        last = trainer.samples[-1]
        typer.echo(f"\nsample at iteration {last.iteration:,}:\n{last.text}")
    if stop.signum is not None:
        raise typer.Exit(stop.exit_code)      # the shell's code for "stopped by signal N"


def _load(run: Path) -> Trainer:
    path = run / runs.CHECKPOINT if run.is_dir() else run
    return _library(checkpoint.load, path)


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="A run folder or a checkpoint.npz file.",
                                        show_default=False)],
    length: Annotated[int, typer.Option(
        "--length", help="Characters to generate, printed as they come.")] = 1000,
    temperature: Annotated[float, typer.Option(
        "--temperature", help="Below 1: safer, more repetitive; above 1: wilder.")] = 1.0,
    top_p: Annotated[float, typer.Option(
        "--top-p", help="Draw only from the most likely characters holding this "
                        "probability.")] = 1.0,
    prime: Annotated[str, typer.Option("--prime", help="Text to continue.")] = "",
    seed: SeedOption = 0,
    greedy: Annotated[bool, typer.Option(
        "--greedy", help="Always take the most likely character (temperature -> 0).")] = False,
    best: Annotated[bool, typer.Option("--best/--latest",
                                       help="Use the best or the latest parameters.")] = True,
) -> None:
    """Print text synthesised by a trained network (chapter 7)."""
    in_range("--length", length, 0, MAX_LENGTH)
    in_range("--temperature", temperature, 0, 1e6, above=True)
    in_range("--top-p", top_p, 0, 1, above=True)
    in_range("--seed", seed, 0, MAX_SEED)
    trainer = _load(run)
    rnn = trainer.best if best else trainer.rnn
    if not all(np.isfinite(theta).all() for theta in rnn):
        raise RunError(f"{run} holds infinite or NaN parameters: nothing to sample")
    pieces = generate_chunks(rnn, trainer.vocab, length, np.random.default_rng(seed),
                             prefix=prime, temperature=temperature, top_p=top_p,
                             greedy_decoding=greedy)
    with signals.StopSignals() as stop:
        try:
            for piece in pieces:
                sys.stdout.write(piece)
                sys.stdout.flush()
                if stop.signum is not None:
                    break
            sys.stdout.write("\n")
        except ValueError as err:
            raise UsageError(str(err)) from None
        except BrokenPipeError:
            # The reader went away (`charrnn sample | head`): stop quietly, and let nothing
            # try to flush to the closed pipe at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
    if stop.signum is not None:
        raise typer.Exit(stop.exit_code)


def _figure_out(flag: str, out: Path) -> None:
    from charrnn_edu.report import FIGURE_FORMATS

    if out.suffix.lower() not in FIGURE_FORMATS:
        raise UsageError(f"{flag} {out}: cannot draw a {out.suffix or 'suffix-less'} file; "
                         f"use {', '.join(FIGURE_FORMATS[:-1])} or {FIGURE_FORMATS[-1]}")
    if out.is_dir():
        raise UsageError(f"{flag} {out} is a directory: give a file name")


def _flat_note(K: int) -> None:
    if K == 1:
        typer.echo("charrnn: note: the text has a single distinct character (K = 1), so the "
                   "loss is 0 throughout and the figure is flat", err=True)


@app.command()
def plot(
    run: Annotated[Path, typer.Argument(help="A run folder or a checkpoint.npz file.",
                                        show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Image file, .png, .svg or .pdf [default: RUN/loss.png].",
        show_default=False)] = None,
) -> None:
    """Draw the smooth loss (and the raw loss, lighter) against iterations, epochs marked."""
    from charrnn_edu.report import plot_loss

    trainer = _load(run)
    out = out or (run if run.is_dir() else run.parent) / "loss.png"
    _figure_out("--out", out)
    _flat_note(len(trainer.vocab))
    plot_loss(trainer.smooth_losses, trainer.epoch_starts, out, losses=trainer.losses,
              title=f"Smooth loss, {trainer.iteration:,} iterations",
              loss=trainer.settings.loss, held_out=trainer.evaluations,
              seq_length=trainer.settings.seq_length)
    typer.echo(f"wrote {out}")


def _command_line(name: str, options: list[tuple[str, object, object]]) -> str:
    """``charrnn NAME`` with the options that differ from their defaults, for provenance."""
    parts = ["charrnn", name]
    for flag, value, default in options:
        if value != default:
            parts += [flag] if value is True else [flag, str(value)]
    return " ".join(parts)


@app.command()
def report(
    data: DataOption = None,
    encoding: Annotated[str, typer.Option(
        "--encoding", help="Text encoding of --data (the report's novel needs latin-1).")
    ] = "utf-8",
    epochs: Annotated[float, typer.Option("--epochs", help="Passes over the text.")] = 5,
    evolution_every: Annotated[int, typer.Option(
        "--evolution-every", help="Synthesise text every this many iterations.")] = 10_000,
    evolution_until: Annotated[int, typer.Option(
        "--evolution-until", help="Show the synthesised text up to this iteration.")] = 100_000,
    evolution_length: Annotated[int, typer.Option(
        "--evolution-length", help="Characters per synthesised text.")] = 200,
    final_length: Annotated[int, typer.Option(
        "--final-length", help="Characters from the best model.")] = 1000,
    seed: SeedOption = 0,
    preset: Annotated[Preset, typer.Option(
        "--preset", help=PRESET_HELP)] = Preset.classic,
    dtype: Annotated[Dtype | None, typer.Option(
        "--dtype", help="float32 trains faster; gradient checks always use float64 "
                        "[default: the preset's].", show_default=False)] = None,
    batch: Annotated[int | None, typer.Option(
        "--batch", help="Streams read side by side, B (1 is the report's loop) "
                        "[default: the preset's].", show_default=False)] = None,
    engine: EngineOption = Engine.fast,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Report folder [default: reports/<name of the text file>].",
        show_default=False)] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="A small version (2,000 iterations) with the same outputs.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Reproduce the whole report: gradient check, loss curve, text evolution, best model.

    Writes report.md, report.json, loss.png and loss.svg, and the training run in run/
    (so 'charrnn sample OUT/run' works afterwards). Running the same command again after an
    interruption resumes the training where it stopped.
    """
    from charrnn_edu import report as reports

    command = _command_line("report", [
        ("--data", data, None), ("--encoding", encoding, "utf-8"), ("--epochs", epochs, 5),
        ("--evolution-every", evolution_every, 10_000),
        ("--evolution-until", evolution_until, 100_000),
        ("--evolution-length", evolution_length, 200), ("--final-length", final_length, 1000),
        ("--seed", seed, 0), ("--preset", preset.value, "classic"),
        ("--dtype", dtype and dtype.value, None), ("--batch", batch, None),
        ("--engine", engine.value, "fast"), ("--out", out, None), ("--quick", quick, False)])
    in_range("--epochs", epochs, 0, MAX_ITERATIONS, above=True)
    in_range("--evolution-every", evolution_every, 1, MAX_ITERATIONS)
    in_range("--evolution-until", evolution_until, 1)
    in_range("--evolution-length", evolution_length, 1, MAX_SAMPLE)
    in_range("--final-length", final_length, 1, MAX_SAMPLE)
    in_range("--seed", seed, 0, MAX_SEED)
    in_range("--batch", batch, 1, MAX_BATCH)
    path, text, vocab = load_corpus(data, encoding)
    out = out or Path("reports") / (path.stem + ("-quick" if quick else ""))
    _out_folder("--out", out)
    if quick:
        evolution_every, evolution_until, final_length = 500, 2_000, 300
    settings = replace(PRESETS[preset.value], seed=seed, sample_every=evolution_every,
                       sample_length=evolution_length)
    settings = replace(settings, dtype=dtype.value if dtype else settings.dtype,
                       batch=batch or settings.batch)
    need = settings.batch * (settings.seq_length + 1)
    trained_on = trained_length(len(text), settings)
    if trained_on < need:
        held = (f" ({len(text) - trained_on} held out: the preset's val_frac)"
                if trained_on < len(text) else "")
        raise UsageError(f"{path} has {trained_on} characters to train on{held}; the report "
                         f"needs at least batch * (seq_length + 1) = {need}")
    corpus = files.Corpus.of(path, text, encoding)

    with runs.RunFolder(out), runs.RunFolder(out / "run") as run, signals.StopSignals() as stop:
        # 1. The gradient check, as `charrnn gradcheck` does it (same seed, same numbers).
        section, tables = reports.report_gradcheck(text, vocab, settings, seed)
        rows = [row for t in tables.values() for row in t]
        typer.echo(f"gradient check (m = {section['hidden']}, h0 = 0 and random): "
                   f"{'passed' if section['passed'] else 'FAILED'}; largest relative error "
                   f"{max(r.max_rel for r in rows):.2e} against centred differences, "
                   f"{max(r.complex_rel for r in rows):.2e} against complex steps")

        # 2. Training, resumable: the run folder inside the report folder holds the checkpoint.
        saved = None
        if (run.path / runs.CHECKPOINT).exists():
            trainer = _library(runs.resume, run.path, text, corpus)
            trainer.engine = engine.value
            if trainer.settings != settings:
                raise UsageError(f"{run.path} was trained with other settings: use another "
                                 "--out or the options of that run")
            saved = trainer.iteration
            typer.echo(f"resuming the report's training at iteration {saved:,}", err=True)
        else:
            trainer = _library(Trainer.start, text, settings, vocab, engine=engine.value)
        total = min(_total(epochs, trainer.iterations_per_epoch),
                    2_000 if quick else MAX_ITERATIONS)
        first = trainer.iteration
        if first < total:
            _train(trainer, total, run.path, corpus, 10_000, stop, quiet, saved)
        if trainer.iteration < total:
            typer.echo(f"charrnn: stopped at iteration {trainer.iteration:,} of {total:,}; run "
                       "the same command again to resume", err=True)
            raise typer.Exit(stop.exit_code or 130)

        # 3. The figures, 4. the best model's text, and the report in two forms.
        _flat_note(len(vocab))
        seconds = float(runs.read_record(run.path).get("train_seconds", 0.0))
        reports.finish_report(
            out, trainer, final_length=final_length, seed=seed,
            title=f"Reproducing the report on {path.name}" + (" (quick)" if quick else ""),
            command=command, preset=preset.value, corpus=corpus, gradcheck=section,
            seconds=seconds, first=first, evolution_every=evolution_every,
            evolution_until=evolution_until)
        if stop.signum is not None:           # asked to stop while the report was written
            raise typer.Exit(stop.exit_code)
    typer.echo(reports.comparison_markdown(
        reports.original_comparison(trainer, section, len(vocab))))
    best = f"{trainer.best_loss:.2f}"
    if trainer.settings.loss == "mean":       # the report's scale beside the run's own
        best += f" per character, {trainer.best_loss * 25:.2f} per 25"
    typer.echo(f"wrote {out}/report.md, report.json, loss.png, loss.svg and run/ "
               f"({trainer.iteration:,} iterations, best smooth loss {best}, "
               f"{seconds:.1f} s of training)")


@app.command("eval")
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder (or its checkpoint.npz).")],
    data: DataOption = None,
    encoding: EncodingOption = None,
    best: Annotated[bool, typer.Option("--best/--latest",
                                       help="The best model or the latest one.")] = True,
) -> None:
    """Loss per character of a trained model, in nats and bits, against guessing uniformly.

    On the run's held-out part (train with --val-frac) when --data is the text it was trained
    on, or not given and the run trained on the bundled corpus; on the whole of --data when
    that is another text.
    """
    path = run / runs.CHECKPOINT if run.is_dir() else run
    model, vocab, meta = _library(checkpoint.load_model, path, best)
    encoding = encoding or meta["encoding"]
    corpus_path, text, _ = load_corpus(data, encoding)
    if data is None and files.corpus_sha256(text, encoding) != meta["corpus_sha256"]:
        raise UsageError(f"{path} was trained on {meta['corpus_name']}, not on the bundled "
                         f"corpus: give --data the path of {meta['corpus_name']} (or of "
                         "another text to evaluate on)")
    found = _library(evaluation.evaluate, model, vocab, meta["settings"], text, corpus_path.name,
                     encoding, meta["corpus_sha256"])
    typer.echo(f"{'best' if best else 'latest'} model of {path} on {found.what}: "
               f"{found.nats:.4f} nats = {found.bits:.4f} bits per character (guessing "
               f"uniformly: log2 K = log2 {found.K} = {math.log2(found.K):.4f} bits)")


@app.command()
def study(
    data: DataOption = None,
    encoding: EncodingOption = None,
    preset: PresetOption = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Number of seeds, 0 to N - 1.")] = 5,
    iterations: Annotated[int | None, typer.Option(
        "--iterations", help="Iterations per seed [default: 100000].",
        show_default=False)] = None,
    epochs: Annotated[float | None, typer.Option(
        "--epochs", help="Or: passes over the text per seed.")] = None,
    batch: BatchOption = None,
    dtype: DtypeOption = None,
    compare_report: Annotated[bool | None, typer.Option(
        "--compare-report/--no-compare-report",
        help="Show the original report's numbers [default: with the classic preset].",
        show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Study folder [default: studies/<text>-<preset>].",
        show_default=False)] = None,
) -> None:
    """Is my curve normal? The same settings from N seeds: the band of their smooth loss.

    Writes study.json, study.md and study.png, and keeps each seed's run in seed-<s>/, so a
    stopped study continues where it stopped when run again.
    """
    from charrnn_edu import study as studies
    from charrnn_edu.training import iterations_per_epoch

    if iterations is not None and epochs is not None:
        raise UsageError("give --iterations or --epochs, not both")
    in_range("--seeds", seeds, 1, 1_000)
    in_range("--iterations", iterations, 1, MAX_ITERATIONS)
    in_range("--epochs", epochs, 0, MAX_ITERATIONS, above=True)
    in_range("--batch", batch, 1, MAX_BATCH)
    preset = preset or Preset.classic
    changes = {k: v for k, v in (("batch", batch), ("dtype", dtype and dtype.value))
               if v is not None}
    settings = _library(replace, PRESETS[preset.value], **changes)
    path, text, _ = load_corpus(data, encoding or "utf-8")
    corpus = files.Corpus.of(path, text, encoding or "utf-8")
    per_epoch = iterations_per_epoch(trained_length(len(text), settings),  # of the trained part
                                     settings.seq_length, settings.batch)
    total = (_total(epochs, per_epoch) if epochs is not None
             else 100_000 if iterations is None else iterations)
    out = out or Path("studies") / f"{path.stem}-{preset.value}"
    _out_folder("--out", out)
    compare = preset == Preset.classic if compare_report is None else compare_report

    def progress(seed: int, trainer: Trainer) -> None:
        if trainer.iteration % 10_000 == 0 or trainer.iteration == total:
            typer.echo(f"seed {seed}: iteration {trainer.iteration:,} of {total:,}, smooth "
                       f"loss {trainer.smooth_loss:.2f}", err=True)

    with runs.RunFolder(out) as folder:
        result = _library(studies.run_study, text, settings, list(range(seeds)), total,
                          folder=folder.path, corpus=corpus.to_dict(), progress=progress)
        title = f"{seeds} seeds of the {preset.value} preset on {path.name}"
        _library(studies.write_study, result, folder.path, title, compare)
    typer.echo(studies.study_markdown(result, title, compare).split("\n", 2)[2].rstrip())
    typer.echo(f"\nwrote {out}/study.json, study.md and study.png")


# The exercises and the bug lab (charrnn_edu.exercises): write each chapter's functions yourself.
app.add_typer(exercises_app, name="exercises")
app.add_typer(lab_command, name="lab")


def _os_error(err: OSError) -> str:
    where = f" {err.filename}" if err.filename else ""
    return f"cannot write{where}: {err.strerror or err}"


def main(argv: list[str] | None = None) -> None:
    """Run the ``charrnn`` command; turn every error into one line and an exit code."""
    command = typer.main.get_command(app)
    try:
        # Overflow and NaN are diagnosed by the library in words (a diverged run, a refused
        # option); numpy's and matplotlib's warnings would only repeat them with line numbers.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
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
            typer.echo(f"charrnn: error: {err.format_message()} (see '{where} --help')", err=True)
        code = err.exit_code
    except UsageError as err:
        typer.echo(f"charrnn: error: {err}", err=True)
        code = 2
    except (RunError, runs.RunFailed, runs.FolderBusy) as err:
        typer.echo(f"charrnn: error: {err}", err=True)
        code = 1
    except typer.Exit as err:
        code = err.exit_code
    except signals.Interrupted as err:
        typer.echo(f"charrnn: stopped at once by a second {err}; the last save is kept",
                   err=True)
        code = 128 + err.signum
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("charrnn: interrupted", err=True)
        code = 130
    except OSError as err:
        typer.echo(f"charrnn: error: {_os_error(err)}", err=True)
        code = 1
    except MemoryError:
        typer.echo("charrnn: error: out of memory: try a smaller --hidden or a shorter text",
                   err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
