"""``charrnn study``: is my curve normal? The same settings trained from several seeds."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from charrnn_edu import files, runs, signals
from charrnn_edu import study as studies
from charrnn_edu.commands.common import call, load_corpus, out_folder
from charrnn_edu.commands.options import (
    EPOCHS,
    ITERATIONS,
    BatchOption,
    DataOption,
    DtypeOption,
    EncodingOption,
    Preset,
    PresetOption,
    bounded,
    nonempty_folder,
)
from charrnn_edu.settings import (
    DEFAULT_ITERATIONS,
    DEFAULT_PRESET,
    resolve_settings,
    target_iterations,
)
from charrnn_edu.training import Trainer, iterations_per_epoch, trained_length

MAX_SEEDS = 1_000


def study(
    data: DataOption = None,
    encoding: EncodingOption = None,
    preset: PresetOption = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Number of seeds, 0 to N - 1.",
                                       callback=bounded(1, MAX_SEEDS))] = 5,
    iterations: Annotated[int | None, typer.Option(
        "--iterations", help=f"Iterations per seed [default: {DEFAULT_ITERATIONS}].",
        show_default=False, callback=ITERATIONS)] = None,
    epochs: Annotated[float | None, typer.Option(
        "--epochs", help="Or: passes over the text per seed.", callback=EPOCHS)] = None,
    batch: BatchOption = None,
    dtype: DtypeOption = None,
    compare_report: Annotated[bool | None, typer.Option(
        "--compare-report/--no-compare-report",
        help="Show the original report's numbers [default: with the classic preset].",
        show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", parser=nonempty_folder("--out"), metavar="<path>",
        help="Study folder [default: studies/<text>-<preset>].",
        show_default=False)] = None,
) -> None:
    """Is my curve normal? The same settings from N seeds: the band of their smooth loss.

    Writes study.json, study.md and study.png, and keeps each seed's run in seed-<s>/, so a
    stopped study continues where it stopped when run again.
    """
    if iterations is not None and epochs is not None:
        # Refused whatever an epoch is, so before any file is read.
        call(target_iterations, 1, iterations=iterations, epochs=epochs)
    preset = preset or Preset(DEFAULT_PRESET)
    settings = call(resolve_settings, preset.value,
                    {"batch": batch, "dtype": dtype and dtype.value})
    path, text, _ = load_corpus(data, encoding or "utf-8")
    corpus = call(files.Corpus.of, path, text, encoding or "utf-8")
    per_epoch = iterations_per_epoch(trained_length(len(text), settings),  # of the trained part
                                     settings.seq_length, settings.batch)
    total = call(target_iterations, per_epoch, iterations=iterations, epochs=epochs)
    out = out or Path("studies") / f"{path.stem}-{preset.value}"
    out_folder("--out", out)
    compare = preset == Preset.classic if compare_report is None else compare_report

    def progress(seed: int, trainer: Trainer) -> None:
        if trainer.iteration % studies.EVERY == 0 or trainer.iteration == total:
            typer.echo(f"seed {seed}: iteration {trainer.iteration:,} of {total:,}, smooth "
                       f"loss {trainer.smooth_loss:.2f}", err=True)

    with runs.RunFolder(out) as folder, signals.StopSignals() as stop:
        try:
            result = call(studies.run_study, text, settings, list(range(seeds)), total,
                          folder=folder.path, corpus=corpus.to_dict(), progress=progress,
                          stop=stop)
        except studies.StudyStopped as stopped:
            done = (f"seeds {', '.join(map(str, stopped.done))} are done; " if stopped.done
                    else "")
            where = folder.path / f"seed-{stopped.seed}"
            saved = (f"seed {stopped.seed} is saved at iteration {stopped.iteration:,} of "
                     f"{total:,} in {where}" if (where / runs.CHECKPOINT).exists()
                     else f"seed {stopped.seed} had not begun")
            typer.echo(f"charrnn: stopped by {signal.Signals(stop.signum).name}: {done}{saved}; "
                       "run the same command again to continue", err=True)
            raise typer.Exit(stop.exit_code) from None
        title = f"{seeds} seeds of the {preset.value} preset on {path.name}"
        call(studies.write_study, result, folder.path, title, compare)
    typer.echo(studies.study_markdown(result, title, compare).split("\n", 2)[2].rstrip())
    typer.echo(f"\nwrote {out}/study.json, study.md and study.png")
