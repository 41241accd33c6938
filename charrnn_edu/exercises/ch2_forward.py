"""Chapter 2's exercises: softmax (2.4), one forward step (2.1)-(2.4), the whole pass.

The step exercise compares each output of one time step with the package's, so a wrong
output is pinned to the equation that makes it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import forward as chapter
from charrnn_edu.exercises.model import PROBE, SQUARE, Check, Exercise, Mistake, pinned
from charrnn_edu.forward import RNN, forward, softmax, step
from charrnn_edu.spec import properties as prop
from charrnn_edu.spec.properties import Case, assert_close
from charrnn_edu.spec.strategies import cases, logits_and_shifts

__all__ = ["EXERCISES", "MISTAKES"]


# ---------------------------------------------------------------- softmax, (2.4)

SOFTMAX = Exercise(
    name="softmax", chapter=2, module=chapter,
    title="column-wise softmax that never overflows, (2.4)",
    functions=(chapter.softmax,), equations=("2.4",),
    checks=(
        Check("distribution", "columns positive, summing to 1, unchanged by a constant shift",
              lambda f, o_s: prop.check_softmax_properties(f.softmax, *o_s), logits_and_shifts(),
              labels=("o", "shift"),
              examples=((np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), np.zeros((1, 3))),)),
        Check("extreme logits", "logits of +-1000 give exactly 1, 0 and 0.5, no overflow",
              lambda f: prop.check_softmax_extreme_logits(f.softmax),
              fixed="o = [[1000, -1000, 1000, -1000], [-1000, 1000, 1000, -1000]]"),
        Check("matches package", "agrees with charrnn_edu.forward.softmax",
              lambda f, o_s: assert_close(f.softmax(o_s[0]), softmax(o_s[0]), prop.SAME_RTOL,
                                          prop.SAME_ATOL, what="p"),
              logits_and_shifts(), labels=("o", "shift (unused)")),
    ),
    probe=lambda outcome: [outcome("softmax", np.array(o)) for o in (
        [[1.0, 2.0, 3.0], [4.0, 0.0, 1.0]], [[1000.0], [0.0]], [[0.0, -1000.0], [1.0, -1001.0]])],
)

SOFTMAX_MISTAKES = (
    Mistake(key="softmax-overflow", exercise="softmax", check="extreme logits", equation="(2.4)",
            title="softmax overflows on large logits",
            advice="exp(1000) is inf in float64, and inf / inf is nan. "
                   "softmax(o) = softmax(o - s) for any constant s: subtract each column's "
                   "maximum first, e = np.exp(o - o.max(axis=0, keepdims=True)).",
            edits=(("np.exp(o - o.real.max(axis=0, keepdims=True))", "np.exp(o)"),),
            module=chapter),
    Mistake(key="softmax-rows", exercise="softmax", check="distribution", equation="(2.4)",
            title="softmax over the wrong axis",
            advice="Each column of o is one time step, so each column of p must sum to 1: max "
                   "and sum with axis=0 (and keepdims=True), not axis=1.",
            edits=(("o.real.max(axis=0, keepdims=True)", "o.real.max(axis=1, keepdims=True)"),
                   ("e.sum(axis=0, keepdims=True)", "e.sum(axis=1, keepdims=True)")),
            module=chapter),
    Mistake(key="softmax-global-max", exercise="softmax", check="extreme logits",
            equation="(2.4)", title="shifted by the maximum of the whole matrix",
            advice="A column far below the global maximum underflows to all zeros, and 0 / 0 is "
                   "nan. Subtract each column's own maximum: o.max(axis=0, keepdims=True).",
            edits=(("o.real.max(axis=0, keepdims=True)", "o.real.max()"),), module=chapter),
)


# ---------------------------------------------------------------- one step, (2.1)-(2.4)

def _step_equations(f: SimpleNamespace, case: Case) -> None:
    rnn, x, _, h0 = case.build()
    got, ref = f.step(rnn, h0, int(x[0])), step(rnn, h0, int(x[0]))
    pinned([(f"{n}_t ({e})", g, r) for n, e, g, r in zip("ahop", ("2.1", "2.2", "2.3", "2.4"),
                                                          got, ref, strict=True)],
           1e-10, 1e-12)


def _step_complex(f: SimpleNamespace, case: Case) -> None:
    rnn, x, _, h0 = case.build()
    got = f.step(rnn.map(lambda a: a.astype(complex)), h0.astype(complex), int(x[0]))
    for name, value, ref in zip("ahop", got, step(rnn, h0, int(x[0])), strict=True):
        assert np.iscomplexobj(value), f"{name} lost its imaginary part"
        assert_close(value, ref, prop.SAME_RTOL, prop.SAME_ATOL, what=f"the complex {name}")


FORWARD_STEP = Exercise(
    name="forward-step", chapter=2, module=chapter,
    title="one time step of the forward pass, (2.1)-(2.4)",
    functions=(chapter.step,), equations=("2.1", "2.2", "2.3", "2.4"),
    imports="from charrnn_edu.forward import RNN, Step, softmax",
    checks=(
        Check("equations", "a, h (m, 1) and o, p (K, 1) each equal (2.1)-(2.4) of forward.step",
              _step_equations, cases(), examples=(PROBE,)),
        Check("complex parameters", "complex parameters give complex a, h, o, p (chapter 5)",
              _step_complex, cases()),
    ),
    probe=lambda outcome: [outcome("step", rnn, h0, int(x[1])) for rnn, x, _, h0 in
                           (PROBE.build(), SQUARE.build())],
)

FORWARD_STEP_MISTAKES = (
    Mistake(key="tanh-missing", exercise="forward-step", check="equations", equation="(2.2)",
            title="tanh left out",
            advice="h_t = tanh(a_t): without the tanh the network is linear and h grows "
                   "without bound.",
            edits=(("h = np.tanh(a)", "h = a"),), module=chapter),
    Mistake(key="W-transposed-forward", exercise="forward-step", check="equations",
            equation="(2.1)", title="W^T instead of W",
            advice="a_t = W h_{t-1} + U x_t + b: row i of W holds the weights into unit i, so "
                   "multiply by W itself; the transpose belongs to the backward pass, (4.4).",
            edits=(("rnn.W @ h_prev", "rnn.W.T @ h_prev"),), module=chapter),
)


# ---------------------------------------------------------------- the pass over a sequence

def _no_y(case: Case) -> tuple[RNN, np.ndarray, np.ndarray]:
    rnn, x, _, h0 = case.build()
    return rnn, x, h0


def _forward_reference(f: SimpleNamespace, case: Case) -> None:
    rnn, x, _, h0 = case.build()
    got, ref = f.forward(rnn, x, h0), forward(rnn, x, h0)
    pinned([(name, g, r) for name, g, r in zip(("H", "P", "h"), got, ref, strict=True)],
           1e-10, 1e-12)


@st.composite
def cases_and_splits(draw: st.DrawFn) -> tuple[Case, int]:
    """A case with tau >= 2 and a split point in 1..tau-1."""
    case = draw(cases(min_tau=2))
    return case, draw(st.integers(1, case.tau - 1))


FORWARD = Exercise(
    name="forward", chapter=2, module=chapter,
    title="the forward pass over a sequence, (2.1)-(2.4)",
    functions=(chapter.forward,), equations=("2.1", "2.2", "2.3", "2.4"),
    imports="from charrnn_edu.forward import RNN, Forward, softmax",
    checks=(
        Check("shapes and ranges",
              "H (m, tau) in (-1, 1), P (K, tau) columns sum to 1, h = H[:, -1:]",
              lambda f, case: prop.check_forward_properties(f.forward, *_no_y(case)), cases()),
        Check("chaining", "two passes over the halves, carrying h, equal one pass",
              lambda f, cs: prop.check_forward_chaining(
                  f.forward, *_no_y(cs[0]), cs[1]),
              cases_and_splits(), labels=("case", "split")),
        Check("complex parameters",
              "complex parameters, imaginary part 0, give the real pass (for chapter 5)",
              lambda f, case: prop.check_forward_complex(f.forward, *_no_y(case)), cases()),
        Check("matches package", "agrees with charrnn_edu.forward.forward, h0 zero or random",
              _forward_reference, cases(), examples=(PROBE,)),
    ),
    probe=lambda outcome: [outcome("forward", *args) for args in (
        _no_y(PROBE), (PROBE.build().rnn.map(lambda a: a.astype(complex)), PROBE.build().x,
                       PROBE.build().h0.astype(complex)))],
)

FORWARD_MISTAKES = (
    Mistake(key="state-not-carried", exercise="forward", check="matches package",
            equation="(2.1)", title="state not carried from step to step",
            advice="Every step starts from h0. The recurrence is a_t = W h_{t-1} + ...: pass "
                   "each step the h the step before it returned.",
            edits=(("step(rnn, h, int(x_t))", "step(rnn, h0, int(x_t))"),), module=chapter),
    Mistake(key="h0-ignored", exercise="forward", check="chaining", equation="(2.1)",
            title="h0 ignored in the first step",
            advice="Your pass starts from zeros. The first step is a_1 = W h0 + U x_1 + b: "
                   "start from the h0 you are given, so a sequence continues where the last "
                   "one stopped.",
            edits=(("h, hs, ps = h0, [], []", "h, hs, ps = np.zeros_like(h0), [], []"),),
            module=chapter),
    Mistake(key="real-only", exercise="forward", check="complex parameters", equation="(5.3)",
            title="complex parameters lose their imaginary part",
            advice="Chapter 5's complex step runs forward on complex parameters: do not force "
                   "float (np.zeros((m, tau)) is float); collect the columns in a list and "
                   "np.hstack them, or use np.result_type(rnn.W, h0).",
            edits=(("H=np.hstack(hs), P=np.hstack(ps)",
                    "H=np.hstack(hs).real, P=np.hstack(ps).real"),), module=chapter),
)


EXERCISES = (SOFTMAX, FORWARD_STEP, FORWARD)
MISTAKES = (*SOFTMAX_MISTAKES, *FORWARD_STEP_MISTAKES, *FORWARD_MISTAKES)
