"""Same command, another BLAS kernel: how far apart two runs end, measured.

OpenBLAS picks a kernel for the CPU it runs on (SkylakeX, Haswell, Sandybridge, ...), and
``OPENBLAS_CORETYPE`` forces one. Kernels sum in different orders, so their last bits
differ, and training amplifies that. This script trains the same command under each kernel
named (and under the machine's own choice), and writes a Markdown table: the kernel each
run really used, the first iteration whose loss differs from the machine's own run (by any
amount, and by more than a relative 1e-9 and 10%), the smooth loss at 10,000, 30,000 and
100,000 iterations and at the end, the best smooth loss, and which earlier row's
checkpoint, if any, has the same bytes. Beside them, the band of the committed study
(``docs/study/study.json``)::

    python benchmarks/kernels.py [--kernels Haswell,Sandybridge] [--epochs 5] [--jobs 2]
                                 [--markdown docs/measured/kernels.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "docs" / "study" / "study.json"
POINTS = (10_000, 30_000, 100_000)


def kernel_of(coretype: str | None) -> str:
    """The kernel OpenBLAS really uses with this OPENBLAS_CORETYPE (None: its own choice)."""
    probe = ("from threadpoolctl import threadpool_info; import numpy; print(','.join("
             "i.get('architecture') or '?' for i in threadpool_info() if i['user_api'] == "
             "'blas'))")
    return subprocess.run([sys.executable, "-c", probe], env=environment(coretype),
                          capture_output=True, text=True, check=True).stdout.strip()


def environment(coretype: str | None) -> dict[str, str]:
    """This process's environment with OPENBLAS_CORETYPE set, or removed for None."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    return env if coretype is None else {**env, "OPENBLAS_CORETYPE": coretype}


def train(coretype: str | None, epochs: float, out: Path) -> Path:
    """``charrnn train`` on the bundled corpus, classic settings, under this kernel."""
    subprocess.run([sys.executable, "-m", "charrnn_edu", "train", "--epochs", str(epochs),
                    "--quiet", "--out", str(out)], env=environment(coretype),
                   stdout=subprocess.DEVNULL, check=True)
    return out


def history(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """The loss and the smooth loss of every iteration."""
    table = np.loadtxt(run / "history.csv", delimiter=",", skiprows=1, usecols=(2, 3))
    return table[:, 0], table[:, 1]


def first_difference(a: np.ndarray, b: np.ndarray, rtol: float) -> str:
    """The first iteration (from 1) where a and b differ by more than rtol, relatively."""
    n = min(len(a), len(b))
    apart = np.abs(a[:n] - b[:n]) > rtol * np.abs(a[:n])
    return f"{int(np.argmax(apart)) + 1:,}" if apart.any() else "never"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", default="Haswell,Sandybridge")
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    coretypes: list[str | None] = [None, *args.kernels.split(",")]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda c: train(c, args.epochs, Path(tmp) / (c or "own")),
                             coretypes))
        rows = []
        own_loss, _ = history(runs[0])
        digests = [digest(run / "checkpoint.npz") for run in runs]
        for index, (coretype, run) in enumerate(zip(coretypes, runs, strict=True)):
            loss, smooth = history(run)
            at = [f"{smooth[i - 1]:.2f}" if len(smooth) >= i else "" for i in POINTS]
            twins = [coretypes[j] or "not set" for j in range(index)
                     if digests[j] == digests[index]]
            rows.append(
                f"| {coretype or 'not set'} | {kernel_of(coretype)} | "
                + " | ".join(first_difference(own_loss, loss, r) for r in (0, 1e-9, 0.1))
                + f" | {' | '.join(at)} | {smooth[-1]:.2f} | {smooth.min():.2f} | "
                + f"{', '.join(twins) or '—'} |")
    band = ""
    if STUDY.is_file():
        study = json.loads(STUDY.read_text(encoding="utf-8"))
        table = {row["iteration"]: row for row in study["table"]}
        cells = [f"{table[i]['low']:.2f}–{table[i]['high']:.2f}" if i in table else ""
                 for i in POINTS]
        band = (f"| the study's {len(study['seeds'])} seeds (band) | | | | | "
                + " | ".join(cells) + " | | | |")
    command = " ".join(["python benchmarks/kernels.py", *sys.argv[1:]])
    lines = [
        f"Measured with `{command}`: `charrnn train --epochs {args.epochs:g}` (classic "
        "settings, seed 0, the bundled corpus) under each `OPENBLAS_CORETYPE`, on one machine "
        "(its own choice is the first row).",
        "",
        "| OPENBLAS_CORETYPE | kernel used | loss first differs at | … by over 1e-9 at "
        "| … by over 10% at | smooth loss at 10,000 | at 30,000 | at 100,000 | at the end "
        "| best | same checkpoint bytes as |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows]
    if band:
        lines.append(band)
    table_md = "\n".join(lines) + "\n"
    print(table_md)
    if args.markdown:
        args.markdown.write_text(table_md, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
