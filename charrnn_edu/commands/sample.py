"""``charrnn sample``, ``plot`` and ``eval``: what a trained run gives back."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from charrnn_edu import checkpoint, evaluation, files, runs, signals
from charrnn_edu.commands.common import (
    RunError,
    UsageError,
    call,
    flat_note,
    for_terminal,
    load_corpus,
    printable,
)
from charrnn_edu.commands.options import (
    MAX_LENGTH,
    DataOption,
    EncodingOption,
    SeedOption,
    bounded,
    figure_file,
)
from charrnn_edu.sampling import generate_chunks
from charrnn_edu.training import Trainer

RunArgument = Annotated[Path, typer.Argument(help="A run folder or a checkpoint.npz file.",
                                             show_default=False)]


def _load(run: Path) -> Trainer:
    path = run / runs.CHECKPOINT if run.is_dir() else run
    return call(checkpoint.load, path)


def sample(
    run: RunArgument,
    length: Annotated[int, typer.Option(
        "--length", help="Characters to generate, printed as they come.",
        callback=bounded(0, MAX_LENGTH))] = 1000,
    temperature: Annotated[float, typer.Option(
        "--temperature", help="Below 1: safer, more repetitive; above 1: wilder.",
        callback=bounded(0, 1e6, above=True))] = 1.0,
    top_p: Annotated[float, typer.Option(
        "--top-p", help="Draw only from the most likely characters holding this "
                        "probability.", callback=bounded(0, 1, above=True))] = 1.0,
    prime: Annotated[str, typer.Option("--prime", help="Text to continue.")] = "",
    seed: SeedOption = 0,
    greedy: Annotated[bool, typer.Option(
        "--greedy", help="Always take the most likely character (temperature -> 0).")] = False,
    best: Annotated[bool, typer.Option("--best/--latest",
                                       help="Use the best or the latest parameters.")] = True,
) -> None:
    """Print text synthesised by a trained network (chapter 7)."""
    trainer = _load(run)
    rnn = trainer.best if best else trainer.rnn
    if not all(np.isfinite(theta).all() for theta in rnn):
        raise RunError(f"{run} holds infinite or NaN parameters: nothing to sample")
    cell = trainer.cell                           # the state and the step are the cell's
    pieces = generate_chunks(rnn, trainer.vocab, length, np.random.default_rng(seed),
                             prefix=prime, temperature=temperature, top_p=top_p,
                             greedy_decoding=greedy, h0=cell.zero_state(rnn.m),
                             next_distribution=cell.next_distribution)
    out = sys.stdout                  # named: run_app tells a full stdout by it
    with signals.StopSignals() as stop:
        try:
            for piece in pieces:
                out.write(for_terminal(piece))
                out.flush()
                if stop.signum is not None:
                    break
            out.write("\n")
        except UnicodeEncodeError:
            raise                     # the terminal's encoding, not the options: run_app says
        except ValueError as err:
            raise UsageError(str(err)) from None
        except BrokenPipeError:
            # The reader went away (`charrnn sample | head`): stop quietly, and let nothing
            # try to flush to the closed pipe at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
    if stop.signum is not None:
        raise typer.Exit(stop.exit_code)


def plot(
    run: RunArgument,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Image file, .png, .svg or .pdf [default: RUN/loss.png].",
        show_default=False)] = None,
) -> None:
    """Draw the smooth loss (and the raw loss, lighter) against iterations, epochs marked."""
    from charrnn_edu.report import plot_loss

    trainer = _load(run)
    out = out or (run if run.is_dir() else run.parent) / "loss.png"
    figure_file("--out", out)
    flat_note(len(trainer.vocab))
    plot_loss(trainer.smooth_losses, trainer.epoch_starts, out, losses=trainer.losses,
              title=f"Smooth loss, {trainer.iteration:,} iterations",
              loss=trainer.settings.loss, held_out=trainer.evaluations,
              seq_length=trainer.settings.seq_length)
    typer.echo(f"wrote {out}")


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
    model, vocab, meta = call(checkpoint.load_model, path, best)
    encoding = encoding or meta["encoding"]
    corpus_path, text, _ = load_corpus(data, encoding)
    if data is None and call(files.Corpus.of, corpus_path, text, encoding).sha256 != \
            meta["corpus_sha256"]:
        raise UsageError(f"{path} was trained on {meta['corpus_name']}, not on the bundled "
                         f"corpus: give --data the path of {meta['corpus_name']} (or of "
                         "another text to evaluate on)")
    found = call(evaluation.evaluate, model, vocab, meta["settings"], text, corpus_path.name,
                 encoding, meta["corpus_sha256"])
    typer.echo(f"{'best' if best else 'latest'} model of {path} on "
               f"{printable(found.what, one_line=True)}: "
               f"{found.nats:.4f} nats = {found.bits:.4f} bits per character (guessing "
               f"uniformly: log2 K = log2 {found.K} = {math.log2(found.K):.4f} bits)")
