"""Chapter 5's exercises: centred-difference gradients (5.1) and the relative error (5.2)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from charrnn_edu import gradcheck
from charrnn_edu.exercises.model import PROBE, Check, Exercise, Mistake, small_cases
from charrnn_edu.exercises.sandbox import RAISED
from charrnn_edu.forward import NAMES
from charrnn_edu.gradcheck import complex_step_gradients
from charrnn_edu.gradcheck import relative_error as package_relative_error
from charrnn_edu.spec import properties as prop
from charrnn_edu.spec.properties import Case, assert_close
from charrnn_edu.spec.strategies import gradient_pairs

__all__ = ["EXERCISES", "MISTAKES"]


# ---------------------------------------------------------------- numerical gradients, (5.1)

def _numerical_unchanged(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    before = rnn.copy()
    grads = f.numerical_gradients(rnn, x, y, h0, prop.NUMERICAL_STEP)
    for name, a, b in zip(NAMES, rnn, before, strict=True):
        assert_close(a, b, what=f"numerical_gradients changed {name}: {name}")
    for name, g, theta in zip(NAMES, grads, rnn, strict=True):
        assert np.shape(g) == theta.shape, f"d{name} has shape {np.shape(g)}, not {theta.shape}"


def _numerical_complex_step(f: SimpleNamespace, case: Case) -> None:
    problem = case.build()
    grads = f.numerical_gradients(*problem, prop.NUMERICAL_STEP)
    prop.assert_gradients_close(grads, complex_step_gradients(*problem), prop.CENTRED_RTOL,
                                prop.CENTRED_ATOL, "complex-step derivatives")


def _model_changed(outcome: Callable) -> list[Any]:
    """Whether numerical_gradients left the model it was given changed (not its numbers)."""
    problem = PROBE.build()
    seen = outcome("numerical_gradients", *problem, 1e-4)
    return [None if seen == RAISED else
            not all(np.array_equal(a, b) for a, b in zip(seen[1][0], problem.rnn, strict=True))]


NUMERICAL_GRADIENTS = Exercise(
    name="numerical-gradients", chapter=5, module=gradcheck,
    title="centred-difference gradients, (5.1)",
    functions=(gradcheck.numerical_gradients,), equations=("5.1",),
    imports="from charrnn_edu.forward import RNN, forward\n"
            "from charrnn_edu.loss import cross_entropy",
    checks=(
        Check("model unchanged", "shapes of the parameters; the model is left as it was",
              _numerical_unchanged, small_cases()),
        Check("complex step", "equal complex-step derivatives to O(h^2), h = 3e-5",
              _numerical_complex_step, small_cases()),
    ),
    probe=lambda outcome: [outcome("numerical_gradients", *PROBE.build(), 1e-4)],
)

NUMERICAL_GRADIENTS_MISTAKES = (
    Mistake(key="forward-difference", exercise="numerical-gradients", check="complex step",
            equation="(5.1)", title="forward difference instead of centred",
            advice="(L(θ + h) - L(θ)) / h errs by O(h). The centred "
                   "(L(θ + h) - L(θ - h)) / (2h) of (5.1) cancels the h^2 term of the Taylor "
                   "series.",
            edits=(("theta[index] = old - step", "theta[index] = old"),
                   ("/ (2 * step)", "/ step")),
            module=gradcheck),
    Mistake(key="divided-by-h", exercise="numerical-gradients", check="complex step",
            equation="(5.1)", title="divided by h, not 2h",
            advice="L(θ + h) and L(θ - h) are 2h apart: divide their difference by 2h.",
            edits=(("/ (2 * step)", "/ step"),), module=gradcheck),
    Mistake(key="not-restored", exercise="numerical-gradients", check="model unchanged",
            equation="(5.1)", title="θ not restored after perturbing it",
            advice="Put each element back after evaluating L(θ ± h) (or perturb a copy, "
                   "rnn.copy()): the caller's model must not change, and every later "
                   "derivative would be taken at the wrong point.",
            edits=(("model = rnn.copy()", "model = rnn"), ("        theta[index] = old\n", "")),
            module=gradcheck, probe=_model_changed),
)


# ---------------------------------------------------------------- relative error, (5.2)

RELATIVE_ERROR = Exercise(
    name="relative-error", chapter=5, module=gradcheck,
    title="the report's relative error, (5.2)",
    functions=(gradcheck.relative_error,), equations=("5.2",),
    checks=(
        Check("formula", "(5.2) element by element, every error in [0, 1]",
              lambda f, pair: prop.check_relative_error_formula(f.relative_error, *pair),
              gradient_pairs(), labels=("g_a", "g_n", "eps"),
              examples=((np.array([0.0, 1.0]), np.array([1.0, -1.0]), 1.0),)),
        Check("known values", "0 when both are 0, |g_a| / eps below the floor, 1 for opposite "
              "signs", lambda f: prop.check_relative_error_known_values(f.relative_error),
              fixed="g_a = [0, 1e-8, 1, 1, -1], g_n = [0, 0, 1, 3, 1], eps = 1e-6"),
        Check("matches package", "agrees with charrnn_edu.gradcheck.relative_error",
              lambda f, pair: assert_close(f.relative_error(*pair),
                                           package_relative_error(*pair), 1e-14, 0, what="e"),
              gradient_pairs(), labels=("g_a", "g_n", "eps")),
    ),
    probe=lambda outcome: [
        outcome("relative_error", np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, 0.25]), 0.5),
        outcome("relative_error", np.zeros(2), np.zeros(2), 1e-6)],
)

RELATIVE_ERROR_MISTAKES = (
    Mistake(key="eps-added", exercise="relative-error", check="formula", equation="(5.2)",
            title="eps added to the denominator",
            advice="eps is a floor, not an offset: divide by max(eps, |g_a| + |g_n|) "
                   "(np.maximum), so eps matters only where both gradients are almost 0.",
            edits=(("np.maximum(eps, np.abs(g_a) + np.abs(g_n))",
                    "(eps + np.abs(g_a) + np.abs(g_n))"),), module=gradcheck),
    Mistake(key="abs-of-sum", exercise="relative-error", check="formula", equation="(5.2)",
            title="|g_a + g_n| in the denominator",
            advice="The denominator is |g_a| + |g_n|. |g_a + g_n| is 0 when the two have "
                   "opposite signs, and the error explodes.",
            edits=(("np.abs(g_a) + np.abs(g_n))", "np.abs(g_a + g_n))"),), module=gradcheck),
    Mistake(key="no-floor", exercise="relative-error", check="known values", equation="(5.2)",
            title="no eps floor: 0 / 0",
            advice="Where both gradients are 0 you divide 0 by 0. Floor the denominator: "
                   "np.maximum(eps, np.abs(g_a) + np.abs(g_n)).",
            edits=(("np.maximum(eps, np.abs(g_a) + np.abs(g_n))",
                    "(np.abs(g_a) + np.abs(g_n))"),), module=gradcheck),
)


EXERCISES = (NUMERICAL_GRADIENTS, RELATIVE_ERROR)
MISTAKES = (*NUMERICAL_GRADIENTS_MISTAKES, *RELATIVE_ERROR_MISTAKES)
