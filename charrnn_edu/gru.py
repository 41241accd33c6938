r"""Chapter 10b — The GRU: two gates and one state.

The gated recurrent unit (Cho et al., 2014) keeps the LSTM's additive path but has no
separate cell: the hidden state itself is the memory. An **update gate** z_t mixes the old
state with a candidate, and a **reset gate** r_t decides how much of the old state the
candidate sees. Equations, for t = 1, ..., tau (W^z is the z block of W, and so on)::

    (10b.1)  z_t = sigma(W^z h_{t-1} + U^z x_t + b^z)          z_t : (m, 1), update gate
    (10b.2)  r_t = sigma(W^r h_{t-1} + U^r x_t + b^r)          r_t : (m, 1), reset gate
    (10b.3)  n_t = tanh(W^n (r_t * h_{t-1}) + U^n x_t + b^n)   n_t : (m, 1), candidate
    (10b.4)  h_t = z_t * h_{t-1} + (1 - z_t) * n_t             h_t : (m, 1)
    (10b.5)  o_t = V h_t + d                                   o_t, p_t : (K, 1)
    (10b.6)  p_t = softmax(o_t)

d2l's convention: z_t = 1 keeps the old state (PyTorch's too). W (3m, m), U (3m, K) and
b (3m, 1) stack the blocks z, r, n as chapter 10 stacks the LSTM's; only (10b.3)'s product
with W^n cannot join the other two, because it multiplies r_t * h_{t-1}, not h_{t-1}. The
output bias is d, as in chapter 10.

BPTT, from t = tau down to 1, with da_t the stacked (3m, 1) column of the three blocks::

    (10b.7)   dL/do_t  = p_t - y_t                                (K, 1)
    (10b.8)   dL/dV    = sum_t dL/do_t h_t^T;  dL/dd = sum_t dL/do_t
    (10b.9)   dL/dh_t  = V^T dL/do_t + dL/dh_t from step t + 1    (m, 1)
    (10b.10)  dL/da[n] = dL/dh_t * (1 - z_t) * (1 - n_t^2)
    (10b.11)  dL/da[z] = dL/dh_t * (h_{t-1} - n_t) * z_t (1 - z_t)
    (10b.12)  dL/d(r_t * h_{t-1}) = (W^n)^T dL/da[n]
    (10b.13)  dL/da[r] = dL/d(r_t * h_{t-1}) * h_{t-1} * r_t (1 - r_t)
    (10b.14)  dL/dW    = sum_t [dL/da[z]; dL/da[r]] h_{t-1}^T and dL/da[n] (r_t * h_{t-1})^T
    (10b.15)  dL/dU    = sum_t dL/da_t x_t^T;  dL/db = sum_t dL/da_t
    (10b.16)  to h_{t-1}: z_t * dL/dh_t + r_t * (10b.12) + (W^z)^T dL/da[z] + (W^r)^T dL/da[r]

The first term of (10b.16) is the additive path: z_t * dL/dh_t, no matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from charrnn_edu.forward import softmax
from charrnn_edu.gradcheck import GradCheckRow, elementwise, table_rows
from charrnn_edu.loss import cross_entropy
from charrnn_edu.lstm import sigmoid

__all__ = ["NAMES", "GATES", "GRU", "Step", "step", "forward", "Cache", "backward_step",
           "gradients", "sequence_loss", "numerical_gradients", "complex_step_gradients",
           "check"]

NAMES = ("b", "d", "U", "W", "V")
"""The parameters, in the report's order with the output bias c renamed d (chapter 10)."""
GATES = ("z", "r", "n")
"""The order of the three blocks of m rows in W, U and b: update, reset, candidate."""


def _block(a: np.ndarray, gate: str) -> np.ndarray:
    """The m rows of the (3m, ...) array ``a`` that belong to ``gate`` (one of :data:`GATES`)."""
    m = a.shape[0] // 3
    k = GATES.index(gate)
    return a[k * m:(k + 1) * m]


@dataclass
class GRU:
    """The five parameter arrays of the GRU (also used to hold their gradients).

    Attributes
    ----------
    b : ndarray of shape (3m, 1)
    d : ndarray of shape (K, 1)
    U : ndarray of shape (3m, K)
    W : ndarray of shape (3m, m)
    V : ndarray of shape (K, m)
    """

    b: np.ndarray
    d: np.ndarray
    U: np.ndarray
    W: np.ndarray
    V: np.ndarray

    @classmethod
    def init(cls, K: int, m: int = 100, sigma: float = 0.01, *,
             rng: np.random.Generator) -> GRU:
        """Chapter 2's initialisation: biases zero, U, W and V drawn from N(0, sigma^2)."""
        if K < 1 or m < 1:
            raise ValueError(f"K and m must be at least 1, got K={K}, m={m}")
        if not sigma >= 0:
            raise ValueError(f"sigma must be non-negative, got {sigma}")
        return cls(b=np.zeros((3 * m, 1)),                      # (3m, 1)
                   d=np.zeros((K, 1)),                          # (K, 1)
                   U=sigma * rng.standard_normal((3 * m, K)),   # (3m, K)
                   W=sigma * rng.standard_normal((3 * m, m)),   # (3m, m)
                   V=sigma * rng.standard_normal((K, m)))       # (K, m)

    @property
    def m(self) -> int:
        """Hidden size m."""
        return self.W.shape[1]

    @property
    def K(self) -> int:
        """Vocabulary size K."""
        return self.V.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        """The arrays in the order of :data:`NAMES`: b, d, U, W, V."""
        return (getattr(self, name) for name in NAMES)

    def map(self, f: Callable[..., np.ndarray], *others: GRU) -> GRU:
        """A new GRU of ``f`` applied to the matching arrays of ``self`` and ``others``."""
        return GRU(*(f(*arrays) for arrays in zip(self, *others, strict=True)))

    def copy(self) -> GRU:
        """A deep copy: changing it leaves ``self`` as it was."""
        return self.map(np.copy)


class Step(NamedTuple):
    """One time step of the GRU: z_t, r_t, n_t, h_t (m, 1) and p_t (K, 1)."""

    z: np.ndarray
    r: np.ndarray
    n: np.ndarray
    h: np.ndarray
    p: np.ndarray


# --8<-- [start:step]
def step(gru: GRU, h_prev: np.ndarray, x_t: int) -> Step:
    """One time step, (10b.1)–(10b.6): from h_{t-1} and x_t to z_t, r_t, n_t, h_t and p_t.

    Parameters
    ----------
    gru : GRU
        The parameters. They may be complex (for complex-step derivatives).
    h_prev : ndarray of shape (m, 1)
    x_t : int

    Returns
    -------
    Step
    """
    W, U, b = gru.W, gru.U[:, [x_t]], gru.b
    z = sigmoid(_block(W, "z") @ h_prev + _block(U, "z") + _block(b, "z"))          # (10b.1)
    r = sigmoid(_block(W, "r") @ h_prev + _block(U, "r") + _block(b, "r"))          # (10b.2)
    n = np.tanh(_block(W, "n") @ (r * h_prev) + _block(U, "n") + _block(b, "n"))    # (10b.3)
    h = z * h_prev + (1 - z) * n                                                    # (10b.4)
    o = gru.V @ h + gru.d                                                           # (10b.5)
    p = softmax(o)                                                                  # (10b.6)
    return Step(z, r, n, h, p)
# --8<-- [end:step]


def forward(gru: GRU, x: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray]:
    """Run the GRU over a sequence; returns H (m, tau), P (K, tau) and the last state (m, 1)."""
    if len(x) == 0:
        raise ValueError("the sequence x is empty: the forward pass needs at least one character")
    h, hs, ps = h0, [], []
    for x_t in x:
        s = step(gru, h, int(x_t))
        h = s.h
        hs.append(h)
        ps.append(s.p)
    return np.hstack(hs), np.hstack(ps), h


def sequence_loss(gru: GRU, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> float:
    """The loss (3.1) of the GRU on one sequence (complex for complex parameters)."""
    return cross_entropy(forward(gru, x, h0)[1], y)


# --8<-- [start:backward-step]
class Cache(NamedTuple):
    """What step t leaves for the backward pass: h_{t-1}, x_t and the step's columns."""

    h_prev: np.ndarray
    x_t: int
    step: Step


def backward_step(gru: GRU, cache: Cache, y_t: int,
                  dh_next: np.ndarray) -> tuple[np.ndarray, GRU]:
    """One time step of BPTT for the GRU.

    Parameters
    ----------
    gru : GRU
    cache : Cache
    y_t : int
        Id of the target character.
    dh_next : ndarray of shape (m, 1)
        The part of dL/dh_t that comes from step t + 1; zeros at t = tau.

    Returns
    -------
    dh_prev : ndarray of shape (m, 1)
        The part of dL/dh_{t-1} that step t sends back, (10b.16).
    terms : GRU
        Step t's term of each gradient.
    """
    s, h_prev = cache.step, cache.h_prev
    do = s.p.copy()
    do[y_t] -= 1                                              # (10b.7)   (K, 1)
    dV, dd = do @ s.h.T, do                                   # (10b.8)   (K, m), (K, 1)
    dh = gru.V.T @ do + dh_next                               # (10b.9)   (m, 1)
    da = np.zeros((3 * gru.m, 1), dtype=dh.dtype)
    _block(da, "n")[:] = dh * (1 - s.z) * (1 - s.n**2)        # (10b.10)  (m, 1)
    _block(da, "z")[:] = dh * (h_prev - s.n) * s.z * (1 - s.z)   # (10b.11)  (m, 1)
    drh = _block(gru.W, "n").T @ _block(da, "n")              # (10b.12)  (m, 1)
    _block(da, "r")[:] = drh * h_prev * s.r * (1 - s.r)       # (10b.13)  (m, 1)
    dW = np.vstack([_block(da, "z") @ h_prev.T, _block(da, "r") @ h_prev.T,
                    _block(da, "n") @ (s.r * h_prev).T])      # (10b.14)  (3m, m)
    dU = np.zeros_like(gru.U, dtype=da.dtype)
    dU[:, [cache.x_t]] = da                                   # (10b.15)  (3m, K)
    db = da                                                   # (10b.15)  (3m, 1)
    gates = np.vstack([_block(gru.W, "z"), _block(gru.W, "r")])   # (2m, m)
    dh_prev = (s.z * dh + s.r * drh                           # (10b.16)  (m, 1)
               + gates.T @ np.vstack([_block(da, "z"), _block(da, "r")]))
    return dh_prev, GRU(b=db, d=dd, U=dU, W=dW, V=dV)
# --8<-- [end:backward-step]


def gradients(gru: GRU, x: np.ndarray, y: np.ndarray,
              h0: np.ndarray) -> tuple[float, GRU, np.ndarray]:
    """Loss, its gradient with respect to every parameter (BPTT), and the last state."""
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError("the sequence x is empty: the forward pass needs at least one character")
    caches, h = [], h0
    for x_t in x:
        s = step(gru, h, int(x_t))
        caches.append(Cache(h_prev=h, x_t=int(x_t), step=s))
        h = s.h
    loss = float(cross_entropy(np.hstack([cache.step.p for cache in caches]), y))
    grads = gru.map(np.zeros_like)
    dh = np.zeros_like(h0)                            # nothing comes from step tau + 1
    for t in reversed(range(len(x))):
        dh, terms = backward_step(gru, caches[t], int(y[t]), dh)
        grads = grads.map(np.add, terms)
    return loss, grads, h


def numerical_gradients(gru: GRU, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                        step: float = 1e-4) -> GRU:
    """Centred-difference gradients (5.1) of the GRU's loss, by chapter 5's ``elementwise``."""
    model = gru.copy()
    return GRU(*(elementwise(lambda _: sequence_loss(model, x, y, h0), theta, step=step)
                 for theta in model))


def complex_step_gradients(gru: GRU, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> GRU:
    """Complex-step gradients (5.3) of the GRU's loss."""
    model = gru.map(lambda a: a.astype(complex))
    return GRU(*(elementwise(lambda _: sequence_loss(model, x, y, h0), theta, method="complex")
                 for theta in model))


def check(gru: GRU, x: np.ndarray, y: np.ndarray, h0: np.ndarray, step: float = 1e-4,
          eps: float = 1e-6, **tolerances: float) -> list[GradCheckRow]:
    """Chapter 5's table for the GRU, one row per parameter (b, d, U, W, V)."""
    _, analytic, _ = gradients(gru, x, y, h0)
    centred = numerical_gradients(gru, x, y, h0, step)
    exact = complex_step_gradients(gru, x, y, h0)
    return table_rows(NAMES, analytic, centred, exact, len(x), eps, **tolerances)
