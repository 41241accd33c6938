"""Chapter 4: backpropagation through time, checked against references it did not write."""

import dataclasses
import functools

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from charrnn_edu.bptt import Cache, backward_step, gradients
from charrnn_edu.encoding import one_hot
from charrnn_edu.forward import NAMES, forward, step
from charrnn_edu.gradcheck import complex_step_gradients, numerical_gradients
from charrnn_edu.loss import sequence_loss
from charrnn_edu.spec.oracles import textbook_gradients
from charrnn_edu.spec.properties import (
    CENTRED_ATOL,
    CENTRED_RTOL,
    COMPLEX_ATOL,
    COMPLEX_RTOL,
    NUMERICAL_STEP,
    SAME_RTOL,
    Case,
    assert_gradients_close,
    check_gradient_shapes,
    check_output_bias_gradient,
    norm_relative_error,
)
from charrnn_edu.spec.strategies import cases


@given(cases())
def test_gradient_shapes(case):
    check_gradient_shapes(gradients, *case.build())


@given(cases())
def test_output_bias_gradient_is_sum_of_p_minus_onehot(case):
    check_output_bias_gradient(gradients, forward, one_hot, *case.build())


@given(cases())
def test_returned_loss_and_hidden_state(case):
    rnn, x, y, h0 = case.build()
    loss, _, h = gradients(rnn, x, y, h0)
    assert np.isclose(loss, sequence_loss(rnn, x, y, h0), rtol=SAME_RTOL, atol=0)
    np.testing.assert_allclose(h, forward(rnn, x, h0).h, rtol=SAME_RTOL, atol=1e-15)


@given(cases())
def test_gradients_leave_the_model_unchanged(case):
    rnn, x, y, h0 = case.build()
    before = rnn.copy()
    gradients(rnn, x, y, h0)
    for name, a, b in zip(NAMES, rnn, before, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


@given(cases(random_h0=st.just(True)))
def test_a_backward_step_returns_its_terms_and_changes_nothing_it_is_given(case):
    rnn, x, y, h0 = case.build()
    now = step(rnn, h0, int(x[0]))
    cache = Cache(h_prev=h0, x_t=int(x[0]), h_t=now.h, p_t=now.p)
    da_next = np.random.default_rng(case.seed).standard_normal((case.m, 1))
    before = [a.copy() for a in (*rnn, cache.h_prev, cache.h_t, cache.p_t, da_next)]
    da, terms = backward_step(rnn, cache, int(y[0]), da_next)
    after = [*rnn, cache.h_prev, cache.h_t, cache.p_t, da_next]
    assert all(np.array_equal(a, b) for a, b in zip(after, before, strict=True))
    assert da.shape == (case.m, 1) and np.array_equal(terms.b, da)       # (4.8): dL/db = da_t
    for name, term, theta in zip(NAMES, terms, rnn, strict=True):
        assert term.shape == theta.shape, name
    # (4.7): x_t^T is one-hot, so the term of dL/dU is da_t in column x_t and 0 elsewhere.
    assert np.array_equal(np.delete(terms.U, int(x[0]), axis=1), np.zeros((case.m, case.K - 1)))


@given(cases())
def test_gradients_match_the_textbook_loop(case):
    problem = case.build()
    loss, grads, h = gradients(*problem)
    loss_ref, grads_ref, h_ref = textbook_gradients(*problem)
    assert np.isclose(loss, loss_ref, rtol=SAME_RTOL, atol=0)
    for name, g, g_ref in zip(NAMES, grads, grads_ref, strict=True):
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(h, h_ref, rtol=SAME_RTOL, atol=1e-15)


# sigma = 0.01 and h0 = 0 make dL/dW ~1e-6: the case that needs the absolute tolerance.
TINY_DW = Case(seed=4294967290, m=2, K=2, tau=3, sigma=0.01171875, random_h0=False)


@pytest.mark.parametrize("random_h0", [False, True], ids=["h0=0", "random h0"])
@given(case=cases())
@example(case=TINY_DW)
def test_gradients_match_centred_differences(random_h0, case):
    problem = dataclasses.replace(case, random_h0=random_h0).build()
    _, grads, _ = gradients(*problem)
    numerical = numerical_gradients(*problem, step=NUMERICAL_STEP)
    assert_gradients_close(grads, numerical, CENTRED_RTOL, CENTRED_ATOL, "centred differences")


@pytest.mark.parametrize("random_h0", [False, True], ids=["h0=0", "random h0"])
@given(case=cases())
def test_gradients_match_complex_step(random_h0, case):
    problem = dataclasses.replace(case, random_h0=random_h0).build()
    _, grads, _ = gradients(*problem)
    assert_gradients_close(grads, complex_step_gradients(*problem), COMPLEX_RTOL, COMPLEX_ATOL,
                           "complex step")


# Why the gradient checks draw a random h0 and not only h0 = 0. A plausible bug leaves the
# first step out of (4.6), dL/dW = sum_{t>=2} dL/da_t h_{t-1}^T. With h0 = 0 the missing term
# dL/da_1 h_0^T is exactly zero, so the bug passes every check; a random h0 exposes it.
gradients_forgetting_h0 = functools.partial(textbook_gradients, drop_h0_from_dW=True)


@given(cases(random_h0=st.just(False)))
@example(case=TINY_DW)
def test_forgetting_h0_in_dW_passes_the_check_when_h0_is_zero(case):
    problem = case.build()
    _, buggy, _ = gradients_forgetting_h0(*problem)
    numerical = numerical_gradients(*problem, step=NUMERICAL_STEP)
    assert_gradients_close(buggy, numerical, CENTRED_RTOL, CENTRED_ATOL, "centred differences")


@given(cases(random_h0=st.just(True)))
def test_forgetting_h0_in_dW_fails_the_check_when_h0_is_random(case):
    problem = case.build()
    _, buggy, _ = gradients_forgetting_h0(*problem)
    _, correct, _ = gradients(*problem)
    numerical = numerical_gradients(*problem, step=NUMERICAL_STEP)
    assert_gradients_close(correct, numerical, CENTRED_RTOL, CENTRED_ATOL, "centred differences")
    # Both errors 100x their tolerance: the check flags the bug with a wide margin.
    assert norm_relative_error(buggy.W, numerical.W) > 100 * CENTRED_RTOL
    assert np.linalg.norm(buggy.W - numerical.W) > 100 * CENTRED_ATOL
    buggy.W = correct.W  # the bug is confined to dL/dW
    assert_gradients_close(buggy, numerical, CENTRED_RTOL, CENTRED_ATOL, "centred differences")
