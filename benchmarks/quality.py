"""Quality per second: what mini-batches buy in learning, not only in speed.

Trains the report's network on the first 90% of the bundled corpus with one stream (the
report's loop) and with B streams, for the same CPU time each, and records against that time
the smooth loss (per character, so that both are on one scale) and the held-out loss on
the last 10% of the text (its first 50,000 characters), in bits per character. Writes a
figure and a Markdown table::

    python benchmarks/quality.py [--seconds 120] [--batch 32] [--etas 0.05,0.1,0.2,0.4]
                                 [--out docs/measured]

With several --etas it first trains B streams with each for a tenth of the time and keeps
the eta with the lowest held-out loss (the sweep is printed and written to the table).
The clock is the process's CPU time, so other work on the machine does not distort it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as charrnn does; before numpy

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from charrnn_edu.encoding import Vocabulary  # noqa: E402
from charrnn_edu.files import default_corpus, read_text  # noqa: E402
from charrnn_edu.training import PRESETS, Trainer, held_out_loss  # noqa: E402


def held_out_bits(trainer: Trainer, held_out: np.ndarray, streams: int = 100) -> float:
    """Mean loss per character on ``held_out``, in bits: ``streams`` streams read in one piece."""
    piece = len(held_out) // streams - 1
    return held_out_loss(trainer.rnn, held_out, streams=streams, piece=piece) / math.log(2)


def train(text: str, held_out: np.ndarray, vocab: Vocabulary, batch: int, eta: float,
          seconds: float, evaluations: int = 12) -> list[tuple[float, float, float]]:
    """(CPU seconds, smooth loss per character, held-out bits per character) over the run."""
    settings = replace(PRESETS["classic"], batch=batch, eta=eta, sample_every=10**9,
                       sample_length=0)
    trainer = Trainer.start(text, settings, vocab=vocab)
    points, spent, next_eval = [], 0.0, 0.0
    while spent < seconds:
        start = time.process_time()
        trainer.run(trainer.iteration + 50)
        spent += time.process_time() - start
        if spent >= next_eval or spent >= seconds:
            points.append((spent, trainer.smooth_loss / settings.seq_length,
                           held_out_bits(trainer, held_out)))
            next_eval += seconds / evaluations
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--etas", default="0.05,0.1,0.2,0.4")
    parser.add_argument("--out", type=Path, default=Path("docs/measured"))
    args = parser.parse_args()
    full = read_text(default_corpus())
    split = int(len(full) * 0.9)
    vocab = Vocabulary.from_text(full)
    # The held-out loss is measured on the first 50,000 characters of the last 10%.
    text, held_out = full[:split], vocab.encode(full[split:split + 50_000]).astype(np.int64)

    etas = [float(e) for e in args.etas.split(",")]
    sweep = {}
    if len(etas) > 1:
        for eta in etas:
            sweep[eta] = train(text, held_out, vocab, args.batch, eta, args.seconds / 10)[-1][2]
            print(f"sweep: B = {args.batch}, eta = {eta}: held-out {sweep[eta]:.3f} bits/char "
                  f"after {args.seconds / 10:.0f} s", flush=True)
    eta = min(sweep, key=sweep.get) if sweep else etas[0]
    runs = {"B = 1 (the report's loop), eta = 0.1": train(text, held_out, vocab, 1, 0.1,
                                                          args.seconds),
            f"B = {args.batch}, eta = {eta}": train(text, held_out, vocab, args.batch, eta,
                                                    args.seconds)}

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    smooth_axes, held_axes = figure.subplots(1, 2)
    for name, points in runs.items():
        t, smooth, held = (np.array(column) for column in zip(*points, strict=True))
        smooth_axes.plot(t, smooth / math.log(2), marker=".", label=name)
        held_axes.plot(t, held, marker=".", label=name)
        print(f"{name}: after {t[-1]:.0f} s smooth {smooth[-1] / math.log(2):.3f}, held-out "
              f"{held[-1]:.3f} bits/char")
    smooth_axes.set(xlabel="CPU seconds", ylabel="smooth loss (bits per character)",
                    title="training text")
    held_axes.set(xlabel="CPU seconds", ylabel="bits per character", title="held-out 10%")
    held_axes.legend()
    args.out.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out / "quality.svg", metadata={"Date": None})
    rows = ["| run | smooth loss (bits/char) | held-out (bits/char) |", "|---|---:|---:|"]
    rows += [f"| {name} | {points[-1][1] / math.log(2):.3f} | {points[-1][2]:.3f} |"
             for name, points in runs.items()]
    if sweep:
        rows += ["", f"Learning-rate sweep for B = {args.batch} ({args.seconds / 10:.0f} CPU "
                 "seconds each, held-out bits per character): "
                 + ", ".join(f"eta {e}: {b:.3f}" for e, b in sweep.items()) + "."]
    (args.out / "quality.md").write_text(
        f"Measured with `python benchmarks/quality.py --seconds {args.seconds:g} --batch "
        f"{args.batch} --etas {args.etas}` on {time.strftime('%Y-%m-%d')}, "
        f"{args.seconds:g} CPU seconds per run.\n\n" + "\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
