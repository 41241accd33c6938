"""Chapter 6's exercises: clipping (6.1), one AdaGrad step (6.2)-(6.3), one Adam step (6.4)-(6.6).

Adam is the 2026 edition's optimiser.

The exercises ask for the optimisers as plain functions where the chapter keeps their state
in a class: their versions are :func:`~charrnn_edu.exercises.references.adagrad_step` and
:func:`~charrnn_edu.exercises.references.adam_step`, which the checks wrap in the optimiser
class the properties expect and where the bug lab plants its mistakes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import adagrad
from charrnn_edu.adagrad import Adam, clip
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
    Mistake(key="clip-by-norm", exercise="clip", check="clipped", equation="(6.1)",
            title="clipped by the global norm, not element-wise",
            advice="(6.1) clips each element on its own: np.clip(g, -bound, bound). Scaling "
                   "every gradient by bound / ||g|| changes elements that were in range, and "
                   "the report's numbers with them.",
            edits=(("grads.map(lambda g: np.clip(g, -bound, bound))",
                    "grads.map(lambda g: g * min(1.0, bound / np.sqrt(sum(np.sum(a * a) "
                    "for a in grads))))"),), module=adagrad),
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


def _adagrad(check: Callable, first_only: bool = False, zero_steps: bool = False,
             step: str = "adagrad_step") -> Callable:
    def body(f: SimpleNamespace, run: tuple) -> None:
        seed, (m, K), n, eta, eps = run
        rnn, grads = prop.random_problem(seed, m, K, n - 1 if zero_steps else n)
        wrap = adam_optimiser if step == "adam_step" else optimiser
        check(wrap(getattr(f, step)), rnn, grads[0] if first_only else grads, eta, eps)
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
    Mistake(key="memory-rebound", exercise="adagrad", check="memory", equation="(6.2)",
            title="memory rebound to a new array, never updated",
            advice="m_theta = m_theta + g * g makes a new array and binds it to a local name: "
                   "the memory you were given stays 0, so every step divides by the last g "
                   "alone. Add in place: m_theta += g * g.",
            edits=(("m_theta += g * g", "m_theta = m_theta + g * g"),), module=references),
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
            edits=(("theta -= eta * g", "theta = theta - eta * g"),), module=references),
    Mistake(key="no-sqrt", exercise="adagrad", check="update", equation="(6.3)",
            title="divided by m, not by its square root",
            advice="(6.3) divides by sqrt(m + eps): the step must have the units of eta, "
                   "whatever the scale of g.",
            edits=(("np.sqrt(m_theta + eps)", "(m_theta + eps)"),), module=references),
)


# ---------------------------------------------------------------- one Adam step, (6.4)-(6.6)

def adam_optimiser(adam_step: Callable) -> type:
    """The optimiser class the properties expect, around a learner's ``adam_step``."""
    class StepOptimiser:
        def __init__(self, eta: float, eps: float) -> None:
            self.eta, self.eps, self.first, self.second, self.t = eta, eps, None, None, 0

        def step(self, rnn: RNN, grads: RNN) -> None:
            if self.first is None:
                self.first, self.second = rnn.map(np.zeros_like), rnn.map(np.zeros_like)
            self.t += 1
            adam_step(rnn, grads, self.first, self.second, self.t, self.eta, 0.9, 0.999,
                      self.eps)

    return StepOptimiser


def _adam_against_package(f: SimpleNamespace, run: tuple) -> None:
    """After every step, the moments (6.4)-(6.5) or the parameters (6.6) equal Adam's."""
    seed, (m, K), n, eta, eps, what = run
    rnn, grads = prop.random_problem(seed, m, K, n)
    mine, package = adam_optimiser(f.adam_step)(eta, eps), Adam(eta=eta, eps=eps)
    theirs = rnn.copy()
    for k, g in enumerate(grads, start=1):
        g_before = g.copy()
        mine.step(rnn, g)
        package.step(theirs, g)
        for name, got, kept in zip(NAMES, g, g_before, strict=True):
            assert_close(got, kept, what=f"step {k} changed the gradient d{name}")
        arrays = ({"s": (mine.first, package.first), "r": (mine.second, package.second)}
                  if what == "moments" else {"": (rnn, theirs)})
        for moment, (got, expected) in arrays.items():
            for name, a, b in zip(NAMES, got, expected, strict=True):
                assert_close(a, b, 1e-12, 1e-15,
                             what=f"{moment}_{name}" if moment else f"{name} after step {k}")


ADAM_LABELS = ("seed", "(m, K)", "steps", "eta", "eps", "compared")


def _adam_probe(outcome: Callable) -> list:
    rnn, grads = prop.random_problem(3, 2, 3, 2, zero_fraction=0.0)
    first, second, seen = rnn.map(np.zeros_like), rnn.map(np.zeros_like), []
    for t, g in enumerate(grads, start=1):
        seen.append(outcome("adam_step", rnn, g, first, second, t, 0.5, 0.9, 0.999, 1.0))
        if seen[-1] != "raised":
            rnn, _, first, second = seen[-1][1][:4]
    return seen


ADAM = Exercise(
    name="adam", chapter=6, module=adagrad, title="one Adam step, (6.4)-(6.6)",
    functions=(references.adam_step,), equations=("6.4", "6.5", "6.6"),
    imports="from charrnn_edu.forward import RNN",
    checks=(
        Check("first step", "the first step moves each element by less than eta, against g",
              _adagrad(prop.check_first_step, first_only=True, step="adam_step"),
              adagrad_runs, labels=ADAGRAD_LABELS, examples=((3, (2, 3), 1, 0.5, 1e-8),)),
        Check("moments", "s and r are the moving averages of g and g^2, (6.4)-(6.5)",
              _adam_against_package,
              st.tuples(seeds, sizes, st.integers(1, 4), etas, epsilons, st.just("moments")),
              labels=ADAM_LABELS, examples=((3, (2, 3), 2, 0.5, 1.0, "moments"),)),
        Check("update", "theta - eta s^ / (sqrt(r^) + eps) at every step, (6.6)",
              _adam_against_package,
              st.tuples(seeds, sizes, st.integers(1, 4), etas, st.floats(0.1, 4.0),
                        st.just("update")),
              labels=ADAM_LABELS, examples=((3, (2, 3), 2, 0.5, 1.0, "update"),)),
    ),
    probe=_adam_probe,
)

ADAM_MISTAKES = (
    Mistake(key="adam-no-bias-correction", exercise="adam", check="first step",
            equation="(6.6)", title="moments not corrected for their start at zero",
            advice="s and r start at 0, so early on they are too small by 1 - beta^t: divide "
                   "them by (1 - beta1 ** t) and (1 - beta2 ** t) before the step, or the "
                   "first steps are up to 3 times eta.",
            edits=(("s_hat, r_hat = s / (1 - beta1 ** t), r / (1 - beta2 ** t)",
                    "s_hat, r_hat = s, r"),), module=references),
    Mistake(key="adam-eps-inside-sqrt", exercise="adam", check="update", equation="(6.6)",
            title="epsilon inside the square root",
            advice="Adam (Kingma and Ba, and the 2026 edition) divides by sqrt(r^) + eps, eps "
                   "outside the root, unlike the report's AdaGrad.",
            edits=(("(np.sqrt(r_hat) + eps)", "np.sqrt(r_hat + eps)"),), module=references),
    Mistake(key="adam-abs-not-square", exercise="adam", check="moments", equation="(6.5)",
            title="second moment of |g|, not of g^2",
            advice="(6.5) averages the squared gradient: r = beta2 r + (1 - beta2) g * g.",
            edits=(("(1 - beta2) * g * g", "(1 - beta2) * np.abs(g)"),), module=references),
    Mistake(key="adam-moments-rebound", exercise="adam", check="moments",
            equation="(6.4)-(6.5)", title="moments rebound to new arrays, never kept",
            advice="s = beta1 * s + ... binds a new array to a local name: the moments you "
                   "were given stay 0 and every step forgets the last. Write into them: "
                   "s[...] = ... (or s *= beta1; s += ...).",
            edits=(("s[...] = beta1", "s = beta1"), ("r[...] = beta2", "r = beta2")),
            module=references),
)


EXERCISES = (CLIP, ADAGRAD, ADAM)
MISTAKES = (*CLIP_MISTAKES, *ADAGRAD_MISTAKES, *ADAM_MISTAKES)
