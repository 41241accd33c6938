"""``charrnn gradcheck``: chapter 5's check of BPTT's gradients on the corpus's first characters."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from charrnn_edu.commands.common import UsageError, load_corpus
from charrnn_edu.commands.options import DataOption, EncodingOption, SeedOption, bounded
from charrnn_edu.gradcheck import ATOL, RTOL, check, passes, table
from charrnn_edu.report import EPS, STEP, gradcheck_problem
from charrnn_edu.settings import Settings

# Each of the m^2 + 2mK + m + K parameters is perturbed, a forward pass of tau steps each.
MAX_HIDDEN, MAX_SEQ_LENGTH = 50, 1000
SILENT_STEPS = 500_000     # parameters x tau below which the check ends in seconds


class H0(StrEnum):
    """The hidden state before the first step of a gradient check."""

    zero = "zero"
    random = "random"


def gradcheck(
    data: DataOption = None,
    encoding: EncodingOption = None,
    hidden: Annotated[int, typer.Option(
        "--hidden", help=f"Hidden size m (1 to {MAX_HIDDEN}).",
        callback=bounded(1, MAX_HIDDEN))] = 5,
    seq_length: Annotated[int, typer.Option(
        "--seq-length", help=f"Sequence length tau (1 to {MAX_SEQ_LENGTH}).",
        callback=bounded(1, MAX_SEQ_LENGTH))] = Settings().seq_length,
    step: Annotated[float, typer.Option("--step", help="Centred-difference step h.",
                                        callback=bounded(0, 1, above=True))] = STEP,
    eps: Annotated[float, typer.Option("--eps", help="Floor of the relative error's "
                                                     "denominator, equation (1).",
                                       callback=bounded(0, 1, above=True))] = EPS,
    sigma: Annotated[float, typer.Option(
        "--sigma", help="Std of the initial weights (0 to 1).",
        callback=bounded(0, 1))] = Settings().sigma,
    seed: SeedOption = 0,
    h0: Annotated[H0, typer.Option("--h0", help="Hidden state before the first step.")] = H0.zero,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", help=f"An element passes with a relative error below this, or an "
                            f"absolute one below {ATOL:g}.",
        callback=bounded(0, 1, above=True))] = RTOL,
) -> None:
    """Check BPTT's gradients against centred differences and complex steps (chapter 5).

    Uses the first seq-length characters of the corpus, as the report does. Exits 0 when
    every element of every gradient agrees with both (see charrnn_edu.gradcheck), 1 otherwise.
    """
    encoding = encoding or "utf-8"
    path, text, vocab = load_corpus(data, encoding)
    if len(text) < seq_length + 1:
        raise UsageError(f"{path} has {len(text)} characters; the check needs seq-length + 1 "
                         f"= {seq_length + 1} (use a longer text or a smaller --seq-length)")
    problem = Settings(hidden=hidden, seq_length=seq_length, sigma=sigma)    # classic init
    rnn, x, y, starts = gradcheck_problem(text, vocab, problem, seed)
    parameters = sum(theta.size for theta in rnn)
    if parameters * seq_length > SILENT_STEPS:      # minutes, not seconds: say so first
        typer.echo(f"checking {parameters:,} parameters, each by three forward passes of "
                   f"{seq_length:,} steps: this can take minutes (Ctrl-C stops it)", err=True)
    rows = check(rnn, x, y, starts[h0.value], step=step, eps=eps, rtol=tolerance)

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
