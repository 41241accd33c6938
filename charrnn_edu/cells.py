r"""The three cells a run can train: the vanilla RNN, the LSTM and the GRU, behind one face.

Not a chapter: the machinery that lets training, checkpoints, sampling and evaluation treat
chapter 2's network, chapter 10's LSTM and chapter 10b's GRU alike. A :class:`Cell` names
what differs between them — the parameter container and its shapes, how the weights start,
the chapter's BPTT, the engine's fast path, one step for sampling, a forward pass over
streams for the held-out loss — and everything else in a run is the same code.

**One state array.** A run carries its state from one piece to the next as one array with a
column per stream (the report's column convention): h_t for the vanilla RNN and the GRU,
(m, B); for the LSTM h_t with c_t under it, (2m, B). Sampling, checkpoints and the engines
use the same stacking, so "the state" is one thing everywhere.

**Streams, the chapters' way.** :meth:`Cell.gradients` reads B streams as chapter 8c does:
the loss (M.5) and every gradient are the mean over the streams of each stream's own. For
the vanilla cell that is chapter 8c's ``batches.gradients`` (chapter 4's for one stream);
for the gated cells it is their chapter's ``gradients``, once per stream, averaged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from charrnn_edu import batches, bptt, gradcheck, gru, lstm
from charrnn_edu.engine import Engine
from charrnn_edu.forward import RNN, softmax
from charrnn_edu.gated_engine import GRUEngine, LSTMEngine
from charrnn_edu.gradcheck import GradCheckRow
from charrnn_edu.lstm import sigmoid
from charrnn_edu.sampling import Step, next_distribution

__all__ = ["Cell", "CELLS", "DEFAULT_CELL", "cell_of"]

Model = Any
"""An RNN, an LSTM or a GRU: five arrays, iterable in the cell's ``names`` order."""


@dataclass(frozen=True)
class Cell:
    """What a run needs to know about one kind of recurrent cell.

    Attributes
    ----------
    name : str
        ``"vanilla"``, ``"lstm"`` or ``"gru"``, as ``Settings.cell`` names it.
    chapter : str
        Where it is taught, for messages and help.
    model : type
        The parameter container: ``RNN``, ``LSTM`` or ``GRU``.
    names : tuple of str
        Its five arrays, in the order the container iterates them.
    gates : int
        Blocks of m rows in W, U and b: 1, 4 (i, f, q, g) or 3 (z, r, n).
    states : int
        Blocks of m rows in the carried state: 1 (h), or 2 for the LSTM (h, then c).
    engine : type
        The fast path: ``Engine``, ``LSTMEngine`` or ``GRUEngine``.
    gradients : callable
        ``gradients(model, X, Y, state) -> (loss, grads, state)``: BPTT by the cell's chapter
        for X, Y of shape (tau,) or (B, tau) and a state of shape (states * m, B); the loss
        and gradients of B streams are the means over the streams, (M.5).
    next_distribution : callable
        Chapter 7's step (7.1) for this cell, ``(model, state, x, T) -> (state, p)`` with a
        state of one column and p of shape (K,): what ``sampling.sample`` takes.
    forward_streams : callable
        ``forward_streams(model, X, state) -> (P, state)``: the probabilities P (n, K, B) of
        B streams X (B, n) read side by side (chapter 8c's layout), and the state after them.
    check : callable
        ``check(model, x, y, state, step, eps, **tolerances) -> rows``: chapter 5's table for
        the cell, from a state of one column (float64 parameters).
    """

    name: str
    chapter: str
    model: type
    names: tuple[str, ...]
    gates: int
    states: int
    engine: type
    gradients: Callable[[Model, np.ndarray, np.ndarray, np.ndarray],
                        tuple[float, Model, np.ndarray]]
    next_distribution: Step
    forward_streams: Callable[[Model, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    check: Callable[..., list[GradCheckRow]]

    def shapes(self, m: int, K: int) -> dict[str, tuple[int, int]]:
        """The shape of each parameter for hidden size m and K characters, in ``names`` order."""
        G = self.gates
        return dict(zip(self.names, ((G * m, 1), (K, 1), (G * m, K), (G * m, m), (K, m)),
                        strict=True))

    def parameters(self, m: int, K: int) -> int:
        """How many numbers the network has: G(m^2 + mK + m) + Km + K."""
        return sum(rows * cols for rows, cols in self.shapes(m, K).values())

    def init(self, K: int, m: int, scheme: str, sigma: float,
             rng: np.random.Generator) -> Model:
        r"""Fresh parameters in float64: ``scheme`` is ``"classic"`` (sigma) or ``"scaled"``.

        The classic scheme is the chapter's own ``init`` with sigma (for the LSTM, with
        chapter 10's forget bias of 1). The scaled one draws the same standard normals and
        scales them as ``training.init_scaled`` does: U by :math:`1/\sqrt{2K}`, W by
        :math:`1/\sqrt{2m}` and V by :math:`1/\sqrt{m}`, so every pre-activation starts of
        order 1 whatever K and m are.
        """
        if scheme == "classic":
            return self.model.init(K, m, sigma, rng=rng)
        model = self.model.init(K, m, 1.0, rng=rng)            # U, W, V ~ N(0, 1)
        model.U *= np.sqrt(1 / (2 * K))
        model.W *= np.sqrt(1 / (2 * m))
        model.V *= np.sqrt(1 / m)
        return model

    def zero_state(self, m: int, B: int = 1, dtype: Any = np.float64) -> np.ndarray:
        """The state before a text starts: zeros of shape (states * m, B)."""
        return np.zeros((self.states * m, B), dtype=dtype)


# The vanilla cell: chapters 4 and 8c as they are.
def _vanilla_gradients(rnn: RNN, X: np.ndarray, Y: np.ndarray,
                       H: np.ndarray) -> tuple[float, RNN, np.ndarray]:
    return (bptt.gradients if np.ndim(X) == 1 else batches.gradients)(rnn, X, Y, H)


def _vanilla_streams(rnn: RNN, X: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    run = batches.forward(rnn, X, H)
    return run.P, run.H[-1]


# The gated cells: their chapter, one stream at a time, and the same equations for B columns.
def _per_stream(chapter: Callable[..., tuple[float, Model, np.ndarray]]) -> Callable[
        [Model, np.ndarray, np.ndarray, np.ndarray], tuple[float, Model, np.ndarray]]:
    """A chapter's one-stream BPTT made into B streams: each stream's, averaged, (M.5)."""
    def gradients(model: Model, X: np.ndarray, Y: np.ndarray,
                  state: np.ndarray) -> tuple[float, Model, np.ndarray]:
        Xs, Ys = np.atleast_2d(X), np.atleast_2d(Y)                 # (B, tau)
        B = Xs.shape[0]
        runs = [chapter(model, Xs[k], Ys[k], state[:, [k]]) for k in range(B)]
        grads = model.map(np.zeros_like)
        for _, terms, _ in runs:
            grads = grads.map(np.add, terms)
        return (sum(loss for loss, _, _ in runs) / B, grads.map(lambda g: g / B),
                np.hstack([after for _, _, after in runs]))       # (states * m, B)
    return gradients


def _lstm_gradients(model: lstm.LSTM, x: np.ndarray, y: np.ndarray,
                    state: np.ndarray) -> tuple[float, lstm.LSTM, np.ndarray]:
    m = model.m
    loss, grads, h, c = lstm.gradients(model, x, y, state[:m], state[m:])
    return loss, grads, np.vstack([h, c])                          # (2m, 1)


def _lstm_check(model: lstm.LSTM, x: np.ndarray, y: np.ndarray, state: np.ndarray,
                step: float = 1e-4, eps: float = 1e-6,
                **tolerances: float) -> list[GradCheckRow]:
    m = model.m
    return lstm.check(model, x, y, state[:m], state[m:], step, eps, **tolerances)


def _lstm_next(model: lstm.LSTM, state: np.ndarray, x: int,
               temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(7.1) by chapter 10's step, from the stacked state [h; c] (2m, 1)."""
    m = model.m
    s = lstm.step(model, state[:m], state[m:], x)
    return np.vstack([s.h, s.c]), softmax((model.V @ s.h + model.d) / temperature)[:, 0]


def _gru_next(model: gru.GRU, h: np.ndarray, x: int,
              temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(7.1) by chapter 10b's step."""
    h = gru.step(model, h, x).h
    return h, softmax((model.V @ h + model.d) / temperature)[:, 0]


def _lstm_streams(model: lstm.LSTM, X: np.ndarray,
                  state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(10.1)–(10.9) for B streams at once, column b for stream b."""
    m, Ps = model.m, []
    H, C = state[:m], state[m:]                                    # (m, B) each
    for ids in X.T:                                                # (B,): x_t of each stream
        A = model.W @ H + model.U[:, ids] + model.b                # (10.1)  (4m, B)
        I, F, Q = (sigmoid(A[k * m:(k + 1) * m]) for k in range(3))   # (10.2)-(10.4)
        G = np.tanh(A[3 * m:])                                     # (10.5): blocks i, f, q, g
        C = F * C + I * G                                          # (10.6)
        H = Q * np.tanh(C)                                         # (10.7)
        Ps.append(softmax(model.V @ H + model.d))                  # (10.8)-(10.9)  (K, B)
    return np.stack(Ps), np.vstack([H, C])                         # (n, K, B), (2m, B)


def _gru_streams(model: gru.GRU, X: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(10b.1)–(10b.6) for B streams at once, column b for stream b."""
    m, W, Ps = model.m, model.W, []
    for ids in X.T:
        A = model.U[:, ids] + model.b                              # (3m, B): blocks z, r, n
        Z = sigmoid(W[:m] @ H + A[:m])                             # (10b.1)
        R = sigmoid(W[m:2 * m] @ H + A[m:2 * m])                   # (10b.2)
        N = np.tanh(W[2 * m:] @ (R * H) + A[2 * m:])               # (10b.3)
        H = Z * H + (1 - Z) * N                                    # (10b.4)
        Ps.append(softmax(model.V @ H + model.d))                  # (10b.5)-(10b.6)
    return np.stack(Ps), H


CELLS: dict[str, Cell] = {cell.name: cell for cell in (
    Cell("vanilla", "chapters 2-4", RNN, ("b", "c", "U", "W", "V"), 1, 1, Engine,
         _vanilla_gradients, next_distribution, _vanilla_streams, gradcheck.check),
    Cell("lstm", "chapter 10", lstm.LSTM, lstm.NAMES, len(lstm.GATES), 2, LSTMEngine,
         _per_stream(_lstm_gradients), _lstm_next, _lstm_streams, _lstm_check),
    Cell("gru", "chapter 10b", gru.GRU, gru.NAMES, len(gru.GATES), 1, GRUEngine,
         _per_stream(gru.gradients), _gru_next, _gru_streams, gru.check),
)}
"""The cells by name: the names ``Settings.cell`` and ``--cell`` take."""

DEFAULT_CELL = "vanilla"
"""The report's cell."""


def cell_of(model: Model) -> Cell:
    """The cell whose parameters ``model`` holds.

    Raises
    ------
    TypeError
        If ``model`` is not an RNN, an LSTM or a GRU.
    """
    for cell in CELLS.values():
        if type(model) is cell.model:
            return cell
    raise TypeError(f"{type(model).__name__} is not a cell's parameters: expected one of "
                    f"{', '.join(cell.model.__name__ for cell in CELLS.values())}")
