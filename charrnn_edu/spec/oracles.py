r"""The independent oracles: references for chapter 4 written by another hand.

The chapters' own gradients are checked against code that shares none of their tricks:
:func:`textbook_gradients`, BPTT the way min-char-rnn writes it, one step at a time with
one-hot products; and :func:`one_step_derivatives`, complex-step derivatives (5.3) of the
loss of a single step, which pin every output of ``bptt.backward_step`` to its equation.
The package's tests and ``charrnn exercises check`` compare with both.
"""

from __future__ import annotations

import math

import numpy as np

from charrnn_edu.forward import RNN, step
from charrnn_edu.gradcheck import elementwise

__all__ = ["textbook_gradients", "one_step_derivatives"]


def textbook_gradients(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray, *,
                       drop_h0_from_dW: bool = False) -> tuple[float, RNN, np.ndarray]:
    """BPTT the plain way: one step at a time, column vectors, one-hot products (min-char-rnn).

    An independent reference for chapter 4, with none of its gathers, bincounts or
    time-major rows. ``drop_h0_from_dW=True`` reproduces a classic bug: (4.6) summed as if
    h_0 were always 0, i.e. the W-term of the first step is left out.
    """
    K, m = rnn.V.shape
    xs, hs, ps = {}, {-1: h0}, {}
    loss = 0.0
    for t in range(len(x)):
        xs[t] = np.zeros((K, 1))
        xs[t][x[t]] = 1.0                                               # (K, 1)
        hs[t] = np.tanh(rnn.W @ hs[t - 1] + rnn.U @ xs[t] + rnn.b)      # (m, 1)
        o = rnn.V @ hs[t] + rnn.c                                       # (K, 1)
        e = np.exp(o - o.max())
        ps[t] = e / e.sum()                                             # (K, 1)
        loss -= math.log(ps[t][y[t], 0])
    grads = rnn.map(np.zeros_like)
    da_next = np.zeros((m, 1))
    for t in reversed(range(len(x))):
        g = ps[t].copy()
        g[y[t]] -= 1.0                                                  # (K, 1)
        grads.V += g @ hs[t].T
        grads.c += g
        da = (rnn.V.T @ g + rnn.W.T @ da_next) * (1.0 - hs[t] ** 2)     # (m, 1)
        h_prev = np.zeros_like(h0) if (t == 0 and drop_h0_from_dW) else hs[t - 1]
        grads.W += da @ h_prev.T
        grads.U += da @ xs[t].T
        grads.b += da
        da_next = da
    return loss, grads, hs[len(x) - 1]


def one_step_derivatives(rnn: RNN, p_t: np.ndarray, y_t: int, h_t: np.ndarray,
                         h_prev: np.ndarray, x_t: int, da_next: np.ndarray) -> RNN:
    r"""Complex-step derivatives, (5.3), of the loss of one step and what comes after it.

    The loss is :math:`\ell = -\ln p_t[y_t] + \delta^T W h_t` with the upstream term
    :math:`\delta` = ``da_next`` and the W of that term held fixed: then
    :math:`\partial\ell/\partial h_t = V^T g_t + W^T \delta`, as in (4.4), and the
    derivatives are this step's terms of (4.2)–(4.8); dL/db is dL/da_t.
    """
    model = rnn.map(lambda a: a.astype(complex))

    def loss() -> complex:
        now = step(model, h_prev, x_t)
        return -np.log(now.p[y_t, 0]) + (da_next.T @ rnn.W @ now.h)[0, 0]

    return RNN(*(elementwise(lambda _: loss(), theta, method="complex") for theta in model))
