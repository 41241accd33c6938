r"""Chapter 10 — The LSTM: a gated cell with an additive memory.

Chapter 4b measured the vanilla network's gradient shrinking by about a factor of ten per
step back. The long short-term memory (Hochreiter and Schmidhuber, 1997; the forget gate is
Gers, Schmidhuber and Cummins, 2000) adds a second state, the **cell state** :math:`c_t`,
which is changed from one step to the next by a product with a gate and a sum, never by a
matrix and a tanh. Three gates, each a column of numbers in (0, 1), decide what is written,
kept and shown.

Equations, for t = 1, ..., tau, with :math:`x_t` the one-hot input column and sigma the
logistic function 1 / (1 + exp(-z))::

    (10.1)  a_t = W h_{t-1} + U x_t + b        a_t : (4m, 1), rows i, f, q, g
    (10.2)  i_t = sigma(a_t[i])                 i_t : (m, 1), the input gate
    (10.3)  f_t = sigma(a_t[f])                 f_t : (m, 1), the forget gate
    (10.4)  q_t = sigma(a_t[q])                 q_t : (m, 1), the output gate
    (10.5)  g_t = tanh(a_t[g])                  g_t : (m, 1), the candidate
    (10.6)  c_t = f_t * c_{t-1} + i_t * g_t     c_t : (m, 1), the cell state
    (10.7)  h_t = q_t * tanh(c_t)               h_t : (m, 1), the hidden state
    (10.8)  o_t = V h_t + d                     o_t, p_t : (K, 1)
    (10.9)  p_t = softmax(o_t)

``*`` is element-wise. Three letters of the report are taken, so three names differ from
the usual LSTM papers': the output gate is q_t (o_t is the scores (2.3)), the output bias is
d (c_t is the cell state, as in every LSTM paper), and the candidate g_t is CS231n's name;
chapter 4's p_t - y_t is written dL/do_t here, never g. The loss is chapter 3's (3.1).

**Stacked gates.** The four pre-activations are one column a_t of 4m rows: W (4m, m),
U (4m, K) and b (4m, 1) hold the four gates' weights one block of m rows under another, in
the order i, f, q, g (CS231n's). One matrix product per step serves all four gates, the
arrays are the vanilla network's with 4m rows (so chapter 4's three lines (4.6)–(4.8) hold
unchanged), and the parameter count 4(m^2 + mK + m) + Km + K reads off the shapes. PyTorch
and char-rnn stack them too (PyTorch in the order i, f, g, q).

BPTT, from t = tau down to 1, with both recurrences (h and c) carried back::

    (10.10)  dL/do_t  = p_t - y_t                                   (K, 1)
    (10.11)  dL/dV    = sum_t dL/do_t h_t^T                         (K, m)
    (10.12)  dL/dd    = sum_t dL/do_t                               (K, 1)
    (10.13)  dL/dh_t  = V^T dL/do_t + W^T dL/da_{t+1}               (m, 1)
    (10.14)  dL/dc_t  = dL/dh_t * q_t * (1 - tanh^2 c_t) + f_{t+1} * dL/dc_{t+1}
    (10.15)  dL/da[q] = dL/dh_t * tanh(c_t) * q_t (1 - q_t)
    (10.16)  dL/da[i] = dL/dc_t * g_t * i_t (1 - i_t)
    (10.17)  dL/da[f] = dL/dc_t * c_{t-1} * f_t (1 - f_t)
    (10.18)  dL/da[g] = dL/dc_t * i_t * (1 - g_t^2)
    (10.19)  dL/dW    = sum_t dL/da_t h_{t-1}^T                     (4m, m)
    (10.20)  dL/dU    = sum_t dL/da_t x_t^T                         (4m, K)
    (10.21)  dL/db    = sum_t dL/da_t                               (4m, 1)

(10.14) is the additive path: dL/dc_{t-1} receives f_t * dL/dc_t, an element-wise product
with a gate and no matrix, so where the forget gate is near 1 the gradient passes back
almost unchanged, step after step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from charrnn_edu.forward import softmax
from charrnn_edu.gradcheck import GradCheckRow, elementwise, table_rows
from charrnn_edu.loss import cross_entropy

__all__ = ["NAMES", "GATES", "FORGET_BIAS", "sigmoid", "LSTM", "Step", "step", "Forward",
           "forward", "Cache", "backward_step", "gradients", "sequence_loss",
           "numerical_gradients", "complex_step_gradients", "check", "state_gradients"]

NAMES = ("b", "d", "U", "W", "V")
"""The parameters, in the report's order with the output bias c renamed d."""
GATES = ("i", "f", "q", "g")
"""The order of the four blocks of m rows in a_t, W, U and b: input, forget, output, candidate."""
FORGET_BIAS = 1.0
"""The forget gate's initial bias: f_t starts near sigma(1) = 0.73, keeping, not forgetting."""


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-z)), element-wise (complex input allowed)."""
    return 1 / (1 + np.exp(-z))


def _block(a: np.ndarray, gate: str) -> np.ndarray:
    """The m rows of the (4m, ...) array ``a`` that belong to ``gate`` (one of :data:`GATES`)."""
    m = a.shape[0] // 4
    k = GATES.index(gate)
    return a[k * m:(k + 1) * m]


@dataclass
class LSTM:
    """The five parameter arrays of the LSTM (also used to hold their gradients).

    Attributes
    ----------
    b : ndarray of shape (4m, 1)
        Gate biases, blocks i, f, q, g.
    d : ndarray of shape (K, 1)
        Output bias (the report's c, renamed: c_t is the cell state).
    U : ndarray of shape (4m, K)
        Input-to-gate weights.
    W : ndarray of shape (4m, m)
        Hidden-to-gate (recurrent) weights.
    V : ndarray of shape (K, m)
        Hidden-to-output weights.
    """

    b: np.ndarray
    d: np.ndarray
    U: np.ndarray
    W: np.ndarray
    V: np.ndarray

    # --8<-- [start:init]
    @classmethod
    def init(cls, K: int, m: int = 100, sigma: float = 0.01, *, rng: np.random.Generator,
             forget_bias: float = FORGET_BIAS) -> LSTM:
        r"""Chapter 2's initialisation, but for the forget gate's bias, which starts at 1.

        With every weight small, :math:`a_t \approx b`, so each gate starts at
        sigma(its bias). A zero forget bias would make :math:`f_t \approx 0.5`: the cell
        would halve its memory, and (10.14) the gradient along it, at every step. A bias of
        1 gives :math:`f_t \approx 0.73`, so the cell keeps most of what it holds until
        training says otherwise (Gers et al. 2000; Jozefowicz et al. 2015). U, W and V are
        drawn in that order.
        """
        if K < 1 or m < 1:
            raise ValueError(f"K and m must be at least 1, got K={K}, m={m}")
        if not sigma >= 0:
            raise ValueError(f"sigma must be non-negative, got {sigma}")
        b = np.zeros((4 * m, 1))                              # (4m, 1)
        _block(b, "f")[:] = forget_bias                       # the forget gate's m rows
        return cls(b=b,
                   d=np.zeros((K, 1)),                        # (K, 1)
                   U=sigma * rng.standard_normal((4 * m, K)),  # (4m, K)
                   W=sigma * rng.standard_normal((4 * m, m)),  # (4m, m)
                   V=sigma * rng.standard_normal((K, m)))      # (K, m)
    # --8<-- [end:init]

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

    def map(self, f: Callable[..., np.ndarray], *others: LSTM) -> LSTM:
        """A new LSTM of ``f`` applied to the matching arrays of ``self`` and ``others``."""
        return LSTM(*(f(*arrays) for arrays in zip(self, *others, strict=True)))

    def copy(self) -> LSTM:
        """A deep copy: changing it leaves ``self`` as it was."""
        return self.map(np.copy)


class Step(NamedTuple):
    """One time step of the LSTM, equations (10.1)–(10.9): every column it makes.

    Attributes
    ----------
    i, f, q, g, c, h : ndarray of shape (m, 1)
        The three gates, the candidate, the cell state c_t and the hidden state h_t.
    p : ndarray of shape (K, 1)
    """

    i: np.ndarray
    f: np.ndarray
    q: np.ndarray
    g: np.ndarray
    c: np.ndarray
    h: np.ndarray
    p: np.ndarray


# --8<-- [start:step]
def step(lstm: LSTM, h_prev: np.ndarray, c_prev: np.ndarray, x_t: int) -> Step:
    """One time step: from h_{t-1}, c_{t-1} and the character x_t to the gates, c_t, h_t, p_t.

    Parameters
    ----------
    lstm : LSTM
        The parameters. They may be complex (for complex-step derivatives).
    h_prev, c_prev : ndarray of shape (m, 1)
        h_{t-1} and c_{t-1}, the two states before this step.
    x_t : int
        Id of the input character, in ``0..K-1``.

    Returns
    -------
    Step
        i_t, f_t, q_t, g_t, c_t, h_t (m, 1) and p_t (K, 1).
    """
    a = lstm.W @ h_prev + lstm.U[:, [x_t]] + lstm.b     # (10.1)  (4m, 1)
    i = sigmoid(_block(a, "i"))                         # (10.2)  (m, 1)
    f = sigmoid(_block(a, "f"))                         # (10.3)  (m, 1)
    q = sigmoid(_block(a, "q"))                         # (10.4)  (m, 1)
    g = np.tanh(_block(a, "g"))                         # (10.5)  (m, 1)
    c = f * c_prev + i * g                              # (10.6)  (m, 1)
    h = q * np.tanh(c)                                  # (10.7)  (m, 1)
    o = lstm.V @ h + lstm.d                             # (10.8)  (K, 1)
    p = softmax(o)                                      # (10.9)  (K, 1)
    return Step(i, f, q, g, c, h, p)
# --8<-- [end:step]


class Forward(NamedTuple):
    """What the forward pass computes for a sequence.

    Attributes
    ----------
    H, C : ndarray of shape (m, tau)
        Hidden states and cell states; column t is h_t, c_t.
    P : ndarray of shape (K, tau)
        Probabilities; column t is p_t.
    h, c : ndarray of shape (m, 1)
        The last states h_tau and c_tau, to carry over to the next sequence.
    """

    H: np.ndarray
    C: np.ndarray
    P: np.ndarray
    h: np.ndarray
    c: np.ndarray


# --8<-- [start:forward]
def forward(lstm: LSTM, x: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> Forward:
    """Run the LSTM over a sequence: :func:`step` for t = 1, ..., tau, carrying h and c.

    Parameters
    ----------
    lstm : LSTM
    x : ndarray of shape (tau,)
        Input character ids in ``0..K-1``.
    h0, c0 : ndarray of shape (m, 1)
        The states before the first step.

    Returns
    -------
    Forward
        ``H``, ``C`` (m, tau), ``P`` (K, tau) and the last states ``h``, ``c`` (m, 1).
    """
    if len(x) == 0:
        raise ValueError("the sequence x is empty: the forward pass needs at least one character")
    h, c, hs, cs, ps = h0, c0, [], [], []
    for x_t in x:
        s = step(lstm, h, c, int(x_t))      # both states carried: h_{t-1} -> h_t, c_{t-1} -> c_t
        h, c = s.h, s.c
        hs.append(h)
        cs.append(c)
        ps.append(s.p)
    return Forward(H=np.hstack(hs), C=np.hstack(cs), P=np.hstack(ps), h=h, c=c)
# --8<-- [end:forward]


def sequence_loss(lstm: LSTM, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                  c0: np.ndarray) -> float:
    """The loss (3.1) of the LSTM on one sequence (complex for complex parameters)."""
    return cross_entropy(forward(lstm, x, h0, c0).P, y)


# --8<-- [start:backward-step]
class Cache(NamedTuple):
    """What step t of the forward pass leaves for the backward pass.

    Attributes
    ----------
    h_prev, c_prev : ndarray of shape (m, 1)
        h_{t-1} and c_{t-1}, the states the step started from.
    x_t : int
        Id of the input character.
    step : Step
        The columns the step made: ``step.i``, ``step.f``, ``step.q``, ``step.g``,
        ``step.c`` (c_t), ``step.h`` (h_t), ``step.p`` (p_t).
    """

    h_prev: np.ndarray
    c_prev: np.ndarray
    x_t: int
    step: Step


def backward_step(lstm: LSTM, cache: Cache, y_t: int, dh_next: np.ndarray,
                  dc_next: np.ndarray) -> tuple[np.ndarray, np.ndarray, LSTM]:
    r"""One time step of BPTT through both recurrences, h and c.

    Parameters
    ----------
    lstm : LSTM
    cache : Cache
        What step t of the forward pass left.
    y_t : int
        Id of the target character.
    dh_next : ndarray of shape (m, 1)
        The part of dL/dh_t that comes from step t + 1, W^T dL/da_{t+1}; zeros at t = tau.
    dc_next : ndarray of shape (m, 1)
        The part of dL/dc_t that comes from step t + 1, f_{t+1} * dL/dc_{t+1}; zeros at
        t = tau.

    Returns
    -------
    dh_prev : ndarray of shape (m, 1)
        W^T dL/da_t: the part of dL/dh_{t-1} that step t sends back.
    dc_prev : ndarray of shape (m, 1)
        f_t * dL/dc_t: the part of dL/dc_{t-1} that step t sends back, the additive path.
    terms : LSTM
        Step t's term of each gradient: b (10.21), d (10.12), U (10.20), W (10.19),
        V (10.11).
    """
    s = cache.step
    do = s.p.copy()
    do[y_t] -= 1                                         # (10.10)  (K, 1): p_t - y_t
    dV = do @ s.h.T                                      # (10.11)  (K, m)
    dd = do                                              # (10.12)  (K, 1)
    dh = lstm.V.T @ do + dh_next                         # (10.13)  (m, 1)
    tanh_c = np.tanh(s.c)
    dc = dh * s.q * (1 - tanh_c**2) + dc_next            # (10.14)  (m, 1): via h_t, via c_{t+1}
    da = np.zeros((4 * lstm.m, 1), dtype=dh.dtype)
    _block(da, "q")[:] = dh * tanh_c * s.q * (1 - s.q)   # (10.15)  (m, 1)
    _block(da, "i")[:] = dc * s.g * s.i * (1 - s.i)      # (10.16)  (m, 1)
    _block(da, "f")[:] = dc * cache.c_prev * s.f * (1 - s.f)   # (10.17)  (m, 1)
    _block(da, "g")[:] = dc * s.i * (1 - s.g**2)         # (10.18)  (m, 1)
    dW = da @ cache.h_prev.T                             # (10.19)  (4m, m)
    dU = np.zeros_like(lstm.U, dtype=da.dtype)
    dU[:, [cache.x_t]] = da                              # (10.20)  (4m, K): da in column x_t
    db = da                                              # (10.21)  (4m, 1)
    return lstm.W.T @ da, s.f * dc, LSTM(b=db, d=dd, U=dU, W=dW, V=dV)
# --8<-- [end:backward-step]


# --8<-- [start:gradients]
def gradients(lstm: LSTM, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
              c0: np.ndarray) -> tuple[float, LSTM, np.ndarray, np.ndarray]:
    """Loss and its gradient with respect to every parameter, by BPTT through h and c.

    Parameters
    ----------
    lstm : LSTM
    x, y : ndarray of shape (tau,)
        Input ids and target ids.
    h0, c0 : ndarray of shape (m, 1)
        The states before the first step.

    Returns
    -------
    loss : float
        L of equation (3.1).
    grads : LSTM
        dL/db (4m, 1), dL/dd (K, 1), dL/dU (4m, K), dL/dW (4m, m), dL/dV (K, m).
    h, c : ndarray of shape (m, 1)
        The last states, to carry over to the next sequence.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError("the sequence x is empty: the forward pass needs at least one character")
    caches, h, c = [], h0, c0
    for x_t in x:                                     # the forward pass, keeping every cache
        s = step(lstm, h, c, int(x_t))
        caches.append(Cache(h_prev=h, c_prev=c, x_t=int(x_t), step=s))
        h, c = s.h, s.c
    loss = float(cross_entropy(np.hstack([cache.step.p for cache in caches]), y))
    grads = lstm.map(np.zeros_like)                   # every sum starts at 0
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)     # nothing comes from step tau + 1
    for t in reversed(range(len(x))):                 # t = tau, ..., 1 (0-based here)
        dh, dc, terms = backward_step(lstm, caches[t], int(y[t]), dh, dc)
        grads = grads.map(np.add, terms)              # each sum over t gets step t's term
    return loss, grads, h, c
# --8<-- [end:gradients]


# --8<-- [start:check]
def numerical_gradients(lstm: LSTM, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                        c0: np.ndarray, step: float = 1e-4) -> LSTM:
    """Centred-difference gradients (5.1) of the LSTM's loss, by chapter 5's ``elementwise``."""
    model = lstm.copy()

    def loss(_: np.ndarray) -> float:      # the moved element is one of model's arrays
        return sequence_loss(model, x, y, h0, c0)

    return LSTM(*(elementwise(loss, theta, step=step) for theta in model))


def complex_step_gradients(lstm: LSTM, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                           c0: np.ndarray) -> LSTM:
    """Complex-step gradients (5.3) of the LSTM's loss: sigmoid and tanh are analytic too."""
    model = lstm.map(lambda a: a.astype(complex))

    def loss(_: np.ndarray) -> complex:
        return sequence_loss(model, x, y, h0, c0)

    return LSTM(*(elementwise(loss, theta, method="complex") for theta in model))


def check(lstm: LSTM, x: np.ndarray, y: np.ndarray, h0: np.ndarray, c0: np.ndarray,
          step: float = 1e-4, eps: float = 1e-6, **tolerances: float) -> list[GradCheckRow]:
    """Chapter 5's table for the LSTM: BPTT against centred differences and complex steps.

    ``tolerances`` (``rtol``, ``atol``) go to chapter 5's :func:`~charrnn_edu.gradcheck.agrees`.

    Returns
    -------
    list of GradCheckRow
        One row per parameter, in the order b, d, U, W, V.
    """
    _, analytic, _, _ = gradients(lstm, x, y, h0, c0)
    centred = numerical_gradients(lstm, x, y, h0, c0, step)
    exact = complex_step_gradients(lstm, x, y, h0, c0)
    return table_rows(NAMES, analytic, centred, exact, len(x), eps, **tolerances)
# --8<-- [end:check]


# --8<-- [start:state-gradients]
def state_gradients(lstm: LSTM, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                    c0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``||d l_t / d h_0||`` and ``||d l_t / d c_0||`` for each step t (chapter 4b's measure).

    The loss of step t alone is carried back by :func:`backward_step`; at the earlier steps
    the cache's p_j is replaced by the one-hot y_j, so (10.10) is exactly 0 there and only
    the two recurrences carry the gradient, per step, without differences of sums.

    Returns
    -------
    dh0, dc0 : ndarray of shape (tau,)
        Entry t - 1 is the 2-norm of the gradient of l_t with respect to h_0, and to c_0.
    """
    caches, h, c = [], h0, c0
    for x_t in x:
        s = step(lstm, h, c, int(x_t))
        caches.append(Cache(h_prev=h, c_prev=c, x_t=int(x_t), step=s))
        h, c = s.h, s.c
    dh0, dc0 = [], []
    for t in range(len(x)):
        dh, dc, _ = backward_step(lstm, caches[t], int(y[t]), np.zeros_like(h0),
                                  np.zeros_like(c0))
        for j in reversed(range(t)):                     # no loss at step j: dL/do_j = 0
            silent = np.zeros_like(caches[j].step.p)
            silent[y[j]] = 1
            quiet = caches[j]._replace(step=caches[j].step._replace(p=silent))
            dh, dc, _ = backward_step(lstm, quiet, int(y[j]), dh, dc)
        dh0.append(np.linalg.norm(dh))
        dc0.append(np.linalg.norm(dc))
    return np.array(dh0), np.array(dc0)
# --8<-- [end:state-gradients]
