"""Shared Hypothesis strategies, problem builders and properties for the chapter tests.

A *property* here is a plain function that takes the function under test as its first
argument and raises ``AssertionError`` when the property does not hold. The tests call them
with the package's functions; the same properties can later grade a student's own
``softmax``, ``forward`` or ``gradients``.

Where a property needs a reference (a forward pass, a one-hot matrix, derivatives), it uses
one that does not share the code under test: plain Python sums, the textbook loop below, or
the numerical and complex-step derivatives of chapter 5.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from charrnn_edu.forward import RNN

# Tolerances. Every comparison after arithmetic uses both a relative and an absolute part.
RTOL, ATOL = 1e-12, 1e-14          # same computation, different order of operations
# Analytic against centred differences, per parameter: the norm-relative error must be below
# CENTRED_RTOL, or the error norm below CENTRED_ATOL. The absolute part is needed: with
# sigma = 0.01 and h0 = 0, dL/dW is ~1e-6 (it is O(sigma^3)), and the centred differences'
# rounding error, ~eps_mach * L / h = 1e-10 per element, is already 1e-6 of that
# (Hypothesis found Case(seed=4294967290, m=2, K=2, tau=3, sigma=0.0117, random_h0=False)).
CENTRED_RTOL, CENTRED_ATOL = 1e-6, 1e-8
# Against complex steps: no subtraction, so only the analytic gradient's own rounding.
COMPLEX_RTOL, COMPLEX_ATOL = 1e-10, 1e-13
# Centred differences (5.1) err by O(h^2) from truncation and O(eps_mach * L / h) from
# rounding. With sigma up to 0.5 the loss is curved enough that h = 1e-4 leaves a
# truncation error of ~4e-7 in dL/db; h = 3e-5 sits near the bottom of the V curve here.
NUMERICAL_STEP = 3e-5

seeds = st.integers(min_value=0, max_value=2**32 - 1)


class Problem(NamedTuple):
    """A model, an input and target sequence, and the hidden state before the first step."""

    rnn: RNN
    x: np.ndarray   # (tau,) input ids
    y: np.ndarray   # (tau,) target ids
    h0: np.ndarray  # (m, 1)


@dataclass(frozen=True)
class Case:
    """The scalars that determine one :class:`Problem` (Hypothesis prints these, not arrays).

    The same seed gives the same model, x and y whatever ``random_h0`` is, so a case and its
    ``dataclasses.replace(case, random_h0=True)`` differ only in h0.
    """

    seed: int
    m: int
    K: int
    tau: int
    sigma: float
    random_h0: bool

    def build(self) -> Problem:
        rng = np.random.default_rng(self.seed)
        rnn = RNN.init(self.K, self.m, self.sigma, rng=rng)
        # RNN.init leaves both biases at 0; random biases make their terms count too.
        rnn.b = self.sigma * rng.standard_normal((self.m, 1))   # (m, 1)
        rnn.c = self.sigma * rng.standard_normal((self.K, 1))   # (K, 1)
        x = rng.integers(0, self.K, self.tau)                    # (tau,)
        y = rng.integers(0, self.K, self.tau)                    # (tau,)
        # A random h0 has every unit clearly nonzero, |h0_i| in [0.1, 0.9], so that the
        # terms of h0 in the gradients (dL/da_1 h0^T in dL/dW) are never negligible.
        h0 = np.zeros((self.m, 1))                               # (m, 1)
        if self.random_h0:
            h0 = rng.choice([-1.0, 1.0], (self.m, 1)) * rng.uniform(0.1, 0.9, (self.m, 1))
        return Problem(rnn, x, y, h0)


def cases(*, max_m: int = 8, max_K: int = 12, min_tau: int = 1, max_tau: int = 12,
          min_sigma: float = 0.01, max_sigma: float = 0.5,
          random_h0: st.SearchStrategy[bool] | None = None) -> st.SearchStrategy[Case]:
    """Small random problems: m in 1..max_m, K in 2..max_K, tau in min_tau..max_tau."""
    return st.builds(Case, seed=seeds, m=st.integers(1, max_m), K=st.integers(2, max_K),
                     tau=st.integers(min_tau, max_tau), sigma=st.floats(min_sigma, max_sigma),
                     random_h0=st.booleans() if random_h0 is None else random_h0)


@st.composite
def logits_and_shifts(draw: st.DrawFn, bound: float = 30.0,
                      shift_bound: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Logits o (K, tau) in [-bound, bound] and a per-column shift s (1, tau)."""
    K, tau = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    o = draw(hnp.arrays(np.float64, (K, tau), elements=st.floats(-bound, bound)))
    s = draw(hnp.arrays(np.float64, (1, tau), elements=st.floats(-shift_bound, shift_bound)))
    return o, s


@st.composite
def corpus_and_text(draw: st.DrawFn) -> tuple[str, str]:
    """A non-empty corpus and a string made only of the corpus's characters."""
    corpus = draw(st.text(min_size=1))
    return corpus, draw(st.text(alphabet=sorted(set(corpus))))


def norm_relative_error(g_a: np.ndarray, g_n: np.ndarray) -> float:
    """||g_a - g_n|| / max(1e-12, ||g_a|| + ||g_n||): one number for a whole gradient."""
    return float(np.linalg.norm(g_a - g_n)
                 / max(1e-12, np.linalg.norm(g_a) + np.linalg.norm(g_n)))


def assert_gradients_close(g_a: RNN, g_ref: RNN, rtol: float, atol: float, what: str) -> None:
    """Each parameter's gradient within ``rtol`` (norm-relative) or ``atol`` (norm) of the ref."""
    bad = {}
    for name, a, r in zip(RNN.names(), g_a, g_ref, strict=True):
        rel, err = norm_relative_error(a, r), float(np.linalg.norm(a - r))
        if not (rel < rtol or err < atol):
            bad[name] = f"relative {rel:.2e}, absolute {err:.2e}"
    assert not bad, f"gradients differ from {what} (rtol {rtol:g}, atol {atol:g}): {bad}"


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


# ---------------------------------------------------------------- chapter 1: encoding

def check_roundtrip(encode: Callable[[str], np.ndarray], decode: Callable[[np.ndarray], str],
                    chars: str, s: str) -> None:
    """encode gives int64 ids of the characters in ``chars``; decode(encode(s)) == s."""
    ids = encode(s)
    assert ids.dtype == np.int64, ids.dtype
    assert ids.shape == (len(s),), ids.shape
    assert [chars[i] for i in ids.tolist()] == list(s)
    assert decode(ids) == s


def check_one_hot_properties(one_hot: Callable[[np.ndarray, int], np.ndarray],
                             ids: np.ndarray, K: int) -> None:
    """Shape (K, tau), entries 0 or 1, each column summing to 1 with its 1 at the id."""
    X = one_hot(ids, K)
    assert X.shape == (K, len(ids)), X.shape
    assert np.all((X == 0) | (X == 1))
    np.testing.assert_array_equal(X.sum(axis=0), np.ones(len(ids)))
    for t, k in enumerate(ids.tolist()):
        assert X[k, t] == 1, f"column {t} should have its 1 at row {k}"


# ---------------------------------------------------------------- chapter 2: forward

def check_softmax_properties(softmax: Callable[[np.ndarray], np.ndarray],
                             o: np.ndarray, shift: np.ndarray) -> None:
    """Columns positive and summing to 1; adding a constant to a column changes nothing."""
    p = softmax(o)
    assert p.shape == o.shape, p.shape
    assert np.all(p > 0), "softmax probabilities must be positive"
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=RTOL, atol=ATOL)
    # o + shift rounds each logit by up to eps_mach * 130, a relative change of ~1e-13 in p.
    np.testing.assert_allclose(softmax(o + shift), p, rtol=RTOL, atol=ATOL)
    # The largest logit of a column gets the largest probability.
    np.testing.assert_array_equal(p[o.argmax(axis=0), np.arange(o.shape[1])], p.max(axis=0))


def check_softmax_extreme_logits(softmax: Callable[[np.ndarray], np.ndarray]) -> None:
    """Logits of +-1000 give the exact limits, not nan or inf from exp overflowing."""
    o = np.array([[1000.0, -1000.0, 1000.0, -1000.0],
                  [-1000.0, 1000.0, 1000.0, -1000.0]])
    expected = np.array([[1.0, 0.0, 0.5, 0.5],
                         [0.0, 1.0, 0.5, 0.5]])
    with np.errstate(over="raise", invalid="raise"):
        p = softmax(o)
    np.testing.assert_allclose(p, expected, rtol=RTOL, atol=ATOL)


def check_forward_properties(forward: Callable, rnn: RNN, x: np.ndarray,
                             h0: np.ndarray) -> None:
    """Shapes, |h| < 1, P a distribution per column, h the last column of H."""
    m, K, tau = rnn.m, rnn.K, len(x)
    H, P, h = forward(rnn, x, h0)
    assert H.shape == (m, tau), H.shape
    assert P.shape == (K, tau), P.shape
    assert h.shape == (m, 1), h.shape
    assert np.all(np.abs(H) < 1), "tanh keeps every hidden unit strictly inside (-1, 1)"
    assert np.all(P > 0)
    np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(h[:, 0], H[:, -1], rtol=RTOL, atol=ATOL)


def check_forward_chaining(forward: Callable, rnn: RNN, x: np.ndarray, h0: np.ndarray,
                           split: int) -> None:
    """Two passes over x[:split] and x[split:], carrying h, equal one pass over x."""
    H, P, h = forward(rnn, x, h0)
    H1, P1, h1 = forward(rnn, x[:split], h0)
    H2, P2, h2 = forward(rnn, x[split:], h1)
    np.testing.assert_allclose(np.hstack([H1, H2]), H, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.hstack([P1, P2]), P, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(h2, h, rtol=RTOL, atol=ATOL)


def check_forward_complex(forward: Callable, rnn: RNN, x: np.ndarray, h0: np.ndarray) -> None:
    """Complex parameters with zero imaginary parts give the real forward pass."""
    H, P, h = forward(rnn, x, h0)
    Hc, Pc, hc = forward(rnn.map(lambda a: a.astype(complex)), x, h0.astype(complex))
    for name, real, cplx in (("H", H, Hc), ("P", P, Pc), ("h", h, hc)):
        assert np.iscomplexobj(cplx), f"{name} lost its imaginary part"
        np.testing.assert_allclose(cplx.real, real, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(cplx.imag, 0.0, rtol=0, atol=ATOL)


# ---------------------------------------------------------------- chapter 3: loss

def check_uniform_loss(sequence_loss: Callable, rnn: RNN, x: np.ndarray, y: np.ndarray,
                       h0: np.ndarray) -> None:
    """With V = 0 and c = 0 every p_t is uniform, so L = tau ln K whatever U, W, b, h0 are."""
    blind = rnn.copy()
    blind.V[...] = 0.0
    blind.c[...] = 0.0
    expected = len(x) * math.log(rnn.K)
    loss = sequence_loss(blind, x, y, h0)
    assert np.isclose(loss, expected, rtol=1e-12, atol=0), (loss, expected)


def check_cross_entropy_is_sum_of_steps(cross_entropy: Callable, P: np.ndarray,
                                        y: np.ndarray) -> None:
    """L = -sum_t ln p_t[y_t], summed here with plain Python, one step at a time."""
    expected = -math.fsum(math.log(P[y[t], t]) for t in range(len(y)))
    loss = cross_entropy(P, y)
    assert np.isclose(loss, expected, rtol=RTOL, atol=ATOL), (loss, expected)


# ---------------------------------------------------------------- chapter 4: bptt

def check_gradient_shapes(gradients: Callable, rnn: RNN, x: np.ndarray, y: np.ndarray,
                          h0: np.ndarray) -> None:
    """Every gradient has its parameter's shape; the last hidden state is (m, 1)."""
    _, grads, h = gradients(rnn, x, y, h0)
    for name, g, theta in zip(RNN.names(), grads, rnn, strict=True):
        assert g.shape == theta.shape, f"d{name} has shape {g.shape}, {name} has {theta.shape}"
    assert h.shape == (rnn.m, 1), h.shape


def check_output_bias_gradient(gradients: Callable, forward: Callable, one_hot: Callable,
                               rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> None:
    """dL/dc = sum_t (p_t - onehot(y_t)), equations (4.1) and (4.3)."""
    _, grads, _ = gradients(rnn, x, y, h0)
    P = forward(rnn, x, h0).P                                       # (K, tau)
    expected = (P - one_hot(y, rnn.K)).sum(axis=1, keepdims=True)   # (K, 1)
    np.testing.assert_allclose(grads.c, expected, rtol=RTOL, atol=ATOL)
