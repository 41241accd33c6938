"""Chapter 6: gradient clipping (6.1) and AdaGrad (6.2)-(6.3).

Each ``check_*`` function takes the function (or optimiser class) under test as its first
argument, so the same properties can grade a student's ``clip`` or ``AdaGrad``. An optimiser
class is called as ``AdaGrad(eta=..., eps=...)`` and must have ``step(rnn, grads)`` and a
``memory`` attribute holding one accumulator array per parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import seeds

from charrnn_edu.adagrad import AdaGrad, clip
from charrnn_edu.forward import RNN

RTOL, ATOL = 1e-12, 1e-15


def parameter_shapes(m: int, K: int) -> list[tuple[int, int]]:
    """Shapes of b, c, U, W, V in the report's order."""
    return [(m, 1), (K, 1), (m, K), (m, m), (K, m)]


@st.composite
def gradient_sets(draw: st.DrawFn, magnitude: float = 50.0) -> RNN:
    """An RNN-shaped set of arrays, m in 1..8 and K in 2..12, elements in [-magnitude, magnitude].

    Drawn element by element (not from a seed) so that Hypothesis tries 0, the bound and its
    neighbours, and shrinks a failure to the offending element.
    """
    m, K = draw(st.integers(1, 8)), draw(st.integers(2, 12))
    elements = st.floats(-magnitude, magnitude, allow_subnormal=False)
    return RNN(*(draw(hnp.arrays(np.float64, shape, elements=elements))
                 for shape in parameter_shapes(m, K)))


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


sizes = st.tuples(st.integers(1, 8), st.integers(2, 12))
etas = st.floats(1e-2, 1.0)
epsilons = st.floats(1e-8, 1.0)


# ---------------------------------------------------------------- properties

def check_clip_properties(clip: Callable[[RNN, float], RNN], grads: RNN, bound: float) -> None:
    """(6.1): bounded, idempotent, in-range elements unchanged, others set to +-bound.

    The input is left as it was, and the result has the input's shapes.
    """
    before = grads.copy()
    clipped = clip(grads, bound)
    for name, g, g_before in zip(RNN.names(), grads, before, strict=True):
        np.testing.assert_array_equal(g, g_before, err_msg=f"clip changed its input d{name}")
    for name, g, c in zip(RNN.names(), grads, clipped, strict=True):
        assert c.shape == g.shape, f"d{name}: clipped shape {c.shape}, input shape {g.shape}"
        assert np.all(np.abs(c) <= bound), f"d{name} has elements outside [-{bound}, {bound}]"
        inside = np.abs(g) <= bound
        np.testing.assert_array_equal(c[inside], g[inside],
                                      err_msg=f"clip changed in-range elements of d{name}")
        np.testing.assert_array_equal(c[~inside], np.sign(g[~inside]) * bound,
                                      err_msg=f"out-of-range elements of d{name}")
    twice = clip(clipped, bound)
    for name, c, c2 in zip(RNN.names(), clipped, twice, strict=True):
        np.testing.assert_array_equal(c2, c, err_msg=f"clipping d{name} twice changed it")


def check_clip_rejects_bound(clip: Callable[[RNN, float], RNN], grads: RNN,
                             bound: float) -> None:
    """A bound that is not positive raises ValueError naming the bound."""
    with pytest.raises(ValueError, match="bound"):
        clip(grads, bound)


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
    for name, theta, kept, m_theta, m_kept in zip(RNN.names(), rnn, params, opt.memory, memory,
                                                  strict=True):
        np.testing.assert_array_equal(theta, kept, err_msg=f"{name} moved with a zero gradient")
        np.testing.assert_array_equal(m_theta, m_kept,
                                      err_msg=f"m_{name} changed with a zero gradient")
    for name, theta, original in zip(RNN.names(), rnn, arrays, strict=True):
        assert theta is original, f"{name} was replaced, not updated in place"


def check_memory_is_sum_of_squares(optimizer_class: Callable, rnn: RNN, grads: list[RNN],
                                   eta: float, eps: float) -> None:
    """(6.2): after every step the memory never decreases and equals sum_k g_k^2 so far.

    The gradients themselves are left unchanged.
    """
    opt = optimizer_class(eta=eta, eps=eps)
    previous = rnn.map(np.zeros_like)
    for k, g in enumerate(grads, start=1):
        g_before = g.copy()
        opt.step(rnn, g)
        for name, gk, gb in zip(RNN.names(), g, g_before, strict=True):
            np.testing.assert_array_equal(gk, gb, err_msg=f"step {k} changed the gradient d{name}")
        for name, m_now, m_prev in zip(RNN.names(), opt.memory, previous, strict=True):
            assert np.all(m_now >= m_prev), f"m_{name} decreased at step {k}"
        expected = [np.sum([list(gs)[i] ** 2 for gs in grads[:k]], axis=0) for i in range(5)]
        for name, m_now, m_expected in zip(RNN.names(), opt.memory, expected, strict=True):
            np.testing.assert_allclose(m_now, m_expected, rtol=RTOL, atol=ATOL,
                                       err_msg=f"m_{name} after {k} steps")
        previous = opt.memory.copy()


def check_first_step(optimizer_class: Callable, rnn: RNN, grads: RNN, eta: float,
                     eps: float) -> None:
    """The first step moves every element by less than eta, against the sign of its gradient.

    On the first step m = g^2, so the move is eta |g| / sqrt(g^2 + eps) < eta (eps > 0);
    an element with g = 0 does not move.
    """
    before = rnn.copy()
    optimizer_class(eta=eta, eps=eps).step(rnn, grads)
    for name, theta, theta0, g in zip(RNN.names(), rnn, before, grads, strict=True):
        move = theta - theta0
        assert np.all(np.abs(move) < eta), (
            f"{name} moved by up to {np.abs(move).max()} >= eta = {eta} on the first step")
        np.testing.assert_array_equal(np.sign(move), -np.sign(g),
                                      err_msg=f"{name} did not move against its gradient")


def check_update_formula(optimizer_class: Callable, rnn: RNN, grads: list[RNN], eta: float,
                         eps: float) -> None:
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
        for name, got, expected in zip(RNN.names(), rnn, theta, strict=True):
            np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name} after step {k}")


# ---------------------------------------------------------------- clipping

@given(gradient_sets(), st.floats(0.01, 20.0))
def test_clip_properties(grads, bound):
    check_clip_properties(clip, grads, bound)


@given(seeds, st.floats(0.01, 20.0))
def test_clip_at_and_around_the_bound(seed, bound):
    # Elements exactly at +-bound, one ulp inside and one ulp outside, and 0.
    rng = np.random.default_rng(seed)
    edges = np.array([-np.nextafter(bound, np.inf), -bound, -np.nextafter(bound, 0.0), 0.0,
                      np.nextafter(bound, 0.0), bound, np.nextafter(bound, np.inf)])
    grads = RNN(*(rng.choice(edges, shape) for shape in parameter_shapes(3, 4)))
    check_clip_properties(clip, grads, bound)


def test_clip_known_values():
    grads = RNN(b=np.array([[-7.0], [2.0]]), c=np.array([[5.0], [-5.0], [6.5]]),
                U=np.array([[1.0, -9.0, 0.0], [4.99, 5.01, -5.01]]),
                W=np.zeros((2, 2)), V=np.full((3, 2), 100.0))
    clipped = clip(grads)   # the report's bound, 5
    np.testing.assert_array_equal(clipped.b, [[-5.0], [2.0]])
    np.testing.assert_array_equal(clipped.c, [[5.0], [-5.0], [5.0]])
    np.testing.assert_array_equal(clipped.U, [[1.0, -5.0, 0.0], [4.99, 5.0, -5.0]])
    np.testing.assert_array_equal(clipped.W, np.zeros((2, 2)))
    np.testing.assert_array_equal(clipped.V, np.full((3, 2), 5.0))


@pytest.mark.parametrize("bound", [0.0, -0.0, -1.0, -5.0, math.nan])
def test_clip_rejects_bounds_that_are_not_positive(bound):
    grads = RNN(*(np.ones(shape) for shape in parameter_shapes(2, 3)))
    check_clip_rejects_bound(clip, grads, bound)


# ---------------------------------------------------------------- AdaGrad

@given(seeds, sizes, st.integers(0, 4), etas, epsilons)
def test_zero_gradient_changes_nothing(seed, size, steps, eta, eps):
    rnn, grads = random_problem(seed, *size, steps)
    check_zero_gradient_changes_nothing(AdaGrad, rnn, grads, eta, eps)


@given(seeds, sizes, st.integers(1, 6), etas, epsilons)
def test_memory_never_decreases_and_is_the_sum_of_squares(seed, size, steps, eta, eps):
    rnn, grads = random_problem(seed, *size, steps)
    check_memory_is_sum_of_squares(AdaGrad, rnn, grads, eta, eps)


@given(seeds, sizes, etas, epsilons)
def test_first_step_moves_less_than_eta_against_the_gradient(seed, size, eta, eps):
    rnn, grads = random_problem(seed, *size, 1)
    check_first_step(AdaGrad, rnn, grads[0], eta, eps)


@given(seeds, sizes, st.integers(1, 4), etas, st.floats(0.1, 4.0))
def test_update_formula_has_eps_inside_the_square_root(seed, size, steps, eta, eps):
    rnn, grads = random_problem(seed, *size, steps, zero_fraction=0.3)
    check_update_formula(AdaGrad, rnn, grads, eta, eps)


def test_update_known_values():
    # Inside the root: 1 / sqrt(1 + 0.5) = 0.8165; outside it would be 1 / (1 + 0.5) = 0.6667.
    rnn = RNN(*(np.zeros(shape) for shape in parameter_shapes(1, 2)))
    grads = RNN(*(np.ones(shape) for shape in parameter_shapes(1, 2)))
    grads.U[0, 1] = 0.0
    opt = AdaGrad(eta=1.0, eps=0.5)
    opt.step(rnn, grads)
    np.testing.assert_allclose(rnn.b, [[-1.0 / math.sqrt(1.5)]], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rnn.U, [[-1.0 / math.sqrt(1.5), 0.0]], rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(opt.memory.U, [[1.0, 0.0]])
    opt.step(rnn, grads)
    # m = 2: theta = -1/sqrt(1.5) - 1/sqrt(2.5)
    np.testing.assert_allclose(rnn.W, [[-1.0 / math.sqrt(1.5) - 1.0 / math.sqrt(2.5)]],
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(opt.memory.W, [[2.0]])


def test_memory_starts_empty_and_takes_the_parameter_shapes():
    opt = AdaGrad()
    assert opt.memory is None
    rnn = RNN(*(np.ones(shape) for shape in parameter_shapes(3, 5)))
    opt.step(rnn, rnn.map(np.zeros_like))
    for name, m_theta, theta in zip(RNN.names(), opt.memory, rnn, strict=True):
        assert m_theta.shape == theta.shape, f"m_{name}: {m_theta.shape} vs {theta.shape}"
        assert m_theta is not theta


@pytest.mark.parametrize("option", ["eta", "eps"])
@pytest.mark.parametrize("value", [0.0, -0.1, math.nan])
def test_adagrad_rejects_options_that_are_not_positive(option, value):
    with pytest.raises(ValueError, match=option):
        AdaGrad(**{option: value})
