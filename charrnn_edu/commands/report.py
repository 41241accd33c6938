"""``charrnn report``: the whole report on a text, by ``charrnn_edu.report.make_report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charrnn_edu import files, runs, signals
from charrnn_edu import report as reports
from charrnn_edu.commands.common import (
    CHECKPOINT_EVERY,
    UsageError,
    call,
    command_line,
    flat_note,
    load_corpus,
    out_folder,
    train_run,
)
from charrnn_edu.commands.options import (
    EPOCHS,
    MAX_BATCH,
    MAX_SAMPLE,
    PRESET_HELP,
    CellOption,
    DataOption,
    Dtype,
    EngineChoice,
    EngineOption,
    Preset,
    QuietOption,
    SeedOption,
    bounded,
    nonempty_folder,
)
from charrnn_edu.settings import (
    DEFAULT_ITERATIONS,
    DEFAULT_PRESET,
    MAX_ITERATIONS,
    Settings,
    resolve_settings,
)
from charrnn_edu.training import Trainer, too_short

DEFAULT = Preset(DEFAULT_PRESET)
# --quick: the same outputs from 2,000 iterations, sampled every 500.
QUICK_ITERATIONS, QUICK_EVERY, QUICK_FINAL = 2_000, 500, 300


def report(
    ctx: typer.Context,
    data: DataOption = None,
    encoding: Annotated[str, typer.Option(
        "--encoding", help="Text encoding of --data (the report's novel needs latin-1).")
    ] = "utf-8",
    epochs: Annotated[float, typer.Option("--epochs", help="Passes over the text.",
                                          callback=EPOCHS)] = 5,
    evolution_every: Annotated[int, typer.Option(
        "--evolution-every", help="Synthesise text every this many iterations.",
        callback=bounded(1, MAX_ITERATIONS))] = Settings().sample_every,
    evolution_until: Annotated[int, typer.Option(
        "--evolution-until", help="Show the synthesised text up to this iteration.",
        callback=bounded(1))] = DEFAULT_ITERATIONS,
    evolution_length: Annotated[int, typer.Option(
        "--evolution-length", help="Characters per synthesised text.",
        callback=bounded(1, MAX_SAMPLE))] = Settings().sample_length,
    final_length: Annotated[int, typer.Option(
        "--final-length", help="Characters from the best model.",
        callback=bounded(1, MAX_SAMPLE))] = 1000,
    seed: SeedOption = 0,
    preset: Annotated[Preset, typer.Option(
        "--preset", help=PRESET_HELP)] = DEFAULT,
    cell: CellOption = None,
    dtype: Annotated[Dtype | None, typer.Option(
        "--dtype", help="float32 trains faster; gradient checks always use float64 "
                        "[default: the preset's].", show_default=False)] = None,
    batch: Annotated[int | None, typer.Option(
        "--batch", help="Streams read side by side, B (1 is the report's loop) "
                        "[default: the preset's].", show_default=False,
        callback=bounded(1, MAX_BATCH))] = None,
    engine: EngineOption = EngineChoice.fast,
    out: Annotated[Path | None, typer.Option(
        "--out", parser=nonempty_folder("--out"), metavar="<path>",
        help="Report folder [default: reports/<name of the text file>].",
        show_default=False)] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help=f"A small version ({QUICK_ITERATIONS:,} iterations) with the same "
                        "outputs.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Reproduce the whole report: gradient check, loss curve, text evolution, best model.

    Writes report.md, report.json, loss.png and loss.svg, and the training run in run/
    (so 'charrnn sample OUT/run' works afterwards). Running the same command again after an
    interruption resumes the training where it stopped.
    """
    command = command_line(ctx, leave_out={"quiet"})
    path, text, vocab = load_corpus(data, encoding)
    out = out or Path("reports") / (path.stem + ("-quick" if quick else ""))
    out_folder("--out", out)
    if quick:
        evolution_every, evolution_until, final_length = QUICK_EVERY, QUICK_ITERATIONS, QUICK_FINAL
    settings = call(resolve_settings, preset.value, {
        "seed": seed, "sample_every": evolution_every, "sample_length": evolution_length,
        "dtype": dtype and dtype.value, "batch": batch, "cell": cell and cell.value})
    short = too_short(len(text), settings)
    if short is not None:                     # before the folders or the gradient check
        trained_on, need = short
        held = (f" ({len(text) - trained_on} held out: the preset's val_frac)"
                if trained_on < len(text) else "")
        raise UsageError(f"{path} has {trained_on} characters to train on{held}; the report "
                         f"needs at least batch * (seq_length + 1) = {need}")
    corpus = call(files.Corpus.of, path, text, encoding)

    def checked(section: dict, tables: dict) -> None:
        rows = [row for t in tables.values() for row in t]
        typer.echo(f"gradient check (m = {section['hidden']}, h0 = 0 and random): "
                   f"{'passed' if section['passed'] else 'FAILED'}; largest relative error "
                   f"{max(r.max_rel for r in rows):.2e} against centred differences, "
                   f"{max(r.complex_rel for r in rows):.2e} against complex steps")

    def resumed(trainer: Trainer) -> None:
        typer.echo(f"resuming the report's training at iteration {trainer.iteration:,}",
                   err=True)

    with runs.RunFolder(out), runs.RunFolder(out / "run") as run, signals.StopSignals() as stop:
        made = call(
            reports.make_report, out, text, vocab, corpus, settings, epochs=epochs,
            at_most=QUICK_ITERATIONS if quick else None, engine=engine.value,
            train=lambda trainer, total, saved: train_run(
                trainer, total, run.path, corpus, CHECKPOINT_EVERY, stop, quiet, saved),
            checked=checked, resumed=resumed, final_length=final_length, seed=seed,
            title=f"Reproducing the report on {path.name}"
            + ("" if settings.cell == "vanilla" else f" with the {settings.cell.upper()} cell")
            + (" (quick)" if quick else ""),
            command=command, preset=preset.value, evolution_every=evolution_every,
            evolution_until=evolution_until)
        trainer = made.trainer
        if made.report is None:
            typer.echo(f"charrnn: stopped at iteration {trainer.iteration:,} of "
                       f"{made.total:,}; run the same command again to resume", err=True)
            raise typer.Exit(stop.exit_code or 130)
        flat_note(len(vocab))
        if stop.signum is not None:           # asked to stop while the report was written
            raise typer.Exit(stop.exit_code)
    typer.echo(reports.comparison_markdown(made.report["original"]))
    best = f"{trainer.best_loss:.2f}"
    if trainer.settings.loss == "mean":       # the report's scale beside the run's own
        best += f" per character, {trainer.best_loss * 25:.2f} per 25"
    typer.echo(f"wrote {out}/report.md, report.json, loss.png, loss.svg and run/ "
               f"({trainer.iteration:,} iterations, best smooth loss {best}, "
               f"{made.report['training']['wall_time_s']:.1f} s of training)")
