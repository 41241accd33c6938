"""The report: its gradient check, its figure, and its two files, report.md and report.json.

Every figure in the docs and in ``charrnn report`` comes from a function here, so what a
reader sees is what the package computes. :func:`build_report` gathers every number into
one dict; report.json is that dict and report.md is written from it, so the two agree.

matplotlib is imported only inside :func:`plot_loss`, and draws on a
:class:`matplotlib.figure.Figure` of its own: importing this module changes nothing in the
process (no backend switch), and commands that draw nothing never load matplotlib.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from charrnn_edu import __version__
from charrnn_edu.cells import CELLS
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import Corpus, save_figure, write_atomically
from charrnn_edu.forward import RNN
from charrnn_edu.gradcheck import GradCheckRow, passes, table
from charrnn_edu.original import REPORT, SETTINGS
from charrnn_edu.runs import CHECKPOINT, read_record, resume
from charrnn_edu.sampling import generate
from charrnn_edu.settings import Settings, target_iterations
from charrnn_edu.training import Trainer, held_out_loss, initial_parameters

if TYPE_CHECKING:       # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure

__all__ = ["FIGURE_FORMATS", "plot_loss", "gradcheck_rows", "gradcheck_problem",
           "report_gradcheck", "build_report", "report_markdown", "write_report", "finish_report",
           "MadeReport", "make_report"]

FIGURE_FORMATS = (".png", ".svg", ".pdf")
"""The file types :func:`plot_loss` can write, by suffix."""

STEP, EPS = 1e-4, 1e-6
"""The report's centred-difference step h (5.1) and eps floor (5.2)."""


def plot_loss(smooth_losses: Sequence[float], epoch_starts: Sequence[int], path: Path,
              losses: Sequence[float] | None = None, title: str = "Smooth loss",
              loss: str = "sum", held_out: Sequence[tuple[int, float]] = (),
              seq_length: int = 25) -> Figure:
    """Draw the smooth loss against iterations, epochs marked, to ``path``, atomically.

    Parameters
    ----------
    smooth_losses : sequence of float
        Equation (8.1), one per iteration.
    epoch_starts : sequence of int
        Iterations (1-based) at which epochs began; each after the first gets a dashed line.
    path : Path
        Output file; its suffix (one of :data:`FIGURE_FORMATS`) picks the format.
    losses : sequence of float, optional
        The raw losses, drawn lighter behind the smooth loss.
    loss : {"sum", "mean"}
        Whether the run's loss is summed or averaged over the sequence (the axis label).
    held_out : sequence of (int, float)
        (iteration, mean loss per character in nats) on the held-out text; drawn on the
        smooth loss's scale (times ``seq_length`` for a summed loss).
    seq_length : int
        tau, to put the held-out loss on a summed loss's scale.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn, for a caller (or a test) to look at.
    """
    from matplotlib.figure import Figure

    iterations = range(1, len(smooth_losses) + 1)
    fig = Figure(figsize=(8, 4.5), dpi=120)
    ax = fig.subplots()
    if losses is not None:
        ax.plot(iterations, losses, color="tab:blue", alpha=0.15, linewidth=0.5,
                label="loss of each sequence")
    ax.plot(iterations, smooth_losses, color="tab:blue", linewidth=1.5, label="smooth loss")
    if held_out:
        scale = 1 if loss == "mean" else seq_length
        ax.plot([i for i, _ in held_out], [v * scale for _, v in held_out], color="tab:orange",
                marker="o", markersize=3, linewidth=1.2, label="held-out loss")
    for k, start in enumerate(epoch_starts[1:], start=2):
        ax.axvline(start, color="grey", linestyle="--", linewidth=0.8)
        ax.text(start, 1.0, f" epoch {k}", transform=ax.get_xaxis_transform(), va="top",
                fontsize=8, color="grey")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (mean over the sequence)" if loss == "mean"
                  else "loss (summed over the sequence)")
    ax.set_title(title)
    finite = [v for v in smooth_losses if np.isfinite(v)]
    if finite:
        top = max(finite) * 1.05
        # A text of one character (K = 1) has loss 0 throughout: give the flat line room.
        ax.set_ylim(0, top if top > 0 and losses is None else max(top, 1.0))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    save_figure(fig, path)          # the same run gives byte-identical PNG and SVG files
    return fig


def gradcheck_rows(rows: Sequence[GradCheckRow]) -> list[dict[str, object]]:
    """Gradient-check rows as plain dicts (for JSON)."""
    return [{"parameter": r.name, "shape": list(r.shape), "max_rel": r.max_rel,
             "mean_rel": r.mean_rel, "max_abs": r.max_abs, "complex_rel": r.complex_rel,
             "failures": r.failures, "complex_failures": r.complex_failures,
             "passed": r.passed} for r in rows]


def gradcheck_problem(text: str, vocab: Vocabulary, settings: Settings, seed: int
                      ) -> tuple[RNN, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A gradient check's problem: the text's first tau + 1 characters, drawn from ``seed``.

    The parameters are drawn as a run with ``settings`` starts (``settings.init``, m =
    ``settings.hidden``), in float64 whatever ``settings.dtype`` says (chapter 5); then a
    random h0, uniform in [-1, 1], from the same generator. ``charrnn gradcheck`` and the
    report both draw their problem here, so the same seed gives the same numbers.

    Returns
    -------
    rnn : RNN, LSTM or GRU
        The parameters of ``settings.cell``.
    x, y : ndarray of shape (tau,)
        The inputs and the targets, one character later.
    h0 : dict of str to ndarray of shape (m, 1)
        The state before the first step: "zero" and "random"; the LSTM's is [h; c], (2m, 1).
    """
    tau, rows = settings.seq_length, CELLS[settings.cell].states * settings.hidden
    ids = vocab.encode(text[:tau + 1])                                     # (tau + 1,)
    rng = np.random.default_rng(seed)
    rnn = initial_parameters(len(vocab), replace(settings, dtype="float64"), rng)
    h0 = {"zero": np.zeros((rows, 1)), "random": rng.uniform(-1, 1, (rows, 1))}
    return rnn, ids[:-1], ids[1:], h0


def report_gradcheck(text: str, vocab: Vocabulary, settings: Settings,
                     seed: int) -> tuple[dict[str, Any], dict[str, list[GradCheckRow]]]:
    """The report's gradient check: h0 = 0 and a random h0, on the text's first characters.

    m = 5 with ``RNN.init`` (the report's), or m = 10 with ``init_scaled`` for the 2026
    edition and the tuned preset, drawn from ``seed`` by :func:`gradcheck_problem`, over the
    preset's tau characters.

    Returns
    -------
    section : dict
        report.json's ``gradcheck``: hidden, seq_length, step, eps, passed, tables.
    tables : dict of str to list of GradCheckRow
        The rows, by the h0 they start from ("zero", "random").
    """
    hidden = 10 if settings.init == "scaled" else 5
    rnn, x, y, h0 = gradcheck_problem(text, vocab, replace(settings, hidden=hidden), seed)
    check = CELLS[settings.cell].check                   # chapter 5's, 10's or 10b's table
    tables = {name: check(rnn, x, y, start, STEP, EPS) for name, start in h0.items()}
    section = {"hidden": hidden, "seq_length": settings.seq_length, "step": STEP, "eps": EPS,
               "passed": all(passes(rows) for rows in tables.values()),
               "tables": {name: gradcheck_rows(rows) for name, rows in tables.items()}}
    return section, tables


def original_comparison(trainer: Trainer, gradcheck: dict[str, Any],
                        K: int) -> list[dict[str, Any]]:
    """A run's numbers beside the original report's (``charrnn_edu.original``).

    Losses are on the report's scale, summed over tau = 25 characters: a mean-loss run's are
    multiplied by 25, a summed loss over another tau by 25 / tau. A run that reads more
    than 25 characters an iteration (longer sequences, several streams) is compared after
    the same number of characters as the report's iteration, and the row says at which of
    its own iterations. Each row: what, this run, the report, and the difference when both
    are numbers.
    """
    settings, tau = trainer.settings, SETTINGS["seq_length"]
    scale = tau if settings.loss == "mean" else tau / settings.seq_length
    per_iteration = settings.seq_length * settings.batch
    smooth = trainer.smooth_losses
    maxima = [row["max_rel"] for rows in gradcheck["tables"].values() for row in rows]
    rows: list[dict[str, Any]] = [
        {"what": "K, distinct characters", "run": K, "report": REPORT["K"]},
        {"what": "loss at iteration 1", "run": trainer.losses[0] * scale,
         "report": REPORT["first_loss"]}]
    for iteration, value in sorted(REPORT["smooth_loss"].items()):
        ours = max(1, round(iteration * tau / per_iteration))
        what = f"smooth loss at iteration {iteration:,}"
        if ours != iteration:
            what += f" ({iteration * tau:,} characters: this run's iteration {ours:,})"
        rows.append({"what": what,
                     "run": smooth[ours - 1] * scale if len(smooth) >= ours else None,
                     "report": value})
    rows.append({"what": "best smooth loss", "run": trainer.best_loss * scale,
                 "report": REPORT["best_loss"]})
    rows.append({"what": "largest gradient-check relative error, per parameter",
                 "run": f"{min(maxima):.1e} to {max(maxima):.1e}",
                 "report": f"{REPORT['gradcheck_low']:.0e} to {REPORT['gradcheck_high']:.0e}"})
    for row in rows:
        both = all(isinstance(row[k], int | float) for k in ("run", "report"))
        row["difference"] = row["run"] - row["report"] if both else None
    return rows


def comparison_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The comparison as a Markdown table."""
    def show(value: Any) -> str:
        return ("not reached" if value is None else f"{value:,}" if isinstance(value, int)
                else f"{value:.2f}" if isinstance(value, float) else str(value))

    lines = ["| | this run | original report | difference |", "|---|---:|---:|---:|"]
    for r in rows:
        difference = ("" if r["difference"] is None else f"{r['difference']:+,}"
                      if isinstance(r["difference"], int) else f"{r['difference']:+.2f}")
        lines.append(f"| {r['what']} | {show(r['run'])} | {show(r['report'])} | {difference} |")
    return "\n".join(lines)


def build_report(*, title: str, command: str, preset: str, corpus: Corpus, K: int,
                 trainer: Trainer, gradcheck: dict[str, Any], seconds: float, first: int,
                 evolution_every: int, evolution_until: int, final_text: str) -> dict[str, Any]:
    """Every number of the report in one dict: report.json, and the source of report.md.

    Parameters
    ----------
    gradcheck : dict
        The section from :func:`report_gradcheck`.
    seconds : float
        The run's training time, all sessions together.
    first : int
        The iteration this session started from (0 unless resumed).
    """
    settings = trainer.settings
    uniform = (1 if settings.loss == "mean" else settings.seq_length) * float(np.log(K))
    held_out = None
    if len(trainer.held_out) > 1:     # the best model on the text it never trained on
        nats = held_out_loss(trainer.best, trainer.held_out)
        held_out = {"fraction": settings.val_frac, "characters": len(trainer.held_out),
                    "best_model_nats": nats, "best_model_bits": nats / float(np.log(2)),
                    "uniform_bits": float(np.log2(K)),
                    "evaluations": [{"iteration": i, "nats": v}
                                    for i, v in trainer.evaluations]}
    return {
        "title": title, "command": command, "preset": preset,
        "corpus": {"name": corpus.name, "characters": corpus.characters, "K": K,
                   "encoding": corpus.encoding, "sha256": corpus.sha256},
        "settings": settings.to_dict(),
        "gradcheck": gradcheck,
        "training": {"iterations": trainer.iteration,
                     "epochs": trainer.iteration / trainer.iterations_per_epoch,
                     "iterations_per_epoch": trainer.iterations_per_epoch,
                     "first_loss": trainer.losses[0], "uniform_loss": uniform,
                     "final_smooth_loss": trainer.smooth_loss,
                     "best_smooth_loss": trainer.best_loss,
                     "best_iteration": trainer.best_iteration,
                     "wall_time_s": seconds,
                     "iterations_per_s": trainer.iteration / seconds if seconds > 0 else 0.0,
                     "resumed_from": first, "held_out": held_out},
        "evolution_every": evolution_every,
        "evolution": [{"iteration": s.iteration, "smooth_loss": s.smooth_loss, "text": s.text}
                      for s in trainer.samples if s.iteration <= evolution_until],
        "final": {"iteration": trainer.best_iteration, "smooth_loss": trainer.best_loss,
                  "length": len(final_text),
                  "text": final_text},
        "figures": {"png": "loss.png", "svg": "loss.svg"},
        "original": original_comparison(trainer, gradcheck, K),
        "versions": {"charrnn_edu": __version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


def _fence(text: str) -> str:
    """A Markdown code block that no run of backticks inside ``text`` can close early."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text}\n{ticks}"


def _markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A gradient-check table from report.json's rows, drawn by ``gradcheck.table``."""
    return table([GradCheckRow(name=r["parameter"], shape=tuple(r["shape"]),
                               max_rel=r["max_rel"], mean_rel=r["mean_rel"],
                               max_abs=r["max_abs"], complex_rel=r["complex_rel"],
                               failures=r["failures"], complex_failures=r["complex_failures"])
                  for r in rows], markdown=True)


def report_markdown(report: dict[str, Any]) -> str:
    """``report.md`` from the dict that is also written as ``report.json``.

    Both files come from the same dict, so every number in the Markdown is in the JSON.
    """
    corpus, train, grad = report["corpus"], report["training"], report["gradcheck"]
    settings = report["settings"]
    uniform = "ln K" if settings["loss"] == "mean" else "tau ln K"
    out = [f"# {report['title']}", "",
           f"Made by `{report['command']}`.", ""]
    out += ["## 1. Gradient check", "",
            f"BPTT's gradients against centred differences (step h = {grad['step']:g}) and "
            f"complex-step derivatives, with m = {grad['hidden']}, the first "
            f"{grad['seq_length']} characters of the text, relative error of equation (1) "
            f"with eps = {grad['eps']:g}. "
            + ("Every element agrees." if grad["passed"] else "**Some elements disagree.**"),
            ""]
    for name, label in (("zero", "h0 = 0"), ("random", "random h0 (uniform in [-1, 1])")):
        out += [f"**{label}**", "", _markdown_table(grad["tables"][name]), ""]
    out += ["## 2. Smooth loss", "",
            f"{train['iterations']:,} iterations ({train['epochs']:.3g} epochs of "
            f"{train['iterations_per_epoch']:,}); first loss {train['first_loss']:.2f} "
            f"(a model that knows nothing scores {uniform} = {train['uniform_loss']:.2f}), "
            f"final smooth loss "
            f"{train['final_smooth_loss']:.2f}, best {train['best_smooth_loss']:.2f} at "
            f"iteration {train['best_iteration']:,}.", ""]
    held = train.get("held_out")
    if held:
        out += [f"On the last {held['fraction']:g} of the text ({held['characters']:,} "
                "characters), held out of training, the best model scores "
                f"{held['best_model_nats']:.4f} nats = {held['best_model_bits']:.4f} bits per "
                f"character (guessing uniformly: log2 K = {held['uniform_bits']:.4f} bits).", ""]
    out += [f"![Smooth loss]({report['figures']['png']})", ""]
    out += ["## Beside the original report", "",
            "The original report's numbers (`charrnn_edu.original`, each with its source) "
            "beside this run's, losses summed over 25 characters. A different text, K or "
            "seed moves them; `charrnn study` shows how far seeds alone do.", "",
            comparison_markdown(report["original"]), ""]
    out += ["## 3. Evolution of the synthesised text", "",
            f"{settings['sample_length']} characters every {report['evolution_every']:,} "
            "iterations, from the hidden state and first character of the sequence being "
            "trained on.", ""]
    for s in report["evolution"]:
        out += [f"**Iteration {s['iteration']:,}**, smooth loss {s['smooth_loss']:.2f}", "",
                _fence(s["text"]), ""]
    final = report["final"]
    out += ["## 4. Text from the best model", "",
            f"{final['length']:,} characters from the parameters with the lowest smooth loss "
            f"({final['smooth_loss']:.2f}, iteration {final['iteration']:,}), starting from "
            "h0 = 0 and a newline.", "", _fence(final["text"]), ""]
    v = report["versions"]
    out += ["## Settings and provenance", "",
            "| | |", "|---|---|",
            f"| corpus | {corpus['name']}: {corpus['characters']:,} characters, "
            f"K = {corpus['K']}, read as {corpus['encoding']} |",
            f"| sha256 | `{corpus['sha256']}` |",
            f"| preset | {report['preset']} |",
            "| settings | " + ", ".join(f"{k} = {settings[k]}" for k in
                                       ("hidden", "seq_length", "eta", "sigma", "clip", "seed",
                                        "optimizer", "loss", "init"))
            + " |",
            f"| versions | charrnn-edu {v['charrnn_edu']}, numpy {v['numpy']}, "
            f"Python {v['python']} |",
            f"| wall time | {train['wall_time_s']:.1f} s training, "
            f"{train['iterations_per_s']:,.0f} iterations/s |", ""]
    return "\n".join(out)


def write_report(folder: Path, report: dict[str, Any]) -> None:
    """Write report.json and report.md into ``folder``, each atomically."""
    as_json = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    write_atomically(folder / "report.json", lambda f: f.write(as_json.encode("utf-8")))
    as_markdown = report_markdown(report)
    write_atomically(folder / "report.md", lambda f: f.write(as_markdown.encode("utf-8")))


def finish_report(out: Path, trainer: Trainer, *, final_length: int, seed: int,
                  **build: Any) -> dict[str, Any]:
    """The report's last steps: loss.png and loss.svg, the best model's text, report.md/json.

    ``build`` holds the other keyword arguments of :func:`build_report`. Returns the report.
    """
    for name in ("loss.png", "loss.svg"):
        plot_loss(trainer.smooth_losses, trainer.epoch_starts, out / name,
                  title=f"Smooth loss, {trainer.iteration:,} iterations",
                  loss=trainer.settings.loss, held_out=trainer.evaluations,
                  seq_length=trainer.settings.seq_length)
    best, cell = trainer.best, trainer.cell
    final = generate(best, trainer.vocab, final_length, np.random.default_rng(seed),
                     h0=cell.zero_state(best.m), next_distribution=cell.next_distribution)
    report = build_report(trainer=trainer, final_text=final, K=len(trainer.vocab), **build)
    write_report(out, report)
    return report


@dataclass(frozen=True)
class MadeReport:
    """What :func:`make_report` did: the run, the iteration it was asked to reach, the report.

    ``report`` is None when training stopped (a signal) before ``total``: run the same
    command again to resume.
    """

    trainer: Trainer
    total: int
    gradcheck: dict[str, Any]
    report: dict[str, Any] | None


def make_report(out: Path, text: str, vocab: Vocabulary, corpus: Corpus, settings: Settings, *,
                epochs: float, train: Callable[[Trainer, int, int | None], None],
                at_most: int | None = None, engine: str = "fast",
                checked: Callable[[dict[str, Any], dict[str, list[GradCheckRow]]], None]
                = lambda section, tables: None,
                resumed: Callable[[Trainer], None] = lambda trainer: None,
                final_length: int, seed: int, **build: Any) -> MadeReport:
    """The whole report into ``out``: gradient check, training (resumable), figures, files.

    1. :func:`report_gradcheck` from ``seed``; ``checked(section, tables)`` is told.
    2. The run in ``out/run``: continued if it holds a checkpoint (``resumed(trainer)`` is
       told), else started; ``train(trainer, total, saved)`` trains it to ``total``, the
       iteration of ``epochs`` passes (``at_most`` at most), ``saved`` being the iteration of
       the checkpoint already there (None for a new run).
    3. and 4. :func:`finish_report` once the run reached ``total``: the figures, the best
       model's text, report.md and report.json. ``build`` holds the other keyword arguments
       of :func:`build_report` (title, command, preset, evolution_every, evolution_until).

    The caller holds ``out`` and ``out/run`` (``runs.RunFolder``) and the signal handlers.

    Raises
    ------
    ValueError
        If ``out/run`` was trained with other settings, the text is too short, or ``epochs``
        gives no iteration count in range.
    """
    run = out / "run"
    section, tables = report_gradcheck(text, vocab, settings, seed)
    checked(section, tables)
    saved = None
    if (run / CHECKPOINT).exists():
        trainer = resume(run, text, corpus)
        trainer.engine = engine
        if trainer.settings != settings:
            raise ValueError(f"{run} was trained with other settings: use another --out or "
                             "the options of that run")
        saved = trainer.iteration
        resumed(trainer)
    else:
        trainer = Trainer.start(text, settings, vocab, engine=engine)
    total = target_iterations(trainer.iterations_per_epoch, epochs=epochs)
    total = total if at_most is None else min(total, at_most)
    first = trainer.iteration
    if first < total:
        train(trainer, total, saved)
    if trainer.iteration < total:
        return MadeReport(trainer, total, section, None)
    seconds = float(read_record(run).get("train_seconds", 0.0))
    report = finish_report(out, trainer, final_length=final_length, seed=seed, corpus=corpus,
                           gradcheck=section, seconds=seconds, first=first, **build)
    return MadeReport(trainer, total, section, report)
