r"""Chapter 4 — Backpropagation through time (BPTT).

The loss (3.1) depends on every parameter through every time step. BPTT applies the chain
rule backwards through the unrolled network, from step tau down to step 1. Writing
:math:`g_t = \partial L / \partial o_t` and :math:`\mathbf{y}_t` for the one-hot target::

    (4.1)  g_t    = p_t - y_t                                  g_t : (K, 1)
    (4.2)  dL/dV  = sum_t g_t h_t^T                            (K, m)
    (4.3)  dL/dc  = sum_t g_t                                  (K, 1)
    (4.4)  dL/dh_t = V^T g_t + W^T dL/da_{t+1}                 (m, 1); the W term is 0 at t = tau
    (4.5)  dL/da_t = dL/dh_t * (1 - h_t^2)                     (m, 1); tanh' = 1 - tanh^2
    (4.6)  dL/dW  = sum_t dL/da_t h_{t-1}^T                    (m, m); h_0 included
    (4.7)  dL/dU  = sum_t dL/da_t x_t^T                        (m, K)
    (4.8)  dL/db  = sum_t dL/da_t                              (m, 1)

(4.1) is the famous softmax-plus-cross-entropy result: the derivative of
:math:`-\ln \mathrm{softmax}(o)[y]` with respect to o is p minus the one-hot of y.
(4.4) has two terms because h_t reaches the loss two ways: through its own output o_t and
through the next hidden state a_{t+1}. Only (4.4)–(4.5) are a recurrence, run from t = tau
down to 1; (4.1)–(4.3) and (4.6)–(4.8) are whole-matrix operations over all time steps.

There is no clipping here: clipping changes the gradient, so a gradient check of clipped
gradients would check the wrong thing. It belongs to the optimiser, chapter 6.
"""

from __future__ import annotations

import numpy as np

from charrnn_edu.forward import RNN, forward
from charrnn_edu.loss import cross_entropy

__all__ = ["gradients"]


# --8<-- [start:gradients]
def gradients(rnn: RNN, x: np.ndarray, y: np.ndarray,
              h0: np.ndarray) -> tuple[float, RNN, np.ndarray]:
    """Loss and its gradient with respect to every parameter, by BPTT.

    Parameters
    ----------
    rnn : RNN
    x, y : ndarray of shape (tau,)
        Input ids and target ids.
    h0 : ndarray of shape (m, 1)
        Hidden state before the first step.

    Returns
    -------
    loss : float
        L of equation (3.1).
    grads : RNN
        dL/db (m, 1), dL/dc (K, 1), dL/dU (m, K), dL/dW (m, m), dL/dV (K, m).
    h : ndarray of shape (m, 1)
        The last hidden state, to carry over to the next sequence.
    """
    H, P, h_last = forward(rnn, x, h0)
    tau, (K, m) = len(x), rnn.V.shape
    loss = float(cross_entropy(P, y))

    # Time-major, like the forward pass: row t of each (tau, .) array is a column of the
    # report's matrix, and the transposes are free views.
    Ht = H.T                                         # (tau, m), row t = h_t^T
    Gt = P.T.copy()                                  # (tau, K), row t = g_t^T
    Gt[np.arange(tau), y] -= 1.0                     # (4.1): p_t - one-hot(y_t)
    dV = np.dot(Gt.T, Ht)                            # (K, m), (4.2)
    dc = Gt.sum(axis=0).reshape(K, 1)                # (K, 1), (4.3)

    dH_out = np.dot(Gt, rnn.V)                       # (tau, m), row t = (V^T g_t)^T
    tanh_grad = 1.0 - Ht * Ht                        # (tau, m), (1 - h_t^2)^T
    dA = np.empty((tau, m), dtype=Ht.dtype)          # (tau, m), row t = (dL/da_t)^T
    da = np.zeros(m, dtype=Ht.dtype)                 # dL/da_{tau+1} = 0
    for dh_out, d_tanh, da_out in zip(dH_out[::-1], tanh_grad[::-1], dA[::-1], strict=True):
        # (4.4)-(4.5) for t = tau, ..., 1; as rows, W^T da is da W.
        da = np.multiply(dh_out + np.dot(da, rnn.W), d_tanh, out=da_out)

    H_prev = np.vstack([h0.reshape(1, m), Ht[:-1]])  # (tau, m), row t = h_{t-1}^T
    dW = np.dot(dA.T, H_prev)                        # (m, m), (4.6)
    db = dA.sum(axis=0).reshape(m, 1)                # (m, 1), (4.8)
    # (4.7): x_t^T is one-hot, so da_t x_t^T only adds da_t to column x_t of dU. The plain
    # form is `for t: dU[:, x[t]] += dA[t]`; bincount does all those additions at once on
    # the flat index (x_t, i) -> x_t * m + i of dU^T.
    flat = (np.asarray(x)[:, None] * m + np.arange(m)).ravel()
    dU = np.bincount(flat, weights=dA.ravel(), minlength=K * m)  # float64, whatever dA is
    dU = dU.reshape(K, m).T.astype(dA.dtype)                     # (m, K)
    return loss, RNN(b=db, c=dc, U=dU, W=dW, V=dV), h_last
# --8<-- [end:gradients]
