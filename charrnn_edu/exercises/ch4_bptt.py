"""Chapter 4's exercises: one step of BPTT (4.1)-(4.8), and the loss with all five gradients.

The step exercise compares each output of one time step with the package and with the
complex-step derivatives of that step's loss,
:func:`~charrnn_edu.spec.oracles.one_step_derivatives`, so a wrong output is pinned to the
equation that makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import bptt
from charrnn_edu.encoding import one_hot
from charrnn_edu.exercises.model import PROBE, SQUARE, Check, Exercise, Mistake, pinned, small_cases
from charrnn_edu.forward import NAMES, RNN, forward, step
from charrnn_edu.gradcheck import complex_step_gradients
from charrnn_edu.loss import sequence_loss
from charrnn_edu.spec import properties as prop
from charrnn_edu.spec.oracles import one_step_derivatives
from charrnn_edu.spec.properties import Case, assert_close

__all__ = ["EXERCISES", "MISTAKES", "step_problem"]

EQUATIONS = tuple(f"4.{i}" for i in range(1, 9))
TRANSPOSE = ("Take the transpose: the Jacobian of a = M h with respect to h is M, so the "
             "gradient flows back through M^T.")


# ---------------------------------------------------------------- one step, (4.1)-(4.8)

def step_problem(case: Case) -> tuple[RNN, bptt.Cache, int, np.ndarray]:
    """The arguments ``rnn, cache, y_t, da_next`` of ``backward_step`` for step 1 of ``case``.

    The cache is chapter 2's step from h0 (random in the checks, so that h_{t-1} and h_t
    differ everywhere); da_next, dL/da_{t+1}, is random, so that the next-step term of
    (4.4) counts.
    """
    rnn, x, y, h_prev = case.build()
    da_next = np.random.default_rng(case.seed + 1).standard_normal((case.m, 1))   # (m, 1)
    now = step(rnn, h_prev, int(x[0]))
    cache = bptt.Cache(h_prev=h_prev, x_t=int(x[0]), h_t=now.h, p_t=now.p)
    return rnn, cache, int(y[0]), da_next


def _da_and_terms(result: object) -> tuple[object, RNN]:
    """The learner's ``(da_t, terms)``; AssertionError saying what it should be otherwise."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise AssertionError(f"backward_step returned {type(result).__name__}"
                             + (f" of length {len(result)}" if isinstance(result, tuple | list)
                                else "")
                             + ": return the pair (da_t, terms), terms an RNN of this step's "
                               "terms of dL/db, dL/dc, dL/dU, dL/dW, dL/dV")
    da, terms = result
    if not isinstance(terms, RNN):
        raise AssertionError(f"backward_step's terms are {type(terms).__name__}: return them "
                             "as RNN(b=..., c=..., U=..., W=..., V=...), this step's terms "
                             "of (4.8), (4.3), (4.7), (4.6), (4.2)")
    return da, terms


def _backward_step(reference: str) -> Callable[[SimpleNamespace, Case], None]:
    def body(f: SimpleNamespace, case: Case) -> None:
        problem = step_problem(case)
        da, mine = _da_and_terms(f.backward_step(*problem))
        if reference == "package":
            exact_da, exact = bptt.backward_step(*problem)
        else:
            rnn, cache, y_t, da_next = problem
            exact = one_step_derivatives(rnn, cache.p_t, y_t, cache.h_t, cache.h_prev,
                                         cache.x_t, da_next)
            exact_da = exact.b
        pinned([("dL/dV (4.2)", mine.V, exact.V), ("dL/dc (4.3)", mine.c, exact.c),
                ("dL/da_t (4.4)-(4.5)", da, exact_da), ("dL/dW (4.6)", mine.W, exact.W),
                ("dL/dU (4.7)", mine.U, exact.U), ("dL/db (4.8)", mine.b, exact.b)],
               1e-9, 1e-12)
    return body


STEP_CASES = small_cases(random_h0=st.just(True))

BACKWARD_STEP = Exercise(
    name="backward-step", chapter=4, module=bptt, title="one time step of BPTT, (4.1)-(4.8)",
    functions=(bptt.backward_step,), equations=EQUATIONS,
    imports="from charrnn_edu.bptt import Cache\nfrom charrnn_edu.forward import RNN",
    checks=(
        Check("complex step", "every output equals a complex-step derivative of the step's "
              "loss, upstream term included", _backward_step("complex"), STEP_CASES,
              examples=(PROBE,)),
        Check("matches package", "every output agrees with charrnn_edu.bptt.backward_step",
              _backward_step("package"), STEP_CASES),
    ),
    probe=lambda outcome: [outcome("backward_step", *step_problem(case))
                           for case in (PROBE, SQUARE)],
    rerun=("from charrnn_edu.exercises.ch4_bptt import step_problem",
           "rnn, cache, y_t, da_next = step_problem(Case(...))"),
)

BACKWARD_STEP_MISTAKES = (
    Mistake(key="g-sign", exercise="backward-step", check="complex step", equation="(4.1)",
            title="p_t - y_t with the wrong sign",
            advice="g_t = dL/do_t = p_t - y_t: the loss falls as p_t[y_t] grows, so the "
                   "target's entry of g_t is p_t[y_t] - 1 < 0. Yours is y_t - p_t.",
            edits=(("g = cache.p_t.copy()", "g = -cache.p_t.copy()"),
                   ("g[y_t] -= 1", "g[y_t] += 1")),
            module=bptt),
    Mistake(key="g-index", exercise="backward-step", check="complex step", equation="(4.1)",
            title="one-hot at the input, not the target",
            advice="g_t = p_t - y_t subtracts 1 at the *target* y_t, the character that came "
                   "next, not at the input x_t.",
            edits=(("g[y_t] -= 1      ", "g[cache.x_t] -= 1"),), module=bptt),
    Mistake(key="V-not-transposed", exercise="backward-step", check="complex step",
            equation="(4.4)", title="V instead of V^T",
            advice="dL/dh_t = V^T g_t + ...: o_t = V h_t + c, so g_t reaches h_t through V^T. "
                   f"{TRANSPOSE}",
            edits=(("rnn.V.T @ g", "rnn.V @ g"),), module=bptt),
    Mistake(key="W-not-transposed", exercise="backward-step", check="complex step",
            equation="(4.4)", title="W instead of W^T",
            advice="dL/dh_t = ... + W^T dL/da_{t+1}: a_{t+1} = W h_t + ..., so the gradient "
                   f"from the next step reaches h_t through W^T. {TRANSPOSE}",
            edits=(("rnn.W.T @ da_next", "rnn.W @ da_next"),), module=bptt),
    Mistake(key="next-step-term-dropped", exercise="backward-step", check="complex step",
            equation="(4.4)", title="the next-step term of (4.4) dropped: no recurrence",
            advice="h_t reaches the loss two ways, through o_t and through a_{t+1}: "
                   "dL/dh_t = V^T g_t + W^T dL/da_{t+1}. Without the second term no gradient "
                   "flows back in time.",
            edits=(("rnn.V.T @ g + rnn.W.T @ da_next", "rnn.V.T @ g"),), module=bptt),
    Mistake(key="tanh-derivative-missing", exercise="backward-step", check="complex step",
            equation="(4.5)", title="tanh derivative (1 - h_t^2) missing",
            advice="h_t = tanh(a_t), so dL/da_t = dL/dh_t * (1 - h_t^2), element by element. "
                   "Yours is exact only where tanh is nearly linear (tiny a_t), wrong "
                   "everywhere else.",
            edits=(("dh * (1 - cache.h_t**2)", "dh"),), module=bptt),
    Mistake(key="h_t-in-dW", exercise="backward-step", check="complex step", equation="(4.6)",
            title="h_t instead of h_{t-1}",
            advice="a_t = W h_{t-1} + ...: W multiplies the state *before* the step, so dL/dW "
                   "gets dL/da_t h_{t-1}^T (h_prev), not h_t^T.",
            edits=(("da @ cache.h_prev.T", "da @ cache.h_t.T"),), module=bptt),
    Mistake(key="dW-transposed", exercise="backward-step", check="complex step",
            equation="(4.6)", title="dL/dW transposed",
            advice="dL/dW = dL/da_t h_{t-1}^T: rows belong to a_t, columns to h_{t-1}.",
            edits=(("da @ cache.h_prev.T", "cache.h_prev @ da.T"),), module=bptt),
)


# ---------------------------------------------------------------- the loss and all gradients

def _bptt_against_complex_step(same_targets: bool = False) -> Callable:
    def body(f: SimpleNamespace, case: Case) -> None:
        rnn, x, y, h0 = case.build()
        y = np.full_like(y, y[0]) if same_targets else y   # dL/dc past 5: clipping shows
        _, grads, _ = f.gradients(rnn, x, y, h0)
        exact = complex_step_gradients(rnn, x, y, h0)
        pinned([(f"dL/d{n}", g, e) for n, g, e in zip(NAMES, grads, exact, strict=True)],
               1e-9, 1e-12)
    return body


def _bptt_reference(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    loss, _, h = f.gradients(rnn, x, y, h0)
    assert_close(loss, sequence_loss(rnn, x, y, h0), 1e-10, 0, what="the loss")
    assert_close(h, forward(rnn, x, h0).h, 1e-10, 1e-12, what="the last hidden state")


LONG = Case(seed=11, m=3, K=4, tau=20, sigma=0.2, random_h0=True)


def _long_same_targets() -> prop.Problem:
    rnn, x, y, h0 = LONG.build()
    return prop.Problem(rnn, x, np.full_like(y, (x[0] + 1) % LONG.K), h0)


BPTT = Exercise(
    name="bptt", chapter=4, module=bptt,
    title="the loss and all five gradients by BPTT, (4.1)-(4.8)",
    functions=(bptt.gradients,), equations=EQUATIONS,
    imports="from charrnn_edu.forward import RNN, forward\n"
            "from charrnn_edu.loss import cross_entropy",
    checks=(
        Check("shapes", "every gradient has its parameter's shape, h is (m, 1)",
              lambda f, case: prop.check_gradient_shapes(f.gradients, *case.build()),
              small_cases()),
        Check("dL/dc", "dL/dc = sum_t (p_t - onehot(y_t)), (4.1) and (4.3)",
              lambda f, case: prop.check_output_bias_gradient(f.gradients, forward, one_hot,
                                                              *case.build()), small_cases()),
        Check("complex step", "all five gradients equal complex-step derivatives, h0 zero or "
              "random", _bptt_against_complex_step(), small_cases(), examples=(PROBE,)),
        Check("large gradients", "gradients past the clip bound 5 come back unclipped "
              "(y all one character)", _bptt_against_complex_step(same_targets=True),
              small_cases(min_tau=12, max_tau=20, max_sigma=0.3)),
        Check("loss and h", "the loss and last hidden state agree with charrnn_edu",
              _bptt_reference, small_cases()),
    ),
    probe=lambda outcome: [outcome("gradients", *problem) for problem in (
        PROBE.build(), SQUARE.build(), _long_same_targets())],
)

BPTT_MISTAKES = (
    Mistake(key="h0-dropped", exercise="bptt", check="complex step", equation="(4.6)",
            title="the h_0 term of dL/dW dropped",
            advice="dL/dW misses the first step's term dL/da_1 h_0^T: the sum runs over "
                   "t = 1..tau with h_0 the given h0. It vanishes only when h0 = 0, which is "
                   "why the checks also use a random h0.",
            edits=(("if t > 0 else h0", "if t > 0 else np.zeros_like(h0)"),), module=bptt),
    Mistake(key="sums-overwritten", exercise="bptt", check="complex step",
            equation="(4.2)-(4.8)", title="the sums over t overwritten, not added to",
            advice="Each gradient is a sum over t: step t's terms are added to the sums, "
                   "grads = grads.map(np.add, terms), not put in their place, or only the "
                   "terms of the last step the loop visits (t = 1) are left.",
            edits=(("grads = grads.map(np.add, terms)", "grads = terms"),), module=bptt),
    Mistake(key="clipped-in-bptt", exercise="bptt", check="large gradients", equation="(6.1)",
            title="gradients clipped before the gradient check",
            advice="Your gradients are the true ones clipped to [-5, 5]. Clipping changes the "
                   "gradient, so a check of clipped gradients checks the wrong thing: return "
                   "the raw gradients and clip in the optimiser (chapter 6).",
            edits=(("return loss, grads, h_last",
                    "return loss, grads.map(lambda g: np.clip(g, -5, 5)), h_last"),),
            module=bptt),
)


EXERCISES = (BACKWARD_STEP, BPTT)
MISTAKES = (*BACKWARD_STEP_MISTAKES, *BPTT_MISTAKES)
