"""``charrnn gradcheck``: chapter 5's check of BPTT's gradients on the corpus's first characters.

With ``--yours FILE`` it checks the learner's own ``loss_and_gradients(params, x, y, h0)``
instead, in the layout and loss they declare (charrnn_edu.yours), run in the exercise
sandbox; with ``--export FILE`` it writes the same problem and its reference as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from charrnn_edu import files, gru, lstm
from charrnn_edu.commands.common import RunError, UsageError, load_corpus
from charrnn_edu.commands.learner import open_sandbox
from charrnn_edu.commands.options import (
    FUNCTION_HELP,
    LAYOUT_HELP,
    Cell,
    DataOption,
    EncodingOption,
    Layout,
    Loss,
    SeedOption,
    bounded,
)
from charrnn_edu.conventions import Problem, ShapeProblem, export_case, torch_reference
from charrnn_edu.exercises.sandbox import DEFAULT_TIMEOUT, LearnerError, Stopped
from charrnn_edu.gradcheck import ATOL, RTOL, check, passes, table
from charrnn_edu.report import EPS, STEP, gradcheck_problem
from charrnn_edu.settings import Settings
from charrnn_edu.yours import check_yours
from charrnn_edu.yours import table as yours_table

# Each of the m^2 + 2mK + m + K parameters is perturbed, a forward pass of tau steps each.
MAX_HIDDEN, MAX_SEQ_LENGTH = 50, 1000
SILENT_STEPS = 500_000     # parameters x tau below which the check ends in seconds


class H0(StrEnum):
    """The hidden state before the first step of a gradient check."""

    zero = "zero"
    random = "random"


class Reference(StrEnum):
    """The references the learner's gradients are compared with."""

    package = "package"
    torch = "torch"


TORCH_MISSING = ("--reference torch needs PyTorch, which is not installed: pip install "
                 "'charrnn-edu[torch]' (or pip install torch)")


def gradcheck(
    ctx: typer.Context,
    data: DataOption = None,
    encoding: EncodingOption = None,
    hidden: Annotated[int, typer.Option(
        "--hidden", "--m", help=f"Hidden size m (1 to {MAX_HIDDEN}).",
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
    yours: Annotated[Path | None, typer.Option(
        "--yours", help="Check your own loss_and_gradients(params, x, y, h0) -> (loss, grads) "
                        "in this .py file instead (h0 random unless --h0 says).",
        show_default=False)] = None,
    function: Annotated[str, typer.Option("--function", help=FUNCTION_HELP)]
        = "loss_and_gradients",
    layout: Annotated[Layout, typer.Option("--layout", help=LAYOUT_HELP)] = Layout.columns,
    loss: Annotated[Loss, typer.Option(
        "--loss", help="Your loss over the tau steps: the sum (3.1) or the mean.")] = Loss.sum,
    reference: Annotated[Reference, typer.Option(
        "--reference", help="torch: also compare with torch.autograd (pip install "
                            "'charrnn-edu[torch]').")] = Reference.package,
    export: Annotated[Path | None, typer.Option(
        "--export", help="Write the problem and its reference loss and gradients, in --layout "
                         "and --loss, to this JSON file (h0 random unless --h0 says).",
        show_default=False)] = None,
    cell: Annotated[Cell, typer.Option(
        "--cell", help="The cell to check: vanilla (chapter 4), lstm (chapter 10; c0 is "
                       "zero or random with --h0) or gru (chapter 10b).")] = Cell.vanilla,
) -> None:
    """Check BPTT's gradients against centred differences and complex steps (chapter 5).

    Uses the first seq-length characters of the corpus, as the report does. Exits 0 when
    every element of every gradient agrees with both (see charrnn_edu.gradcheck), 1 otherwise.
    With --yours, checks your own function in your layout and loss, names what differs, and
    exits 0 when its loss and gradients are right, 1 when not; --export writes the case.
    """
    own = {"function", "layout", "loss", "reference"}
    typed = {name for name in own if ctx.get_parameter_source(name).name == "COMMANDLINE"}
    if yours is None and export is None and typed:
        flags = ", ".join(f"--{name}" for name in sorted(typed))
        raise UsageError(f"{flags} go with --yours FILE or --export FILE")
    if cell != Cell.vanilla and (yours is not None or export is not None):
        raise UsageError(f"--cell {cell.value} checks the package's {cell.value} cell; "
                         "--yours and --export are for the vanilla cell")
    if yours is not None or export is not None:
        chapter5 = [flag for flag, name in (("--eps", "eps"), ("--tolerance", "tolerance"))
                    if ctx.get_parameter_source(name).name == "COMMANDLINE"]
        if chapter5:
            raise UsageError(f"{' and '.join(chapter5)} belong to chapter 5's check of the "
                             "package; --yours judges by chapter 5's rule with its defaults")
        if ctx.get_parameter_source("h0").name != "COMMANDLINE":
            h0 = H0.random          # a zero h0 would hide a forward pass that ignores it
        _yours(yours, export, function, layout.value, loss.value, reference, data, encoding,
               hidden, seq_length, sigma, seed, h0, step)
        return
    encoding = encoding or "utf-8"
    path, text, vocab = load_corpus(data, encoding)
    if len(text) < seq_length + 1:
        raise UsageError(f"{path} has {len(text)} characters; the check needs seq-length + 1 "
                         f"= {seq_length + 1} (use a longer text or a smaller --seq-length)")
    problem = Settings(hidden=hidden, seq_length=seq_length, sigma=sigma)    # classic init
    rnn, x, y, starts = gradcheck_problem(text, vocab, problem, seed)
    if cell == Cell.lstm:       # chapter 10's initialisation, from the same seed
        rnn = lstm.LSTM.init(len(vocab), hidden, sigma, rng=np.random.default_rng(seed))
    elif cell == Cell.gru:
        rnn = gru.GRU.init(len(vocab), hidden, sigma, rng=np.random.default_rng(seed))
    parameters = sum(theta.size for theta in rnn)
    if parameters * seq_length > SILENT_STEPS:      # minutes, not seconds: say so first
        typer.echo(f"checking {parameters:,} parameters, each by three forward passes of "
                   f"{seq_length:,} steps: this can take minutes (Ctrl-C stops it)", err=True)
    if cell == Cell.lstm:
        c0 = (np.zeros((hidden, 1)) if h0 == H0.zero
              else np.random.default_rng([seed, 1]).uniform(-1, 1, (hidden, 1)))
        rows = lstm.check(rnn, x, y, starts[h0.value], c0, step=step, eps=eps, rtol=tolerance)
    elif cell == Cell.gru:
        rows = gru.check(rnn, x, y, starts[h0.value], step=step, eps=eps, rtol=tolerance)
    else:
        rows = check(rnn, x, y, starts[h0.value], step=step, eps=eps, rtol=tolerance)

    typer.echo(f"corpus: {path.name} ({len(text):,} characters, K = {len(vocab)}, {encoding})")
    typer.echo(f"m = {hidden}, tau = {seq_length}, h = {step:g}, eps = {eps:g}, "
               f"sigma = {sigma:g}, seed = {seed}, h0 = {h0.value}"
               + ("" if cell == Cell.vanilla else f", cell = {cell.value}"))
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


def _contract(name: str) -> Callable:
    """The signature the learner's file must define, under the name they chose."""
    def loss_and_gradients(params, x, y, h0):      # its signature is all the sandbox reads
        raise NotImplementedError
    loss_and_gradients.__name__ = loss_and_gradients.__qualname__ = name
    return loss_and_gradients


def _yours(yours: Path | None, export: Path | None, function: str, layout: str, loss: str,
           reference: Reference, data: Path | None, encoding: str | None, hidden: int,
           seq_length: int, sigma: float, seed: int, h0: H0, step: float) -> None:
    """``--yours`` and ``--export``: the problem in the learner's conventions."""
    if yours is not None and not yours.is_file():
        what = "is a directory" if yours.is_dir() else "does not exist"
        raise UsageError(f"--yours {yours} {what}: give the .py file that defines {function}")
    if not function.isidentifier():
        raise UsageError(f"--function {function!r} is not a Python name")
    if reference == Reference.torch and yours is not None:
        try:
            import torch  # noqa: F401
        except ModuleNotFoundError:
            raise UsageError(TORCH_MISSING) from None
    encoding = encoding or "utf-8"
    path, text, vocab = load_corpus(data, encoding)
    if len(text) < seq_length + 1:
        raise UsageError(f"{path} has {len(text)} characters; the check needs seq-length + 1 "
                         f"= {seq_length + 1} (use a longer text or a smaller --seq-length)")
    settings = Settings(hidden=hidden, seq_length=seq_length, sigma=sigma)
    rnn, x, y, starts = gradcheck_problem(text, vocab, settings, seed)
    problem = Problem(rnn, x, y, starts[h0.value], layout, loss)
    where = (f"m = {hidden}, K = {len(vocab)}, tau = {seq_length}, sigma = {sigma:g}, "
             f"seed = {seed}, h0 = {h0.value}, --layout {layout}, --loss {loss}")
    if export is not None:
        case = export_case(problem)
        files.write_atomically(export, lambda f: f.write(json.dumps(case).encode() + b"\n"))
        typer.echo(f"wrote {export}: {where}, reference loss {case['reference_loss']:.6g}")
    if yours is None:
        return
    torch = torch_reference(problem) if reference == Reference.torch else None
    sandbox = open_sandbox([(yours, (_contract(function),))], DEFAULT_TIMEOUT)

    def theirs(*args: Any) -> Any:
        sandbox.renew()                 # the time limit is per call: there are many
        return sandbox.call(function, *args)

    try:
        result = check_yours(theirs, problem, torch=None if torch is None else torch[1],
                             step=step)
    except (ShapeProblem, LearnerError, Stopped) as err:
        raise RunError(f"{yours}: {err}") from None
    finally:
        sandbox.close()
    typer.echo(f"yours: {function} in {yours}, against chapter 4's BPTT in your conventions")
    typer.echo(f"corpus: {path.name}, {where}")
    typer.echo("")
    typer.echo(yours_table(result.rows))
    typer.echo("")
    typer.echo(f"loss: yours {result.loss:.10g}, the reference's {result.reference_loss:.10g}"
               + ("" if torch is None else f", torch's {torch[0]:.10g}"))
    if result.passed:
        typer.echo("passed: your loss and every element of your gradients agree with the "
                   f"reference (relative error below {RTOL:g}, or absolute below {ATOL:g})")
        return
    typer.echo(f"FAILED: {result.diagnosis}")
    raise typer.Exit(1)
