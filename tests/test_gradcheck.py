"""Chapter 5: the gradient checker itself, and that it catches wrong gradients."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import charrnn_edu.gradcheck
from charrnn_edu.bptt import gradients
from charrnn_edu.cli import main
from charrnn_edu.forward import NAMES
from charrnn_edu.gradcheck import (
    GradCheckRow,
    agrees,
    check,
    complex_step_gradients,
    elementwise,
    numerical_gradients,
    passes,
    relative_error,
    report_passes,
)
from charrnn_edu.spec.properties import (
    Case,
    check_relative_error_formula,
    check_relative_error_known_values,
)
from charrnn_edu.spec.strategies import cases, gradient_pairs

# Near the bottom of the centred differences' error curve for these sizes and sigmas.
CHECK_STEP = 3e-5


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
        assert row.failures == 0 and row.complex_failures == 0, row
        assert row.passed
    assert passes(rows)


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
    assert rows[name].failures > 0 and rows[name].complex_failures > 0, rows[name]
    assert not passes(list(rows.values())) and not report_passes(list(rows.values()))
    for other in set(NAMES) - {name}:
        assert rows[other].passed, rows[other]


@given(cases())
def test_derivative_functions_leave_the_model_unchanged(case):
    rnn, x, y, h0 = case.build()
    before = rnn.copy()
    numerical_gradients(rnn, x, y, h0, step=CHECK_STEP)
    complex_step_gradients(rnn, x, y, h0)
    for name, a, b in zip(NAMES, rnn, before, strict=True):
        assert a.dtype == np.float64, (name, a.dtype)
        np.testing.assert_array_equal(a, b, err_msg=name)


@given(st.lists(st.floats(-2, 2), min_size=1, max_size=6))
def test_elementwise_differentiates_a_function_known_by_hand(values):
    """sum(tanh(theta)^3), whose derivative is 3 tanh^2 (1 - tanh^2), element by element."""
    def loss(theta):
        return (np.tanh(theta) ** 3).sum()

    theta = np.array(values)
    exact = 3 * np.tanh(theta) ** 2 * (1 - np.tanh(theta) ** 2)
    for method, step, rtol, atol in (("centred", 1e-5, 1e-6, 1e-9),
                                     ("forward", 1e-7, 1e-4, 1e-6),
                                     ("complex", None, 1e-14, 1e-40)):
        moved = theta.astype(complex) if method == "complex" else theta.copy()
        g = elementwise(loss, moved, method=method, step=step)
        assert g.shape == theta.shape and g.dtype == np.float64
        np.testing.assert_allclose(g, exact, rtol=rtol, atol=atol, err_msg=method)
        np.testing.assert_array_equal(moved, theta, err_msg=f"{method} left theta changed")


def test_elementwise_refuses_what_it_cannot_do():
    real = np.zeros(3)
    with pytest.raises(ValueError, match="complex theta"):
        elementwise(np.sum, real, method="complex")
    with pytest.raises(ValueError, match="method must be one of centred, forward, complex"):
        elementwise(np.sum, real, method="backward")
    with pytest.raises(ValueError, match="step"):
        elementwise(np.sum, real, step=-1.0)


def test_the_report_rule_reads_the_largest_relative_error_of_each_row():
    rows = [GradCheckRow(name, (1,), max_rel=rel, mean_rel=rel, max_abs=0.0, complex_rel=0.0)
            for name, rel in zip(NAMES, [1e-9, 2e-6, 0.0, 9.9e-6, 1e-11], strict=True)]
    assert report_passes(rows) and report_passes(rows, threshold=1e-5)
    assert not report_passes(rows, threshold=5e-6)
    assert passes(rows)                          # no element counted wrong
    wrong = [*rows[:4], GradCheckRow("V", (1,), 2e-5, 2e-5, 0.0, 0.0)]
    assert not report_passes(wrong) and passes(wrong)


@given(cases())
def test_agrees_finds_every_element_of_correct_gradients_right(case):
    rnn, x, y, h0 = case.build()
    _, analytic, _ = gradients(rnn, x, y, h0)
    by_centred, by_complex = agrees(analytic, numerical_gradients(rnn, x, y, h0, CHECK_STEP),
                                    complex_step_gradients(rnn, x, y, h0), len(x))
    for name, theta, ok, exactly in zip(NAMES, rnn, by_centred, by_complex, strict=True):
        assert ok.shape == exactly.shape == theta.shape and ok.dtype == bool, name
        assert ok.all() and exactly.all(), name


@pytest.mark.parametrize("step", [0.0, -1e-4, float("nan")])
def test_numerical_gradients_reject_a_bad_step(step):
    rnn, x, y, h0 = Case(seed=0, m=2, K=3, tau=2, sigma=0.1, random_h0=False).build()
    with pytest.raises(ValueError, match="step"):
        numerical_gradients(rnn, x, y, h0, step=step)


# A short text of ten characters keeps each check below a tenth of a second.
TEXT = "the cat sat on a mat; the rat ate hot oats\n" * 2


@given(hidden=st.integers(1, 12), sigma=st.floats(0, 1), seed=st.integers(0, 2**32 - 1),
       h0=st.sampled_from(["zero", "random"]))
@example(hidden=12, sigma=1.0, seed=3, h0="random")
def test_gradcheck_command_never_fails_correct_code(tmp_path_factory, hidden, sigma, seed, h0):
    path = tmp_path_factory.getbasetemp() / "gradcheck-text.txt"
    path.write_text(TEXT, encoding="utf-8")
    args = ["gradcheck", "--data", str(path), "--seq-length", "8", "--hidden", str(hidden),
            "--sigma", repr(sigma), "--seed", str(seed), "--h0", h0]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0, args


def test_the_case_that_failed_correct_code_passes(capsys):
    # Issue 9: 2.7e-05 relative error on an element of V whose gradient is tiny (absolute
    # error 1.9e-10), and a complex-step error of 6.1e-12 against a fixed 1e-12.
    with pytest.raises(SystemExit) as exit_info:
        main(["gradcheck", "--hidden", "20", "--sigma", "0.1", "--seed", "3", "--h0", "random"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    assert out.rstrip().splitlines()[-1].startswith("passed")
