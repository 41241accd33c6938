r"""Experiments with training (chapters 4b, 8 and 8c), and the numbers the pages quote.

:func:`trained_model` — the model the pages call "trained", trained with chapter 8's
:class:`~charrnn_edu.training.Trainer`. :func:`draw_smooth_loss` — its smooth loss (8.1) with
the iterations of its samples. :func:`draw_streams` — how B streams read the text (8c).
:func:`largest_gradient` — the piece of a real text with the largest gradient, found by the
``Trainer``'s own walk over the text. :func:`tutorial_values` — every number of chapter 4b and
of the numeric answers, by name, for the docs build's ``{{value:NAME}}``.

The pictures of the network and the experiments that need no training are in
:mod:`charrnn_edu.experiments`; :func:`charrnn_edu.files.save_figure` writes any figure.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from charrnn_edu.adagrad import AdaGrad
from charrnn_edu.bptt import gradients
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.experiments import (
    answers,
    clipping_numbers,
    h0_gradients,
    jacobian_norms,
    largest_element,
    spectral_radius,
)
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.forward import RNN, forward
from charrnn_edu.training import Settings, Trainer

__all__ = ["TRAINED_ITERATIONS", "trained_model", "draw_smooth_loss", "draw_streams",
           "GradientStep", "largest_gradient", "tutorial_values"]

#: The model the pages call "trained": the report's settings, this many iterations.
TRAINED_ITERATIONS = 3000


# ------------------------------------------------------------------ a trained model

def trained_model(iterations: int = TRAINED_ITERATIONS, seed: int = 0,
                  text: str | None = None, cell: str = "vanilla") -> Trainer:
    """A model trained with the report's settings on the bundled text (or ``text``).

    ``Trainer`` (chapter 8) with m = 100, tau = 25, AdaGrad, a sample every 1,000
    iterations. 3,000 iterations take a few seconds and are far from converged (chapter 8's
    report run takes 200,000), but the network has already learnt spaces, common letter
    pairs and short words, and its W has grown far beyond the initial sigma = 0.01.
    ``cell`` trains chapter 10's LSTM or 10b's GRU with the same settings instead.
    """
    text = read_text(default_corpus()) if text is None else text
    trainer = Trainer.start(text, Settings(cell=cell, seed=seed, sample_every=1000,
                                           sample_length=120))
    trainer.run(iterations)
    return trainer


def draw_smooth_loss(trainer: Trainer) -> Figure:
    """The smooth loss (8.1) against iterations, with the iteration of every sample marked.

    The loss of each piece is drawn faintly behind it; each sample's iteration gets a dotted
    line and, on it, the first characters of the text written there.
    """
    iterations = np.arange(1, len(trainer.smooth_losses) + 1)
    fig = Figure(figsize=(8, 4.5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(iterations, trainer.losses, color="tab:blue", alpha=0.2, linewidth=0.5,
            label="loss of each piece of text")
    ax.plot(iterations, trainer.smooth_losses, color="tab:blue", linewidth=1.6,
            label="smooth loss (8.1)")
    top = 1.3 * max(trainer.smooth_losses) if trainer.smooth_losses else 1.0
    for k, s in enumerate(trainer.samples):
        ax.axvline(s.iteration, color="tab:orange", linestyle=":", linewidth=1.0,
                   label="a sample was written" if k == 0 else None)
        ax.plot([s.iteration], [s.smooth_loss], "o", color="tab:orange", markersize=4)
        snippet = s.text[:14].replace("\n", "↵").replace("$", r"\$")
        ax.text(s.iteration, 0.03 * top, f" {s.iteration:,}: {snippet}...", rotation=90,
                fontsize=7, va="bottom", ha="left", color="0.3")
    ax.set_ylim(0, top)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (summed over the piece)")
    ax.set_title("Smooth loss, and when each sample was written", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return fig


# ------------------------------------------------------------------ streams

def draw_streams(n_chars: int = 1_091_710, B: int = 4, tau: int = 25,
                 iterations: int = 4) -> Figure:
    """Mini-batches' layout: the text cut into B contiguous streams, read tau at a time.

    Top: the whole text, coloured by the stream each part becomes. Bottom: the B streams'
    first ``iterations`` pieces, side by side: iteration i reads piece i of every stream at
    once, and each stream carries its own hidden state from piece to piece
    (``charrnn_edu.batches``).
    """
    length = n_chars // B
    fig = Figure(figsize=(8, 1.6 + 0.5 * B), layout="constrained")
    text_ax, streams_ax = fig.subplots(2, 1, height_ratios=[1, B])
    for b in range(B):
        text_ax.barh(0, length, left=b * length, height=0.8, color=f"C{b}", alpha=0.6)
        text_ax.text((b + 0.5) * length, 0, f"stream {b + 1}", ha="center", va="center",
                     fontsize=8)
    text_ax.set(xlim=(0, B * length), yticks=[], xticks=[b * length for b in range(B + 1)],
                xticklabels=[f"{b * length:,}" for b in range(B + 1)],
                title=f"the text, {n_chars:,} characters: {B} streams of {length:,}")
    text_ax.tick_params(labelsize=7)
    for b in range(B):
        y = B - 1 - b
        for i in range(iterations):
            streams_ax.barh(y, tau, left=i * tau, height=0.7, color=f"C{b}",
                            alpha=0.3 + 0.6 * (i + 1) / iterations, edgecolor="black",
                            linewidth=0.6)
            streams_ax.text((i + 0.5) * tau, y, f"iteration {i + 1}", ha="center",
                            va="center", fontsize=7)
        streams_ax.text(iterations * tau + 2, y, f"... to character {length:,}",
                        va="center", fontsize=7)
    streams_ax.set(xlim=(0, iterations * tau + 40), yticks=range(B),
                   yticklabels=[f"stream {B - y}" for y in range(B)],
                   xlabel=f"position in the stream (characters); iteration i reads piece i "
                          f"of every stream: a ({B}, {tau}) array of ids")
    streams_ax.tick_params(labelsize=7)
    for ax in (text_ax, streams_ax):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig


# ------------------------------------------------------------------ the largest gradient

class GradientStep(NamedTuple):
    """One real training step's gradient: where in the text, and what it was."""

    e: int
    loss: float
    grads: RNN


def largest_gradient(rnn: RNN, data: np.ndarray, vocab: Vocabulary, pieces: int,
                     tau: int = 25) -> GradientStep:
    """Of the first ``pieces`` consecutive pieces of ``data``, the one with the largest gradient.

    Chapter 8's :class:`~charrnn_edu.training.Trainer` walks the text as in training (the
    position e, the hidden state carried from piece to piece), with an update that only
    measures: BPTT's gradient and no step, so every piece sees ``rnn`` as given. The
    gradient's size is its largest element, the quantity the report's clipping looks at.
    ``vocab`` is the vocabulary of ``data``.
    """
    measured: list[tuple[float, RNN]] = []

    def measure(walk: Trainer, X: np.ndarray, Y: np.ndarray,
                h: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grads, h_next = gradients(walk.rnn, X, Y, h)
        measured.append((loss, grads))
        return loss, h_next

    walk = Trainer(data=data, vocab=vocab, rnn=rnn, optimizer=AdaGrad(), best=rnn.copy(),
                   settings=Settings(hidden=rnn.m, seq_length=tau, sample_length=0),
                   rng=np.random.default_rng(0), h=np.zeros((rnn.m, 1)), update=measure)
    best: GradientStep | None = None
    for _ in range(min(pieces, walk.iterations_per_epoch)):      # one epoch at most
        walk.step()
        loss, grads = measured.pop()
        if best is None or largest_element(grads) > largest_element(best.grads):
            best = GradientStep(walk.e - tau, loss, grads)     # e has moved on to the next
    if best is None:
        raise ValueError(f"data of {len(data)} ids holds no piece of tau + 1 = {tau + 1}")
    return best


# ------------------------------------------------------------------ the numbers the pages cite

def tutorial_values(trained: Trainer, length: int = 100, pieces: int = 400) -> dict[str, float]:
    """Every number the pages quote from an experiment, by name, for the docs build.

    ``trained`` is :func:`trained_model`'s run. The fresh model (sigma = 0.01) and the
    sigma = 1 model are drawn with seed 0, with the same K and m. The Jacobian and h_0
    experiments read ``length`` characters of the text from position 1,000; the clipping
    example is the largest gradient of the first ``pieces`` pieces (:func:`largest_gradient`).
    """
    K, m, data = trained.rnn.K, trained.rnn.m, trained.data
    models = {"fresh": RNN.init(K, m, 0.01, rng=np.random.default_rng(0)),
              "trained": trained.rnn,
              "sigma1": RNN.init(K, m, 1.0, rng=np.random.default_rng(0))}
    x, y = data[1000:1000 + length], data[1001:1001 + length]
    h0 = np.zeros((m, 1))
    values: dict[str, float] = {"trained.iterations": trained.iteration,
                                "trained.smooth_loss": trained.smooth_loss}
    for name, rnn in models.items():
        norms, sizes = jacobian_norms(rnn, x, h0), h0_gradients(rnn, x, y, h0)
        H = forward(rnn, x, h0).H
        values |= {f"{name}.rho": spectral_radius(rnn.W),
                   f"{name}.W_norm": float(np.linalg.norm(rnn.W, 2)),
                   f"{name}.J1": norms[0], f"{name}.J10": norms[9], f"{name}.J25": norms[24],
                   f"{name}.J50": norms[49],
                   f"{name}.saturated": float(np.mean(np.abs(H) > 0.99)),
                   f"{name}.tanh_slope": float(np.mean(1 - H**2)),
                   f"{name}.dh0_1": sizes[0], f"{name}.dh0_25": sizes[24],
                   f"{name}.dh0_50": sizes[49],
                   f"{name}.beyond_25": float(sizes[25:].sum() / sizes.sum())}
        loss, grads, _ = gradients(rnn, data[:25], data[1:26], h0)
        values |= {f"{name}.first_loss": loss, f"{name}.first_largest": largest_element(grads)}
    for name in ("trained", "sigma1"):
        step = largest_gradient(models[name], data, trained.vocab, pieces)
        values[f"{name}.clip.e"] = step.e
        values |= {f"{name}.clip.{k}": v for k, v in clipping_numbers(step.grads).items()}
    return values | answers()
