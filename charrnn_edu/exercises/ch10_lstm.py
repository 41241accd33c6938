"""Chapter 10's exercises: the LSTM's step forward and step backward (CS231n's pair).

The backward step is compared with complex-step derivatives of one step's loss with its
upstream terms, J = -ln p_t[y_t] + dh_next . h_t + dc_next . c_t: the derivatives of J with
respect to the parameters are the step's terms, with respect to h_{t-1} and c_{t-1} the two
columns it sends back. So a wrong output is pinned to the equation that makes it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from charrnn_edu import lstm
from charrnn_edu.exercises.model import (
    PROBE,
    SQUARE,
    Check,
    Exercise,
    Mistake,
    described,
    pinned,
    small_cases,
)
from charrnn_edu.gradcheck import elementwise
from charrnn_edu.spec.properties import Case

__all__ = ["EXERCISES", "MISTAKES", "lstm_problem", "step_args", "backward_step_args"]


def lstm_problem(case: Case) -> tuple[lstm.LSTM, np.ndarray, np.ndarray, np.ndarray,
                                      np.ndarray, np.ndarray, np.ndarray]:
    """An LSTM, x, y, h_{t-1}, c_{t-1}, dh_next and dc_next, all drawn from ``case.seed``.

    The states and upstream columns are random, so that every term of every equation counts.
    """
    rng = np.random.default_rng(case.seed)
    model = lstm.LSTM.init(case.K, case.m, case.sigma, rng=rng)
    model.b = model.b + case.sigma * rng.standard_normal(model.b.shape)    # (4m, 1)
    model.d = case.sigma * rng.standard_normal(model.d.shape)              # (K, 1)
    x, y = rng.integers(0, case.K, case.tau), rng.integers(0, case.K, case.tau)
    h, c, dh, dc = (rng.uniform(-1, 1, (case.m, 1)) for _ in range(4))     # (m, 1) each
    return model, x, y, h, c, dh, dc


# ---------------------------------------------------------------- the step forward

def step_args(case: Case) -> tuple[lstm.LSTM, np.ndarray, np.ndarray, int]:
    """The arguments ``lstm, h_prev, c_prev, x_t`` of ``step`` for step 1 of ``case``."""
    model, x, _, h, c, _, _ = lstm_problem(case)
    return model, h, c, int(x[0])


def _shown(case: Case) -> str:
    """A failing case as the step sees it (the rerun hint builds the rest)."""
    _, x, y, h, c, _, _ = lstm_problem(case)
    return described(case, x_t=int(x[0]), y_t=int(y[0]), h_prev=h[:, 0], c_prev=c[:, 0])


def _step_matches(f: SimpleNamespace, case: Case) -> None:
    model, h, c, x_t = step_args(case)
    mine = f.step(model, h, c, x_t)
    if not isinstance(mine, tuple) or len(mine) != 7:
        raise AssertionError("step must return Step(i, f, q, g, c, h, p), seven columns")
    exact = lstm.step(model, h, c, x_t)
    pinned([(f"{name} ({tag})", got, want) for name, tag, got, want in
            zip(("i_t", "f_t", "q_t", "g_t", "c_t", "h_t", "p_t"),
                ("10.2", "10.3", "10.4", "10.5", "10.6", "10.7", "10.9"), mine, exact,
                strict=True)], 1e-10, 1e-13)


STEP = Exercise(
    name="lstm-step", chapter=10, module=lstm, title="one LSTM step forward, (10.1)-(10.9)",
    functions=(lstm.step,), equations=tuple(f"10.{i}" for i in range(1, 10)),
    imports="from charrnn_edu.forward import softmax\n"
            "from charrnn_edu.lstm import GATES, LSTM, Step, sigmoid",
    checks=(Check("matches package", "every column agrees with charrnn_edu.lstm.step, gates "
                  "in the order i, f, q, g", _step_matches, small_cases(), examples=(PROBE,),
                  shows=_shown),),
    probe=lambda outcome: [outcome("step", *step_args(case)) for case in (PROBE, SQUARE)],
    rerun=("from charrnn_edu.exercises.ch10_lstm import step_args",
           "lstm, h_prev, c_prev, x_t = step_args(Case(...))"),
)

STEP_MISTAKES = (
    Mistake(key="lstm-gates-swapped", exercise="lstm-step", check="matches package",
            equation="(10.2)-(10.3)", title="the input and forget gates' rows swapped",
            advice="a_t stacks the gates' pre-activations in the order i, f, q, g, m rows "
                   "each: the input gate is rows 0..m-1, the forget gate rows m..2m-1.",
            edits=(('i = sigmoid(_block(a, "i"))', 'i = sigmoid(_block(a, "f"))'),
                   ('f = sigmoid(_block(a, "f"))', 'f = sigmoid(_block(a, "i"))')),
            module=lstm),
    Mistake(key="lstm-tanh-inside", exercise="lstm-step", check="matches package",
            equation="(10.7)", title="h_t = tanh(q_t * c_t)",
            advice="h_t = q_t * tanh(c_t): the output gate scales the squashed cell state, it "
                   "is not squashed with it.",
            edits=(("h = q * np.tanh(c)", "h = np.tanh(q * c)"),), module=lstm),
)


# ---------------------------------------------------------------- the step backward

def _upstream_loss(model: lstm.LSTM, h: np.ndarray, c: np.ndarray, x_t: int, y_t: int,
                   dh_next: np.ndarray, dc_next: np.ndarray) -> complex:
    s = lstm.step(model, h, c, x_t)
    return (-np.log(s.p[y_t, 0]) + (dh_next * s.h).sum() + (dc_next * s.c).sum())


def backward_step_args(case: Case) -> tuple[lstm.LSTM, lstm.Cache, int, np.ndarray,
                                             np.ndarray]:
    """The arguments ``lstm, cache, y_t, dh_next, dc_next`` of ``backward_step``, step 1."""
    model, x, y, h, c, dh, dc = lstm_problem(case)
    cache = lstm.Cache(h_prev=h, c_prev=c, x_t=int(x[0]), step=lstm.step(model, h, c, int(x[0])))
    return model, cache, int(y[0]), dh, dc


def _backward_complex(f: SimpleNamespace, case: Case) -> None:
    model, cache, y_t, dh_next, dc_next = backward_step_args(case)
    result = f.backward_step(model, cache, y_t, dh_next, dc_next)
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise AssertionError("backward_step must return (dh_prev, dc_prev, terms), terms an "
                             "LSTM of this step's terms of dL/db, dL/dd, dL/dU, dL/dW, dL/dV")
    dh_prev, dc_prev, terms = result
    if not isinstance(terms, lstm.LSTM):
        raise AssertionError(f"the terms are {type(terms).__name__}: return them as "
                             "LSTM(b=..., d=..., U=..., W=..., V=...)")
    z = model.map(lambda a: a.astype(complex))
    h, c = cache.h_prev.astype(complex), cache.c_prev.astype(complex)

    def loss(_: np.ndarray) -> complex:
        return _upstream_loss(z, h, c, cache.x_t, y_t, dh_next, dc_next)

    exact = lstm.LSTM(*(elementwise(loss, theta, method="complex") for theta in z))
    pinned([("dL/dV (10.11)", terms.V, exact.V), ("dL/dd (10.12)", terms.d, exact.d),
            ("dL/db (10.14)-(10.18), (10.21)", terms.b, exact.b),
            ("dL/dW (10.19)", terms.W, exact.W), ("dL/dU (10.20)", terms.U, exact.U),
            ("dh_prev, W^T dL/da_t", dh_prev, elementwise(loss, h, method="complex")),
            ("dc_prev, f_t * dL/dc_t", dc_prev, elementwise(loss, c, method="complex"))],
           1e-9, 1e-12)


BACKWARD = Exercise(
    name="lstm-backward-step", chapter=10, module=lstm,
    title="one LSTM step backward, (10.10)-(10.21)",
    functions=(lstm.backward_step,), equations=tuple(f"10.{i}" for i in range(10, 22)),
    imports="from charrnn_edu.lstm import GATES, LSTM, Cache",
    checks=(Check("complex step", "every output equals a complex-step derivative of the "
                  "step's loss, both upstream terms included", _backward_complex,
                  small_cases(), examples=(PROBE,), shows=_shown),),
    probe=lambda outcome: [outcome("backward_step", *backward_step_args(case))
                           for case in (PROBE, SQUARE)],
    rerun=("from charrnn_edu.exercises.ch10_lstm import backward_step_args",
           "lstm, cache, y_t, dh_next, dc_next = backward_step_args(Case(...))"),
)

_DC = "dc = dh * s.q * (1 - tanh_c**2) + dc_next"
BACKWARD_MISTAKES = (
    Mistake(key="lstm-forget-without-c", exercise="lstm-backward-step", check="complex step",
            equation="(10.17)", title="the forget gate's derivative missing c_{t-1}",
            advice="c_t = f_t * c_{t-1} + ...: the forget gate multiplies c_{t-1}, so "
                   "dL/da[f] = dL/dc_t * c_{t-1} * f_t (1 - f_t).",
            edits=(("dc * cache.c_prev * s.f * (1 - s.f)", "dc * s.f * (1 - s.f)"),),
            module=lstm),
    Mistake(key="lstm-c_t-for-c_prev", exercise="lstm-backward-step", check="complex step",
            equation="(10.17)", title="c_t where c_{t-1} belongs",
            advice="The forget gate multiplies the previous cell state: dL/da[f] has "
                   "c_{t-1} (cache.c_prev), not c_t.",
            edits=(("dc * cache.c_prev * s.f", "dc * s.c * s.f"),), module=lstm),
    Mistake(key="lstm-tanh-prime-of-c", exercise="lstm-backward-step", check="complex step",
            equation="(10.14)", title="tanh' applied as 1 - c_t^2, to the wrong argument",
            advice="h_t = q_t * tanh(c_t), so dh_t/dc_t = q_t (1 - tanh^2(c_t)): square "
                   "tanh(c_t), not c_t itself.",
            edits=((_DC, "dc = dh * s.q * (1 - s.c**2) + dc_next"),), module=lstm),
    Mistake(key="lstm-cell-gradient-not-carried", exercise="lstm-backward-step",
            check="complex step", equation="(10.14)", title="the cell-state gradient not carried",
            advice="c_t reaches the loss through h_t and through c_{t+1}: dL/dc_t adds "
                   "dc_next, f_{t+1} * dL/dc_{t+1}, the additive path.",
            edits=((_DC, "dc = dh * s.q * (1 - tanh_c**2)"),), module=lstm),
    Mistake(key="lstm-output-gate-with-c", exercise="lstm-backward-step", check="complex step",
            equation="(10.15)", title="the output gate's derivative with c_t for tanh(c_t)",
            advice="h_t = q_t * tanh(c_t): the output gate multiplies tanh(c_t), so "
                   "dL/da[q] = dL/dh_t * tanh(c_t) * q_t (1 - q_t).",
            edits=(("dh * tanh_c * s.q * (1 - s.q)", "dh * s.c * s.q * (1 - s.q)"),),
            module=lstm),
    Mistake(key="lstm-forget-not-in-dc_prev", exercise="lstm-backward-step",
            check="complex step", equation="(10.14)",
            title="dL/dc_t sent back without the forget gate",
            advice="c_{t-1} enters c_t multiplied by f_t, so the step sends back f_t * dL/dc_t, "
                   "not dL/dc_t.",
            edits=(("return lstm.W.T @ da, s.f * dc,", "return lstm.W.T @ da, dc,"),),
            module=lstm),
)


EXERCISES = (STEP, BACKWARD)
MISTAKES = (*STEP_MISTAKES, *BACKWARD_MISTAKES)
