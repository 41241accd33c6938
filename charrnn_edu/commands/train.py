"""``charrnn train``: the report's training loop into a run folder, resumable bit for bit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from charrnn_edu import evaluation, files, runs, signals
from charrnn_edu.commands.common import (
    CHECKPOINT_EVERY,
    UsageError,
    call,
    for_terminal,
    load_corpus,
    out_folder,
    train_run,
)
from charrnn_edu.commands.options import (
    EPOCHS,
    ITERATIONS,
    MAX_HIDDEN,
    MAX_SAMPLE,
    SEED,
    BatchOption,
    CellOption,
    DataOption,
    DtypeOption,
    EncodingOption,
    EngineChoice,
    EngineOption,
    PresetOption,
    QuietOption,
    bounded,
    nonempty_folder,
    preset_default,
)
from charrnn_edu.settings import (
    DEFAULT_ITERATIONS,
    MAX_ITERATIONS,
    MAX_VAL_FRAC,
    resolve_settings,
    resume_requests,
    target_iterations,
)

VAL_FRAC_DEFAULT = preset_default("val_frac", ", the report's way")


def _physical_memory() -> int:
    return evaluation.physical_memory()


def train(
    data: DataOption = None,
    encoding: EncodingOption = None,
    iterations: Annotated[int | None, typer.Option(
        "--iterations", help=f"Train until this many iterations in all [default: "
                             f"{DEFAULT_ITERATIONS}].", show_default=False,
        callback=ITERATIONS)] = None,
    epochs: Annotated[float | None, typer.Option(
        "--epochs", help="Or: train this many passes over the text.", callback=EPOCHS)] = None,
    preset: PresetOption = None,
    cell: CellOption = None,
    hidden: Annotated[int | None, typer.Option(
        "--hidden", help=f"Hidden size m {preset_default('hidden')}.", show_default=False,
        callback=bounded(1, MAX_HIDDEN))] = None,
    seq_length: Annotated[int | None, typer.Option(
        "--seq-length", help=f"Sequence length tau {preset_default('seq_length')}.",
        show_default=False, callback=bounded(1, MAX_ITERATIONS))] = None,
    eta: Annotated[float | None, typer.Option(
        "--eta", help=f"Learning rate {preset_default('eta')}.", show_default=False,
        callback=bounded(0, above=True))] = None,
    sigma: Annotated[float | None, typer.Option(
        "--sigma", help=f"Std of the initial weights, classic init {preset_default('sigma')}.",
        show_default=False, callback=bounded(0))] = None,
    clip_bound: Annotated[float | None, typer.Option(
        "--clip", help=f"Clip gradients to ±this {preset_default('clip')}.", show_default=False,
        callback=bounded(0, above=True))] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help=f"Seed of every random draw {preset_default('seed')}.",
        show_default=False, callback=SEED)] = None,
    dtype: DtypeOption = None,
    batch: BatchOption = None,
    val_frac: Annotated[float | None, typer.Option(
        "--val-frac", help=f"Hold out this last fraction of the text (0 to {MAX_VAL_FRAC:g}) "
                           f"and measure its loss {VAL_FRAC_DEFAULT}.",
        show_default=False, callback=bounded(0, MAX_VAL_FRAC))] = None,
    eval_every: Annotated[int | None, typer.Option(
        "--eval-every", help="Measure the held-out loss every this many iterations "
                             f"{preset_default('eval_every')}.", show_default=False,
        callback=bounded(1, MAX_ITERATIONS))] = None,
    engine: EngineOption = EngineChoice.fast,
    sample_every: Annotated[int | None, typer.Option(
        "--sample-every", help="Synthesise text every this many iterations "
                               f"{preset_default('sample_every')}.", show_default=False,
        callback=bounded(1, MAX_ITERATIONS))] = None,
    sample_length: Annotated[int | None, typer.Option(
        "--sample-length", help=f"Characters per sample, at most {MAX_SAMPLE} "
                                f"{preset_default('sample_length')}.", show_default=False,
        callback=bounded(0, MAX_SAMPLE))] = None,
    checkpoint_every: Annotated[int | None, typer.Option(
        "--checkpoint-every", help=f"Save the run every this many iterations [default: "
                                   f"{CHECKPOINT_EVERY}, or the resumed run's].",
        show_default=False, callback=bounded(1, MAX_ITERATIONS))] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", parser=nonempty_folder("--out"), metavar="<path>",
        help="Run folder [default: runs/<name of the text file>].",
        show_default=False)] = None,
    resume: Annotated[Path | None, typer.Option(
        "--resume", parser=nonempty_folder("--resume"), metavar="<path>",
        help="Continue the run in this folder, with its settings.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Train the RNN with the report's loop: BPTT, clipping, AdaGrad or Adam (chapters 4-6).

    --cell lstm or gru trains chapter 10's or 10b's gated cell with the same loop.

    Writes the run folder: checkpoint.npz (latest and best parameters, resumable),
    settings.json, history.csv (loss of every iteration), samples.md and, with --val-frac,
    held_out.csv (the held-out loss), all of them at every save. Ctrl-C, SIGTERM or SIGHUP
    stop after the current iteration and save first; --resume continues bit-for-bit.
    """
    if iterations is not None and epochs is not None:
        # Refused whatever an epoch is, so before any file is read.
        call(target_iterations, 1, iterations=iterations, epochs=epochs)
    if resume is not None and out is not None and out != resume:
        raise UsageError("give --out (a new run) or --resume (a run to continue), not both")
    if resume is not None and not resume.is_dir():
        raise UsageError(f"--resume {resume}: no run folder there (train one with --out)")
    encoding = (encoding or (call(runs.read_corpus, resume).get("encoding") if resume else None)
                or "utf-8")
    path, text, vocab = load_corpus(data, encoding)
    corpus = call(files.Corpus.of, path, text, encoding)
    folder_path = resume or out or Path("runs") / path.stem
    out_folder("--resume" if resume else "--out", folder_path)
    chosen = {"cell": cell and cell.value, "hidden": hidden, "seq_length": seq_length,
              "eta": eta, "sigma": sigma, "clip": clip_bound, "seed": seed,
              "sample_every": sample_every, "sample_length": sample_length,
              "dtype": dtype and dtype.value, "batch": batch, "val_frac": val_frac,
              "eval_every": eval_every}
    named = preset and preset.value
    with runs.RunFolder(folder_path, create=resume is None) as folder, \
            signals.StopSignals() as stop:
        if resume is not None:
            trainer = call(runs.resume, folder.path, text, corpus,
                           call(resume_requests, named, chosen))
            trainer.engine = engine.value
            checkpoint_every = (checkpoint_every or call(runs.read_record, folder.path)
                                .get("checkpoint_every", CHECKPOINT_EVERY))
        else:
            if (folder.path / runs.CHECKPOINT).exists():
                raise UsageError(f"{folder.path} already holds a run: continue it with "
                                 f"--resume {folder.path} or choose another --out")
            settings = call(resolve_settings, named, chosen)
            trainer = call(runs.start, text, vocab, settings, _physical_memory() // 2,
                           engine.value)
            checkpoint_every = checkpoint_every or CHECKPOINT_EVERY
        total = call(target_iterations, trainer.iterations_per_epoch, iterations=iterations,
                     epochs=epochs)
        first, start = trainer.iteration, time.perf_counter()
        if total <= first:
            typer.echo(f"the run in {folder.path} is already at iteration {first:,} "
                       f"(asked for {total:,}): nothing to do")
            return
        train_run(trainer, total, folder.path, corpus, checkpoint_every, stop, quiet,
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
        typer.echo(f"\nsample at iteration {last.iteration:,}:\n{for_terminal(last.text)}")
    if stop.signum is not None:
        raise typer.Exit(stop.exit_code)      # the shell's code for "stopped by signal N"
