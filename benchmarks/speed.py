"""Training speed of the package against the textbook per-time-step loop, measured together.

Both train the report's RNN (m = 100, tau = 25, AdaGrad, clipping) on the bundled corpus from
the same seed. Runs alternate A, B, A, B, ... so that anything else the machine does slows both
alike; the script prints each run and the median ratio. Run it with::

    python benchmarks/speed.py [--iterations 2000] [--rounds 5] [--dtype float64]

Speed is measured here, never in the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import textbook  # noqa: E402

from charrnn_edu.files import default_corpus, read_text  # noqa: E402
from charrnn_edu.training import Settings, Trainer  # noqa: E402


def package_rate(text: str, iterations: int, settings: Settings) -> float:
    """Iterations per second of ``Trainer`` (sampling off, as in the baseline)."""
    trainer = Trainer.start(text, settings)
    start = time.perf_counter()
    trainer.run(iterations)
    return iterations / (time.perf_counter() - start)


def textbook_rate(text: str, iterations: int) -> float:
    """Iterations per second of the textbook loop in ``benchmarks/textbook.py``."""
    chars = sorted(set(text))
    ids = {ch: k for k, ch in enumerate(chars)}
    data = np.array([ids[ch] for ch in text], dtype=np.int64)
    start = time.perf_counter()
    textbook.train(data, len(chars), iterations)
    return iterations / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="precision of the package (the textbook loop is float64)")
    args = parser.parse_args()
    text = read_text(default_corpus())
    # Sampling is off (sample_every beyond the run) because the baseline does not sample.
    settings = Settings(sample_every=10**9, sample_length=0, dtype=args.dtype)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}; "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{args.iterations} iterations per run, m = {settings.hidden}, "
          f"tau = {settings.seq_length}, K = {len(set(text))}, package in {args.dtype}")
    ratios = []
    for r in range(1, args.rounds + 1):
        a = package_rate(text, args.iterations, settings)
        b = textbook_rate(text, args.iterations)
        ratios.append(a / b)
        print(f"round {r}: package {a:7.0f} it/s   textbook {b:7.0f} it/s   ratio {a / b:.2f}x")
    print(f"median ratio: {statistics.median(ratios):.2f}x the textbook loop")


if __name__ == "__main__":
    main()
