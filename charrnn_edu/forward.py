r"""Chapter 2 — The forward pass of a vanilla RNN.

A vanilla RNN reads one character per time step. Its memory is the hidden state
:math:`h_t \in \mathbb{R}^m`, updated from the previous state and the current input, and at
each step it predicts a probability for every one of the K characters to come next.

Equations, for t = 1, ..., tau, with :math:`x_t` the one-hot input column::

    (2.1)  a_t = W h_{t-1} + U x_t + b         a_t, h_t : (m, 1)
    (2.2)  h_t = tanh(a_t)
    (2.3)  o_t = V h_t + c                     o_t, p_t : (K, 1)
    (2.4)  p_t = softmax(o_t) = exp(o_t) / sum_k exp(o_t[k])

Parameters: U (m, K), W (m, m), V (K, m), b (m, 1), c (K, 1). Every vector is a column, and
stacked over time the columns are time steps: H = [h_1 ... h_tau] is (m, tau) and
P = [p_1 ... p_tau] is (K, tau).

:func:`step` is one time step, (2.1)–(2.4), one line each; :func:`forward` loops it over a
sequence; :class:`RNN`, at the end, holds the five parameter arrays. This is the lesson,
written for reading, not for speed: the training engine (``charrnn_edu.engine``) computes the
same numbers faster, and the test suite proves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["NAMES", "softmax", "Step", "step", "Forward", "forward", "RNN"]

NAMES = ("b", "c", "U", "W", "V")
"""The parameters in the report's order: :class:`RNN` and every loop over it follow it."""


# --8<-- [start:softmax]
def softmax(o: np.ndarray) -> np.ndarray:
    r"""Column-wise softmax, equation (2.4), that never overflows.

    Parameters
    ----------
    o : ndarray of shape (K, tau)
        One column of logits per time step (tau = 1 for a single step).

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
    e = np.exp(o - o.real.max(axis=0, keepdims=True))   # .real: a complex o (ch. 5) has no max
    return e / e.sum(axis=0, keepdims=True)
# --8<-- [end:softmax]


class Step(NamedTuple):
    """One time step of the forward pass, equations (2.1)–(2.4).

    Attributes
    ----------
    a : ndarray of shape (m, 1)
    h : ndarray of shape (m, 1)
    o : ndarray of shape (K, 1)
    p : ndarray of shape (K, 1)
    """

    a: np.ndarray
    h: np.ndarray
    o: np.ndarray
    p: np.ndarray


# --8<-- [start:step]
def step(rnn: RNN, h_prev: np.ndarray, x_t: int) -> Step:
    """One time step: from h_{t-1} and the character x_t to a_t, h_t, o_t and p_t.

    Parameters
    ----------
    rnn : RNN
        The parameters. They may be complex (for complex-step derivatives).
    h_prev : ndarray of shape (m, 1)
        h_{t-1}, the hidden state before this step.
    x_t : int
        Id of the input character, in ``0..K-1``.

    Returns
    -------
    Step
        a_t, h_t (m, 1) and o_t, p_t (K, 1).

    Notes
    -----
    U x_t with x_t one-hot adds up the columns of U weighted by the entries of x_t, and all
    of them are 0 except entry x_t, which is 1: the product is column x_t of U.
    ``U[:, [x_t]]`` picks that column and keeps it a column (m, 1).
    """
    a = rnn.W @ h_prev + rnn.U[:, [x_t]] + rnn.b     # (2.1)  (m, 1)
    h = np.tanh(a)                                    # (2.2)  (m, 1)
    o = rnn.V @ h + rnn.c                             # (2.3)  (K, 1)
    p = softmax(o)                                    # (2.4)  (K, 1)
    return Step(a, h, o, p)
# --8<-- [end:step]


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


# --8<-- [start:forward]
def forward(rnn: RNN, x: np.ndarray, h0: np.ndarray) -> Forward:
    """Run the network over a sequence: :func:`step` for t = 1, ..., tau.

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

    Raises
    ------
    ValueError
        If ``x`` is empty.
    """
    if len(x) == 0:
        raise ValueError("the sequence x is empty: the forward pass needs at least one character")
    h, hs, ps = h0, [], []
    for x_t in x:
        _, h, _, p = step(rnn, h, int(x_t))   # h_{t-1} -> h_t: the state is carried
        hs.append(h)
        ps.append(p)
    return Forward(H=np.hstack(hs), P=np.hstack(ps), h=h)   # H (m, tau), P (K, tau)
# --8<-- [end:forward]


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
             rng: np.random.Generator) -> RNN:
        r"""The report's initialisation: biases zero, weights drawn from N(0, sigma^2).

        Small weights keep every :math:`a_t` near 0 at the start, where tanh is almost linear
        and its gradient is almost 1, and make every :math:`p_t` almost uniform, so the first
        loss is close to :math:`\tau \ln K`. U, W and V are drawn in that order.
        """
        if K < 1 or m < 1:
            raise ValueError(f"K and m must be at least 1, got K={K}, m={m}")
        if not sigma >= 0:
            raise ValueError(f"sigma must be non-negative, got {sigma}")
        return cls(b=np.zeros((m, 1)),                       # (m, 1)
                   c=np.zeros((K, 1)),                       # (K, 1)
                   U=sigma * rng.standard_normal((m, K)),    # (m, K)
                   W=sigma * rng.standard_normal((m, m)),    # (m, m)
                   V=sigma * rng.standard_normal((K, m)))    # (K, m)
    # --8<-- [end:init]

    @property
    def m(self) -> int:
        """Hidden size m."""
        return self.W.shape[0]

    @property
    def K(self) -> int:
        """Vocabulary size K."""
        return self.V.shape[0]

    # For the chapters after this one, which treat the five arrays alike: chapter 4 starts
    # its sums with rnn.map(np.zeros_like), chapter 6 clips with grads.map(np.clip ...).
    def __iter__(self) -> Iterator[np.ndarray]:
        """The arrays in the order of :data:`NAMES`: b, c, U, W, V."""
        return (getattr(self, name) for name in NAMES)

    def map(self, f: Callable[..., np.ndarray], *others: RNN) -> RNN:
        """A new RNN of ``f`` applied to the matching arrays of ``self`` and ``others``."""
        return RNN(*(f(*arrays) for arrays in zip(self, *others, strict=True)))

    def copy(self) -> RNN:
        """A deep copy: changing it leaves ``self`` as it was."""
        return self.map(np.copy)
