r"""Chapter 4 — Backpropagation through time (BPTT).

The loss (3.1) depends on every parameter through every time step. BPTT applies the chain
rule backwards through the unrolled network, from step tau down to step 1. Writing
:math:`g_t = \partial L / \partial o_t` and :math:`\mathbf{y}_t` for the one-hot target::

    (4.1)  g_t     = p_t - y_t                                 g_t : (K, 1)
    (4.2)  dL/dV   = sum_t g_t h_t^T                           (K, m)
    (4.3)  dL/dc   = sum_t g_t                                 (K, 1)
    (4.4)  dL/dh_t = V^T g_t + W^T dL/da_{t+1}                 (m, 1); the W term is 0 at t = tau
    (4.5)  dL/da_t = dL/dh_t * (1 - h_t^2)                     (m, 1); tanh' = 1 - tanh^2
    (4.6)  dL/dW   = sum_t dL/da_t h_{t-1}^T                   (m, m); h_0 included
    (4.7)  dL/dU   = sum_t dL/da_t x_t^T                       (m, K)
    (4.8)  dL/db   = sum_t dL/da_t                             (m, 1)

(4.1) is the famous softmax-plus-cross-entropy result: the derivative of
:math:`-\ln \mathrm{softmax}(o)[y]` with respect to o is p minus the one-hot of y.
(4.4) has two terms because h_t reaches the loss two ways: through its own output o_t and
through the next pre-activation a_{t+1} = W h_t + ... . That second term is what makes the
backward pass a recurrence, run from t = tau down to 1, just as (2.1) makes the forward pass
one from t = 1 up to tau.

:func:`backward_step` is one time step of it, (4.1)–(4.8), one line each, in the style of
CS231n's ``rnn_step_backward(dnext_h, cache)``: it reads what the forward step left, a
:class:`Cache` (h_{t-1}, x_t, h_t, p_t, by name), and returns dL/da_t and the step's terms
of the five sums, changing nothing it is given. :func:`gradients` runs the forward pass,
then loops the step backwards and adds up the terms.

There is no clipping here: clipping changes the gradient, so a gradient check of clipped
gradients would check the wrong thing. It belongs to the optimiser, chapter 6.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from charrnn_edu.forward import RNN, forward
from charrnn_edu.loss import cross_entropy

__all__ = ["Cache", "backward_step", "gradients"]


# --8<-- [start:backward-step]
class Cache(NamedTuple):
    """What step t of the forward pass leaves for the backward pass: its input and its output.

    Attributes
    ----------
    h_prev : ndarray of shape (m, 1)
        h_{t-1}, the hidden state the step started from (h_0 at the first step).
    x_t : int
        Id of the input character.
    h_t : ndarray of shape (m, 1)
        h_t, the hidden state the step made.
    p_t : ndarray of shape (K, 1)
        The predicted distribution of the next character.
    """

    h_prev: np.ndarray
    x_t: int
    h_t: np.ndarray
    p_t: np.ndarray


def backward_step(rnn: RNN, cache: Cache, y_t: int,
                  da_next: np.ndarray) -> tuple[np.ndarray, RNN]:
    r"""One time step of BPTT: dL/da_t, and this step's term of every gradient.

    Parameters
    ----------
    rnn : RNN
        The parameters.
    cache : Cache
        What step t of the forward pass left, by name: ``cache.h_prev`` (h_{t-1}) and
        ``cache.h_t``, both (m, 1); the input id ``cache.x_t``; ``cache.p_t``, (K, 1).
    y_t : int
        Id of the target character.
    da_next : ndarray of shape (m, 1)
        dL/da_{t+1}; zeros at t = tau, where no later step exists.

    Returns
    -------
    da_t : ndarray of shape (m, 1)
        dL/da_t, which step t - 1 needs: W^T da_t is the second source of dL/dh_{t-1}.
    terms : RNN
        Step t's term of each gradient, of its parameter's shape: b dL/da_t (4.8), c g_t
        (4.3), U dL/da_t x_t^T (4.7), W dL/da_t h_{t-1}^T (4.6), V g_t h_t^T (4.2). Each
        gradient is the sum over t of its terms.
    """
    g = cache.p_t.copy()
    g[y_t] -= 1                                    # (4.1)  (K, 1): p_t - y_t, y_t one-hot
    dV = g @ cache.h_t.T                           # (4.2)  (K, m)
    dc = g                                         # (4.3)  (K, 1)
    dh = rnn.V.T @ g + rnn.W.T @ da_next           # (4.4)  (m, 1): via o_t and via a_{t+1}
    da = dh * (1 - cache.h_t**2)                   # (4.5)  (m, 1)
    dW = da @ cache.h_prev.T                       # (4.6)  (m, m)
    dU = np.zeros_like(rnn.U)
    dU[:, [cache.x_t]] = da                        # (4.7)  (m, K): da x_t^T is da in column x_t
    db = da                                        # (4.8)  (m, 1)
    return da, RNN(b=db, c=dc, U=dU, W=dW, V=dV)
# --8<-- [end:backward-step]


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

    Raises
    ------
    ValueError
        If ``x`` is empty or ``x`` and ``y`` differ in length.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    H, P, h_last = forward(rnn, x, h0)               # H (m, tau), P (K, tau): column t is step t
    loss = float(cross_entropy(P, y))
    grads = rnn.map(np.zeros_like)                   # every sum starts at 0
    da = np.zeros_like(h0)                           # dL/da_{tau+1} = 0: no step after tau
    for t in reversed(range(len(x))):                # t = tau, ..., 1 (0-based here)
        h_prev = H[:, [t - 1]] if t > 0 else h0      # h_{t-1}: h_0 before the first step
        cache = Cache(h_prev=h_prev, x_t=int(x[t]), h_t=H[:, [t]], p_t=P[:, [t]])
        da, terms = backward_step(rnn, cache, int(y[t]), da)
        grads = grads.map(np.add, terms)             # each sum over t gets step t's term
    return loss, grads, h_last
# --8<-- [end:gradients]
