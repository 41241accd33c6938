r"""Chapter 2 — The forward pass of a vanilla RNN.

A vanilla RNN reads one character per time step. Its memory is the hidden state
:math:`h_t \in \mathbb{R}^m`, updated from the previous state and the current input, and at
each step it predicts a probability for every one of the K characters to come next.

Equations, for t = 1, ..., tau, with :math:`x_t` the one-hot input column::

    (2.1)  a_t = W h_{t-1} + U x_t + b         a_t, h_t : (m, 1)
    (2.2)  h_t = tanh(a_t)
    (2.3)  o_t = V h_t + c                     o_t, p_t : (K, 1)
    (2.4)  p_t = softmax(o_t) = exp(o_t) / sum_k exp(o_t[k])

Parameters: U (m, K), W (m, m), V (K, m), b (m, 1), c (K, 1). Stacked over time, columns are
time steps: H = [h_1 ... h_tau] is (m, tau) and P = [p_1 ... p_tau] is (K, tau).

Only (2.1)–(2.2) must run step by step, because h_t needs h_{t-1}. The input term
:math:`U x_t` is column ``x_t`` of U, so for the whole sequence it is one gather ``U[:, x]``;
(2.3)–(2.4) do not depend on each other across time, so they are one matrix product and one
softmax over all tau columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["RNN", "Forward", "softmax", "forward"]


@dataclass
class RNN:
    r"""The five parameter arrays of the network (also used to hold their gradients).

    Attributes
    ----------
    b : ndarray of shape (m, 1)
        Hidden bias.
    c : ndarray of shape (K, 1)
        Output bias.
    U : ndarray of shape (m, K)
        Input-to-hidden weights.
    W : ndarray of shape (m, m)
        Hidden-to-hidden (recurrent) weights.
    V : ndarray of shape (K, m)
        Hidden-to-output weights.
    """

    b: np.ndarray
    c: np.ndarray
    U: np.ndarray
    W: np.ndarray
    V: np.ndarray

    # --8<-- [start:init]
    @classmethod
    def init(cls, K: int, m: int = 100, sigma: float = 0.01, *,
             rng: np.random.Generator, dtype: DTypeLike = np.float64) -> RNN:
        r"""The report's initialisation: biases zero, weights drawn from N(0, sigma^2).

        Small weights keep every :math:`a_t` near 0 at the start, where tanh is almost linear
        and its gradient is almost 1, and make every :math:`p_t` almost uniform, so the first
        loss is close to :math:`\tau \ln K`. The draws are made in float64 and then cast
        to ``dtype``, so a float32 model starts from the same numbers, rounded.
        """
        if K < 1 or m < 1:
            raise ValueError(f"K and m must be at least 1, got K={K}, m={m}")
        if not sigma >= 0:
            raise ValueError(f"sigma must be non-negative, got {sigma}")
        return cls(b=np.zeros((m, 1)), c=np.zeros((K, 1)),
                   U=sigma * rng.standard_normal((m, K)),
                   W=sigma * rng.standard_normal((m, m)),
                   V=sigma * rng.standard_normal((K, m))).astype(dtype)
    # --8<-- [end:init]

    @classmethod
    def init_scaled(cls, K: int, m: int = 100, *, rng: np.random.Generator,
                    dtype: DTypeLike = np.float64) -> RNN:
        r"""The 2026 edition's initialisation: variances scaled by the number of inputs.

        U ~ N(0, 1/(2K)), W ~ N(0, 1/(2m)), V ~ N(0, 1/m), biases zero. Each unit's
        pre-activation sums its inputs, so dividing the variance by their number keeps
        a_t and o_t of order 1 whatever K and m are; U and W share a_t, hence the halves.
        """
        if K < 1 or m < 1:
            raise ValueError(f"K and m must be at least 1, got K={K}, m={m}")
        return cls(b=np.zeros((m, 1)), c=np.zeros((K, 1)),
                   U=rng.normal(0.0, np.sqrt(1 / (2 * K)), (m, K)),
                   W=rng.normal(0.0, np.sqrt(1 / (2 * m)), (m, m)),
                   V=rng.normal(0.0, np.sqrt(1 / m), (K, m))).astype(dtype)

    @property
    def m(self) -> int:
        """Hidden size m."""
        return self.W.shape[0]

    @property
    def K(self) -> int:
        """Vocabulary size K."""
        return self.V.shape[0]

    @staticmethod
    def names() -> tuple[str, ...]:
        """The parameter names in the report's order: b, c, U, W, V."""
        return ("b", "c", "U", "W", "V")

    def __iter__(self) -> Iterator[np.ndarray]:
        """The arrays in the order b, c, U, W, V."""
        # Spelled out rather than looked up by name: the training loop iterates five times
        # per step, and dataclasses.fields() would cost more than the small updates.
        return iter((self.b, self.c, self.U, self.W, self.V))

    def map(self, f: Callable[..., np.ndarray], *others: RNN) -> RNN:
        """A new RNN of ``f`` applied to the matching arrays of ``self`` and ``others``."""
        return RNN(*(f(*arrays) for arrays in zip(self, *others, strict=True)))

    def astype(self, dtype: DTypeLike) -> RNN:
        """The same parameters as arrays of ``dtype`` (float64, float32 or complex)."""
        return self.map(lambda a: a.astype(dtype))

    def copy(self) -> RNN:
        """A deep copy: changing it leaves ``self`` as it was."""
        return self.map(np.copy)


class Forward(NamedTuple):
    r"""What the forward pass computes for a sequence, kept for the backward pass.

    Attributes
    ----------
    H : ndarray of shape (m, tau)
        Hidden states; column t is :math:`h_t`.
    P : ndarray of shape (K, tau)
        Probabilities; column t is :math:`p_t`, the prediction of the character after x_t.
    h : ndarray of shape (m, 1)
        The last hidden state :math:`h_\tau`, to carry over to the next sequence.
    """

    H: np.ndarray
    P: np.ndarray
    h: np.ndarray


# --8<-- [start:softmax]
def softmax(o: np.ndarray) -> np.ndarray:
    r"""Column-wise softmax, equation (2.4), that never overflows.

    Parameters
    ----------
    o : ndarray of shape (K, tau)

    Returns
    -------
    p : ndarray of shape (K, tau)
        Each column positive and summing to 1.

    Notes
    -----
    softmax(o) = softmax(o - s) for any constant s, so subtracting each column's maximum
    changes nothing mathematically but keeps every exponent at most 0: exp cannot overflow.
    The shift uses the real part so the function also works on complex input (the
    complex-step check of chapter 5); any shift is exact there too.
    """
    e = np.exp(o - o.real.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
# --8<-- [end:softmax]


# --8<-- [start:forward]
def forward(rnn: RNN, x: np.ndarray, h0: np.ndarray) -> Forward:
    """Run the network over a sequence, equations (2.1)–(2.4).

    Parameters
    ----------
    rnn : RNN
        The parameters. They may be complex (for complex-step derivatives).
    x : ndarray of shape (tau,)
        Input character ids in ``0..K-1``.
    h0 : ndarray of shape (m, 1)
        The hidden state before the first step.

    Returns
    -------
    Forward
        ``H`` (m, tau), ``P`` (K, tau) and the last hidden state ``h`` (m, 1).
    """
    m, W = rnn.m, rnn.W
    # Time-major storage: row t of each (tau, .) array is column t of the report's matrix,
    # so every step reads and writes contiguous rows; the .T views below cost nothing.
    A = rnn.U.T[x] + rnn.b.T                   # (tau, m), row t = (U x_t + b)^T: a gather
    Ht = np.empty((len(x), m), dtype=np.result_type(W, A, h0))   # (tau, m)
    h = h0.reshape(m)
    for a_in, h_out in zip(A, Ht, strict=True):
        h = np.tanh(np.dot(W, h) + a_in, out=h_out)          # (2.1), (2.2)
    Ot = np.dot(Ht, rnn.V.T) + rnn.c.T         # (tau, K), (2.3) for all t at once
    P = softmax(Ot.T)                          # (K, tau), (2.4)
    return Forward(Ht.T, P, h.reshape(m, 1).copy())
# --8<-- [end:forward]
