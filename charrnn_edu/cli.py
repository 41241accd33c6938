"""The ``charrnn`` command: every chapter of the package, runnable from the shell.

Library code raises exceptions; only this module turns them into one-line messages and exit
codes: 2 for a usage error (a bad option, a missing or unreadable input file), 1 for a run that
failed (a gradient check that did not pass, training that diverged). Never a traceback.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer

from charrnn_edu import __version__
from charrnn_edu.encoding import Vocabulary, default_corpus, read_text
from charrnn_edu.forward import RNN
from charrnn_edu.gradcheck import GradCheckRow, check

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
