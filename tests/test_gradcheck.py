"""Chapter 5: the gradient checker itself, and that it catches wrong gradients."""

import numpy as np
import pytest
from hypothesis import given
from strategies import Case, cases

import charrnn_edu.gradcheck
from charrnn_edu.bptt import gradients
from charrnn_edu.exercises.properties import (
    check_relative_error_formula,
    check_relative_error_known_values,
)
from charrnn_edu.exercises.strategies import gradient_pairs
from charrnn_edu.forward import RNN
from charrnn_edu.gradcheck import (
    check,
    complex_step_gradients,
    numerical_gradients,
    relative_error,
)

# Near the bottom of the centred differences' error curve for these sizes and sigmas.
CHECK_STEP = 3e-5


def agrees_with_centred_differences(row):
    """Small element-wise relative error, or, failing that, small absolute error.

    Element-wise relative errors are harsh on tiny elements: an element below the eps floor
    (1e-6) has error |g_a - g_n| / 1e-6, and rounding alone makes |g_a - g_n| ~1e-10 there.
    """
    return row.max_rel < 1e-4 or row.max_abs < 1e-8


@given(gradient_pairs())
def test_relative_error_matches_the_formula_elementwise(pair):
    check_relative_error_formula(relative_error, *pair)


def test_relative_error_known_values():
    check_relative_error_known_values(relative_error)


@given(cases())
def test_check_passes_a_correct_model(case):
    rnn, x, y, h0 = case.build()
    rows = check(rnn, x, y, h0, step=CHECK_STEP)
    assert [row.name for row in rows] == ["b", "c", "U", "W", "V"]
    for row, theta in zip(rows, rnn, strict=True):
        assert row.shape == theta.shape, (row.name, row.shape)
        assert agrees_with_centred_differences(row), row
        assert 0 <= row.mean_rel <= row.max_rel, row
        # Not 1e-12: an element of 1.4e-5 summed from terms of size 1 carries their
        # rounding error of ~1e-16, and that alone is a relative error of ~3e-12.
        assert row.complex_rel < 1e-10, row


def _perturbed(name, change):
    """``gradients`` with one of its gradients replaced by ``change(problem, g)``."""
    def wrapped(rnn, x, y, h0):
        loss, grads, h = gradients(rnn, x, y, h0)
        setattr(grads, name, change((rnn, x, y, h0), getattr(grads, name)))
        return loss, grads, h
    return wrapped


def _dc_without_target(problem, dc):
    """The classic slip in (4.1): g_t = p_t, the one-hot target never subtracted."""
    rnn, _, y, _ = problem
    return dc + np.bincount(y, minlength=rnn.K).reshape(-1, 1)


BUGS = {
    "dV scaled by 1.01": ("V", lambda problem, g: 1.01 * g),
    "dc without the target": ("c", _dc_without_target),
}


@pytest.mark.parametrize("bug", list(BUGS))
@given(case=cases())
def test_check_flags_an_injected_bug(bug, case):
    name, change = BUGS[bug]
    # A context per example: the function-scoped monkeypatch fixture would outlive examples.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(charrnn_edu.gradcheck, "gradients", _perturbed(name, change))
        rows = {row.name: row for row in check(*case.build(), step=CHECK_STEP)}
    assert rows[name].max_rel > 1e-3, rows[name]
    assert not agrees_with_centred_differences(rows[name]), rows[name]
    assert rows[name].complex_rel > 1e-3, rows[name]
    for other in set(RNN.names()) - {name}:
        assert agrees_with_centred_differences(rows[other]), rows[other]
        assert rows[other].complex_rel < 1e-10, rows[other]


@given(cases())
def test_derivative_functions_leave_the_model_unchanged(case):
    rnn, x, y, h0 = case.build()
    before = rnn.copy()
    numerical_gradients(rnn, x, y, h0, step=CHECK_STEP)
    complex_step_gradients(rnn, x, y, h0)
    for name, a, b in zip(RNN.names(), rnn, before, strict=True):
        assert a.dtype == np.float64, (name, a.dtype)
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("step", [0.0, -1e-4, float("nan")])
def test_numerical_gradients_reject_a_bad_step(step):
    rnn, x, y, h0 = Case(seed=0, m=2, K=3, tau=2, sigma=0.1, random_h0=False).build()
    with pytest.raises(ValueError, match="step"):
        numerical_gradients(rnn, x, y, h0, step=step)
