"""Which cell learns most per second and per parameter: vanilla RNN, LSTM and GRU, measured.

Trains each cell with ``--preset tuned``'s settings (Adam, mean loss, scaled init, tau = 50,
float32, the last 5% of the text held out) on the bundled corpus, at the preset's hidden size
(m = 256 for every cell) and at the vanilla network's parameter count (the m that gives an
LSTM or a GRU about as many parameters as the vanilla network with m = 256). Every tenth of an
epoch it stops the clock and measures the held-out loss in bits per character (the clock
counts training only). Writes a figure and a Markdown table, and the measurements as JSON::

    python benchmarks/cells.py [--data data/shakespeare.txt] [--epochs 1] [--jobs 1]
                               [--clock wall] [--out docs/measured]

Each run is its own process with one BLAS thread; ``--jobs 1`` (the default) runs them one at
a time so the wall clock is honest. ``--clock cpu`` uses the process's CPU time instead, which
other work on the machine does not distort.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as charrnn does; before numpy

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

from speed import machine  # noqa: E402

from charrnn_edu.cells import CELLS  # noqa: E402
from charrnn_edu.encoding import Vocabulary  # noqa: E402
from charrnn_edu.files import default_corpus, read_text, save_figure  # noqa: E402
from charrnn_edu.gated_experiments import draw_cell_comparison, equal_parameters  # noqa: E402
from charrnn_edu.settings import PRESETS  # noqa: E402
from charrnn_edu.training import Trainer, held_out_loss  # noqa: E402

BASE = replace(PRESETS["tuned"], sample_every=10**9, sample_length=0, eval_every=10**9)
"""The tuned preset, with the sampling and the in-loop held-out loss left to this script."""


def train(path: str, cell: str, hidden: int, epochs: float, clock: str) -> dict:
    """One run: (seconds of training, iteration, held-out bits) every tenth of an epoch."""
    text = read_text(Path(path))
    settings = replace(BASE, cell=cell, hidden=hidden)
    trainer = Trainer.start(text, settings, vocab=Vocabulary.from_text(text))
    now = time.perf_counter if clock == "wall" else time.process_time
    per_epoch = trainer.iterations_per_epoch
    total, stops = round(epochs * per_epoch), max(1, round(10 * epochs))
    points, spent = [], 0.0
    for k in range(1, stops + 1):
        start = now()
        trainer.run(round(k * total / stops))
        spent += now() - start
        bits = held_out_loss(trainer.rnn, trainer.held_out) / math.log(2)
        points.append((spent, trainer.iteration, bits))
        print(f"{cell:7} m = {hidden:3}: iteration {trainer.iteration:6,}, {spent:6.0f} s, "
              f"held-out {bits:.3f} bits/char", flush=True)
    return {"cell": cell, "hidden": hidden,
            "parameters": CELLS[cell].parameters(hidden, len(trainer.vocab)),
            "points": points}


def markdown(runs: list[dict], command: str, about: str) -> str:
    """The table: each run's size, speed and held-out bits at the end and at equal time."""
    budget = min(run["points"][-1][0] for run in runs)     # the time every run reached

    def at(run: dict, seconds: float) -> float:            # bits at a time, interpolated
        pts = [(0.0, math.nan), *((s, b) for s, _, b in run["points"])]
        for (s0, b0), (s1, b1) in zip(pts, pts[1:], strict=False):
            if s1 >= seconds:
                return b1 if math.isnan(b0) else b0 + (b1 - b0) * (seconds - s0) / (s1 - s0)
        return pts[-1][1]

    lines = [f"Measured with `{command}` on {about}. Machine: {machine()}.", "",
             "| cell | m | parameters | ms per iteration | held-out bits per character at "
             f"the end | at {budget:.0f} s |", "|---|---:|---:|---:|---:|---:|"]
    for run in runs:
        seconds, iterations, bits = run["points"][-1]
        lines.append(f"| {run['cell']} | {run['hidden']} | {run['parameters']:,} | "
                     f"{1000 * seconds / iterations:.2f} | {bits:.3f} | "
                     f"{at(run, budget):.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_corpus())
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--out", type=Path, default=Path("docs/measured"))
    args = parser.parse_args()
    text = read_text(args.data)
    K, m = len(set(text)), BASE.hidden
    rows = [("vanilla", m), ("lstm", m), ("gru", m),
            *((cell, equal_parameters(cell, "vanilla", m, K)) for cell in ("lstm", "gru"))]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(train, *zip(*((str(args.data), cell, hidden, args.epochs,
                                            args.clock) for cell, hidden in rows),
                                          strict=True)))
    command = ("python benchmarks/cells.py" + (f" --data {args.data}" if args.data !=
                                               default_corpus() else "")
               + f" --epochs {args.epochs:g} --jobs {args.jobs} --clock {args.clock}")
    about = (f"{args.data.name} ({len(text):,} characters, K = {K}), {args.epochs:g} epoch(s) "
             f"of `--preset tuned` per run, {args.clock}-clock seconds of training, "
             f"{args.jobs} run(s) at a time")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cells.json").write_text(json.dumps({"command": command, "about": about,
                                                     "runs": runs}, indent=1) + "\n")
    (args.out / "cells.md").write_text(markdown(runs, command, about))
    save_figure(draw_cell_comparison(runs, clock=args.clock), args.out / "cells.svg")
    print((args.out / "cells.md").read_text())


if __name__ == "__main__":
    main()
