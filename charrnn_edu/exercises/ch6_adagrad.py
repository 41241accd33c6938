"""Chapter 6's exercises: element-wise clipping (6.1) and one AdaGrad step (6.2)-(6.3).

The exercise asks for AdaGrad as a plain function where the chapter keeps the memory in a
class: its version is :func:`~charrnn_edu.exercises.references.adagrad_step`, which the
checks wrap in the optimiser class the properties expect and where the bug lab plants its
mistakes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import adagrad
from charrnn_edu.adagrad import clip
from charrnn_edu.exercises import references
from charrnn_edu.exercises.model import Check, Exercise, Mistake
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.spec import properties as prop
from charrnn_edu.spec.properties import assert_close
from charrnn_edu.spec.strategies import epsilons, etas, gradient_sets, seeds, sizes

__all__ = ["EXERCISES", "MISTAKES"]


# ---------------------------------------------------------------- clip, (6.1)

CLIP_EXAMPLE = RNN(b=np.array([[-7.0], [2.0]]), c=np.array([[5.0], [-5.0], [6.5]]),
                   U=np.array([[1.0, -9.0, 0.0], [4.99, 5.01, -5.01]]), W=np.zeros((2, 2)),
                   V=np.full((3, 2), -100.0))


def _clip_rejects(f: SimpleNamespace) -> None:
    for bound in (0.0, -1.0, math.nan):
        prop.check_clip_rejects_bound(f.clip, CLIP_EXAMPLE.copy(), bound)


def _clip_reference(f: SimpleNamespace, grads_bound: tuple[RNN, float]) -> None:
    grads, bound = grads_bound
    for name, got, expected in zip(NAMES, f.clip(grads, bound), clip(grads, bound),
                                   strict=True):
        assert_close(got, expected, what=f"d{name}")


GRADS_BOUND = {"strategy": st.tuples(gradient_sets(), st.floats(0.01, 20.0)),
               "labels": ("grads", "bound"), "examples": ((CLIP_EXAMPLE, 5.0),)}

CLIP = Exercise(
    name="clip", chapter=6, module=adagrad, title="element-wise gradient clipping, (6.1)",
    functions=(adagrad.clip,), equations=("6.1",), imports="from charrnn_edu.forward import RNN",
    promise="Raises\n------\nValueError\n    If ``bound`` is not positive; the message names "
            "it.",
    checks=(
        Check("clipped", "all in [-bound, bound], in-range elements unchanged, input untouched",
              lambda f, g_b: prop.check_clip_properties(f.clip, *g_b), **GRADS_BOUND),
        Check("bad bound", "a bound of 0, -1 or nan raises ValueError naming the bound",
              _clip_rejects, fixed="bound = 0, -1 and nan"),
        Check("matches package", "agrees with charrnn_edu.adagrad.clip", _clip_reference,
              **GRADS_BOUND),
    ),
    probe=lambda outcome: [outcome("clip", CLIP_EXAMPLE.copy(), 5.0)],
)

CLIP_MISTAKES = (
    Mistake(key="clip-in-place", exercise="clip", check="clipped", equation="(6.1)",
            title="clip changed its input",
            advice="Return new arrays and leave the gradients you are given as they were: "
                   "np.clip(g, -bound, bound) without out=.",
            edits=(("np.clip(g, -bound, bound)", "np.clip(g, -bound, bound, out=g)"),),
            module=adagrad),
    Mistake(key="clip-one-side", exercise="clip", check="clipped", equation="(6.1)",
            title="only one side clipped",
            advice="Clip both sides, every element into [-bound, bound]: "
                   "np.clip(g, -bound, bound).",
            edits=(("np.clip(g, -bound, bound)", "np.minimum(g, bound)"),), module=adagrad),
)


# ---------------------------------------------------------------- one AdaGrad step, (6.2)-(6.3)

def optimiser(adagrad_step: Callable) -> type:
    """The optimiser class the properties expect, around a learner's ``adagrad_step``."""
    class StepOptimiser:
        def __init__(self, eta: float, eps: float) -> None:
            self.eta, self.eps, self.memory = eta, eps, None

        def step(self, rnn: RNN, grads: RNN) -> None:
            if self.memory is None:
                self.memory = rnn.map(np.zeros_like)
            adagrad_step(rnn, grads, self.memory, self.eta, self.eps)

    return StepOptimiser


# A problem of prop.random_problem (seed, sizes, number of steps) and the optimiser's options.
adagrad_runs = st.tuples(seeds, sizes, st.integers(1, 4), etas, epsilons)
ADAGRAD_LABELS = ("seed", "(m, K)", "steps", "eta", "eps")


def _adagrad(check: Callable, first_only: bool = False, zero_steps: bool = False) -> Callable:
    def body(f: SimpleNamespace, run: tuple) -> None:
        seed, (m, K), n, eta, eps = run
        rnn, grads = prop.random_problem(seed, m, K, n - 1 if zero_steps else n)
        check(optimiser(f.adagrad_step), rnn, grads[0] if first_only else grads, eta, eps)
    return body


def _adagrad_probe(outcome: Callable) -> list:
    rnn, grads = prop.random_problem(3, 2, 3, 2, zero_fraction=0.0)
    memory, seen = rnn.map(np.zeros_like), []
    for g in grads:
        seen.append(outcome("adagrad_step", rnn, g, memory, 0.5, 1.0))
        if seen[-1] != "raised":
            rnn, _, memory = seen[-1][1][:3]
    return seen


ADAGRAD = Exercise(
    name="adagrad", chapter=6, module=adagrad, title="one AdaGrad step, (6.2)-(6.3)",
    functions=(references.adagrad_step,), equations=("6.2", "6.3"),
    imports="from charrnn_edu.forward import RNN",
    checks=(
        Check("zero gradient", "a zero gradient changes nothing; parameters updated in place",
              _adagrad(prop.check_zero_gradient_changes_nothing, zero_steps=True), adagrad_runs,
              labels=ADAGRAD_LABELS),
        Check("memory", "memory is the running sum of g^2, (6.2)",
              _adagrad(prop.check_memory_is_sum_of_squares), adagrad_runs,
              labels=ADAGRAD_LABELS, examples=((3, (2, 3), 2, 0.5, 1.0),)),
        Check("first step", "the first step moves each element by less than eta, against g",
              _adagrad(prop.check_first_step, first_only=True), adagrad_runs,
              labels=ADAGRAD_LABELS),
        Check("update", "theta - eta g / sqrt(m + eps) at every step, (6.3)",
              _adagrad(prop.check_update_formula),
              st.tuples(seeds, sizes, st.integers(1, 4), etas, st.floats(0.1, 4.0)),
              labels=ADAGRAD_LABELS),
    ),
    probe=_adagrad_probe,
)

# Their edits apply to the plain function of references.py, as written for the exercise.
ADAGRAD_MISTAKES = (
    Mistake(key="eps-outside-sqrt", exercise="adagrad", check="update", equation="(6.3)",
            title="epsilon outside the square root",
            advice="Your step divides by sqrt(m) + eps. The report (and min-char-rnn) put eps "
                   "inside: theta -= eta * g / np.sqrt(m + eps).",
            edits=(("np.sqrt(m_theta + eps)", "(np.sqrt(m_theta) + eps)"),), module=references),
    Mistake(key="memory-replaced", exercise="adagrad", check="memory", equation="(6.2)",
            title="memory replaced, not accumulated",
            advice="m_theta must add up every squared gradient so far: m += g * g. Yours holds "
                   "only the last one, so the steps never shrink.",
            edits=(("m_theta += g * g", "m_theta[...] = g * g"),), module=references),
    Mistake(key="accumulated-after-update", exercise="adagrad", check="update",
            equation="(6.2)-(6.3)", title="memory accumulated after the update",
            advice="(6.2) comes before (6.3): add g^2 to the memory first, then step with the "
                   "new memory. Stepping first divides the first gradient by sqrt(eps), a huge "
                   "step.",
            edits=(("m_theta += g * g                                  # (6.2)\n        "
                    "theta -= eta * g / np.sqrt(m_theta + eps)         # (6.3)",
                    "theta -= eta * g / np.sqrt(m_theta + eps)         # (6.3)\n        "
                    "m_theta += g * g                                  # (6.2)"),),
            module=references),
    Mistake(key="not-in-place", exercise="adagrad", check="update", equation="(6.3)",
            title="parameters not updated in place",
            advice="theta = theta - ... makes a new array and binds it to a local name; the "
                   "caller's parameters do not change. Update in place: theta -= ... "
                   "(or theta[...] = ...).",
            edits=(("theta -= eta", "theta = theta - eta"),), module=references),
    Mistake(key="no-sqrt", exercise="adagrad", check="update", equation="(6.3)",
            title="divided by m, not by its square root",
            advice="(6.3) divides by sqrt(m + eps): the step must have the units of eta, "
                   "whatever the scale of g.",
            edits=(("np.sqrt(m_theta + eps)", "(m_theta + eps)"),), module=references),
)


EXERCISES = (CLIP, ADAGRAD)
MISTAKES = (*CLIP_MISTAKES, *ADAGRAD_MISTAKES)
