"""Chapter 10b's exercises: the GRU's step forward and step backward, as chapter 10's LSTM pair.

The backward step is compared with complex-step derivatives of one step's loss with its
upstream term, J = -ln p_t[y_t] + dh_next . h_t: the derivatives of J with respect to the
parameters are the step's terms, with respect to h_{t-1} the column it sends back. So a
wrong output is pinned to the equation that makes it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from charrnn_edu import gru
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

__all__ = ["EXERCISES", "MISTAKES", "gru_problem", "step_args", "backward_step_args"]


def gru_problem(case: Case) -> tuple[gru.GRU, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A GRU, x, y, h_{t-1} and dh_next, all drawn from ``case.seed``.

    The biases, the state and the upstream column are random, so that every term of every
    equation counts (with zero biases and h_{t-1} = 0 the reset gate would change nothing).
    """
    rng = np.random.default_rng(case.seed)
    model = gru.GRU.init(case.K, case.m, case.sigma, rng=rng)
    model.b = case.sigma * rng.standard_normal(model.b.shape)              # (3m, 1)
    model.d = case.sigma * rng.standard_normal(model.d.shape)              # (K, 1)
    x, y = rng.integers(0, case.K, case.tau), rng.integers(0, case.K, case.tau)
    h, dh = (rng.uniform(-1, 1, (case.m, 1)) for _ in range(2))            # (m, 1) each
    return model, x, y, h, dh


def _shown(case: Case) -> str:
    """A failing case as the step sees it (the rerun hint builds the rest)."""
    _, x, y, h, _ = gru_problem(case)
    return described(case, x_t=int(x[0]), y_t=int(y[0]), h_prev=h[:, 0])


# ---------------------------------------------------------------- the step forward

def step_args(case: Case) -> tuple[gru.GRU, np.ndarray, int]:
    """The arguments ``gru, h_prev, x_t`` of ``step`` for step 1 of ``case``."""
    model, x, _, h, _ = gru_problem(case)
    return model, h, int(x[0])


def _step_matches(f: SimpleNamespace, case: Case) -> None:
    model, h, x_t = step_args(case)
    mine = f.step(model, h, x_t)
    if not isinstance(mine, tuple) or len(mine) != 5:
        raise AssertionError("step must return Step(z, r, n, h, p), five columns")
    exact = gru.step(model, h, x_t)
    pinned([(f"{name} ({tag})", got, want) for name, tag, got, want in
            zip(("z_t", "r_t", "n_t", "h_t", "p_t"),
                ("10b.1", "10b.2", "10b.3", "10b.4", "10b.6"), mine, exact, strict=True)],
           1e-10, 1e-13)


STEP = Exercise(
    name="gru-step", chapter="10b", module=gru, title="one GRU step forward, (10b.1)-(10b.6)",
    functions=(gru.step,), equations=tuple(f"10b.{i}" for i in range(1, 7)),
    imports="from charrnn_edu.forward import softmax\n"
            "from charrnn_edu.gru import GATES, GRU, Step\n"
            "from charrnn_edu.lstm import sigmoid",
    checks=(Check("matches package", "every column agrees with charrnn_edu.gru.step, blocks "
                  "in the order z, r, n", _step_matches, small_cases(), examples=(PROBE,),
                  shows=_shown),),
    probe=lambda outcome: [outcome("step", *step_args(case)) for case in (PROBE, SQUARE)],
    rerun=("from charrnn_edu.exercises.ch10b_gru import step_args",
           "gru, h_prev, x_t = step_args(Case(...))"),
)

_Z = 'z = sigmoid(_block(W, "z") @ h_prev + _block(U, "z") + _block(b, "z"))'
_R = 'r = sigmoid(_block(W, "r") @ h_prev + _block(U, "r") + _block(b, "r"))'
STEP_MISTAKES = (
    Mistake(key="gru-update-gate-swapped", exercise="gru-step", check="matches package",
            equation="(10b.4)", title="z_t and 1 - z_t swapped",
            advice="h_t = z_t * h_{t-1} + (1 - z_t) * n_t: z_t = 1 keeps the old state "
                   "(d2l's and PyTorch's convention, the chapter's); yours has z_t choose "
                   "the candidate.",
            edits=(("h = z * h_prev + (1 - z) * n", "h = (1 - z) * h_prev + z * n"),),
            module=gru),
    Mistake(key="gru-reset-after-product", exercise="gru-step", check="matches package",
            equation="(10b.3)", title="the reset gate applied after the product with W^n",
            advice="n_t = tanh(W^n (r_t * h_{t-1}) + ...): the reset gate scales h_{t-1} "
                   "before W^n mixes its units, so that r_t chooses which units of the old "
                   "state the candidate sees. r_t * (W^n h_{t-1}) is another cell.",
            edits=(('_block(W, "n") @ (r * h_prev)', 'r * (_block(W, "n") @ h_prev)'),),
            module=gru),
    Mistake(key="gru-gates-swapped", exercise="gru-step", check="matches package",
            equation="(10b.1)-(10b.2)", title="the update and reset gates' rows swapped",
            advice="W, U and b stack the blocks in the order z, r, n, m rows each: the "
                   "update gate is rows 0..m-1, the reset gate rows m..2m-1.",
            edits=((_Z, _Z.replace('"z"', '"r"')), (_R, _R.replace('"r"', '"z"'))),
            module=gru),
)


# ---------------------------------------------------------------- the step backward

def _upstream_loss(model: gru.GRU, h: np.ndarray, x_t: int, y_t: int,
                   dh_next: np.ndarray) -> complex:
    s = gru.step(model, h, x_t)
    return -np.log(s.p[y_t, 0]) + (dh_next * s.h).sum()


def backward_step_args(case: Case) -> tuple[gru.GRU, gru.Cache, int, np.ndarray]:
    """The arguments ``gru, cache, y_t, dh_next`` of ``backward_step`` for step 1 of ``case``."""
    model, x, y, h, dh = gru_problem(case)
    cache = gru.Cache(h_prev=h, x_t=int(x[0]), step=gru.step(model, h, int(x[0])))
    return model, cache, int(y[0]), dh


def _backward_complex(f: SimpleNamespace, case: Case) -> None:
    model, cache, y_t, dh_next = backward_step_args(case)
    result = f.backward_step(model, cache, y_t, dh_next)
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise AssertionError("backward_step must return (dh_prev, terms), terms a GRU of "
                             "this step's terms of dL/db, dL/dd, dL/dU, dL/dW, dL/dV")
    dh_prev, terms = result
    if not isinstance(terms, gru.GRU):
        raise AssertionError(f"the terms are {type(terms).__name__}: return them as "
                             "GRU(b=..., d=..., U=..., W=..., V=...)")
    z = model.map(lambda a: a.astype(complex))
    h = cache.h_prev.astype(complex)

    def loss(_: np.ndarray) -> complex:
        return _upstream_loss(z, h, cache.x_t, y_t, dh_next)

    exact = gru.GRU(*(elementwise(loss, theta, method="complex") for theta in z))
    pinned([("dL/dV (10b.8)", terms.V, exact.V), ("dL/dd (10b.8)", terms.d, exact.d),
            ("dL/db (10b.10)-(10b.13), (10b.15)", terms.b, exact.b),
            ("dL/dW (10b.14)", terms.W, exact.W), ("dL/dU (10b.15)", terms.U, exact.U),
            ("dh_prev (10b.16)", dh_prev, elementwise(loss, h, method="complex"))],
           1e-9, 1e-12)


BACKWARD = Exercise(
    name="gru-backward-step", chapter="10b", module=gru,
    title="one GRU step backward, (10b.7)-(10b.16)",
    functions=(gru.backward_step,), equations=tuple(f"10b.{i}" for i in range(7, 17)),
    imports="from charrnn_edu.gru import GATES, GRU, Cache",
    checks=(Check("complex step", "every output equals a complex-step derivative of the "
                  "step's loss, the upstream term included", _backward_complex,
                  small_cases(), examples=(PROBE,), shows=_shown),),
    probe=lambda outcome: [outcome("backward_step", *backward_step_args(case))
                           for case in (PROBE, SQUARE)],
    rerun=("from charrnn_edu.exercises.ch10b_gru import backward_step_args",
           "gru, cache, y_t, dh_next = backward_step_args(Case(...))"),
)

BACKWARD_MISTAKES = (
    Mistake(key="gru-z-derivative-sign", exercise="gru-backward-step", check="complex step",
            equation="(10b.11)", title="n_t - h_{t-1} for h_{t-1} - n_t",
            advice="h_t = z_t * h_{t-1} + (1 - z_t) * n_t, so dh_t/dz_t = h_{t-1} - n_t: "
                   "z_t weighs the old state, 1 - z_t the candidate.",
            edits=(("dh * (h_prev - s.n) * s.z", "dh * (s.n - h_prev) * s.z"),), module=gru),
    Mistake(key="gru-tanh-prime-of-h", exercise="gru-backward-step", check="complex step",
            equation="(10b.10)", title="tanh' of h_t, not of the candidate",
            advice="n_t = tanh(a[n]), so dn_t/da[n] = 1 - n_t^2: the candidate's own tanh. "
                   "h_t is no tanh of anything in a GRU.",
            edits=(("(1 - s.z) * (1 - s.n**2)", "(1 - s.z) * (1 - s.h**2)"),), module=gru),
    Mistake(key="gru-candidate-with-z", exercise="gru-backward-step", check="complex step",
            equation="(10b.10)", title="the candidate's derivative with z_t for 1 - z_t",
            advice="The candidate enters h_t multiplied by 1 - z_t, so dL/da[n] = dL/dh_t "
                   "* (1 - z_t) * (1 - n_t^2); z_t multiplies h_{t-1}.",
            edits=(("dh * (1 - s.z) * (1 - s.n**2)", "dh * s.z * (1 - s.n**2)"),), module=gru),
    Mistake(key="gru-reset-without-h", exercise="gru-backward-step", check="complex step",
            equation="(10b.13)", title="the reset gate's derivative missing h_{t-1}",
            advice="The reset gate multiplies h_{t-1} in r_t * h_{t-1}, so dL/da[r] = "
                   "dL/d(r_t * h_{t-1}) * h_{t-1} * r_t (1 - r_t).",
            edits=(("drh * h_prev * s.r * (1 - s.r)", "drh * s.r * (1 - s.r)"),), module=gru),
    Mistake(key="gru-additive-path-dropped", exercise="gru-backward-step",
            check="complex step", equation="(10b.16)",
            title="z_t * dL/dh_t not carried back to h_{t-1}",
            advice="h_{t-1} reaches h_t directly, z_t * h_{t-1} in (10b.4): dL/dh_{t-1} "
                   "starts with z_t * dL/dh_t, the GRU's additive path, then adds the terms "
                   "through the candidate and both gates.",
            edits=(("s.z * dh + s.r * drh", "s.r * drh"),), module=gru),
    Mistake(key="gru-dW-blocks-swapped", exercise="gru-backward-step", check="complex step",
            equation="(10b.14)", title="dL/dW's z and r blocks stacked in the wrong order",
            advice="dL/dW stacks its blocks as W does, in the order z, r, n: "
                   "dL/da[z] h_{t-1}^T first, then dL/da[r] h_{t-1}^T.",
            edits=(('dW = np.vstack([_block(da, "z") @ h_prev.T, _block(da, "r") @ h_prev.T,',
                    'dW = np.vstack([_block(da, "r") @ h_prev.T, _block(da, "z") @ h_prev.T,'),),
            module=gru),
)


EXERCISES = (STEP, BACKWARD)
MISTAKES = (*STEP_MISTAKES, *BACKWARD_MISTAKES)
