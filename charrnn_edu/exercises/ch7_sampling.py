"""Chapter 7's exercises: one sampling step with temperature (7.1), and top-p filtering."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import sampling
from charrnn_edu.exercises.model import PROBE, Check, Exercise, Mistake, pinned
from charrnn_edu.forward import softmax, step
from charrnn_edu.sampling import nucleus
from charrnn_edu.spec import properties as prop
from charrnn_edu.spec.properties import Case, assert_close
from charrnn_edu.spec.strategies import cases, distributions

__all__ = ["EXERCISES", "MISTAKES"]


# ---------------------------------------------------------------- temperature, (7.1)

temperatures = st.floats(0.05, 5.0)


def _temperature_shapes(f: SimpleNamespace, case_t: tuple[Case, float]) -> None:
    case, T = case_t
    rnn, x, _, h0 = case.build()
    h, p = f.next_distribution(rnn, h0, int(x[0]), T)
    assert np.shape(h) == (rnn.m, 1), f"h has shape {np.shape(h)}, expected {(rnn.m, 1)}"
    assert np.shape(p) == (rnn.K,), f"p has shape {np.shape(p)}, expected {(rnn.K,)}"
    assert np.all(np.asarray(p) >= 0), f"negative probabilities in p = {p}"
    assert_close(np.sum(p), 1.0, 1e-12, 0, what="the sum of p")


def _temperature_step(f: SimpleNamespace, case_t: tuple[Case, float]) -> None:
    case, T = case_t
    rnn, x, _, h0 = case.build()
    h, p = f.next_distribution(rnn, h0, int(x[0]), T)
    now = step(rnn, h0, int(x[0]))
    pinned([("the new h (2.1)-(2.2)", h, now.h),
            ("p = softmax(o / T) (7.1)", p, softmax(now.o / T)[:, 0])], 1e-10, 1e-14)


def _entropy(p: np.ndarray) -> float:
    p = np.asarray(p)
    return float(-np.sum(p[p > 0] * np.log(p[p > 0])))


def _temperature_sharpens(f: SimpleNamespace, case_ts: tuple[Case, float, float]) -> None:
    case, T1, T2 = case_ts
    cold, hot = sorted((T1, T2))
    rnn, x, _, h0 = case.build()
    e_cold = _entropy(f.next_distribution(rnn, h0, int(x[0]), cold)[1])
    e_hot = _entropy(f.next_distribution(rnn, h0, int(x[0]), hot)[1])
    assert e_cold <= e_hot + 1e-12, (f"entropy {e_cold:.6g} at T = {cold:.4g} is above "
                                     f"{e_hot:.6g} at T = {hot:.4g}: a lower T must sharpen p")


CASE_T = {"strategy": st.tuples(cases(), temperatures), "labels": ("case", "T"),
          "examples": ((PROBE, 0.7),)}

TEMPERATURE = Exercise(
    name="temperature", chapter=7, module=sampling,
    title="one sampling step with temperature, (7.1)",
    functions=(sampling.next_distribution,), equations=("7.1",),
    imports="from charrnn_edu.forward import RNN, softmax",
    checks=(
        Check("shapes", "h is (m, 1), p is (K,), a distribution", _temperature_shapes, **CASE_T),
        Check("one step", "h and p = softmax(o / T) equal the chapter's step (2.1)-(2.3)",
              _temperature_step, **CASE_T),
        Check("sharpening", "a lower temperature never makes p flatter (entropy falls with T)",
              _temperature_sharpens, st.tuples(cases(min_sigma=0.1), temperatures, temperatures),
              labels=("case", "T1", "T2"), examples=((PROBE, 0.5, 2.0),)),
    ),
    probe=lambda outcome: [outcome("next_distribution", rnn, h0, int(x[0]), 0.5)
                           for rnn, x, _, h0 in (PROBE.build(),)],
)

TEMPERATURE_MISTAKES = (
    Mistake(key="temperature-multiplied", exercise="temperature", check="sharpening",
            equation="(7.1)", title="logits multiplied by T, not divided",
            advice="p = softmax(o / T). Multiplying makes T < 1 flatten p instead of "
                   "sharpening it.",
            edits=(("now.o / temperature", "now.o * temperature"),), module=sampling),
    Mistake(key="temperature-after-softmax", exercise="temperature", check="shapes",
            equation="(7.1)", title="temperature applied after the softmax",
            advice="Divide the logits by T *before* the softmax, softmax(o / T); "
                   "softmax(o) / T no longer sums to 1.",
            edits=(("softmax(now.o / temperature)[:, 0]", "softmax(now.o)[:, 0] / temperature"),),
            module=sampling),
    Mistake(key="temperature-ignored", exercise="temperature", check="one step",
            equation="(7.1)", title="temperature ignored",
            advice="p does not change with T: divide the logits by T before the softmax.",
            edits=(("softmax(now.o / temperature)", "softmax(now.o)"),), module=sampling),
    Mistake(key="h-reset-each-sample-step", exercise="temperature", check="one step",
            equation="(2.1)", title="h reset to zeros at every sampling step",
            advice="Each step of the sample must start from the h the step before returned: "
                   "step(rnn, h, x). Starting every step from zeros forgets all but the last "
                   "character, so the text has no memory.",
            edits=(("now = step(rnn, h, x)", "now = step(rnn, np.zeros_like(h), x)"),),
            module=sampling),
)


# ---------------------------------------------------------------- top-p

@st.composite
def distributions_and_top_p(draw: st.DrawFn, zeros: bool = False) -> tuple[np.ndarray, float]:
    """A distribution p (K,) and a top_p in (0, 1]."""
    return draw(distributions(zeros=zeros)), draw(st.floats(1e-9, 1.0))


def _nucleus_reference(f: SimpleNamespace, p_top: tuple[np.ndarray, float]) -> None:
    p, top_p = p_top
    if np.any(np.abs(np.cumsum(np.sort(p)[::-1]) - top_p) < 1e-9):
        return                                  # top_p on a partial sum: rounding decides
    assert_close(f.nucleus(p, top_p), nucleus(p, top_p), 1e-12, 1e-14, what="q")


P_TOP = {"strategy": distributions_and_top_p(), "labels": ("p", "top_p"),
         "examples": ((np.array([0.2, 0.5, 0.3]), 0.6),)}

TOP_P = Exercise(
    name="top-p", chapter=7, module=sampling, title="nucleus (top-p) filtering of a distribution",
    functions=(sampling.nucleus,),
    checks=(
        Check("nucleus", "p renormalised on the smallest most likely set of mass >= top_p",
              lambda f, p_t: prop.check_nucleus_properties(f.nucleus, *p_t), **P_TOP),
        Check("with zeros", "the same when some characters have probability 0",
              lambda f, p_t: prop.check_nucleus_properties(f.nucleus, *p_t),
              distributions_and_top_p(zeros=True), labels=("p", "top_p")),
        Check("matches package", "agrees with charrnn_edu.sampling.nucleus", _nucleus_reference,
              **P_TOP),
    ),
    probe=lambda outcome: [outcome("nucleus", np.array(p), top) for p, top in (
        ([0.2, 0.5, 0.3], 0.6), ([0.1, 0.6, 0.3], 0.95))],
)

TOP_P_MISTAKES = (
    Mistake(key="crossing-dropped", exercise="top-p", check="nucleus", equation="top-p",
            title="drops the character that reaches top_p",
            advice="Keep the character whose probability makes the mass reach top_p: keep the "
                   "most likely characters whose mass *before* them is below top_p.",
            edits=(("order[mass_before < top_p]", "order[np.cumsum(p[order]) < top_p]"),),
            module=sampling),
    Mistake(key="not-renormalised", exercise="top-p", check="nucleus", equation="top-p",
            title="kept probabilities not renormalised",
            advice="After zeroing the other characters, divide by the kept mass so q sums to 1.",
            edits=(("return q / q.sum()", "return q"),), module=sampling),
    Mistake(key="least-likely-kept", exercise="top-p", check="nucleus", equation="top-p",
            title="sorted the wrong way",
            advice="The nucleus is the *most* likely characters: sort by decreasing "
                   "probability, np.argsort(-p).",
            edits=(('np.argsort(-p, kind="stable")', 'np.argsort(p, kind="stable")'),),
            module=sampling),
)


EXERCISES = (TEMPERATURE, TOP_P)
MISTAKES = (*TEMPERATURE_MISTAKES, *TOP_P_MISTAKES)
