r"""Your own code, your conventions: the report's network in columns or in rows, summed or averaged.

The report writes every vector as a column (chapter 2); the course's 2026 edition writes
them as rows, x_t a one-hot row and h_t a row::

    columns (the report)                       rows (the 2026 edition)
    a_t = W h_{t-1} + U x_t + b                a_t = h_{t-1} W + x_t U + b
    o_t = V h_t + c                            o_t = h_t V + c
    U (m, K), W (m, m), V (K, m)               U (K, m), W (m, m), V (m, K)
    b (m, 1), c (K, 1), h0 (m, 1)              b (1, m), c (1, K), h0 (1, m)

One network, two spellings: every array of the rows layout is the transpose of its column
twin (a row a_t^T = h_{t-1}^T W^T + ...), and so is every gradient. The loss is the sum
(3.1) or the mean L / tau, whose gradients are those of the sum divided by tau.

This module converts between the layouts (:func:`to_layout`, :func:`from_layout`), computes
the reference in either (:func:`reference`: chapter 4's BPTT, transposed and scaled), what
the usual slips compute instead (:func:`slip_gradients`), the same by torch.autograd where
torch is installed (:func:`torch_reference`), and a case to compare by hand in any language
(:func:`export_case`). :mod:`charrnn_edu.yours` checks a learner's function against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from charrnn_edu.bptt import Cache, backward_step
from charrnn_edu.forward import NAMES, RNN, forward
from charrnn_edu.loss import cross_entropy

__all__ = ["LAYOUTS", "LOSSES", "SLIPS", "ShapeProblem", "Problem", "expected_shapes",
           "other_layout", "to_layout", "from_layout", "reference", "slip_gradients",
           "torch_reference", "export_case"]

LAYOUTS = ("columns", "rows")
LOSSES = ("sum", "mean")
SLIPS = ("W untransposed", "V untransposed", "h0 ignored", "h0 missing from dW")
"""The slips of the backward pass :func:`slip_gradients` can compute."""


class ShapeProblem(ValueError):
    """An array of the learner's that fits neither layout, or a result of the wrong kind."""


def other_layout(layout: str) -> str:
    """The layout that is not ``layout``."""
    return "rows" if layout == "columns" else "columns"


def expected_shapes(layout: str, m: int, K: int) -> dict[str, tuple[int, int]]:
    """The shape of every parameter (and of h0) in ``layout``: the table of the docstring."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    columns = {"b": (m, 1), "c": (K, 1), "U": (m, K), "W": (m, m), "V": (K, m), "h0": (m, 1)}
    return columns if layout == "columns" else {k: s[::-1] for k, s in columns.items()}


def to_layout(rnn: RNN, layout: str) -> dict[str, np.ndarray]:
    """The parameters (or gradients) ``rnn`` as a dict keyed b, c, U, W, V in ``layout``."""
    expected_shapes(layout, 1, 1)
    return {name: (a.copy() if layout == "columns" else a.T.copy())
            for name, a in zip(NAMES, rnn, strict=True)}


def from_layout(params: Mapping[str, np.ndarray], layout: str) -> RNN:
    """The dict ``params`` of ``layout`` as chapter 2's RNN, in columns: to_layout undone."""
    expected_shapes(layout, 1, 1)
    return RNN(*(np.array(params[name], dtype=float) if layout == "columns"
                 else np.array(params[name], dtype=float).T for name in NAMES))


@dataclass(frozen=True)
class Problem:
    """One gradient check in the learner's conventions.

    Attributes
    ----------
    rnn : RNN
        The parameters in columns, float64.
    x, y : ndarray of shape (tau,)
        Input and target ids.
    h0 : ndarray of shape (m, 1)
        The hidden state before the first step, in columns.
    layout : {"columns", "rows"}
    loss : {"sum", "mean"}
    """

    rnn: RNN
    x: np.ndarray
    y: np.ndarray
    h0: np.ndarray
    layout: str
    loss: str

    def __post_init__(self) -> None:
        expected_shapes(self.layout, 1, 1)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")

    @property
    def tau(self) -> int:
        """The sequence length."""
        return len(self.x)

    def arguments(self, layout: str | None = None) -> tuple[dict, np.ndarray, np.ndarray,
                                                            np.ndarray]:
        """``(params, x, y, h0)`` as the learner's function takes them, in ``layout``."""
        layout = layout or self.layout
        h0 = self.h0.copy() if layout == "columns" else self.h0.T.copy()
        return to_layout(self.rnn, layout), self.x.copy(), self.y.copy(), h0


def _scale(problem: Problem) -> float:
    return 1.0 / problem.tau if problem.loss == "mean" else 1.0


def reference(problem: Problem) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and its five gradients in the problem's layout and loss: chapter 4 converted.

    Returns
    -------
    loss : float
        (3.1), or (3.1) / tau for the mean.
    grads : dict of str to ndarray
        dL/db, dL/dc, dL/dU, dL/dW, dL/dV, each of its parameter's shape in the layout.
    """
    return slip_gradients(problem)


def slip_gradients(problem: Problem, slip: str | None = None) -> tuple[float, dict]:
    """The reference, or what a known slip in the backward pass computes instead.

    ``slip`` is None (the reference), ``"W untransposed"`` or ``"V untransposed"`` (W or V
    where (4.4) has W^T or V^T; in rows, W or V where it has their transposes: the same
    slip, spelled in rows), ``"h0 ignored"`` (the forward pass starts from 0) or ``"h0
    missing from dW"`` (the t = 1 term of (4.6) left out).
    """
    if slip not in (None, *SLIPS):
        raise ValueError(f"slip must be one of {', '.join(SLIPS)}; got {slip!r}")
    rnn, x, y, h0 = problem.rnn, problem.x, problem.y, problem.h0
    if slip == "V untransposed" and rnn.V.shape[0] != rnn.V.shape[1]:
        raise ValueError("V untransposed in (4.4) only computes when K = m")
    start = np.zeros_like(h0) if slip == "h0 ignored" else h0
    H, P, _ = forward(rnn, x, start)                                 # (m, tau), (K, tau)
    backward = RNN(rnn.b, rnn.c, rnn.U, rnn.W.T if slip == "W untransposed" else rnn.W,
                   rnn.V.T if slip == "V untransposed" else rnn.V)
    first = np.zeros_like(h0) if slip == "h0 missing from dW" else start
    grads, da = rnn.map(np.zeros_like), np.zeros_like(h0)
    for t in reversed(range(len(x))):
        h_prev = H[:, [t - 1]] if t > 0 else first
        cache = Cache(h_prev=h_prev, x_t=int(x[t]), h_t=H[:, [t]], p_t=P[:, [t]])
        da, terms = backward_step(backward, cache, int(y[t]), da)
        grads = grads.map(np.add, terms)
    scale = _scale(problem)
    return (float(cross_entropy(P, y)) * scale,
            to_layout(grads.map(lambda g: g * scale), problem.layout))


def torch_reference(problem: Problem) -> tuple[float, dict[str, np.ndarray]]:
    """The same loss and gradients by ``torch.autograd``, written in the problem's layout.

    Raises
    ------
    ModuleNotFoundError
        If torch is not installed (``pip install 'charrnn-edu[torch]'``).
    """
    import torch

    params, x, y, h0 = problem.arguments()
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h, logits = torch.tensor(h0, dtype=torch.float64), []
    for x_t in x.tolist():
        if problem.layout == "rows":
            h = torch.tanh(h @ p["W"] + p["U"][x_t:x_t + 1, :] + p["b"])       # (1, m)
            logits.append(h @ p["V"] + p["c"])                                 # (1, K)
        else:
            h = torch.tanh(p["W"] @ h + p["U"][:, x_t:x_t + 1] + p["b"])       # (m, 1)
            logits.append((p["V"] @ h + p["c"]).T)                             # (1, K)
    loss = torch.nn.functional.cross_entropy(torch.cat(logits), torch.tensor(y),
                                             reduction=problem.loss)
    loss.backward()
    return float(loss.detach()), {k: v.grad.numpy().copy() for k, v in p.items()}


def _json_array(a: np.ndarray) -> dict[str, Any]:
    return {"shape": list(a.shape), "data": a.tolist()}


def export_case(problem: Problem) -> dict[str, Any]:
    """The problem and its reference as JSON-ready data, for a learner in any language.

    Every array is ``{"shape": [...], "data": nested lists, row by row}``; ids are 0-based.
    """
    params, x, y, h0 = problem.arguments()
    loss, grads = reference(problem)
    return {"layout": problem.layout, "loss": problem.loss, "m": problem.rnn.m,
            "K": problem.rnn.K, "tau": problem.tau, "x": x.tolist(), "y": y.tolist(),
            "h0": _json_array(h0), "params": {n: _json_array(a) for n, a in params.items()},
            "reference_loss": loss, "grads": {n: _json_array(a) for n, a in grads.items()}}
