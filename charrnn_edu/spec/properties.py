r"""The properties every chapter's functions must have, written to grade any implementation.

A *property* here is a plain function that takes the function under test as its first
argument and raises ``AssertionError`` when the property does not hold. The package's tests
call them with the package's own functions; ``charrnn exercises check`` calls the very same
ones with a learner's. Only numpy here: the Hypothesis strategies that feed them are in
:mod:`charrnn_edu.spec.strategies`.

Where a property needs a reference (a forward pass, a one-hot matrix, derivatives), it uses
one that does not share the code under test: plain Python sums, the independent oracles of
:mod:`charrnn_edu.spec.oracles`, or the numerical and complex-step derivatives of chapter 5.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from charrnn_edu.forward import NAMES, RNN

__all__ = [
    "SAME_RTOL", "SAME_ATOL", "CENTRED_RTOL", "CENTRED_ATOL", "COMPLEX_RTOL", "COMPLEX_ATOL",
    "NUMERICAL_STEP", "Problem", "Case", "norm_relative_error", "assert_gradients_close",
    "assert_close", "parameter_shapes", "random_problem",
    "check_vocabulary", "check_roundtrip", "check_one_hot_properties",
    "check_softmax_properties", "check_softmax_extreme_logits", "check_forward_properties",
    "check_forward_chaining", "check_forward_complex", "check_uniform_loss",
    "check_cross_entropy_is_sum_of_steps", "check_gradient_shapes",
    "check_output_bias_gradient", "check_relative_error_formula",
    "check_relative_error_known_values", "check_clip_properties",
    "check_clip_rejects_bound", "check_zero_gradient_changes_nothing",
    "check_memory_is_sum_of_squares", "check_first_step", "check_update_formula",
    "check_nucleus_properties",
]

# Tolerances. Every comparison after arithmetic uses both a relative and an absolute part.
# The same computation in another order of operations (gradcheck.RTOL and ATOL, the gradient
# check's thresholds, are another quantity).
SAME_RTOL, SAME_ATOL = 1e-12, 1e-14
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


# ---------------------------------------------------------------- problems and comparisons

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
        """The model, x, y and h0 of this case: the same every time."""
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


def assert_close(actual: object, desired: object, rtol: float = 0.0, atol: float = 0.0,
                 what: str = "the result") -> None:
    """Raise AssertionError, one line, unless |actual - desired| <= atol + rtol |desired|.

    ``desired`` may be a scalar, standing for every element; nan is never close.
    """
    try:
        a = np.asarray(actual)
    except (TypeError, ValueError):
        a = np.asarray(None)
    if a.dtype.kind not in "biufc":
        raise AssertionError(f"{what} is {type(actual).__name__} {actual!r:.80}, not numbers")
    d = np.asarray(desired, dtype=complex if a.dtype.kind == "c" else float)
    if d.ndim and d.shape != a.shape:
        raise AssertionError(f"{what} has shape {a.shape}, expected {d.shape}")
    bad = ~(np.abs(a - np.broadcast_to(d, a.shape)) <= atol + rtol * np.abs(d))
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        got, expected = a[i], np.broadcast_to(d, a.shape)[i]
        raise AssertionError(f"{what} differs at {list(i)}: got {got:.6g}, expected "
                             f"{expected:.6g} ({int(bad.sum())} of {bad.size} elements differ; "
                             f"rtol {rtol:g}, atol {atol:g})")


def norm_relative_error(g_a: np.ndarray, g_n: np.ndarray) -> float:
    """||g_a - g_n|| / max(1e-12, ||g_a|| + ||g_n||): one number for a whole gradient."""
    return float(np.linalg.norm(g_a - g_n)
                 / max(1e-12, np.linalg.norm(g_a) + np.linalg.norm(g_n)))


def assert_gradients_close(g_a: RNN, g_ref: RNN, rtol: float, atol: float, what: str) -> None:
    """Each parameter's gradient within ``rtol`` (norm-relative) or ``atol`` (norm) of the ref."""
    bad = {}
    for name, a, r in zip(NAMES, g_a, g_ref, strict=True):
        rel, err = norm_relative_error(a, r), float(np.linalg.norm(a - r))
        if not (rel < rtol or err < atol):
            bad[name] = f"relative {rel:.2e}, absolute {err:.2e}"
    assert not bad, f"gradients differ from {what} (rtol {rtol:g}, atol {atol:g}): {bad}"


def parameter_shapes(m: int, K: int) -> list[tuple[int, int]]:
    """Shapes of b, c, U, W, V in the report's order."""
    return [(m, 1), (K, 1), (m, K), (m, m), (K, m)]


def random_problem(seed: int, m: int, K: int, steps: int,
                   zero_fraction: float = 0.2) -> tuple[RNN, list[RNN]]:
    """Parameters in [-1, 1] and ``steps`` gradients, each element 0 or 1e-3 <= |g| <= 10.

    Some elements are exactly 0 (a character absent from a piece has a zero column in dU).
    The lower bound on |g| keeps every step large enough to show in theta; the upper one keeps
    g^2 / eps well inside float64, where "strictly less than eta" is still visible.
    """
    rng = np.random.default_rng(seed)
    shapes = parameter_shapes(m, K)
    rnn = RNN(*(rng.uniform(-1.0, 1.0, shape) for shape in shapes))
    grads = []
    for _ in range(steps):
        arrays = []
        for shape in shapes:
            g = rng.choice([-1.0, 1.0], shape) * np.exp(rng.uniform(np.log(1e-3), np.log(10.0),
                                                                    shape))
            g[rng.uniform(size=shape) < zero_fraction] = 0.0
            arrays.append(g)
        grads.append(RNN(*arrays))
    return rnn, grads


# ---------------------------------------------------------------- chapter 1: encoding

def check_vocabulary(vocabulary: Callable[[str], str], text: str) -> None:
    """The vocabulary of ``text`` is its distinct characters, each once, in sorted order."""
    chars = vocabulary(text)
    assert isinstance(chars, str), f"the vocabulary should be a str, got {type(chars).__name__}"
    assert set(chars) == set(text), (f"vocabulary {chars!r} does not hold exactly the "
                                     f"characters of {text!r}")
    assert len(chars) == len(set(chars)), f"vocabulary {chars!r} repeats a character"
    assert list(chars) == sorted(chars), f"vocabulary {chars!r} is not sorted"


def check_roundtrip(encode: Callable[[str], np.ndarray], decode: Callable[[np.ndarray], str],
                    chars: str, s: str) -> None:
    """The ids of ``encode`` are int64 positions in ``chars``; decode(encode(s)) == s."""
    ids = encode(s)
    assert isinstance(ids, np.ndarray), f"encode should return an ndarray, got {type(ids)}"
    assert ids.dtype == np.int64, f"the ids have dtype {ids.dtype}, not int64"
    assert ids.shape == (len(s),), f"the ids have shape {ids.shape}, expected {(len(s),)}"
    assert [chars[i] for i in ids.tolist()] == list(s), (
        f"encode({s!r}) = {ids.tolist()}, but those are the ids of "
        f"{''.join(chars[i] for i in ids.tolist())!r} in {chars!r}")
    text = decode(ids)
    assert text == s, f"decode(encode({s!r})) = {text!r}"


def check_one_hot_properties(one_hot: Callable[[np.ndarray, int], np.ndarray],
                             ids: np.ndarray, K: int) -> None:
    """Shape (K, tau), entries 0 or 1, each column summing to 1 with its 1 at the id."""
    X = one_hot(ids, K)
    assert X.shape == (K, len(ids)), f"X has shape {X.shape}, expected (K, tau) = {(K, len(ids))}"
    assert np.all((X == 0) | (X == 1)), "X has entries other than 0 and 1"
    assert_close(X.sum(axis=0), np.ones(len(ids)), what="the column sums of X")
    for t, k in enumerate(ids.tolist()):
        assert X[k, t] == 1, f"column {t} should have its 1 at row {k}"


# ---------------------------------------------------------------- chapter 2: forward

def check_softmax_properties(softmax: Callable[[np.ndarray], np.ndarray],
                             o: np.ndarray, shift: np.ndarray) -> None:
    """Columns positive and summing to 1; adding a constant to a column changes nothing."""
    p = softmax(o)
    assert p.shape == o.shape, f"p has shape {p.shape}, o has {o.shape}"
    assert np.all(p > 0), "softmax probabilities must be positive"
    assert_close(p.sum(axis=0), 1.0, rtol=SAME_RTOL, atol=SAME_ATOL, what="the column sums of p")
    # o + shift rounds each logit by up to eps_mach * 130, a relative change of ~1e-13 in p.
    assert_close(softmax(o + shift), p, rtol=SAME_RTOL, atol=SAME_ATOL)
    # The largest logit of a column gets the largest probability.
    assert_close(p[o.argmax(axis=0), np.arange(o.shape[1])], p.max(axis=0))


def check_softmax_extreme_logits(softmax: Callable[[np.ndarray], np.ndarray]) -> None:
    """Logits of +-1000 give the exact limits, not nan or inf from exp overflowing."""
    o = np.array([[1000.0, -1000.0, 1000.0, -1000.0],
                  [-1000.0, 1000.0, 1000.0, -1000.0]])
    expected = np.array([[1.0, 0.0, 0.5, 0.5],
                         [0.0, 1.0, 0.5, 0.5]])
    with np.errstate(over="raise", invalid="raise"):
        p = softmax(o)
    assert_close(p, expected, rtol=SAME_RTOL, atol=SAME_ATOL, what="p")


def check_forward_properties(forward: Callable, rnn: RNN, x: np.ndarray,
                             h0: np.ndarray) -> None:
    """Shapes, |h| < 1, P a distribution per column, h the last column of H."""
    m, K, tau = rnn.m, rnn.K, len(x)
    H, P, h = forward(rnn, x, h0)
    assert H.shape == (m, tau), f"H has shape {H.shape}, expected (m, tau) = {(m, tau)}"
    assert P.shape == (K, tau), f"P has shape {P.shape}, expected (K, tau) = {(K, tau)}"
    assert h.shape == (m, 1), f"h has shape {h.shape}, expected (m, 1) = {(m, 1)}"
    assert np.all(np.abs(H) < 1), "tanh keeps every hidden unit strictly inside (-1, 1)"
    assert np.all(P > 0), "P has probabilities that are not positive"
    assert_close(P.sum(axis=0), 1.0, rtol=SAME_RTOL, atol=SAME_ATOL, what="the column sums of P")
    assert_close(h[:, 0], H[:, -1], rtol=SAME_RTOL, atol=SAME_ATOL, what="h against H[:, -1]")


def check_forward_chaining(forward: Callable, rnn: RNN, x: np.ndarray, h0: np.ndarray,
                           split: int) -> None:
    """Two passes over x[:split] and x[split:], carrying h, equal one pass over x."""
    H, P, h = forward(rnn, x, h0)
    H1, P1, h1 = forward(rnn, x[:split], h0)
    H2, P2, h2 = forward(rnn, x[split:], h1)
    assert_close(np.hstack([H1, H2]), H, rtol=SAME_RTOL, atol=SAME_ATOL,
                               what=f"H of the halves x[:{split}], x[{split}:] vs one pass")
    assert_close(np.hstack([P1, P2]), P, rtol=SAME_RTOL, atol=SAME_ATOL,
                               what=f"P of the halves x[:{split}], x[{split}:] vs one pass")
    assert_close(h2, h, rtol=SAME_RTOL, atol=SAME_ATOL, what="the last h")


def check_forward_complex(forward: Callable, rnn: RNN, x: np.ndarray, h0: np.ndarray) -> None:
    """Complex parameters with zero imaginary parts give the real forward pass."""
    H, P, h = forward(rnn, x, h0)
    Hc, Pc, hc = forward(rnn.map(lambda a: a.astype(complex)), x, h0.astype(complex))
    for name, real, cplx in (("H", H, Hc), ("P", P, Pc), ("h", h, hc)):
        assert np.iscomplexobj(cplx), f"{name} lost its imaginary part"
        assert_close(cplx.real, real, rtol=SAME_RTOL, atol=SAME_ATOL,
                                   what=f"real part of the complex {name}")
        assert_close(cplx.imag, 0.0, rtol=0, atol=SAME_ATOL,
                                   what=f"imaginary part of the complex {name}")


# ---------------------------------------------------------------- chapter 3: loss

def check_uniform_loss(sequence_loss: Callable, rnn: RNN, x: np.ndarray, y: np.ndarray,
                       h0: np.ndarray) -> None:
    """With V = 0 and c = 0 every p_t is uniform, so L = tau ln K whatever U, W, b, h0 are."""
    blind = rnn.copy()
    blind.V[...] = 0.0
    blind.c[...] = 0.0
    expected = len(x) * math.log(rnn.K)
    loss = sequence_loss(blind, x, y, h0)
    assert np.isclose(loss, expected, rtol=1e-12, atol=0), (
        f"L = {loss} for uniform p, expected tau ln K = {expected}")


def check_cross_entropy_is_sum_of_steps(cross_entropy: Callable, P: np.ndarray,
                                        y: np.ndarray) -> None:
    """L = -sum_t ln p_t[y_t], summed here with plain Python, one step at a time."""
    expected = -math.fsum(math.log(P[y[t], t]) for t in range(len(y)))
    loss = cross_entropy(P, y)
    assert np.isclose(loss, expected, rtol=SAME_RTOL, atol=SAME_ATOL), (
        f"L = {loss}, expected -sum_t ln p_t[y_t] = {expected}")


# ---------------------------------------------------------------- chapter 4: bptt

def check_gradient_shapes(gradients: Callable, rnn: RNN, x: np.ndarray, y: np.ndarray,
                          h0: np.ndarray) -> None:
    """Every gradient has its parameter's shape; the last hidden state is (m, 1)."""
    _, grads, h = gradients(rnn, x, y, h0)
    for name, g, theta in zip(NAMES, grads, rnn, strict=True):
        assert g.shape == theta.shape, f"d{name} has shape {g.shape}, {name} has {theta.shape}"
    assert h.shape == (rnn.m, 1), f"h has shape {h.shape}, expected (m, 1) = {(rnn.m, 1)}"


def check_output_bias_gradient(gradients: Callable, forward: Callable, one_hot: Callable,
                               rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> None:
    """dL/dc = sum_t (p_t - onehot(y_t)), equations (4.1) and (4.3)."""
    _, grads, _ = gradients(rnn, x, y, h0)
    P = forward(rnn, x, h0).P                                       # (K, tau)
    expected = (P - one_hot(y, rnn.K)).sum(axis=1, keepdims=True)   # (K, 1)
    assert_close(grads.c, expected, rtol=SAME_RTOL, atol=SAME_ATOL, what="dL/dc")


# ---------------------------------------------------------------- chapter 5: gradcheck

def check_relative_error_formula(relative_error: Callable, g_a: np.ndarray, g_n: np.ndarray,
                                 eps: float) -> None:
    """(5.2) element by element, with plain Python scalars; every error lies in [0, 1]."""
    e = relative_error(g_a, g_n, eps)
    assert e.shape == g_a.shape, f"the errors have shape {e.shape}, the gradients {g_a.shape}"
    expected = [abs(a - n) / max(eps, abs(a) + abs(n))
                for a, n in zip(g_a.ravel().tolist(), g_n.ravel().tolist(), strict=True)]
    assert_close(e.ravel(), expected, rtol=1e-15, atol=0)
    assert np.all((e >= 0) & (e <= 1)), "|a - n| <= |a| + |n| keeps every error in [0, 1]"


def check_relative_error_known_values(relative_error: Callable) -> None:
    """Both 0 gives 0; below the floor the denominator is eps; else |a - n| / (|a| + |n|)."""
    g_a = np.array([0.0, 1e-8, 1.0, 1.0, -1.0])
    g_n = np.array([0.0, 0.0, 1.0, 3.0, 1.0])
    assert_close(relative_error(g_a, g_n, 1e-6), [0.0, 1e-2, 0.0, 0.5, 1.0],
                               rtol=1e-12, atol=0)


# ---------------------------------------------------------------- chapter 6: adagrad
# An optimiser class is called as ``AdaGrad(eta=..., eps=...)`` and must have
# ``step(rnn, grads)`` and a ``memory`` attribute holding one accumulator per parameter.

def check_clip_properties(clip: Callable[[RNN, float], RNN], grads: RNN, bound: float) -> None:
    """(6.1): bounded, idempotent, in-range elements unchanged, others set to +-bound.

    The input is left as it was, and the result has the input's shapes.
    """
    before = grads.copy()
    clipped = clip(grads, bound)
    for name, g, g_before in zip(NAMES, grads, before, strict=True):
        assert_close(g, g_before, what=f"clip changed its input d{name}")
    for name, g, c in zip(NAMES, grads, clipped, strict=True):
        assert c.shape == g.shape, f"d{name}: clipped shape {c.shape}, input shape {g.shape}"
        assert np.all(np.abs(c) <= bound), f"d{name} has elements outside [-{bound}, {bound}]"
        inside = np.abs(g) <= bound
        assert_close(c[inside], g[inside],
                                      what=f"clip changed in-range elements of d{name}")
        assert_close(c[~inside], np.sign(g[~inside]) * bound,
                                      what=f"out-of-range elements of d{name}")
    twice = clip(clipped, bound)
    for name, c, c2 in zip(NAMES, clipped, twice, strict=True):
        assert_close(c2, c, what=f"clipping d{name} twice changed it")


def check_clip_rejects_bound(clip: Callable[[RNN, float], RNN], grads: RNN,
                             bound: float) -> None:
    """A bound that is not positive raises ValueError naming the bound."""
    try:
        clip(grads, bound)
    except ValueError as err:
        assert "bound" in str(err), f"the ValueError {str(err)!r} does not name the bound"
    else:
        raise AssertionError(f"clip accepted bound = {bound}: raise ValueError for a bound "
                             "that is not positive")


def check_zero_gradient_changes_nothing(optimizer_class: Callable, rnn: RNN, grads: list[RNN],
                                        eta: float, eps: float) -> None:
    """After some steps, a step with g = 0 leaves the parameters and the memory as they were.

    The parameters are updated in place: the arrays stay the same objects.
    """
    opt = optimizer_class(eta=eta, eps=eps)
    arrays = list(rnn)
    for g in grads:
        opt.step(rnn, g)
    # Before the first step the memory may not exist yet; it then stands for zeros.
    params = rnn.copy()
    memory = rnn.map(np.zeros_like) if opt.memory is None else opt.memory.copy()
    opt.step(rnn, rnn.map(np.zeros_like))
    for name, theta, kept, m_theta, m_kept in zip(NAMES, rnn, params, opt.memory, memory,
                                                  strict=True):
        assert_close(theta, kept, what=f"{name} moved with a zero gradient")
        assert_close(m_theta, m_kept,
                                      what=f"m_{name} changed with a zero gradient")
    for name, theta, original in zip(NAMES, rnn, arrays, strict=True):
        assert theta is original, f"{name} was replaced, not updated in place"


def check_memory_is_sum_of_squares(optimizer_class: Callable, rnn: RNN, grads: list[RNN],
                                   eta: float, eps: float, rtol: float = 1e-12,
                                   atol: float = 1e-15) -> None:
    """(6.2): after every step the memory never decreases and equals sum_k g_k^2 so far.

    The gradients themselves are left unchanged.
    """
    opt = optimizer_class(eta=eta, eps=eps)
    previous = rnn.map(np.zeros_like)
    for k, g in enumerate(grads, start=1):
        g_before = g.copy()
        opt.step(rnn, g)
        for name, gk, gb in zip(NAMES, g, g_before, strict=True):
            assert_close(gk, gb, what=f"step {k} changed the gradient d{name}")
        for name, m_now, m_prev in zip(NAMES, opt.memory, previous, strict=True):
            assert np.all(m_now >= m_prev), f"m_{name} decreased at step {k}"
        expected = [np.sum([list(gs)[i] ** 2 for gs in grads[:k]], axis=0) for i in range(5)]
        for name, m_now, m_expected in zip(NAMES, opt.memory, expected, strict=True):
            assert_close(m_now, m_expected, rtol=rtol, atol=atol,
                                       what=f"m_{name} after {k} steps")
        previous = opt.memory.copy()


def check_first_step(optimizer_class: Callable, rnn: RNN, grads: RNN, eta: float,
                     eps: float) -> None:
    """The first step moves every element by less than eta, against the sign of its gradient.

    On the first step m = g^2, so the move is eta |g| / sqrt(g^2 + eps) < eta (eps > 0);
    an element with g = 0 does not move.
    """
    before = rnn.copy()
    optimizer_class(eta=eta, eps=eps).step(rnn, grads)
    for name, theta, theta0, g in zip(NAMES, rnn, before, grads, strict=True):
        move = theta - theta0
        assert np.all(np.abs(move) < eta), (
            f"{name} moved by up to {np.abs(move).max()} >= eta = {eta} on the first step")
        assert_close(np.sign(move), -np.sign(g),
                                      what=f"{name} did not move against its gradient")


def check_update_formula(optimizer_class: Callable, rnn: RNN, grads: list[RNN], eta: float,
                         eps: float, rtol: float = 1e-12, atol: float = 1e-15) -> None:
    """(6.3) with eps inside the root: theta - eta g / sqrt(m + eps), at every step.

    With eps of order 1 an optimiser that divides by sqrt(m) + eps instead differs clearly.
    """
    opt = optimizer_class(eta=eta, eps=eps)
    theta = [a.copy() for a in rnn]
    memory = [np.zeros_like(a) for a in rnn]
    for k, g in enumerate(grads, start=1):
        opt.step(rnn, g)
        for i, gi in enumerate(g):
            memory[i] = memory[i] + gi * gi
            theta[i] = theta[i] - eta * gi / np.sqrt(memory[i] + eps)
        for name, got, expected in zip(NAMES, rnn, theta, strict=True):
            assert_close(got, expected, rtol=rtol, atol=atol,
                                       what=f"{name} after step {k}")


# ---------------------------------------------------------------- chapter 7: sampling

def check_nucleus_properties(nucleus: Callable, p: np.ndarray, top_p: float,
                             tol: float = 1e-12) -> None:
    """The nucleus is p renormalised on the smallest most-likely set of mass >= top_p.

    Rounding decides the set when top_p is within ``tol`` of a partial sum; both sets pass.
    """
    p_before = p.copy()
    q = nucleus(p, top_p)
    assert_close(p, p_before, what="nucleus changed p")
    assert q.shape == p.shape, f"q has shape {q.shape}, p has {p.shape}"
    assert_close(q.sum(), 1.0, rtol=SAME_RTOL, atol=SAME_ATOL, what="q.sum() is not 1")
    kept = q > 0
    assert kept[int(np.argmax(p))], "the most likely character must always be kept"
    assert np.all(p[kept] > 0), "a character of probability 0 got probability"
    mass = math.fsum(p[kept])
    assert_close(q[kept], p[kept] / mass, rtol=SAME_RTOL, atol=SAME_ATOL,
                               what="kept characters are not p renormalised")
    if (~kept).any():
        assert p[kept].min() >= p[~kept].max(), (
            f"kept p = {p[kept]} but dropped a more likely character, p = {p[~kept].max()}")
    assert mass >= top_p - tol, f"kept mass {mass} does not reach top_p = {top_p}"
    assert mass - p[kept].min() < top_p + tol, (
        f"not the smallest set: without its least likely character it still has mass "
        f"{mass - p[kept].min()} >= top_p = {top_p}")
