"""A reproduction study: "is my curve normal?" answered with the spread of several seeds.

One training run is one draw. The smooth loss at iteration 100,000 moves by a few units from
seed to seed, and by as much from one BLAS kernel to another (the trajectories part ways
after some thousands of iterations; ``docs/chapters/8b-fast.md``). So a run is compared with
a **band**: the same settings trained from N seeds, the minimum, mean and maximum of their
smooth losses at every iteration, and the original report's numbers on the same axes.

Each seed is a run folder of its own (``seed-<s>/checkpoint.npz``), saved every
``checkpoint_every`` iterations, so a stopped study resumes where it stopped, bit for bit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from charrnn_edu import checkpoint
from charrnn_edu.files import save_figure, write_atomically
from charrnn_edu.original import REPORT
from charrnn_edu.runs import RunFolder
from charrnn_edu.settings import Settings
from charrnn_edu.signals import StopSignals
from charrnn_edu.training import Trainer

__all__ = ["Study", "StudyStopped", "run_study", "study_markdown", "write_study"]

EVERY = 10_000
"""The table's step, in iterations: the report's sampling interval."""


class StudyStopped(Exception):
    """A stop signal ended a study early; every seed's run was saved where it stopped."""

    def __init__(self, seed: int, iteration: int, done: Sequence[int]) -> None:
        super().__init__(f"seed {seed} stopped at iteration {iteration:,}")
        self.seed, self.iteration, self.done = seed, iteration, tuple(done)


@dataclass(frozen=True)
class Study:
    """The smooth losses of N seeds with the same settings.

    Attributes
    ----------
    settings : Settings
        The shared settings (their seed field is the first seed's).
    seeds : tuple of int
    smooth : ndarray of shape (N, iterations)
        Row s is seed ``seeds[s]``'s smooth loss at iterations 1, 2, ...
    best : ndarray of shape (N,)
        Each seed's best smooth loss.
    iterations_per_epoch : int
    """

    settings: Settings
    seeds: tuple[int, ...]
    smooth: np.ndarray
    best: np.ndarray
    iterations_per_epoch: int

    def band(self, iteration: int) -> tuple[float, float, float]:
        """(minimum, mean, maximum) of the seeds' smooth loss at ``iteration`` (from 1)."""
        column = self.smooth[:, iteration - 1]
        return float(column.min()), float(column.mean()), float(column.max())

    def rows(self) -> list[int]:
        """The iterations of the table: 1, then every 10,000, and the last."""
        n = self.smooth.shape[1]
        return sorted({1, *range(EVERY, n + 1, EVERY), n})

    def report_comparison(self) -> list[dict[str, object]]:
        """The original report's smooth losses against the band at the same iterations."""
        points = {1: REPORT["first_loss"], **REPORT["smooth_loss"]}
        out = []
        for iteration, value in sorted(points.items()):
            if iteration > self.smooth.shape[1]:
                continue
            low, mean, high = self.band(iteration)
            out.append({"iteration": iteration, "report": value, "low": low, "mean": mean,
                        "high": high, "inside": low <= value <= high,
                        "difference_from_mean": value - mean})
        return out


def run_study(text: str, settings: Settings, seeds: Sequence[int], iterations: int, *,
              folder: Path | None = None, corpus: dict[str, str] | None = None,
              checkpoint_every: int = EVERY,
              progress: Callable[[int, Trainer], None] | None = None,
              stop: StopSignals | None = None) -> Study:
    """Train ``settings`` from every seed for ``iterations`` iterations; resume from ``folder``.

    Parameters
    ----------
    text : str
        The training text.
    settings : Settings
        Shared by every run but for the seed.
    seeds : sequence of int
    iterations : int
        Iterations per seed.
    folder : Path or None
        Where each seed's run is kept (``seed-<s>/checkpoint.npz``); None keeps nothing.
    corpus : dict or None
        ``{"name", "sha256", "encoding"}`` of the text, for the checkpoints.
    checkpoint_every : int
        Save each run this often (and at its end).
    progress : callable or None
        ``progress(seed, trainer)`` every 1,000 iterations and at the end of each seed.
    stop : StopSignals or None
        Its first signal stops the seed in training after the current iteration; its run is
        saved first (a second signal waits for the save).

    Returns
    -------
    Study

    Raises
    ------
    StudyStopped
        If ``stop`` caught a signal: the seeds before are done, the one in training saved.
    runs.FolderBusy
        If another process writes a seed's folder (a ``train --resume`` of it, say).
    """
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"the seeds must be distinct and at least one, got {list(seeds)}")
    if not iterations >= 1:
        raise ValueError(f"a study needs at least 1 iteration per seed, got {iterations}")
    smooth, best, per_epoch = [], [], 0
    for seed in seeds:
        path = None if folder is None else Path(folder) / f"seed-{seed}" / "checkpoint.npz"
        # Each seed's folder is a run folder, locked as `charrnn train` locks one.
        with nullcontext() if path is None else RunFolder(path.parent):
            trainer = _seed_trainer(text, settings, seed, path)
            if stop is not None:
                stop.on_first = lambda t=trainer: setattr(t, "stop_requested", True)
                trainer.stop_requested = stop.signum is not None
            while trainer.iteration < iterations and not trainer.stop_requested:
                trainer.run(min(iterations, (trainer.iteration // checkpoint_every + 1)
                                * checkpoint_every),
                            callback=None if progress is None
                            else (lambda t, s=seed: progress(s, t)), every=1_000)
                if path is not None and corpus is not None and trainer.iteration > 0:
                    with nullcontext() if stop is None else stop.deferred():
                        checkpoint.save(path, trainer, corpus_sha256=corpus["sha256"],
                                        encoding=corpus["encoding"], corpus_name=corpus["name"])
        if trainer.iteration < iterations:
            raise StudyStopped(seed, trainer.iteration, seeds[:seeds.index(seed)])
        smooth.append(trainer.smooth_losses[:iterations])
        best.append(min(trainer.smooth_losses[:iterations]))
        per_epoch = trainer.iterations_per_epoch
    return Study(replace(settings, seed=seeds[0]), tuple(seeds), np.array(smooth),
                 np.array(best), per_epoch)


def _seed_trainer(text: str, settings: Settings, seed: int, path: Path | None) -> Trainer:
    """Seed ``seed``'s run: resumed from ``path`` if it is there, else a new one."""
    if path is not None and path.exists():
        trainer = checkpoint.load(path, text)
        if trainer.settings != replace(settings, seed=seed):
            raise ValueError(f"{path} holds a run with other settings than this study's: "
                             "use another --out, or the same settings")
        return trainer
    return Trainer.start(text, replace(settings, seed=seed))


def study_markdown(study: Study, title: str, compare_report: bool = True) -> str:
    """The study as Markdown: the band every 10,000 iterations and the report beside it."""
    report = ({r["iteration"]: r for r in study.report_comparison()} if compare_report
              else {})
    lines = [f"# {title}", "",
             f"{len(study.seeds)} seeds ({', '.join(map(str, study.seeds))}), "
             f"{study.smooth.shape[1]:,} iterations each "
             f"({study.smooth.shape[1] / study.iterations_per_epoch:.3g} epochs of "
             f"{study.iterations_per_epoch:,}).", "",
             "| iteration | smallest | mean | largest |" + (" original report |" if report
                                                              else ""),
             "|---:|---:|---:|---:|" + ("---:|" if report else "")]
    for iteration in study.rows():
        low, mean, high = study.band(iteration)
        original = (f" {report[iteration]['report']:.2f}"
                    + ("" if report[iteration]["inside"] else " (outside)")
                    if iteration in report else "") + " |" if report else ""
        lines.append(f"| {iteration:,} | {low:.2f} | {mean:.2f} | {high:.2f} |{original}")
    lines += ["", f"Best smooth loss: {study.best.min():.2f} to {study.best.max():.2f} "
              f"(mean {study.best.mean():.2f})"
              + (f"; the original report's: {REPORT['best_loss']}." if report else ".")]
    return "\n".join(lines) + "\n"


def write_study(study: Study, folder: Path, title: str, compare_report: bool = True) -> None:
    """``study.json``, ``study.md`` and ``study.png`` in ``folder``, each written atomically.

    With ``compare_report`` the original report's numbers are shown beside the band.
    """
    from matplotlib.figure import Figure  # only the command that draws pays for matplotlib

    folder.mkdir(parents=True, exist_ok=True)
    data = {"settings": study.settings.to_dict(), "seeds": list(study.seeds),
            "iterations": int(study.smooth.shape[1]),
            "iterations_per_epoch": study.iterations_per_epoch,
            "table": [dict(zip(("iteration", "low", "mean", "high"), (i, *study.band(i)),
                               strict=True)) for i in study.rows()],
            "best": study.best.tolist(),
            "report": study.report_comparison() if compare_report else [],
            "report_best_loss": REPORT["best_loss"] if compare_report else None}
    write_atomically(folder / "study.json",
                     lambda f: f.write(json.dumps(data, indent=1).encode("utf-8")))
    write_atomically(folder / "study.md", lambda f: f.write(
        study_markdown(study, title, compare_report).encode("utf-8")))

    figure = Figure(figsize=(8, 4.2), layout="constrained")
    axes = figure.subplots()
    x = np.arange(1, study.smooth.shape[1] + 1)
    axes.fill_between(x, study.smooth.min(axis=0), study.smooth.max(axis=0), alpha=0.3,
                      label=f"smallest to largest of {len(study.seeds)} seeds")
    axes.plot(x, study.smooth.mean(axis=0), label="mean of the seeds")
    comparison = study.report_comparison() if compare_report else []
    if comparison:
        axes.plot([r["iteration"] for r in comparison], [r["report"] for r in comparison],
                  "o", color="black", label="original report")
    scale = "summed over the sequence" if study.settings.loss == "sum" else "mean per character"
    low = min([float(np.percentile(study.smooth, 1)), *(r["report"] for r in comparison)])
    axes.set(xlabel="iteration", ylabel=f"smooth loss ({scale})",
             ylim=(math.floor(low) - 1, float(study.smooth[:, min(1000, x[-1]) - 1].max())))
    axes.legend()
    save_figure(figure, folder / "study.png", dpi=120)
