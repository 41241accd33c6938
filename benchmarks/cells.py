"""Which cell learns most per second and per parameter: vanilla RNN, LSTM and GRU, measured.

Trains each cell with ``--preset tuned-vanilla``'s settings (Adam, mean loss, scaled init,
tau = 50, float32, the last 5% of the text held out) on the bundled corpus, at that hidden size
(m = 256 for every cell) and at the vanilla network's parameter count (the m that gives an
LSTM or a GRU about as many parameters as the vanilla network with m = 256). Every tenth of an
epoch it stops the clock and measures the held-out loss in bits per character (the clock
counts training only). Each run trains whole epochs, as many as fit in ``--seconds`` (at
least one): the held-out part is the end of the text, so its loss dips as each epoch ends
on the text just before it, and runs are compared at the ends of epochs. Writes a figure, a
Markdown table, and the measurements as JSON::

    python benchmarks/cells.py [--data data/shakespeare.txt] [--seconds 110] [--jobs 1]
                               [--clock wall] [--out docs/measured] [--redraw cells.json]

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

BASE = replace(PRESETS["tuned-vanilla"], sample_every=10**9, sample_length=0,
               eval_every=10**9)
"""The vanilla tuned preset; each run sets its cell and m. Sampling and the held-out loss are
left to this script."""


def train(path: str, cell: str, hidden: int, seconds: float, clock: str) -> dict:
    """One run: (seconds of training, iteration, held-out bits) every tenth of an epoch.

    Whole epochs, until the next one would end beyond ``seconds`` (at least one).
    """
    text = read_text(Path(path))
    settings = replace(BASE, cell=cell, hidden=hidden)
    trainer = Trainer.start(text, settings, vocab=Vocabulary.from_text(text))
    now = time.perf_counter if clock == "wall" else time.process_time
    per_epoch, points, spent, epochs = trainer.iterations_per_epoch, [], 0.0, 0
    while epochs == 0 or spent + spent / epochs <= seconds:
        for k in range(1, 11):
            start = now()
            trainer.run(round((epochs + k / 10) * per_epoch))
            spent += now() - start
            bits = held_out_loss(trainer.rnn, trainer.held_out) / math.log(2)
            points.append((spent, trainer.iteration, bits))
            print(f"{cell:7} m = {hidden:3}: iteration {trainer.iteration:7,}, {spent:6.0f} s, "
                  f"held-out {bits:.3f} bits/char", flush=True)
        epochs += 1
    return {"cell": cell, "hidden": hidden, "per_epoch": per_epoch,
            "parameters": CELLS[cell].parameters(hidden, len(trainer.vocab)),
            "points": points}


def markdown(runs: list[dict], command: str, about: str) -> str:
    """The table: each run's size and speed, its held-out bits after one epoch and at the end."""
    lines = [f"Measured with `{command}` on {about}. Machine: {machine()}.", "",
             "| cell | m | parameters | ms per iteration | held-out bits per character after "
             "1 epoch | seconds | epochs in the budget | held-out bits at the end | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        first = next(p for p in run["points"] if p[1] == run["per_epoch"])
        seconds, iterations, bits = run["points"][-1]
        lines.append(f"| {run['cell']} | {run['hidden']} | {run['parameters']:,} | "
                     f"{1000 * seconds / iterations:.2f} | {first[2]:.3f} | {first[0]:.0f} | "
                     f"{iterations // run['per_epoch']} | {bits:.3f} | {seconds:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_corpus())
    parser.add_argument("--seconds", type=float, default=110.0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--out", type=Path, default=Path("docs/measured"))
    parser.add_argument("--redraw", type=Path, metavar="JSON",
                        help="Write the table and figure again from a cells.json, no training.")
    args = parser.parse_args()
    runs = None
    if args.redraw is not None:             # the measurements, with the options they had
        saved = json.loads(args.redraw.read_text())
        args = parser.parse_args(saved["command"].split()[2:] + ["--out", str(args.out)])
        runs = saved["runs"]
    text = read_text(args.data)
    K, m = len(set(text)), BASE.hidden
    rows = [("vanilla", m), ("lstm", m), ("gru", m),
            *((cell, equal_parameters(cell, "vanilla", m, K)) for cell in ("lstm", "gru"))]
    if runs is None:
        with ProcessPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(train, *zip(*((str(args.data), cell, hidden, args.seconds,
                                                args.clock) for cell, hidden in rows),
                                              strict=True)))
    command = ("python benchmarks/cells.py" + (f" --data {args.data}" if args.data !=
                                               default_corpus() else "")
               + f" --seconds {args.seconds:g} --jobs {args.jobs} --clock {args.clock}")
    about = (f"{args.data.name} ({len(text):,} characters, K = {K}), `--preset tuned-vanilla`'s "
             f"settings with each cell, whole epochs within {args.seconds:g} {args.clock}-clock "
             f"seconds of training per run, {args.jobs} run(s) at a time")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cells.json").write_text(json.dumps({"command": command, "about": about,
                                                     "runs": runs}, indent=1) + "\n")
    (args.out / "cells.md").write_text(markdown(runs, command, about))
    save_figure(draw_cell_comparison(runs, clock=args.clock), args.out / "cells.svg")
    print((args.out / "cells.md").read_text())


if __name__ == "__main__":
    main()
