r"""Experiments and figures of the gated cells (chapter 10): what their page shows, computed.

:func:`state_gradient_curves` measures chapter 4b's quantity, how much the loss of step t
depends on the state at the start, for a fresh vanilla network and a fresh LSTM of the same
size on the same text; :func:`draw_state_gradients` draws it, as
:func:`charrnn_edu.experiments.draw_h0_gradients` draws 4b's figure.
:func:`equal_parameters` sizes the cells alike, and :func:`draw_cell_comparison` draws what
``benchmarks/cells.py`` measures: held-out bits per character against seconds of training.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from charrnn_edu.cells import CELLS
from charrnn_edu.experiments import h0_gradients
from charrnn_edu.forward import RNN
from charrnn_edu.lstm import LSTM, state_gradients

__all__ = ["state_gradient_curves", "draw_state_gradients", "equal_parameters",
           "draw_cell_comparison"]


# --8<-- [start:curves]
def state_gradient_curves(x: np.ndarray, y: np.ndarray, K: int, m: int = 100,
                          sigma: float = 0.01, seed: int = 0,
                          trained: tuple[RNN, LSTM] | None = None) -> dict[str, np.ndarray]:
    r"""``||d l_t / d state_0||`` against t for fresh networks of hidden size m, from zero states.

    ``trained``, a trained vanilla network and a trained LSTM (of any size), adds their
    curves: what training did to each path.

    Returns
    -------
    dict of str to ndarray of shape (tau,)
        The vanilla network's :math:`\partial \ell_t / \partial h_0` (chapter 4b); the LSTM's
        :math:`\partial \ell_t / \partial h_0` and :math:`\partial \ell_t / \partial c_0`;
        :math:`\partial \ell_t / \partial c_0` of the same LSTM with a forget bias of 0; and
        with ``trained``, the trained vanilla network's and the trained LSTM's.
    """
    zeros = np.zeros((m, 1))                                                   # (m, 1)
    vanilla = RNN.init(K, m, sigma, rng=np.random.default_rng(seed))
    lstm = LSTM.init(K, m, sigma, rng=np.random.default_rng(seed))
    unbiased = LSTM.init(K, m, sigma, rng=np.random.default_rng(seed), forget_bias=0.0)
    dh0, dc0 = state_gradients(lstm, x, y, zeros, zeros)
    curves = {"vanilla RNN: d l_t / d h_0": h0_gradients(vanilla, x, y, zeros),
              "LSTM: d l_t / d h_0": dh0,
              "LSTM: d l_t / d c_0": dc0,
              "LSTM, forget bias 0: d l_t / d c_0": state_gradients(unbiased, x, y, zeros,
                                                                    zeros)[1]}
    if trained is not None:
        rnn, cell = (model.map(lambda theta: theta.astype(np.float64)) for model in trained)
        start, state = np.zeros((rnn.m, 1)), np.zeros((cell.m, 1))
        curves["trained vanilla RNN: d l_t / d h_0"] = h0_gradients(rnn, x, y, start)
        curves["trained LSTM: d l_t / d c_0"] = state_gradients(cell, x, y, state, state)[1]
    return curves
# --8<-- [end:curves]


def draw_state_gradients(curves: dict[str, np.ndarray], tau: int = 25) -> Figure:
    """Log-scale plot of :func:`state_gradient_curves` against t, with BPTT's tau marked.

    Fresh networks' curves are solid, the LSTM without its forget bias dashed, trained
    networks' dotted.
    """
    fig = Figure(figsize=(8, 4.4), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    floor = np.finfo(float).tiny
    for label, sizes in curves.items():
        style = ":" if label.startswith("trained") else "--" if "bias 0" in label else "-"
        ax.semilogy(np.arange(1, len(sizes) + 1), np.maximum(sizes, floor), style,
                    linewidth=1.6, label=label)
    ax.axvline(tau, color="0.3", linestyle="--", linewidth=1)
    ax.text(tau, 1.0, f" tau = {tau}: BPTT stops here", transform=ax.get_xaxis_transform(),
            va="top", fontsize=8, color="0.3")
    ax.set_xlabel("t: the step whose loss is differentiated")
    ax.set_ylabel(r"$\|\partial \ell_t / \partial h_0\|_2$, $\|\partial \ell_t / \partial c_0\|_2$")
    ax.set_title("How much the loss t steps later depends on the start", fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def equal_parameters(cell: str, like: str, m: int, K: int) -> int:
    """The hidden size that gives ``cell`` the parameter count nearest ``like``'s at size m.

    An LSTM has about four times the vanilla network's recurrent weights at the same m, so
    at equal parameters its m is about half: 121 against the vanilla network's 256 at K = 76.
    """
    target = CELLS[like].parameters(m, K)
    return min(range(1, 4 * m + 1),
               key=lambda size: abs(CELLS[cell].parameters(size, K) - target))


def draw_cell_comparison(runs: list[dict], clock: str = "wall") -> Figure:
    """Held-out bits per character against seconds of training, one line per run.

    Each run is a dict with ``cell``, ``hidden``, ``parameters``, ``per_epoch`` and
    ``points``, a list of (seconds, iteration, bits), as ``benchmarks/cells.py`` writes
    them. Every point is drawn faintly; the ends of epochs, where every run has just read the
    text before the held-out part, are joined by the bold line. Runs of the same cell share a
    colour; the ones at the vanilla network's parameter count are dashed.
    """
    fig = Figure(figsize=(8, 4.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    colours = {name: f"C{k}" for k, name in enumerate(CELLS)}
    widest = max(run["hidden"] for run in runs)
    for run in runs:
        colour, style = colours[run["cell"]], "-" if run["hidden"] == widest else "--"
        seconds, _, bits = zip(*run["points"], strict=True)
        ax.plot(seconds, bits, style, color=colour, linewidth=0.8, alpha=0.3)
        ends = [(s, b) for s, i, b in run["points"] if i % run["per_epoch"] == 0]
        ax.plot(*zip(*ends, strict=True), style, marker="o", markersize=4, color=colour,
                linewidth=1.8,
                label=f"{run['cell']}, m = {run['hidden']} ({run['parameters']:,} parameters)")
    low = min(b for run in runs for _, _, b in run["points"])
    ax.set_ylim(low - 0.1, low + 1.5)
    ax.set_xlabel(f"seconds of training ({clock} clock); dots: the end of each epoch")
    ax.set_ylabel("held-out bits per character")
    ax.set_title("Three cells, the same settings: learning per second", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
