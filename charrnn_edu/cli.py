"""The ``charrnn`` command: every chapter of the package, runnable from the shell.

Library code raises exceptions; only this module turns them into one-line messages and exit
codes: 2 for a usage error (a bad option, a missing or unreadable input file), 1 for a run that
failed (a gradient check that did not pass, training that diverged). Never a traceback.
"""

from __future__ import annotations

import json
import platform
import signal
import sys
import time
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from charrnn_edu import __version__, checkpoint
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.exercises.commands import app as exercises_app
from charrnn_edu.exercises.commands import lab as lab_command
from charrnn_edu.files import default_corpus, read_text, write_atomically
from charrnn_edu.forward import RNN
from charrnn_edu.gradcheck import GradCheckRow, check
from charrnn_edu.report import (
    gradcheck_rows,
    history_csv,
    plot_loss,
    report_markdown,
    samples_markdown,
)
from charrnn_edu.sampling import generate
from charrnn_edu.training import PRESETS, Trainer, TrainingDiverged, init_scaled

app = typer.Typer(
    name="charrnn",
    help="A character-level vanilla RNN, built, trained and checked step by step.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


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


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"charrnn: error: {message}", err=True)
    raise typer.Exit(code)


DataOption = Annotated[Path | None, typer.Option(
    "--data", help="Text file to use [default: the bundled data/shakespeare.txt].",
    show_default=False)]
EncodingOption = Annotated[str, typer.Option(
    "--encoding", help="Text encoding of --data (the report's novel needs latin-1).")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random draw.")]


def load_corpus(data: Path | None, encoding: str) -> tuple[Path, str, Vocabulary]:
    """Read the corpus named by ``--data`` and build its vocabulary, or raise UsageError."""
    path = default_corpus() if data is None else data
    try:
        text = read_text(path, encoding)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from None
    return path, text, Vocabulary.from_text(text)


def positive(name: str, value: float) -> None:
    """Raise UsageError unless ``value`` > 0."""
    if not value > 0:
        raise UsageError(f"{name} must be positive, got {value}")


class Preset(StrEnum):
    """The course's editions of the assignment (see ``charrnn_edu.training.PRESETS``)."""

    classic = "classic"
    edition_2026 = "2026"


PresetOption = Annotated[Preset, typer.Option(
    "--preset", help="classic: AdaGrad, summed loss, sigma 0.01 (the report); "
                     "2026: Adam, mean loss, scaled initialisation.")]


class Dtype(StrEnum):
    """Floating-point precision of training."""

    float64 = "float64"
    float32 = "float32"


DtypeOption = Annotated[Dtype, typer.Option(
    "--dtype", help="float32 trains faster; gradient checks always use float64.")]


class H0(StrEnum):
    """The hidden state before the first step of a gradient check."""

    zero = "zero"
    random = "random"


def format_gradcheck_table(rows: list[GradCheckRow]) -> str:
    """The gradient-check table as aligned plain text, one row per parameter."""
    header = ("param", "shape", "max rel. error", "mean rel. error", "max abs. error",
              "complex-step rel. error")
    body = [(r.name, "x".join(map(str, r.shape)), f"{r.max_rel:.2e}", f"{r.mean_rel:.2e}",
             f"{r.max_abs:.2e}", f"{r.complex_rel:.2e}") for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *body])


@app.command()
def gradcheck(
    data: DataOption = None,
    encoding: EncodingOption = "utf-8",
    hidden: Annotated[int, typer.Option("--hidden", help="Hidden size m.")] = 5,
    seq_length: Annotated[int, typer.Option("--seq-length", help="Sequence length tau.")] = 25,
    step: Annotated[float, typer.Option("--step", help="Centred-difference step h.")] = 1e-4,
    eps: Annotated[float, typer.Option("--eps", help="Floor of the relative error's "
                                                     "denominator, equation (1).")] = 1e-6,
    sigma: Annotated[float, typer.Option("--sigma", help="Std of the initial weights.")] = 0.01,
    seed: SeedOption = 0,
    h0: Annotated[H0, typer.Option("--h0", help="Hidden state before the first step.")] = H0.zero,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", help="Pass when every max relative error is below this.")] = 1e-5,
) -> None:
    """Check BPTT's gradients against centred differences and complex steps (chapter 5).

    Uses the first seq-length characters of the corpus, as the report does. Exits 0 when
    every centred-difference max relative error is below --tolerance and every complex-step
    error below 1e-12, 1 otherwise.
    """
    for name, value in [("--hidden", hidden), ("--seq-length", seq_length), ("--step", step),
                        ("--eps", eps), ("--tolerance", tolerance)]:
        positive(name, value)
    if sigma < 0:
        raise UsageError(f"--sigma must be non-negative, got {sigma}")
    path, text, vocab = load_corpus(data, encoding)
    if len(text) < seq_length + 1:
        raise UsageError(f"{path} has {len(text)} characters; the check needs seq-length + 1 "
                         f"= {seq_length + 1} (use a longer text or a smaller --seq-length)")
    ids = vocab.encode(text[:seq_length + 1])
    rng = np.random.default_rng(seed)
    rnn = RNN.init(len(vocab), hidden, sigma, rng=rng)
    start = np.zeros((hidden, 1)) if h0 is H0.zero else rng.uniform(-1, 1, (hidden, 1))
    rows = check(rnn, ids[:-1], ids[1:], start, step=step, eps=eps)

    typer.echo(f"corpus: {path.name} ({len(text):,} characters, K = {len(vocab)}, {encoding})")
    typer.echo(f"m = {hidden}, tau = {seq_length}, h = {step:g}, eps = {eps:g}, "
               f"sigma = {sigma:g}, seed = {seed}, h0 = {h0.value}")
    typer.echo("")
    typer.echo(format_gradcheck_table(rows))
    typer.echo("")
    worst = max(r.max_rel for r in rows)
    worst_complex = max(r.complex_rel for r in rows)
    verdict = worst < tolerance and worst_complex < 1e-12
    typer.echo(f"{'passed' if verdict else 'FAILED'}: largest centred-difference error "
               f"{worst:.2e} (tolerance {tolerance:g}), largest complex-step error "
               f"{worst_complex:.2e} (tolerance 1e-12)")
    if not verdict:
        raise typer.Exit(1)


RUN_FILES = ("checkpoint.npz", "settings.json", "history.csv", "samples.md")


def _save_run(out: Path, trainer: Trainer, corpus: dict[str, str]) -> None:
    """Write the run folder's checkpoint, settings and samples, each atomically."""
    checkpoint.save(out / "checkpoint.npz", trainer, corpus_sha256=corpus["sha256"],
                    encoding=corpus["encoding"], corpus_name=corpus["name"])
    settings = {"settings": trainer.settings.to_dict(), "corpus": corpus,
                "K": len(trainer.vocab), "package": f"charrnn-edu {__version__}"}
    text = json.dumps(settings, indent=2) + "\n"
    write_atomically(out / "settings.json", lambda f: f.write(text.encode()))
    write_atomically(out / "samples.md",
                     lambda f: f.write(samples_markdown(trainer.samples).encode()))


class _Progress:
    """A rich progress bar fed by the trainer's callback (the library itself never prints)."""

    def __init__(self, total: int, trainer: Trainer) -> None:
        self.bar = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("epoch {task.fields[epoch]}"),
            TextColumn("smooth loss {task.fields[smooth]:.2f}"),
            TextColumn("{task.fields[rate]:,.0f} it/s"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task("train", total=total, completed=trainer.iteration,
                                      epoch=trainer.epoch, smooth=trainer.smooth_loss, rate=0.0)
        self.start, self.first = time.perf_counter(), trainer.iteration

    def __call__(self, trainer: Trainer) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.update(self.task, completed=trainer.iteration, epoch=trainer.epoch,
                        smooth=trainer.smooth_loss,
                        rate=(trainer.iteration - self.first) / elapsed)


def _stop_on_ctrl_c(trainer: Trainer) -> None:
    """First Ctrl-C: finish the current iteration, save, stop. A second one stops at once."""
    def handler(signum: int, frame: object) -> None:
        trainer.stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGINT, handler)


def train_run(trainer: Trainer, total: int, out: Path, corpus: dict[str, str],
              checkpoint_every: int, quiet: bool = False) -> None:
    """Train to ``total`` iterations, saving the run every ``checkpoint_every``; Ctrl-C safe."""
    progress = None if quiet else _Progress(total, trainer)
    _stop_on_ctrl_c(trainer)
    try:
        if progress is not None:
            progress.bar.start()
        # Overflow shows up as an infinite loss, which the trainer diagnoses in one message;
        # numpy's warnings would only repeat it with a line number.
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            while trainer.iteration < total and not trainer.stop_requested:
                target = min(total, (trainer.iteration // checkpoint_every + 1)
                             * checkpoint_every)
                trainer.run(target, progress)
                _save_run(out, trainer, corpus)
        # The checkpoint already holds every loss; the CSV copy is written once, at the end,
        # rather than in full at every checkpoint.
        write_atomically(out / "history.csv", lambda f: f.write(history_csv(trainer).encode()))
    except TrainingDiverged as err:
        kept = (f"the last good checkpoint is in {out}" if (out / "checkpoint.npz").exists()
                else "no checkpoint was written")
        raise RunError(f"{err}; {kept}") from None
    finally:
        if progress is not None:
            progress.bar.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)


@app.command()
def train(
    data: DataOption = None,
    encoding: EncodingOption = "utf-8",
    iterations: Annotated[int | None, typer.Option(
        "--iterations", help="Train until this many iterations in all [default: 100000].",
        show_default=False)] = None,
    epochs: Annotated[float | None, typer.Option(
        "--epochs", help="Or: train this many passes over the text.")] = None,
    preset: PresetOption = Preset.classic,
    hidden: Annotated[int | None, typer.Option(
        "--hidden", help="Hidden size m [default: 100].", show_default=False)] = None,
    seq_length: Annotated[int | None, typer.Option(
        "--seq-length", help="Sequence length tau [default: 25].", show_default=False)] = None,
    eta: Annotated[float | None, typer.Option(
        "--eta", help="Learning rate [default: 0.1 classic, 0.001 in 2026].",
        show_default=False)] = None,
    sigma: Annotated[float | None, typer.Option(
        "--sigma", help="Std of the initial weights, classic init [default: 0.01].",
        show_default=False)] = None,
    clip_bound: Annotated[float | None, typer.Option(
        "--clip", help="Clip gradients to ±this [default: 5].", show_default=False)] = None,
    seed: SeedOption = 0,
    dtype: DtypeOption = Dtype.float64,
    sample_every: Annotated[int, typer.Option("--sample-every",
                                              help="Synthesise text every this many "
                                                   "iterations.")] = 10_000,
    sample_length: Annotated[int, typer.Option("--sample-length",
                                               help="Characters per sample.")] = 200,
    checkpoint_every: Annotated[int, typer.Option(
        "--checkpoint-every", help="Save the run every this many iterations.")] = 10_000,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Run folder [default: runs/<name of the text file>].",
        show_default=False)] = None,
    resume: Annotated[Path | None, typer.Option(
        "--resume", help="Continue the run in this folder (its settings are kept).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train the RNN with the report's loop: BPTT, clipping, AdaGrad or Adam (chapters 4-6).

    Writes the run folder: checkpoint.npz (latest and best parameters, resumable),
    settings.json, history.csv (loss of every iteration) and samples.md. Ctrl-C stops after
    the current iteration and saves first; --resume continues bit-for-bit.
    """
    if iterations is not None and epochs is not None:
        raise UsageError("give --iterations or --epochs, not both")
    positive("--checkpoint-every", checkpoint_every)
    path, text, vocab = load_corpus(data, encoding)
    corpus = {"name": path.name, "encoding": encoding,
              "sha256": checkpoint.corpus_sha256(text, encoding), "characters": str(len(text))}
    if resume is not None:
        out = resume
        try:
            trainer = checkpoint.load(resume / "checkpoint.npz", text,
                                      corpus_sha256=corpus["sha256"])
        except checkpoint.CheckpointError as err:
            raise UsageError(str(err)) from None
    else:
        out = out or Path("runs") / path.stem
        if (out / "checkpoint.npz").exists():
            raise UsageError(f"{out} already holds a run: continue it with --resume {out} "
                             "or choose another --out")
        chosen = {"hidden": hidden, "seq_length": seq_length, "eta": eta, "sigma": sigma,
                  "clip": clip_bound}
        try:
            settings = replace(PRESETS[preset.value], seed=seed, sample_every=sample_every,
                               sample_length=sample_length, dtype=dtype.value,
                               **{k: v for k, v in chosen.items() if v is not None})
            trainer = Trainer.start(text, settings, vocab)
        except ValueError as err:
            raise UsageError(str(err)) from None
    if epochs is not None:
        positive("--epochs", epochs)
        total = round(epochs * trainer.iterations_per_epoch)
    else:
        total = 100_000 if iterations is None else iterations
        positive("--iterations", total)
    start = time.perf_counter()
    first = trainer.iteration
    train_run(trainer, total, out, corpus, checkpoint_every, quiet)
    seconds = time.perf_counter() - start
    done = "stopped" if trainer.stop_requested else "done"
    typer.echo(f"{done} at iteration {trainer.iteration:,} (epoch {trainer.epoch}): smooth loss "
               f"{trainer.smooth_loss:.2f}, best {trainer.best_loss:.2f} at iteration "
               f"{trainer.best_iteration:,}; {(trainer.iteration - first) / seconds:,.0f} it/s")
    typer.echo(f"run saved in {out}" + (f"; continue with: charrnn train --resume {out}"
                                        if trainer.iteration < total else ""))
    if trainer.samples:
        last = trainer.samples[-1]
        typer.echo(f"\nsample at iteration {last.iteration:,}:\n{last.text}")
    if trainer.stop_requested:
        raise typer.Exit(130)  # the shell's code for "stopped by Ctrl-C"; the run is saved


def _checkpoint_path(run: Path) -> Path:
    return run / "checkpoint.npz" if run.is_dir() else run


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="A run folder or a checkpoint.npz file.",
                                        show_default=False)],
    length: Annotated[int, typer.Option("--length", help="Characters to generate.")] = 1000,
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
    try:
        rnn, vocab, _ = checkpoint.load_model(_checkpoint_path(run), best=best)
    except checkpoint.CheckpointError as err:
        raise UsageError(str(err)) from None
    try:
        text = generate(rnn, vocab, length, np.random.default_rng(seed), prefix=prime,
                        temperature=temperature, top_p=top_p, greedy_decoding=greedy)
    except ValueError as err:
        raise UsageError(str(err)) from None
    typer.echo(text)


@app.command()
def plot(
    run: Annotated[Path, typer.Argument(help="A run folder or a checkpoint.npz file.",
                                        show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Image file, .png or .svg [default: RUN/loss.png].",
        show_default=False)] = None,
) -> None:
    """Draw the smooth loss (and the raw loss, lighter) against iterations, epochs marked."""
    path = _checkpoint_path(run)
    try:
        trainer = checkpoint.load(path)
    except checkpoint.CheckpointError as err:
        raise UsageError(str(err)) from None
    out = out or path.parent / "loss.png"
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"cannot draw a {out.suffix or 'suffix-less'} file: use .png or .svg")
    plot_loss(trainer.smooth_losses, trainer.epoch_starts, out, losses=trainer.losses,
              title=f"Smooth loss, {trainer.iteration:,} iterations")
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
    encoding: EncodingOption = "utf-8",
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
    preset: PresetOption = Preset.classic,
    dtype: DtypeOption = Dtype.float64,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Report folder [default: reports/<name of the text file>].",
        show_default=False)] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="A small version (2,000 iterations) with the same outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Reproduce the whole report: gradient check, loss curve, text evolution, best model.

    Writes report.md, report.json, loss.png and loss.svg, and the training run in run/
    (so 'charrnn sample OUT/run' works afterwards). Running the same command again after an
    interruption resumes the training where it stopped.
    """
    command = _command_line("report", [
        ("--data", data, None), ("--encoding", encoding, "utf-8"), ("--epochs", epochs, 5),
        ("--evolution-every", evolution_every, 10_000),
        ("--evolution-until", evolution_until, 100_000),
        ("--evolution-length", evolution_length, 200), ("--final-length", final_length, 1000),
        ("--seed", seed, 0), ("--preset", preset.value, "classic"),
        ("--dtype", dtype.value, "float64"), ("--out", out, None),
        ("--quick", quick, False)])
    for flag, value in [("--epochs", epochs), ("--evolution-every", evolution_every),
                        ("--evolution-until", evolution_until),
                        ("--evolution-length", evolution_length),
                        ("--final-length", final_length)]:
        positive(flag, value)
    path, text, vocab = load_corpus(data, encoding)
    out = out or Path("reports") / (path.stem + ("-quick" if quick else ""))
    if quick:
        evolution_every, evolution_until, final_length = 500, 2_000, 300
    settings = replace(PRESETS[preset.value], seed=seed, sample_every=evolution_every,
                       sample_length=evolution_length, dtype=dtype.value)
    if len(text) < settings.seq_length + 1:
        raise UsageError(f"{path} has {len(text)} characters; the report needs at least "
                         f"seq_length + 1 = {settings.seq_length + 1}")

    # 1. The gradient check, as `charrnn gradcheck` does it (same seed, same numbers). The
    # 2026 edition checks with m = 10 and its own initialisation.
    gc_hidden, tau = (10 if settings.init == "scaled" else 5), settings.seq_length
    ids = vocab.encode(text[:tau + 1])
    rng = np.random.default_rng(seed)
    small = (init_scaled(len(vocab), gc_hidden, rng=rng) if settings.init == "scaled"
             else RNN.init(len(vocab), gc_hidden, settings.sigma, rng=rng))
    tables = {"zero": gradcheck_rows(check(small, ids[:-1], ids[1:], np.zeros((gc_hidden, 1)))),
              "random": gradcheck_rows(check(small, ids[:-1], ids[1:],
                                             rng.uniform(-1, 1, (gc_hidden, 1))))}

    worst = max(r["max_rel"] for rows in tables.values() for r in rows)
    worst_complex = max(r["complex_rel"] for rows in tables.values() for r in rows)
    typer.echo(f"gradient check (m = {gc_hidden}, h0 = 0 and random): largest relative error "
               f"{worst:.2e} against centred differences, {worst_complex:.2e} against complex "
               "steps")

    # 2. Training, resumable: the run folder inside the report folder holds the checkpoint.
    corpus = {"name": path.name, "encoding": encoding,
              "sha256": checkpoint.corpus_sha256(text, encoding), "characters": str(len(text))}
    run_dir = out / "run"
    if (run_dir / "checkpoint.npz").exists():
        try:
            trainer = checkpoint.load(run_dir / "checkpoint.npz", text,
                                      corpus_sha256=corpus["sha256"])
        except checkpoint.CheckpointError as err:
            raise UsageError(str(err)) from None
        if trainer.settings != settings:
            raise UsageError(f"{run_dir} was trained with other settings: use another --out "
                             "or the options of that run")
        typer.echo(f"resuming the report's training at iteration {trainer.iteration:,}",
                   err=True)
    else:
        trainer = Trainer.start(text, settings, vocab)
    total = round(epochs * trainer.iterations_per_epoch)
    if quick:
        total = min(total, 2_000)
    if total < 1:
        raise UsageError(f"--epochs {epochs:g} is less than one iteration of this text")
    first, start = trainer.iteration, time.perf_counter()
    train_run(trainer, total, run_dir, corpus, checkpoint_every=10_000, quiet=quiet)
    seconds = time.perf_counter() - start
    if trainer.iteration < total:
        typer.echo(f"charrnn: stopped at iteration {trainer.iteration:,} of {total:,}; run the "
                   "same command again to resume", err=True)
        raise typer.Exit(130)

    # 3. The figures, 4. the best model's text, and the report in two forms.
    plot_loss(trainer.smooth_losses, trainer.epoch_starts, out / "loss.png",
              title=f"Smooth loss, {trainer.iteration:,} iterations")
    plot_loss(trainer.smooth_losses, trainer.epoch_starts, out / "loss.svg",
              title=f"Smooth loss, {trainer.iteration:,} iterations")
    final = generate(trainer.best, vocab, final_length, np.random.default_rng(seed))
    done = trainer.iteration - first
    result = {
        "title": f"Reproducing the report on {path.name}" + (" (quick)" if quick else ""),
        "command": command, "preset": preset.value,
        "corpus": {"name": path.name, "characters": len(text), "K": len(vocab),
                   "encoding": encoding, "sha256": corpus["sha256"]},
        "settings": settings.to_dict(),
        "gradcheck": {"hidden": gc_hidden, "seq_length": tau, "step": 1e-4, "eps": 1e-6,
                      "tables": tables},
        "training": {"iterations": trainer.iteration, "epochs": trainer.iteration
                     / trainer.iterations_per_epoch,
                     "iterations_per_epoch": trainer.iterations_per_epoch,
                     "first_loss": trainer.losses[0],
                     "uniform_loss": (1 if settings.loss == "mean" else tau)
                     * float(np.log(len(vocab))),
                     "final_smooth_loss": trainer.smooth_loss,
                     "best_smooth_loss": trainer.best_loss,
                     "best_iteration": trainer.best_iteration,
                     "wall_time_s": seconds,
                     "iterations_per_s": done / seconds if done else 0.0,
                     "resumed_from": first},
        "evolution_every": evolution_every,
        "evolution": [{"iteration": s.iteration, "smooth_loss": s.smooth_loss, "text": s.text}
                      for s in trainer.samples if s.iteration <= evolution_until],
        "final": {"iteration": trainer.best_iteration, "smooth_loss": trainer.best_loss,
                  "length": final_length, "text": final},
        "figures": {"png": "loss.png", "svg": "loss.svg"},
        "versions": {"charrnn_edu": __version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    report_json = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    write_atomically(out / "report.json", lambda f: f.write(report_json.encode()))
    report_md = report_markdown(result)
    write_atomically(out / "report.md", lambda f: f.write(report_md.encode()))
    typer.echo(f"wrote {out}/report.md, report.json, loss.png, loss.svg and run/ "
               f"({trainer.iteration:,} iterations, best smooth loss {trainer.best_loss:.2f}, "
               f"{seconds:.1f} s)")


# The exercises and the bug lab (charrnn_edu.exercises): write each chapter's functions yourself.
app.add_typer(exercises_app, name="exercises")
app.add_typer(lab_command, name="lab")


def main(argv: list[str] | None = None) -> None:
    """Run the ``charrnn`` command; turn every error into one line and an exit code."""
    command = typer.main.get_command(app)
    try:
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
    except RunError as err:
        typer.echo(f"charrnn: error: {err}", err=True)
        code = 1
    except typer.Exit as err:
        code = err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("charrnn: interrupted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
