"""Training speed of the package against the textbook per-time-step loop, measured together.

Everything trains the report's RNN (m = 100, tau = 25, AdaGrad, clipping) on the bundled
corpus. Runs alternate, round after round (textbook, then every contender, then textbook again), so
that anything else the machine does slows all alike, and the script prints each one's median
rate and the ratio of the medians.
Runs inside this process are timed in CPU time (time.process_time), which other processes
on the machine do not inflate; whole processes (--process) in wall time.

    python benchmarks/speed.py                      # the three ratios: chapters, engine
                                                    #   in float64, engine in float32
    python benchmarks/speed.py --ladder             # one technique at a time (the table of
                                                    #   docs/chapters/8b-fast.md)
    python benchmarks/speed.py --process 30000      # whole processes: `charrnn train
                                                    #   --iterations 30000` against the
                                                    #   textbook loop's own script
    python benchmarks/speed.py --batches            # characters per second with B = 1, 8,
                                                    #   32, 64 streams, float64 and float32
    python benchmarks/speed.py --cell lstm          # milliseconds per iteration of chapter
                                                    #   10's gradients and step against the
                                                    #   gated engine's, m = 100 and 256,
                                                    #   tau = 25 and 50 (--cell gru: 10b's)

Speed is measured here, never in the test suite.
"""

from __future__ import annotations

import os

# One BLAS thread, as the charrnn command uses (set before numpy is imported).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ladder  # noqa: E402
import textbook  # noqa: E402

from charrnn_edu import gru, lstm  # noqa: E402
from charrnn_edu.adagrad import AdaGrad, clip  # noqa: E402
from charrnn_edu.encoding import Vocabulary  # noqa: E402
from charrnn_edu.files import default_corpus, read_text  # noqa: E402
from charrnn_edu.forward import RNN  # noqa: E402
from charrnn_edu.gated_engine import GRUEngine, LSTMEngine  # noqa: E402
from charrnn_edu.training import Settings, Trainer  # noqa: E402


def machine() -> str:
    """One line naming the machine, Python, numpy and its BLAS."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    blas = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    try:   # the kernel OpenBLAS picked for this CPU, if threadpoolctl is installed
        from threadpoolctl import threadpool_info
        kernels = [i.get("architecture") for i in threadpool_info() if i["user_api"] == "blas"]
        blas += f" ({', '.join(k for k in kernels if k)} kernel)" if any(kernels) else ""
    except ImportError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
            f"numpy {np.__version__}, BLAS {blas}")


def textbook_rate(data: np.ndarray, K: int, iterations: int) -> float:
    """Iterations per second of the textbook loop in ``benchmarks/textbook.py``."""
    start = time.process_time()
    textbook.train(data, K, iterations)
    return iterations / (time.process_time() - start)


def trainer_rate(text: str, iterations: int, engine: str, dtype: str, batch: int = 1) -> float:
    """Iterations per second of ``Trainer`` (sampling off, as in the textbook loop)."""
    settings = Settings(sample_every=10**9, sample_length=0, dtype=dtype, batch=batch)
    trainer = Trainer.start(text, settings, engine=engine)
    start = time.process_time()
    trainer.run(iterations)
    return iterations / (time.process_time() - start)


def rung_rate(build: Callable, dtype: type, data: np.ndarray, K: int, iterations: int) -> float:
    """Iterations per second of one rung of ``ladder.py``, from the report's initial model."""
    rnn = RNN.init(K, 100, 0.01, rng=np.random.default_rng(0))
    rnn = rnn.map(lambda a: a.astype(dtype))
    iterate = build(rnn, AdaGrad(), 25)
    h = np.zeros((100, 1), dtype)
    start = time.process_time()
    for i in range(iterations):
        e = (i * 25) % (len(data) - 26)
        _, h = iterate(data[e:e + 25], data[e + 1:e + 26], h)
    return iterations / (time.process_time() - start)


def cell_ms(cell: str, fast: bool, m: int, tau: int, data: np.ndarray, K: int,
            iterations: int, dtype: type = np.float64) -> float:
    """Milliseconds per iteration (gradients, clipping, AdaGrad) of a gated cell, B = 1: the
    chapter's ``gradients`` and ``AdaGrad.step`` as written, or the cell's engine.

    AdaGrad's eta is 0.01: with the report's 0.1 the GRU at m = 256 climbs instead of
    learning and, in float32, its softmax underflows to p = 0 within 60 iterations.
    """
    chapter = lstm if cell == "lstm" else gru
    kind = chapter.LSTM if cell == "lstm" else chapter.GRU
    model = kind.init(K, m, 0.01, rng=np.random.default_rng(0)).map(lambda a: a.astype(dtype))
    opt, rows = AdaGrad(eta=0.01), 2 if cell == "lstm" else 1
    state = np.zeros((rows * m, 1), dtype)
    if fast:
        engine = (LSTMEngine if cell == "lstm" else GRUEngine)(model, opt, model.copy(),
                                                                tau=tau, clip=5.0)
    start = time.process_time()
    for i in range(iterations):
        e = (i * tau) % (len(data) - tau - 1)
        x, y = data[e:e + tau], data[e + 1:e + tau + 1]
        if fast:
            engine.loss_and_gradients(x, y, state)
            engine.update()
            state = engine.h
        else:
            if cell == "lstm":
                _, grads, h, c = chapter.gradients(model, x, y, state[:m], state[m:])
                state = np.vstack([h, c])
            else:
                _, grads, state = chapter.gradients(model, x, y, state)
            opt.step(model, clip(grads))
    return 1000 * (time.process_time() - start) / iterations


def alternate(rounds: int, baseline: Callable[[], float],
              contenders: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each round runs the baseline, then every contender, then the baseline again; returns
    every run's rate, by name ("textbook" for the baseline)."""
    rates: dict[str, list[float]] = {"textbook": [], **{name: [] for name in contenders}}
    for r in range(1, rounds + 1):
        rates["textbook"].append(baseline())
        line = [f"round {r}: textbook {rates['textbook'][-1]:.0f} it/s"]
        for name, run in contenders.items():
            rates[name].append(run())
            line.append(f"{name}: {rates[name][-1]:.0f} it/s")
        rates["textbook"].append(baseline())
        print("\n    ".join(line), flush=True)
    return rates


def process_seconds(command: list[str]) -> float:
    """Wall time of a whole process, start-up included."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000, help="per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the machine, the command and the table to PATH")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--ladder", action="store_true",
                      help="time each technique of the engine, one at a time")
    mode.add_argument("--batches", action="store_true",
                      help="characters per second of the engine with B = 1, 8, 32, 64 streams")
    mode.add_argument("--cell", choices=["lstm", "gru"],
                      help="ms per iteration of a gated cell: its chapter against its engine")
    mode.add_argument("--process", type=int, metavar="N",
                      help="time whole processes of N iterations: charrnn train and textbook.py")
    args = parser.parse_args()
    text = read_text(default_corpus())
    vocab = Vocabulary.from_text(text)
    data = vocab.encode(text).astype(np.int64)
    K = len(vocab)
    print(f"machine: {machine()}")
    if args.cell:
        cell_table(args, data, K)
        return
    print(f"m = 100, tau = 25, K = {K}; {args.rounds} rounds; medians of each one's rates")

    if args.process:
        n = args.process
        with tempfile.TemporaryDirectory() as tmp:
            charrnn = str(Path(sys.executable).with_name("charrnn"))
            def train_process(dtype: str, batch: int) -> float:
                """Characters per second over 25: comparable with the textbook's it/s."""
                iterations = max(1, n // batch)               # the same characters
                folder = Path(tmp) / f"run-{dtype}-{batch}-{time.monotonic_ns()}"
                return batch * iterations / process_seconds(
                    [charrnn, "train", "--iterations", str(iterations), "--quiet", "--dtype",
                     dtype, "--batch", str(batch), "--out", str(folder)])
            contenders = {f"charrnn train{'' if b == 1 else f' --batch {b}'}, {d}":
                          (lambda d=d, b=b: train_process(d, b))
                          for b in (1, 32) for d in ("float64", "float32")}
            print(f"whole processes, {n} iterations of 25 characters each, or as many "
                  "characters in iterations of B streams (charrnn train with its default "
                  "samples and checkpoints)")
            rates = alternate(args.rounds, lambda: n / process_seconds(
                [sys.executable, str(HERE / "textbook.py"), "--iterations", str(n)]),
                contenders)
    elif args.batches:
        n = args.iterations
        print(f"characters per second: the textbook loop {n} iterations of 25 characters, "
              "the engine the same characters in n / B iterations of B streams")
        contenders = {
            f"B = {B}, {dtype}": (lambda B=B, dtype=dtype: B * trainer_rate(
                text, max(n // B, 20), "fast", dtype, B))
            for dtype in ("float64", "float32") for B in (1, 8, 32, 64)}
        rates = alternate(args.rounds, lambda: textbook_rate(data, K, n), contenders)
    elif args.ladder:
        ladder.check(data, K)
        print(f"training loop only, {args.iterations} iterations per run; every rung was first "
              "checked against the chapters (ladder.check)")
        contenders = {name: (lambda b=build, d=dtype: rung_rate(b, d, data, K, args.iterations))
                      for name, build, dtype in ladder.RUNGS}
        rates = alternate(args.rounds, lambda: textbook_rate(data, K, args.iterations),
                           contenders)
    else:
        print(f"Trainer.run, {args.iterations} iterations per run, sampling off")
        contenders = {"chapters": lambda: trainer_rate(text, args.iterations, "chapters",
                                                       "float64"),
                      "engine float64": lambda: trainer_rate(text, args.iterations, "fast",
                                                             "float64"),
                      "engine float32": lambda: trainer_rate(text, args.iterations, "fast",
                                                             "float32")}
        rates = alternate(args.rounds, lambda: textbook_rate(data, K, args.iterations),
                           contenders)
    base = statistics.median(rates.pop("textbook"))
    unit = "characters/s" if args.batches or args.process else "iterations/s"
    scale = 25 if args.batches or args.process else 1
    extra = (" × the row before |", "---:|") if args.ladder else ("", "")
    table = [f"| | median {unit} | × the textbook loop |{extra[0]}", f"|---|---:|---:|{extra[1]}",
             f"| textbook loop (`benchmarks/textbook.py`) | {base * scale:,.0f} | 1.00× |"
             + (" |" if args.ladder else "")]
    previous = None
    for name, values in rates.items():
        rate = statistics.median(values)
        before = ("" if not args.ladder else " |" if previous is None
                  else f" {rate / previous:.2f}× |")
        table.append(f"| {name.strip()} | {rate * scale:,.0f} | {rate / base:.2f}× |{before}")
        if not name.startswith(" "):
            previous = rate
    print("\n" + "\n".join(table))
    if args.markdown:
        command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
        args.markdown.write_text(
            f"Measured with `{command.split(' --markdown')[0]}` on {time.strftime('%Y-%m-%d')}: "
            f"{machine()}.\n\n" + "\n".join(table) + "\n", encoding="utf-8")

def cell_table(args: argparse.Namespace, data: np.ndarray, K: int) -> None:
    """``--cell``: the chapter and the engine alternate, round after round, at each size."""
    engine_n = max(10, args.iterations // 10)              # 200 by default; the chapter a
    chapter_n = max(2, engine_n // 20)                     # twentieth: it is that much slower
    print(f"--cell {args.cell}, K = {K}, B = 1, AdaGrad (eta 0.01) and clipping; "
          f"{args.rounds} rounds of "
          f"{chapter_n} chapter and {engine_n} engine iterations; medians, ms per iteration")
    table = ["| m | tau | chapter (ms) | engine float64 (ms) | engine float32 (ms) | "
             "chapter / engine float64 |", "|---:|---:|---:|---:|---:|---:|"]
    for m in (100, 256):
        for tau in (25, 50):
            runs: dict[str, list[float]] = {"chapter": [], "float64": [], "float32": []}
            for _ in range(args.rounds):
                runs["chapter"].append(cell_ms(args.cell, False, m, tau, data, K, chapter_n))
                runs["float64"].append(cell_ms(args.cell, True, m, tau, data, K, engine_n))
                runs["float32"].append(cell_ms(args.cell, True, m, tau, data, K, engine_n,
                                               np.float32))
            chapter, f64, f32 = (statistics.median(runs[k]) for k in runs)
            table.append(f"| {m} | {tau} | {chapter:.2f} | {f64:.3f} | {f32:.3f} | "
                         f"{chapter / f64:.1f}× |")
            print(table[-1], flush=True)
    print("\n" + "\n".join(table))
    if args.markdown:
        command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
        args.markdown.write_text(
            f"Measured with `{command.split(' --markdown')[0]}` on {time.strftime('%Y-%m-%d')}: "
            f"{machine()}.\n\n" + "\n".join(table) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
