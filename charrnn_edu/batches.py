r"""Mini-batches (chapter 8c, after chapter 8): B streams through the text at once.

The report trains on one piece of text at a time, so every step of (2.1) multiplies W by a
single column h_{t-1}: at m = 100, numpy spends more time starting that product than doing
it. With B pieces side by side — B *streams* — every hidden state becomes a matrix whose
columns are the streams, and the same number of numpy calls does B times the work.

**Streams.** The text is cut into B contiguous parts of equal length (the layout of
karpathy/char-rnn); iteration i reads the next tau characters of every part. Stream b carries
its own hidden state, column b of H, from one piece to the next, exactly as the report's
single stream does; all are reset to zero when an epoch starts.

Equations for a batch, at t = 1, ..., tau, with X_t the (K, B) one-hot matrix whose column b
is the input of stream b, and 1 the column of B ones::

    (M.1)  A_t = W H_{t-1} + U X_t + b 1^T        A_t, H_t : (m, B)
    (M.2)  H_t = tanh(A_t)
    (M.3)  O_t = V H_t + c 1^T                    O_t, P_t : (K, B)
    (M.4)  P_t = softmax(O_t), column by column
    (M.5)  L   = (1/B) sum_b sum_t -ln P_t[y_t^b, b]

The loss is summed over the tau steps, like the report's, and **averaged** over the streams,
so it stays on the report's scale (about tau ln K at the start) whatever B is, and the
gradient is the mean of the B streams' gradients: AdaGrad and clipping see numbers of the
same size as with one stream, and the same eta works. (A sum over streams would make every
gradient B times larger; AdaGrad's first step, eta * g / sqrt(g^2 + eps), would hardly
notice, but clipping at ±5 would cut far more often.)

BPTT is chapter 4 with matrices for columns; only (4.1) gains the 1/B of the mean::

    (M.6)  G_t = (P_t - Y_t) / B                  G_t : (K, B)

and then (4.2)–(4.8) hold as written with g_t -> G_t, h_t -> H_t, da_t -> dA_t: each product
with a row, such as G_t h_t^T, becomes a sum over the B columns, G_t H_t^T, and each bias
gradient sums the columns. With B = 1 every line is chapter 4's line.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from charrnn_edu.encoding import one_hot
from charrnn_edu.forward import RNN, softmax
from charrnn_edu.loss import cross_entropy

__all__ = ["streams", "BatchForward", "forward", "batch_loss", "gradients"]


def streams(data: np.ndarray, B: int) -> np.ndarray:
    """Cut ``data`` into B contiguous streams of equal length (a tail shorter than B is dropped).

    Parameters
    ----------
    data : ndarray of shape (n,)
        The text as ids.
    B : int
        Number of streams.

    Returns
    -------
    S : ndarray of shape (B, n // B)
        Row b is stream b: ``data[b * (n // B) : (b + 1) * (n // B)]``. A view, no copy.
    """
    if not B >= 1:
        raise ValueError(f"the number of streams B must be at least 1, got {B}")
    length = len(data) // B
    if length < 2:
        raise ValueError(f"{len(data)} characters make {B} streams of {length} characters; "
                         "each needs at least 2 (use a smaller B or a longer text)")
    return data[:B * length].reshape(B, length)


class BatchForward(NamedTuple):
    """What the batched forward pass keeps for BPTT.

    Attributes
    ----------
    H : ndarray of shape (tau + 1, m, B)
        H[t] is H_t, the hidden states of all streams after step t; H[0] is H_0.
    P : ndarray of shape (tau, K, B)
        P[t - 1] is P_t.
    """

    H: np.ndarray
    P: np.ndarray


# --8<-- [start:forward]
def forward(rnn: RNN, X: np.ndarray, H0: np.ndarray) -> BatchForward:
    """Equations (M.1)–(M.4) for B streams.

    Parameters
    ----------
    rnn : RNN
        The parameters (may be complex, for the complex-step check).
    X : ndarray of shape (B, tau)
        Input ids; row b is stream b's piece, column t its inputs at step t.
    H0 : ndarray of shape (m, B)
        The hidden states before the first step, one column per stream.

    Returns
    -------
    BatchForward
    """
    Hs, Ps = [H0], []
    for x_t in X.T:                                       # x_t : (B,) ids, one per stream
        A = rnn.W @ Hs[-1] + rnn.U[:, x_t] + rnn.b        # (M.1)  (m, B); U[:, x_t] = U X_t
        H = np.tanh(A)                                    # (M.2)  (m, B)
        O = rnn.V @ H + rnn.c                             # (M.3)  (K, B)
        Ps.append(softmax(O))                             # (M.4)  (K, B)
        Hs.append(H)
    return BatchForward(H=np.stack(Hs), P=np.stack(Ps))  # (tau + 1, m, B), (tau, K, B)
# --8<-- [end:forward]


def batch_loss(P: np.ndarray, Y: np.ndarray) -> float:
    """Equation (M.5): chapter 3's summed cross-entropy of each stream, averaged over streams.

    Parameters
    ----------
    P : ndarray of shape (tau, K, B)
    Y : ndarray of shape (B, tau)
        Target ids.
    """
    B = Y.shape[0]
    return sum(cross_entropy(P[:, :, b].T, Y[b]) for b in range(B)) / B


# --8<-- [start:gradients]
def gradients(rnn: RNN, X: np.ndarray, Y: np.ndarray,
              H0: np.ndarray) -> tuple[float, RNN, np.ndarray]:
    """Loss (M.5) and its gradient with respect to every parameter, by BPTT over B streams.

    Parameters
    ----------
    rnn : RNN
    X, Y : ndarray of shape (B, tau)
        Input and target ids, one row per stream.
    H0 : ndarray of shape (m, B)

    Returns
    -------
    loss : float
    grads : RNN
        The gradients of (M.5), each with its parameter's shape.
    H : ndarray of shape (m, B)
        The last hidden states H_tau, to carry over to the next pieces.
    """
    if X.shape != Y.shape or X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"X and Y must be (B, tau) arrays of the same shape with tau >= 1; "
                         f"got {X.shape} and {Y.shape}")
    B, K = X.shape[0], rnn.K
    H, P = forward(rnn, X, H0)
    grads = rnn.map(np.zeros_like)
    dA = np.zeros_like(H0)                                # dL/dA_{tau+1} = 0
    for t in reversed(range(X.shape[1])):                 # H[t + 1] is H_t, H[t] is H_{t-1}
        G = (P[t] - one_hot(Y[:, t], K)) / B              # (M.6)  (K, B)
        grads.V += G @ H[t + 1].T                         # (4.2)  (K, m)
        grads.c += G.sum(axis=1, keepdims=True)           # (4.3)  (K, 1)
        dH = rnn.V.T @ G + rnn.W.T @ dA                   # (4.4)  (m, B)
        dA = dH * (1 - H[t + 1] ** 2)                     # (4.5)  (m, B)
        grads.W += dA @ H[t].T                            # (4.6)  (m, m)
        grads.U += dA @ one_hot(X[:, t], K).T             # (4.7)  (m, K)
        grads.b += dA.sum(axis=1, keepdims=True)          # (4.8)  (m, 1)
    return float(batch_loss(P, Y)), grads, H[-1]
# --8<-- [end:gradients]
