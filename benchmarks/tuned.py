"""What each change of ``--preset tuned`` buys: an ablation, measured on one text.

Trains five epochs of each row with ``charrnn train`` (5% of the text held out, the same for
every row), from the report's settings to the tuned presets one change at a time (the
vanilla network's, then chapter 10b's GRU with as many parameters), and writes
a Markdown table of, for each row: the command, the best smooth loss (summed over 25
characters, as the report gives it; a mean-loss run's times 25), the held-out bits per
character of that best model, and the process's wall and CPU time::

    python benchmarks/tuned.py [--data data/austen.txt] [--epochs 5] [--jobs 2]
                               [--seeds 0] [--markdown docs/measured/tuned-austen.md]

Rows run ``--jobs`` at a time, each in its own process with one BLAS thread, so on a 2-core
machine two jobs give the honest wall time of one run on a quiet machine only roughly: the
CPU time column is the one that does not depend on what else runs. With several --seeds
each row is trained from each seed and the table gives their mean and range.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as charrnn does; before numpy

import argparse  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from speed import machine  # noqa: E402

from charrnn_edu import checkpoint  # noqa: E402
from charrnn_edu.files import default_corpus, read_text  # noqa: E402
from charrnn_edu.training import held_out_loss, split_text  # noqa: E402

ROWS = (
    ("the report's settings (`classic`)", ["--preset", "classic"]),
    ("Adam, mean loss, scaled init (`2026`)", ["--preset", "2026"]),
    ("+ float32", ["--preset", "2026", "--dtype", "float32"]),
    ("+ tau = 50", ["--preset", "2026", "--dtype", "float32", "--seq-length", "50"]),
    ("+ m = 256", ["--preset", "2026", "--dtype", "float32", "--seq-length", "50",
                   "--hidden", "256"]),
    ("+ eta = 0.0005 (`tuned-vanilla`)", ["--preset", "tuned-vanilla"]),
    ("+ the GRU, as many parameters (`tuned`)", ["--preset", "tuned"]),
)
"""Each row: what it changes, and its options (the preset's own as they stand)."""
COMMON = ["--val-frac", "0.05", "--eval-every", "20000", "--sample-every", "100000",
          "--quiet"]


@dataclass(frozen=True)
class Result:
    """One trained row: best smooth loss per 25 characters, held-out bits, seconds."""

    best: float
    bits: float
    wall: float
    cpu: float


def train(data: Path, options: list[str], epochs: float, seed: int, out: Path) -> Result:
    """Run ``charrnn train`` in a child process and measure its best model."""
    command = [sys.executable, "-m", "charrnn_edu", "train", "--data", str(data), "--epochs",
               str(epochs), "--seed", str(seed), "--out", str(out), *COMMON, *options]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)     # wait4: the child's own CPU time
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if child.returncode:
            err.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed: "
                               f"{err.read().decode(errors='replace')}")
    trainer = checkpoint.load(out / "checkpoint.npz")
    model, vocab, _ = checkpoint.load_model(out / "checkpoint.npz", best=True)
    settings = trainer.settings
    _, held_out = split_text(read_text(data), settings, vocab)
    scale = 25 if settings.loss == "mean" else 25 / settings.seq_length
    return Result(trainer.best_loss * scale, held_out_loss(model, held_out) / math.log(2),
                  wall, usage.ru_utime + usage.ru_stime)


def spread(values: list[float], digits: int) -> str:
    """The mean, and the range when there are several values."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    data = args.data or default_corpus()
    text = read_text(data)
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(row, seed) for row in range(len(ROWS)) for seed in seeds]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        futures = {job: pool.submit(train, data, ROWS[job[0]][1], args.epochs, job[1],
                                    Path(tmp) / f"row{job[0]}-seed{job[1]}") for job in jobs}
        results = {job: future.result() for job, future in futures.items()}
    command = " ".join(["python benchmarks/tuned.py", *sys.argv[1:]])
    lines = [
        f"Measured with `{command}` on {data.name} ({len(text):,} characters, "
        f"K = {len(set(text))}): {args.epochs:g} epochs of each row, the last 5% of the text "
        f"held out, seed{'s' if len(seeds) > 1 else ''} {args.seeds}, {args.jobs} runs at a "
        f"time. Machine: {machine()}.",
        "",
        "| settings | options of `charrnn train` | best smooth loss (per 25 characters) "
        "| held-out bits per character | wall time (s) | CPU time (s) |",
        "|---|---|---:|---:|---:|---:|"]
    for index, (what, options) in enumerate(ROWS):
        rows = [results[(index, seed)] for seed in seeds]
        lines.append(
            f"| {what} | `{' '.join(options)}` | {spread([r.best for r in rows], 2)} | "
            f"{spread([r.bits for r in rows], 3)} | {spread([r.wall for r in rows], 0)} | "
            f"{spread([r.cpu for r in rows], 0)} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
