"""Chapter 6: gradient clipping (6.1) and AdaGrad (6.2)-(6.3).

Each ``check_*`` function takes the function (or optimiser class) under test as its first
argument, so the same properties grade a learner's ``clip`` or AdaGrad step in
``charrnn exercises check``; they live in :mod:`charrnn_edu.spec.properties`. An
optimiser class is called as ``AdaGrad(eta=..., eps=...)`` and must have ``step(rnn, grads)``
and a ``memory`` attribute holding one accumulator array per parameter.
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charrnn_edu.adagrad import OPTIMIZERS, AdaGrad, Adam, clip, make_optimizer
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.spec.properties import (
    check_clip_properties,
    check_clip_rejects_bound,
    check_first_step,
    check_memory_is_sum_of_squares,
    check_update_formula,
    check_zero_gradient_changes_nothing,
    parameter_shapes,
    random_problem,
)
from charrnn_edu.spec.strategies import epsilons, etas, gradient_sets, seeds, sizes

RTOL, ATOL = 1e-12, 1e-15


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
    for name, m_theta, theta in zip(NAMES, opt.memory, rnn, strict=True):
        assert m_theta.shape == theta.shape, f"m_{name}: {m_theta.shape} vs {theta.shape}"
        assert m_theta is not theta


@pytest.mark.parametrize("option", ["eta", "eps"])
@pytest.mark.parametrize("value", [0.0, -0.1, math.nan])
def test_adagrad_rejects_options_that_are_not_positive(option, value):
    with pytest.raises(ValueError, match=option):
        AdaGrad(**{option: value})


@pytest.mark.parametrize(("name", "kind", "state"), [("adagrad", AdaGrad, ("memory",)),
                                                      ("adam", Adam, ("first", "second"))])
def test_optimisers_name_their_state_and_are_made_by_name(name, kind, state):
    opt = make_optimizer(name, 0.5, eps=1e-6)
    assert type(opt) is kind and OPTIMIZERS[name] is kind
    assert (opt.name, opt.state_names, opt.eta, opt.eps) == (name, state, 0.5, 1e-6)
    assert set(state) <= {f.name for f in fields(kind)}       # saved and restored as fields
    assert all(getattr(opt, n) is None for n in state)        # None until the first step
    rnn = RNN(*(np.ones(shape) for shape in parameter_shapes(3, 5)))
    opt.step(rnn, rnn.map(np.ones_like))
    for n in state:
        assert [a.shape for a in getattr(opt, n)] == [a.shape for a in rnn], n


def test_make_optimizer_refuses_an_unknown_name_or_a_bad_value():
    with pytest.raises(ValueError, match="no optimiser 'sgd'; use one of adagrad, adam"):
        make_optimizer("sgd", 0.1)
    with pytest.raises(ValueError, match="eta"):
        make_optimizer("adam", 0.0)
