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

from charrnn_edu.training import Sample, Trainer  # noqa: E402

__all__ = ["history_csv", "samples_markdown", "plot_loss"]


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
    fig.savefig(path)
    plt.close(fig)
