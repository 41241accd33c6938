"""Figures and files that show a training run: the loss curve, the history, the samples.

Every figure in the docs and in ``charrnn report`` comes from a function here, so what a
reader sees is what the package computes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no window, works on a machine with no screen
import matplotlib.pyplot as plt  # noqa: E402

from charrnn_edu.gradcheck import GradCheckRow  # noqa: E402
from charrnn_edu.training import Sample, Trainer  # noqa: E402

__all__ = ["history_csv", "samples_markdown", "plot_loss", "gradcheck_rows",
           "gradcheck_markdown", "report_markdown"]


def history_csv(trainer: Trainer) -> str:
    """The loss history as CSV: ``iteration, epoch, loss, smooth_loss``, one row per iteration."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["iteration", "epoch", "loss", "smooth_loss"])
    starts = trainer.epoch_starts
    epoch = 0
    for i, (loss, smooth) in enumerate(zip(trainer.losses, trainer.smooth_losses,
                                           strict=True), start=1):
        while epoch < len(starts) and starts[epoch] <= i:
            epoch += 1
        writer.writerow([i, epoch, repr(loss), repr(smooth)])
    return out.getvalue()


def samples_markdown(samples: Sequence[Sample], title: str = "Synthesised text") -> str:
    """The samples as Markdown: one section per sample with its iteration and smooth loss."""
    parts = [f"# {title}\n"]
    for s in samples:
        parts.append(f"## Iteration {s.iteration:,} — smooth loss {s.smooth_loss:.2f}\n\n"
                     f"```text\n{s.text}\n```\n")
    return "\n".join(parts)


def plot_loss(smooth_losses: Sequence[float], epoch_starts: Sequence[int], path: Path,
              losses: Sequence[float] | None = None, title: str = "Smooth loss") -> None:
    """Draw the smooth loss against iterations, epochs marked, to ``path`` (PNG or SVG).

    Parameters
    ----------
    smooth_losses : sequence of float
        Equation (8.1), one per iteration.
    epoch_starts : sequence of int
        Iterations (1-based) at which epochs began; each after the first gets a dashed line.
    path : Path
        Output file; its suffix picks the format.
    losses : sequence of float, optional
        The raw losses, drawn lighter behind the smooth loss.
    """
    iterations = range(1, len(smooth_losses) + 1)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    if losses is not None:
        ax.plot(iterations, losses, color="tab:blue", alpha=0.15, linewidth=0.5,
                label="loss of each sequence")
    ax.plot(iterations, smooth_losses, color="tab:blue", linewidth=1.5, label="smooth loss")
    for k, start in enumerate(epoch_starts[1:], start=2):
        ax.axvline(start, color="grey", linestyle="--", linewidth=0.8)
        ax.text(start, 1.0, f" epoch {k}", transform=ax.get_xaxis_transform(), va="top",
                fontsize=8, color="grey")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (summed over the sequence)")
    ax.set_title(title)
    if smooth_losses:
        top = max(smooth_losses) * 1.05
        ax.set_ylim(0, top if losses is None else max(top, 1.0))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # No date and a fixed id salt: the same run gives byte-identical PNG and SVG files.
    with plt.rc_context({"svg.hashsalt": "charrnn-edu"}):
        fig.savefig(path, metadata={"Date": None} if path.suffix.lower() == ".svg" else None)
    plt.close(fig)


def gradcheck_rows(rows: Sequence[GradCheckRow]) -> list[dict[str, object]]:
    """Gradient-check rows as plain dicts (for JSON)."""
    return [{"parameter": r.name, "shape": list(r.shape), "max_rel": r.max_rel,
             "mean_rel": r.mean_rel, "max_abs": r.max_abs, "complex_rel": r.complex_rel}
            for r in rows]


def gradcheck_markdown(rows: Sequence[dict[str, object]]) -> str:
    """A gradient-check table (as from :func:`gradcheck_rows`) in Markdown."""
    lines = ["| parameter | shape | max relative error | mean relative error "
             "| max absolute error | complex-step relative error |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        shape = "×".join(str(n) for n in r["shape"])  # type: ignore[attr-defined]
        lines.append(f"| {r['parameter']} | {shape} | {r['max_rel']:.2e} | {r['mean_rel']:.2e} "
                     f"| {r['max_abs']:.2e} | {r['complex_rel']:.2e} |")
    return "\n".join(lines)


def _fence(text: str) -> str:
    """A Markdown code block that no run of backticks inside ``text`` can close early."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text}\n{ticks}"


def report_markdown(report: dict) -> str:
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
            f"with eps = {grad['eps']:g}.", ""]
    for name, label in (("zero", "h0 = 0"), ("random", "random h0 (uniform in [-1, 1])")):
        out += [f"**{label}**", "", gradcheck_markdown(grad["tables"][name]), ""]
    out += ["## 2. Smooth loss", "",
            f"{train['iterations']:,} iterations ({train['epochs']:.3g} epochs of "
            f"{train['iterations_per_epoch']:,}); first loss {train['first_loss']:.2f} "
            f"(a model that knows nothing scores {uniform} = {train['uniform_loss']:.2f}), "
            f"final smooth loss "
            f"{train['final_smooth_loss']:.2f}, best {train['best_smooth_loss']:.2f} at "
            f"iteration {train['best_iteration']:,}.", "",
            f"![Smooth loss]({report['figures']['png']})", ""]
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
