r"""The checks of every exercise, and the diagnoses of common mistakes.

A :class:`Check` is one property from :mod:`charrnn_edu.exercises.properties` (the ones the
package's own tests use) or a comparison with the package's reference, fed by a Hypothesis
strategy; a few are a single fixed case. :mod:`charrnn_edu.exercises.runner` runs them.

A :class:`Diagnosis` recognises one classic mistake from its symptom on a small fixed problem
(``dc`` off by exactly the count of each target, ``H`` equal to the forward pass from a zero
h0, ...). Diagnoses run only when a check has failed, and say what to change.

The learner's functions reach the checks as attributes of one namespace ``f``, so a check
reads ``f.softmax(o)`` whichever file they came from.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
from hypothesis import strategies as st

from charrnn_edu.adagrad import AdaGrad, clip
from charrnn_edu.bptt import gradients
from charrnn_edu.encoding import Vocabulary, one_hot
from charrnn_edu.exercises import properties as prop
from charrnn_edu.exercises.catalog import EXERCISES
from charrnn_edu.exercises.properties import Case, reference_step
from charrnn_edu.exercises.strategies import (
    cases,
    corpus_and_text,
    distributions,
    epsilons,
    etas,
    gradient_pairs,
    gradient_sets,
    logits_and_shifts,
    seeds,
    sizes,
)
from charrnn_edu.forward import RNN, forward, softmax
from charrnn_edu.gradcheck import complex_step_gradients, numerical_gradients, relative_error
from charrnn_edu.loss import cross_entropy, sequence_loss
from charrnn_edu.sampling import next_distribution, nucleus

__all__ = ["Check", "Diagnosis", "CHECKS", "DIAGNOSES"]


@dataclass(frozen=True)
class Check:
    """One check of an exercise.

    Attributes
    ----------
    name : str
        A few words, unique within the exercise.
    what : str
        The property, in one line.
    body : callable
        ``body(f, example)`` raises when the property fails for ``example`` (``body(f)`` when
        ``strategy`` is None); ``f`` holds the learner's functions as attributes.
    strategy : SearchStrategy or None
        Where the examples come from; None for a single fixed case.
    fixed : str
        For a fixed case, what it is (shown when it fails).
    labels : tuple of str
        Names of the parts of a tuple example, to show a failing one as ``ids = [], K = 1``.
    """

    name: str
    what: str
    body: Callable[..., None]
    strategy: st.SearchStrategy | None = None
    fixed: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    """A classic mistake: its symptom on a fixed problem, a short title and the fix.

    ``probe(f)`` returns True when the learner's functions show the symptom.
    """

    key: str
    title: str
    advice: str
    probe: Callable[[SimpleNamespace], bool] = field(repr=False)


# ---------------------------------------------------------------- shared helpers

def close(a: Any, b: Any, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    """Same shape and all elements close (False for anything that is not numbers)."""
    try:
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))
    except (TypeError, ValueError):
        return False


def gradients_close(a: RNN, b: RNN, rtol: float = 1e-8, atol: float = 1e-10) -> bool:
    """Every one of the five gradients close."""
    return all(close(x, y, rtol, atol) for x, y in zip(a, b, strict=True))


# Probes: small, fixed, and with m, K and tau all different so a transpose shows.
PROBE = Case(seed=7, m=3, K=4, tau=6, sigma=0.5, random_h0=True)
# Targets all one character: dL/dc for it is about -tau (1 - 1/K), far past the bound 5.
LONG = Case(seed=11, m=3, K=4, tau=20, sigma=0.2, random_h0=True)


def same_targets(case: Case) -> prop.Problem:
    """The case's problem with every target equal to the first: gradients beyond 5."""
    rnn, x, y, h0 = case.build()
    return prop.Problem(rnn, x, np.full_like(y, y[0]), h0)


def small_cases(**kwargs: Any) -> st.SearchStrategy[Case]:
    """Problems small enough for element-wise derivatives on every example."""
    return cases(**{"max_m": 5, "max_K": 6, "max_tau": 8, **kwargs})


# ---------------------------------------------------------------- chapter 1: encoding

def _encoding_roundtrip(f: SimpleNamespace, corpus_text: tuple[str, str]) -> None:
    corpus, s = corpus_text
    chars = Vocabulary.from_text(corpus).chars
    prop.check_roundtrip(lambda t: f.encode(t, chars), lambda ids: f.decode(ids, chars), chars, s)


def _encoding_reference(f: SimpleNamespace, corpus_text: tuple[str, str]) -> None:
    corpus, s = corpus_text
    ref = Vocabulary.from_text(corpus)
    chars = f.vocabulary(corpus)
    assert chars == ref.chars, f"vocabulary({corpus!r}) = {chars!r}, expected {ref.chars!r}"
    ids = f.encode(s, ref.chars)
    assert close(ids, ref.encode(s)), f"encode gave {ids}, expected {ref.encode(s)}"
    text = f.decode(ref.encode(s), ref.chars)
    assert text == s, f"decode gave {text!r}, expected {s!r}"


def _vocabulary_of_sample(f: SimpleNamespace) -> str:
    return f.vocabulary("the quick brown fox, jumping")


ENCODING_DIAGNOSES = (
    Diagnosis("unsorted-vocabulary", "vocabulary not sorted",
              "The vocabulary is not sorted. The order of set(text) depends on string "
              "hashing, which Python salts differently in every process: the same text would "
              "get other ids next run, and a saved model would decode to gibberish. Return "
              "''.join(sorted(set(text))).",
              lambda f: (set(v := _vocabulary_of_sample(f)) == set("the quick brown fox, jumping")
                         and len(v) == len(set(v)) and list(v) != sorted(v))),
    Diagnosis("repeated-characters", "vocabulary repeats characters",
              "The vocabulary has a character more than once, so one character gets two ids. "
              "Keep each once: set(text), then sort.",
              lambda f: len(v := _vocabulary_of_sample(f)) != len(set(v))),
    Diagnosis("ids-not-int64", "ids not an int64 array",
              "encode should return a numpy array of dtype int64, also for an empty text "
              "(np.array([]) is float64): np.array([...], dtype=np.int64).",
              lambda f: any(getattr(f.encode(text, "abc"), "dtype", None) != np.int64
                            for text in ("abca", ""))),
    Diagnosis("decode-not-str", "decode does not return a str",
              "decode should return one string: ''.join(chars[i] for i in ids).",
              lambda f: not isinstance(f.decode(np.array([0, 1]), "ab"), str)),
)


# ---------------------------------------------------------------- chapter 1: one-hot

@st.composite
def id_sequences(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Ids (tau,) in 0..K-1 from a drawn seed, and K; tau may be 0."""
    K, tau, seed = draw(st.integers(1, 12)), draw(st.integers(0, 12)), draw(seeds)
    return np.random.default_rng(seed).integers(0, K, tau), K


ONE_HOT_DIAGNOSES = (
    Diagnosis("transposed-one-hot", "one-hot matrix transposed",
              "X has shape (tau, K): one row per time step. In this package columns are time "
              "steps: X has shape (K, tau) and X[k, t] = 1 when x_t = k (np.eye(K)[:, ids]).",
              lambda f: np.shape(f.one_hot(np.array([0, 2, 2]), 4)) == (3, 4)),
)


# ---------------------------------------------------------------- chapter 2: softmax

def _softmax_of(f: SimpleNamespace, o: list[list[float]]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(f.softmax(np.array(o)))


def _overflows(f: SimpleNamespace) -> bool:
    try:
        return not np.all(np.isfinite(_softmax_of(f, [[1000.0], [0.0]])))
    except (FloatingPointError, OverflowError):
        return True


SOFTMAX_DIAGNOSES = (
    Diagnosis("softmax-overflow", "softmax overflow on large logits",
              "exp(1000) is inf in float64, and inf / inf is nan. softmax(o) = softmax(o - s) "
              "for any constant s, so subtract each column's maximum first: "
              "e = np.exp(o - o.max(axis=0, keepdims=True)); every exponent is then <= 0.",
              _overflows),
    Diagnosis("softmax-global-max", "shifted by the global maximum",
              "Subtracting the maximum of the whole matrix avoids overflow, but a column far "
              "below it underflows to all zeros and 0 / 0 is nan. Subtract each column's own "
              "maximum: o.max(axis=0, keepdims=True).",
              lambda f: (not _overflows(f)
                         and not np.all(np.isfinite(
                             _softmax_of(f, [[0.0, -1000.0], [1.0, -1001.0]])[:, 1])))),
    Diagnosis("softmax-rows", "normalised over rows, not columns",
              "Each column of o is one time step, so each column of p must sum to 1: sum "
              "with axis=0 (and keepdims=True), not axis=1.",
              lambda f: close(_softmax_of(f, [[1.0, 2.0, 3.0], [4.0, 0.0, 1.0]]).sum(axis=1),
                              [1.0, 1.0])),
    Diagnosis("softmax-whole-matrix", "normalised over the whole matrix",
              "p sums to 1 over the whole matrix; it must sum to 1 in every column: "
              "e / e.sum(axis=0, keepdims=True).",
              lambda f: close(_softmax_of(f, [[1.0, 2.0, 3.0], [4.0, 0.0, 1.0]]).sum(), 1.0)),
)


# ---------------------------------------------------------------- chapter 2: forward

def _forward_properties(f: SimpleNamespace, case: Case) -> None:
    rnn, x, _, h0 = case.build()
    prop.check_forward_properties(f.forward, rnn, x, h0)


def _forward_complex(f: SimpleNamespace, case: Case) -> None:
    rnn, x, _, h0 = case.build()
    prop.check_forward_complex(f.forward, rnn, x, h0)


def _forward_reference(f: SimpleNamespace, case: Case) -> None:
    rnn, x, _, h0 = case.build()
    H, P, h = f.forward(rnn, x, h0)
    ref = forward(rnn, x, h0)
    for name, got, expected in (("H", H, ref.H), ("P", P, ref.P), ("h", h, ref.h)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)


@st.composite
def cases_and_splits(draw: st.DrawFn) -> tuple[Case, int]:
    """A case with tau >= 2 and a split point in 1..tau-1."""
    case = draw(cases(min_tau=2))
    return case, draw(st.integers(1, case.tau - 1))


def _forward_chaining(f: SimpleNamespace, case_split: tuple[Case, int]) -> None:
    case, split = case_split
    rnn, x, _, h0 = case.build()
    prop.check_forward_chaining(f.forward, rnn, x, h0, split)


def _probe_forward(f: SimpleNamespace, h0: np.ndarray | None = None) -> tuple[Any, ...]:
    rnn, x, _, probe_h0 = PROBE.build()
    return tuple(f.forward(rnn, x, probe_h0 if h0 is None else h0))


def _reference_H(case: Case) -> np.ndarray:
    rnn, x, _, h0 = case.build()
    return forward(rnn, x, h0).H                                       # (m, tau)


def _forward_ignores_h0(f: SimpleNamespace) -> bool:
    rnn, x, _, h0 = PROBE.build()
    H = _probe_forward(f)[0]
    return close(H, forward(rnn, x, np.zeros_like(h0)).H) and not close(H, forward(rnn, x, h0).H)


def _forward_drops_imaginary(f: SimpleNamespace) -> bool:
    rnn, x, _, h0 = PROBE.build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = f.forward(rnn.map(lambda a: a.astype(complex)), x, h0.astype(complex))
        except TypeError:
            return True
    return not all(np.iscomplexobj(a) for a in out)


FORWARD_DIAGNOSES = (
    Diagnosis("h0-ignored", "h0 ignored in the first step",
              "Your H equals the forward pass started from h0 = 0. The first step is "
              "a_1 = W h0 + U x_1 + b: start the recurrence from the h0 you are given (that "
              "is how a sequence continues from where the previous one stopped).",
              _forward_ignores_h0),
    Diagnosis("forward-transposed", "H or P transposed",
              "Columns are time steps: H is (m, tau) and P is (K, tau), column t for step t.",
              lambda f: (np.shape(_probe_forward(f)[0]) == (PROBE.tau, PROBE.m)
                         or np.shape(_probe_forward(f)[1]) == (PROBE.tau, PROBE.K))),
    Diagnosis("first-hidden-state", "returned the first hidden state, not the last",
              "The third result is the last hidden state h_tau (column -1 of H, shape "
              "(m, 1)), the state the next sequence starts from.",
              lambda f: close(_probe_forward(f)[2], _reference_H(PROBE)[:, :1])),
    Diagnosis("real-only", "complex parameters lose their imaginary part",
              "Chapter 5's complex-step check runs forward on complex parameters, so forward "
              "must not force float: build arrays with the inputs' type, e.g. "
              "np.empty((m, tau), dtype=np.result_type(rnn.W, h0)), or collect the columns in "
              "a list and np.hstack them.",
              _forward_drops_imaginary),
)


# ---------------------------------------------------------------- chapter 3: cross-entropy

@st.composite
def distributions_and_targets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """P (K, tau) with columns from logits of spread 5 (some tiny probabilities) and y."""
    K, tau, seed = draw(st.integers(2, 12)), draw(st.integers(1, 12)), draw(seeds)
    rng = np.random.default_rng(seed)
    return softmax(rng.normal(0.0, 5.0, (K, tau))), rng.integers(0, K, tau)


def _cross_entropy_sum(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    prop.check_cross_entropy_is_sum_of_steps(f.cross_entropy, forward(rnn, x, h0).P, y)


def _cross_entropy_reference(f: SimpleNamespace, P_y: tuple[np.ndarray, np.ndarray]) -> None:
    P, y = P_y
    loss, expected = f.cross_entropy(P, y), cross_entropy(P, y)
    assert np.isclose(loss, expected, rtol=1e-12, atol=1e-14), (
        f"L = {loss}, charrnn_edu.loss.cross_entropy gives {expected}")


def _probe_loss(f: SimpleNamespace) -> tuple[Any, float, np.ndarray, np.ndarray]:
    rnn, x, y, h0 = PROBE.build()
    P = forward(rnn, x, h0).P
    return f.cross_entropy(P, y), float(cross_entropy(P, y)), P, y


def _loss_is(f: SimpleNamespace, wrong: Callable[[float, np.ndarray, np.ndarray], float]) -> bool:
    loss, ref, P, y = _probe_loss(f)
    return np.ndim(loss) == 0 and close(loss, wrong(ref, P, y)) and not close(loss, ref)


CROSS_ENTROPY_DIAGNOSES = (
    Diagnosis("mean-not-sum", "mean instead of sum over time",
              "Your loss is the sum divided by tau. The report's loss (3.1) is the sum over "
              "the tau steps: a model that knows nothing starts at tau ln K, not ln K.",
              lambda f: _loss_is(f, lambda ref, P, y: ref / len(y))),
    Diagnosis("whole-rows", "P[y] picks whole rows",
              "P[y] takes whole rows of P, a (tau, tau) array. p_t[y_t] is the element in row "
              "y_t of column t: P[y, np.arange(tau)].",
              lambda f: _loss_is(f, lambda ref, P, y: -np.log(P[y]).sum())),
    Diagnosis("loss-sign", "minus sign missing",
              "L = -sum_t ln p_t[y_t]: the logs of probabilities are negative, the loss is "
              "positive.",
              lambda f: _loss_is(f, lambda ref, P, y: -ref)),
    Diagnosis("loss-not-summed", "one loss per step, not their sum",
              "Return one number, the sum over the time steps (.sum()), not the tau terms.",
              lambda f: np.ndim(_probe_loss(f)[0]) > 0),
)


# ---------------------------------------------------------------- chapter 4: BPTT

def _as_gradients(bias_gradients: Callable) -> Callable:
    """``gradients``-shaped: (nan, RNN with db, dc and zeros, None), for the shared property."""
    def wrapped(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> tuple:
        db, dc = bias_gradients(rnn, x, y, h0)
        zeros = rnn.map(np.zeros_like)
        return math.nan, RNN(db, dc, zeros.U, zeros.W, zeros.V), None
    return wrapped


def _bias_shapes(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    db, dc = f.bias_gradients(rnn, x, y, h0)
    assert np.shape(db) == (rnn.m, 1), f"dL/db has shape {np.shape(db)}, b has {(rnn.m, 1)}"
    assert np.shape(dc) == (rnn.K, 1), f"dL/dc has shape {np.shape(dc)}, c has {(rnn.K, 1)}"


def _bias_complex_step(f: SimpleNamespace, case: Case) -> None:
    problem = case.build()
    exact = complex_step_gradients(*problem)
    db, dc = f.bias_gradients(*problem)
    prop.assert_gradients_close(RNN(db, dc, exact.U, exact.W, exact.V), exact,
                                prop.COMPLEX_RTOL, prop.COMPLEX_ATOL,
                                "complex-step derivatives")


def _target_counts(y: np.ndarray, K: int) -> np.ndarray:
    return np.bincount(y, minlength=K).reshape(K, 1).astype(float)     # (K, 1)


def _db_without_recurrence(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """(4.8) with (4.4) cut short: dL/dh_t = V^T g_t only, the W^T term left out."""
    H, P, _ = forward(rnn, x, h0)
    G = P - one_hot(y, rnn.K)                                          # (K, tau)
    return ((rnn.V.T @ G) * (1.0 - H * H)).sum(axis=1, keepdims=True)  # (m, 1)


def _probe_bias(f: SimpleNamespace) -> tuple[np.ndarray, np.ndarray, RNN, prop.Problem]:
    problem = PROBE.build()
    db, dc = f.bias_gradients(*problem)
    return db, dc, gradients(*problem)[1], problem


def _dc_off_by_target(dc: Any, ref: RNN, problem: prop.Problem) -> bool:
    counts = _target_counts(problem.y, problem.rnn.K)
    return close(np.asarray(dc) - ref.c, counts) or close(ref.c - np.asarray(dc), counts)


DC_TARGET_ADVICE = ("dL/dc is off by exactly the number of times each character is a target: "
                    "the one-hot target was not subtracted. The gradient at o_t is "
                    "g_t = p_t - y_t (4.1), so subtract 1 at row y_t of column t: "
                    "G = P.copy(); G[y, np.arange(tau)] -= 1.")
RECURRENCE_ADVICE = ("dL/db misses the recurrent term: h_t reaches the loss through o_t and "
                     "through a_{t+1}, so dL/dh_t = V^T g_t + W^T dL/da_{t+1} (4.4). Run "
                     "(4.4)-(4.5) backwards from t = tau, carrying dL/da_{t+1}.")

def _bias_dc_off_by_target(f: SimpleNamespace) -> bool:
    _, dc, ref, problem = _probe_bias(f)
    return _dc_off_by_target(dc, ref, problem)


BIAS_DIAGNOSES = (
    Diagnosis("dc-without-target", "dL/dc off by the one-hot target", DC_TARGET_ADVICE,
              _bias_dc_off_by_target),
    Diagnosis("db-without-recurrence", "dL/db without the W^T term of (4.4)", RECURRENCE_ADVICE,
              lambda f: close(_probe_bias(f)[0], _db_without_recurrence(*PROBE.build()))),
)


def _bptt_complex_step(f: SimpleNamespace, case: Case) -> None:
    problem = case.build()
    _, grads, _ = f.gradients(*problem)
    prop.assert_gradients_close(grads, complex_step_gradients(*problem), prop.COMPLEX_RTOL,
                                prop.COMPLEX_ATOL, "complex-step derivatives")


def _bptt_large(f: SimpleNamespace, case: Case) -> None:
    problem = same_targets(case)
    _, grads, _ = f.gradients(*problem)
    prop.assert_gradients_close(grads, complex_step_gradients(*problem), prop.COMPLEX_RTOL,
                                prop.COMPLEX_ATOL, "complex-step derivatives")


def _bptt_reference(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    loss, _, h = f.gradients(rnn, x, y, h0)
    expected = sequence_loss(rnn, x, y, h0)
    assert np.isclose(loss, expected, rtol=1e-10, atol=0), (
        f"loss {loss}, charrnn_edu.loss.sequence_loss gives {expected}")
    np.testing.assert_allclose(h, forward(rnn, x, h0).h, rtol=1e-10, atol=1e-12,
                               err_msg="the last hidden state")


def _probe_bptt(f: SimpleNamespace, problem: prop.Problem | None = None) -> tuple:
    problem = PROBE.build() if problem is None else problem
    loss, grads, h = f.gradients(*problem)
    return loss, grads, gradients(*problem)[1], problem


def _bptt_clipped(f: SimpleNamespace) -> bool:
    _, grads, ref, _ = _probe_bptt(f, same_targets(LONG))
    return gradients_close(grads, clip(ref, 5.0)) and not gradients_close(grads, ref)


def _bptt_dc_off_by_target(f: SimpleNamespace) -> bool:
    _, grads, ref, problem = _probe_bptt(f)
    return _dc_off_by_target(grads.c, ref, problem)


def _bptt_dW_transposed(f: SimpleNamespace) -> bool:
    _, grads, ref, _ = _probe_bptt(f)
    return close(grads.W, ref.W.T) and not close(grads.W, ref.W)


def _bptt_drops_h0(f: SimpleNamespace) -> bool:
    _, grads, ref, problem = _probe_bptt(f)
    _, dropped, _ = prop.textbook_gradients(*problem, drop_h0_from_dW=True)
    return close(grads.W, dropped.W, 1e-8, 1e-10) and not close(grads.W, ref.W, 1e-8, 1e-10)


BPTT_DIAGNOSES = (
    Diagnosis("dc-without-target", "dL/dc off by the one-hot target", DC_TARGET_ADVICE,
              _bptt_dc_off_by_target),
    Diagnosis("h0-dropped-from-dW", "h0 left out of dL/dW",
              "dL/dW misses the first step's term dL/da_1 h_0^T (4.6): the sum runs over "
              "t = 1..tau with h_0 the given h0 (stack h0 before H[:, :-1]). It vanishes only "
              "when h0 = 0, which is why the checks also use a random h0.",
              _bptt_drops_h0),
    Diagnosis("clipped-in-bptt", "gradient clipped before the check",
              "Your gradients are the true ones clipped to [-5, 5]. Clipping changes the "
              "gradient, so a check of clipped gradients checks the wrong thing: return the "
              "raw gradients and clip in the optimiser (chapter 6).",
              _bptt_clipped),
    Diagnosis("dW-transposed", "dL/dW transposed",
              "dL/dW = sum_t dL/da_t h_{t-1}^T (4.6): rows belong to a_t, columns to h_{t-1}. "
              "Yours is its transpose.",
              _bptt_dW_transposed),
    Diagnosis("db-without-recurrence", "dL/db without the W^T term of (4.4)", RECURRENCE_ADVICE,
              lambda f: close(_probe_bptt(f)[1].b, _db_without_recurrence(*PROBE.build()))),
)


# ---------------------------------------------------------------- chapter 5: gradcheck

def _numerical_unchanged(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    before = rnn.copy()
    grads = f.numerical_gradients(rnn, x, y, h0, prop.NUMERICAL_STEP)
    for name, a, b in zip(RNN.names(), rnn, before, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"numerical_gradients changed {name}")
    for name, g, theta in zip(RNN.names(), grads, rnn, strict=True):
        assert g.shape == theta.shape, f"d{name} has shape {g.shape}, {name} has {theta.shape}"


def _numerical_complex_step(f: SimpleNamespace, case: Case) -> None:
    problem = case.build()
    grads = f.numerical_gradients(*problem, prop.NUMERICAL_STEP)
    prop.assert_gradients_close(grads, complex_step_gradients(*problem), prop.CENTRED_RTOL,
                                prop.CENTRED_ATOL, "complex-step derivatives")


def _numerical_reference(f: SimpleNamespace, case: Case) -> None:
    problem = case.build()
    grads = f.numerical_gradients(*problem, prop.NUMERICAL_STEP)
    prop.assert_gradients_close(grads, numerical_gradients(*problem, step=prop.NUMERICAL_STEP),
                                prop.CENTRED_RTOL, prop.CENTRED_ATOL,
                                "charrnn_edu.gradcheck.numerical_gradients")


def _one_sided(problem: prop.Problem, step: float, sign: float) -> RNN:
    """(L(θ + sign h) - L(θ)) / (sign h): the forward (sign 1) or backward (-1) difference."""
    model = problem.rnn.copy()
    base = sequence_loss(model, problem.x, problem.y, problem.h0)
    grads = model.map(np.zeros_like)
    for theta, g in zip(model, grads, strict=True):
        for index in np.ndindex(theta.shape):
            old = theta[index]
            theta[index] = old + sign * step
            loss = sequence_loss(model, problem.x, problem.y, problem.h0)
            g[index] = (loss - base) / (sign * step)
            theta[index] = old
    return grads


def _probe_numerical(f: SimpleNamespace) -> tuple[RNN, RNN, prop.Problem, prop.Problem]:
    problem = PROBE.build()
    before = prop.Problem(problem.rnn.copy(), *problem[1:])
    return f.numerical_gradients(*problem, 1e-4), complex_step_gradients(*before), problem, before


def _one_sided_difference(f: SimpleNamespace) -> bool:
    grads, exact, _, problem = _probe_numerical(f)
    return (not gradients_close(grads, exact, 1e-7, 1e-9)
            and any(gradients_close(grads, _one_sided(problem, 1e-4, sign), 1e-7, 1e-9)
                    for sign in (1.0, -1.0)))


def _numerical_not_restored(f: SimpleNamespace) -> bool:
    _, _, after, before = _probe_numerical(f)
    return not gradients_close(after.rnn, before.rnn, 0, 0)


def _numerical_divided_by_h(f: SimpleNamespace) -> bool:
    grads, exact, _, _ = _probe_numerical(f)
    return gradients_close(grads, exact.map(lambda g: 2 * g), 1e-6, 1e-8)


NUMERICAL_DIAGNOSES = (
    Diagnosis("one-sided-difference", "forward difference instead of centred",
              "Your derivatives are (L(θ + h) - L(θ)) / h, whose error is O(h). The centred "
              "difference (L(θ + h) - L(θ - h)) / (2h) of (5.1) cancels the h^2 term of the "
              "Taylor series: its error is O(h^2), a thousand times smaller at h = 1e-4.",
              _one_sided_difference),
    Diagnosis("not-restored", "θ not restored after perturbing it",
              "numerical_gradients changed the model it was given: after evaluating L(θ + h) "
              "and L(θ - h), put the element back to its old value (or perturb a copy, "
              "rnn.copy()), or every later derivative is taken at the wrong point.",
              _numerical_not_restored),
    Diagnosis("divided-by-h", "divided by h instead of 2h",
              "Your centred differences are twice the derivative: L(θ + h) and L(θ - h) are "
              "2h apart, so divide their difference by 2h.",
              _numerical_divided_by_h),
)


def _relative_error_known_values(f: SimpleNamespace) -> None:
    prop.check_relative_error_known_values(f.relative_error)


def _relative_error_reference(f: SimpleNamespace, pair: tuple) -> None:
    g_a, g_n, eps = pair
    np.testing.assert_allclose(f.relative_error(g_a, g_n, eps), relative_error(g_a, g_n, eps),
                               rtol=1e-14, atol=0)


def _relative_error_is(f: SimpleNamespace, wrong: Callable) -> bool:
    g_a, g_n, eps = np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, 0.25]), 0.5
    with np.errstate(all="ignore"):
        e = f.relative_error(g_a, g_n, eps)
        return close(e, wrong(g_a, g_n, eps)) and not close(e, relative_error(g_a, g_n, eps))


def _no_floor(f: SimpleNamespace) -> bool:
    with np.errstate(all="ignore"):
        e = f.relative_error(np.zeros(2), np.zeros(2), 1e-6)
    return not np.all(np.isfinite(e))


RELATIVE_ERROR_DIAGNOSES = (
    Diagnosis("eps-added", "eps added to the denominator",
              "eps is a floor for the denominator, not an offset: divide by "
              "max(eps, |g_a| + |g_n|) (np.maximum element-wise), so eps only matters where "
              "both gradients are almost 0.",
              lambda f: _relative_error_is(
                  f, lambda a, n, eps: np.abs(a - n) / (np.abs(a) + np.abs(n) + eps))),
    Diagnosis("abs-of-sum", "|g_a + g_n| in the denominator",
              "The denominator is |g_a| + |g_n|, the sum of the absolute values. |g_a + g_n| "
              "is 0 when the two have opposite signs, and the error then explodes.",
              lambda f: _relative_error_is(
                  f, lambda a, n, eps: np.abs(a - n) / np.maximum(eps, np.abs(a + n)))),
    Diagnosis("max-not-sum", "max(|g_a|, |g_n|) in the denominator",
              "The report's (5.2) divides by the sum |g_a| + |g_n|, not by the larger of the "
              "two (a variant some courses use): the numbers differ by up to a factor 2.",
              lambda f: _relative_error_is(
                  f, lambda a, n, eps: np.abs(a - n)
                  / np.maximum(eps, np.maximum(np.abs(a), np.abs(n))))),
    Diagnosis("no-floor", "no eps floor: 0 / 0",
              "Where both gradients are exactly 0 you divide 0 by 0. Floor the denominator: "
              "np.maximum(eps, np.abs(g_a) + np.abs(g_n)).",
              _no_floor),
)


# ---------------------------------------------------------------- chapter 6: clip and AdaGrad

CLIP_EXAMPLE = RNN(b=np.array([[-7.0], [2.0]]), c=np.array([[5.0], [-5.0], [6.5]]),
                   U=np.array([[1.0, -9.0, 0.0], [4.99, 5.01, -5.01]]), W=np.zeros((2, 2)),
                   V=np.full((3, 2), -100.0))


def _clip_rejects(f: SimpleNamespace) -> None:
    for bound in (0.0, -1.0, math.nan):
        prop.check_clip_rejects_bound(f.clip, CLIP_EXAMPLE.copy(), bound)


def _clip_reference(f: SimpleNamespace, grads_bound: tuple[RNN, float]) -> None:
    grads, bound = grads_bound
    for name, got, expected in zip(RNN.names(), f.clip(grads.copy(), bound), clip(grads, bound),
                                   strict=True):
        np.testing.assert_array_equal(got, expected, err_msg=f"d{name}")


def _clip_probe(f: SimpleNamespace) -> tuple[RNN, RNN]:
    grads = CLIP_EXAMPLE.copy()
    return grads, f.clip(grads, 5.0)


CLIP_DIAGNOSES = (
    Diagnosis("clip-in-place", "clip changed its input",
              "clip must leave the gradients it is given as they were and return new arrays: "
              "np.clip(g, -bound, bound) without out=, or grads.map(...). The caller may still "
              "need the raw gradient (to report its norm, or to check it).",
              lambda f: not gradients_close(_clip_probe(f)[0], CLIP_EXAMPLE, 0, 0)),
    Diagnosis("clip-one-side", "only one side clipped",
              "Clip both sides: every element into [-bound, bound] (np.clip(g, -bound, bound)).",
              lambda f: any(np.any(np.abs(np.asarray(c)) > 5.0) for c in _clip_probe(f)[1])),
)


def optimiser(adagrad_step: Callable) -> type:
    """The optimiser class the properties expect, around a learner's ``adagrad_step``.

    ``cls(eta=, eps=)`` has ``step(rnn, grads)`` and ``memory`` (None until the first step).
    """
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


def _adagrad_property(check: Callable, steps: Callable[[list[RNN]], Any] = lambda g: g,
                      zero_steps: bool = False) -> Callable:
    def body(f: SimpleNamespace, run: tuple) -> None:
        seed, (m, K), n, eta, eps = run
        rnn, grads = prop.random_problem(seed, m, K, n - 1 if zero_steps else n)
        check(optimiser(f.adagrad_step), rnn, steps(grads), eta, eps)
    return body


def _adagrad_reference(f: SimpleNamespace, run: tuple) -> None:
    seed, (m, K), n, eta, eps = run
    rnn, grads = prop.random_problem(seed, m, K, n)
    mine, theirs = optimiser(f.adagrad_step)(eta=eta, eps=eps), AdaGrad(eta=eta, eps=eps)
    expected = rnn.copy()
    for k, g in enumerate(grads, start=1):
        mine.step(rnn, g)
        theirs.step(expected, g)
        for name, got, want in zip(RNN.names(), rnn, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15,
                                       err_msg=f"{name} after step {k}")


def _adagrad_probe(f: SimpleNamespace) -> tuple[RNN, RNN, list[RNN], RNN]:
    """Two steps with eta 0.5, eps 1: the learner's parameters and memory, and the inputs."""
    rnn, grads = prop.random_problem(3, 2, 3, 2, zero_fraction=0.0)
    start = rnn.copy()
    memory = rnn.map(np.zeros_like)
    for g in grads:
        f.adagrad_step(rnn, g, memory, 0.5, 1.0)
    return rnn, memory, grads, start


def _adagrad_is(f: SimpleNamespace, update: Callable) -> bool:
    """The learner's parameters after two steps equal ``update(theta, g, m, eta, eps)``'s."""
    rnn, _, grads, start = _adagrad_probe(f)
    theta, memory = [a.copy() for a in start], [np.zeros_like(a) for a in start]
    for g in grads:
        for i, gi in enumerate(g):
            memory[i] = memory[i] + gi * gi
            theta[i] = update(theta[i], gi, memory[i], 0.5, 1.0)
    return all(close(a, b) for a, b in zip(rnn, theta, strict=True))


def _memory_replaced(f: SimpleNamespace) -> bool:
    _, memory, grads, _ = _adagrad_probe(f)
    return all(close(m, g * g) for m, g in zip(memory, grads[-1], strict=True))


def _not_in_place(f: SimpleNamespace) -> bool:
    rnn, memory, _, start = _adagrad_probe(f)
    return gradients_close(rnn, start, 0, 0) or not any(np.any(m) for m in memory)


ADAGRAD_DIAGNOSES = (
    Diagnosis("eps-outside-sqrt", "epsilon placed outside the square root",
              "Your step divides by sqrt(m) + eps. The report (and min-char-rnn) put eps inside "
              "the root, (6.3): theta -= eta * g / np.sqrt(m + eps). With eps = 1e-8 the two "
              "differ only while m is tiny, but they are different optimisers.",
              lambda f: _adagrad_is(f, lambda t, g, m, eta, eps: t - eta * g / (np.sqrt(m) + eps))),
    Diagnosis("memory-replaced", "memory replaced, not accumulated",
              "m_theta must accumulate every squared gradient so far, (6.2): m += g * g. "
              "Yours holds only the last one, so the step sizes never shrink.",
              _memory_replaced),
    Diagnosis("not-in-place", "parameters or memory not updated in place",
              "theta = theta - ... (or m = m + ...) makes a new array and binds it to a local "
              "name; the caller's array does not change. Update in place: theta -= ..., "
              "m += g * g (or theta[...] = ...).",
              _not_in_place),
    Diagnosis("no-sqrt", "divided by m, not by its square root",
              "(6.3) divides by sqrt(m + eps), not by m + eps: the step must have the units "
              "of eta, whatever the scale of g.",
              lambda f: _adagrad_is(f, lambda t, g, m, eta, eps: t - eta * g / (m + eps))),
)


# ---------------------------------------------------------------- chapter 7: sampling

temperatures = st.floats(0.05, 5.0)


def _temperature_shapes(f: SimpleNamespace, case_t: tuple[Case, float]) -> None:
    case, T = case_t
    rnn, x, _, h0 = case.build()
    h, p = f.next_distribution(rnn, h0, int(x[0]), T)
    assert np.shape(h) == (rnn.m, 1), f"h has shape {np.shape(h)}, expected {(rnn.m, 1)}"
    assert np.shape(p) == (rnn.K,), f"p has shape {np.shape(p)}, expected {(rnn.K,)}"
    assert np.all(p >= 0), f"negative probabilities in p = {p}"
    assert np.isclose(np.sum(p), 1.0, rtol=1e-12, atol=0), f"p sums to {np.sum(p)}, not 1"


def _temperature_step(f: SimpleNamespace, case_t: tuple[Case, float]) -> None:
    case, T = case_t
    rnn, x, _, h0 = case.build()
    h, p = f.next_distribution(rnn, h0, int(x[0]), T)
    h_ref, o = reference_step(rnn, h0, int(x[0]))
    e = np.exp((o - o.max()) / T)
    np.testing.assert_allclose(h, h_ref, rtol=1e-10, atol=1e-12, err_msg="the new h")
    np.testing.assert_allclose(p, e / e.sum(), rtol=1e-10, atol=1e-14,
                               err_msg="p = softmax(o / T)")


def _entropy(p: np.ndarray) -> float:
    p = np.asarray(p)
    return float(-np.sum(p[p > 0] * np.log(p[p > 0])))


def _temperature_sharpens(f: SimpleNamespace, case_ts: tuple[Case, float, float]) -> None:
    case, T1, T2 = case_ts
    cold, hot = sorted((T1, T2))
    rnn, x, _, h0 = case.build()
    _, p_cold = f.next_distribution(rnn, h0, int(x[0]), cold)
    _, p_hot = f.next_distribution(rnn, h0, int(x[0]), hot)
    assert _entropy(p_cold) <= _entropy(p_hot) + 1e-12, (
        f"entropy {_entropy(p_cold):.6g} at T = {cold:.4g} is above {_entropy(p_hot):.6g} at "
        f"T = {hot:.4g}: a lower temperature must sharpen p")


def _temperature_reference(f: SimpleNamespace, case_t: tuple[Case, float]) -> None:
    case, T = case_t
    rnn, x, _, h0 = case.build()
    h, p = f.next_distribution(rnn, h0, int(x[0]), T)
    h_ref, p_ref = next_distribution(rnn, h0, int(x[0]), T)
    np.testing.assert_allclose(h, h_ref, rtol=1e-10, atol=1e-12, err_msg="h")
    np.testing.assert_allclose(p, p_ref, rtol=1e-10, atol=1e-14, err_msg="p")


def _temperature_is(f: SimpleNamespace, wrong: Callable[[np.ndarray, float], np.ndarray]) -> bool:
    rnn, x, _, h0 = PROBE.build()
    _, p = f.next_distribution(rnn, h0, int(x[0]), 0.5)
    _, o = reference_step(rnn, h0, int(x[0]))
    return close(p, wrong(o, 0.5)) and not close(p, next_distribution(rnn, h0, int(x[0]), 0.5)[1])


def _soft(o: np.ndarray) -> np.ndarray:
    return softmax(o.reshape(-1, 1))[:, 0]


TEMPERATURE_DIAGNOSES = (
    Diagnosis("temperature-multiplied", "logits multiplied by T, not divided",
              "p = softmax(o / T): divide the logits by T. Multiplying makes T < 1 flatten p "
              "instead of sharpening it.",
              lambda f: _temperature_is(f, lambda o, T: _soft(o * T))),
    Diagnosis("temperature-after-softmax", "T applied after the softmax",
              "Divide the logits by T *before* the softmax, p = softmax(o / T). Dividing p by T "
              "afterwards gives numbers that no longer sum to 1.",
              lambda f: _temperature_is(f, lambda o, T: _soft(o) / T)),
    Diagnosis("temperature-ignored", "temperature ignored",
              "p does not change with T: scale the logits, o / T, before the softmax.",
              lambda f: _temperature_is(f, lambda o, T: _soft(o))),
)


@st.composite
def distributions_and_top_p(draw: st.DrawFn, zeros: bool = False) -> tuple[np.ndarray, float]:
    """A distribution p (K,) and a top_p in (0, 1]."""
    return draw(distributions(zeros=zeros)), draw(st.floats(1e-9, 1.0))


def _nucleus_reference(f: SimpleNamespace, p_top: tuple[np.ndarray, float]) -> None:
    p, top_p = p_top
    sorted_mass = np.cumsum(np.sort(p)[::-1])
    if np.any(np.abs(sorted_mass - top_p) < 1e-9):
        return                                  # top_p on a partial sum: rounding decides
    np.testing.assert_allclose(f.nucleus(p.copy(), top_p), nucleus(p, top_p), rtol=1e-12,
                               atol=1e-14)


NUCLEUS_PROBE = np.array([0.2, 0.5, 0.3])


def _nucleus_is(f: SimpleNamespace, expected: list[float]) -> bool:
    return close(f.nucleus(NUCLEUS_PROBE.copy(), 0.6), expected)


def _nucleus_changes_p(f: SimpleNamespace) -> bool:
    p = NUCLEUS_PROBE.copy()
    f.nucleus(p, 0.6)
    return not close(p, NUCLEUS_PROBE, 0, 0)


NUCLEUS_DIAGNOSES = (
    Diagnosis("crossing-character-dropped", "drops the character that reaches top_p",
              "Keep the character whose probability makes the mass reach top_p: the kept set "
              "is the most likely characters whose mass *before* them is below top_p "
              "(np.cumsum(p_sorted) - p_sorted < top_p), so the most likely one is always kept.",
              lambda f: _nucleus_is(f, [0.0, 1.0, 0.0])),
    Diagnosis("not-renormalised", "kept probabilities not renormalised",
              "After zeroing the other characters, divide by the kept mass so q sums to 1.",
              lambda f: _nucleus_is(f, [0.0, 0.5, 0.3])),
    Diagnosis("least-likely-kept", "sorted the wrong way",
              "The nucleus is the *most* likely characters: sort by decreasing probability, "
              "np.argsort(-p).",
              lambda f: f.nucleus(NUCLEUS_PROBE.copy(), 0.6)[0] > 0),
    Diagnosis("nucleus-changed-p", "nucleus changed p",
              "nucleus must leave p as it was: work on a copy (np.zeros_like(p), then fill).",
              _nucleus_changes_p),
)


# ---------------------------------------------------------------- every exercise's checks

CHECKS: dict[str, tuple[Check, ...]] = {
    "encoding": (
        Check("vocabulary", "vocabulary(text) holds each character of text once, sorted",
              lambda f, text: prop.check_vocabulary(f.vocabulary, text), st.text(min_size=1)),
        Check("round trip", "decode(encode(s)) == s, ids int64 positions in the vocabulary",
              _encoding_roundtrip, corpus_and_text(), labels=("corpus", "s")),
        Check("matches package", "agrees with charrnn_edu.encoding.Vocabulary",
              _encoding_reference, corpus_and_text(), labels=("corpus", "s")),
    ),
    "one-hot": (
        Check("one-hot columns", "shape (K, tau), one 1 per column, at row x_t",
              lambda f, ids_K: prop.check_one_hot_properties(f.one_hot, *ids_K), id_sequences(),
              labels=("ids", "K")),
        Check("matches package", "agrees with charrnn_edu.encoding.one_hot",
              lambda f, ids_K: np.testing.assert_array_equal(f.one_hot(*ids_K), one_hot(*ids_K)),
              id_sequences(), labels=("ids", "K")),
    ),
    "softmax": (
        Check("distribution", "columns positive, summing to 1, unchanged by a constant shift",
              lambda f, o_s: prop.check_softmax_properties(f.softmax, *o_s), logits_and_shifts(),
              labels=("o", "shift")),
        Check("extreme logits", "logits of +-1000 give exactly 1, 0 and 0.5, no overflow",
              lambda f: prop.check_softmax_extreme_logits(f.softmax),
              fixed="o = [[1000, -1000, 1000, -1000], [-1000, 1000, 1000, -1000]]"),
        Check("matches package", "agrees with charrnn_edu.forward.softmax",
              lambda f, o_s: np.testing.assert_allclose(f.softmax(o_s[0]), softmax(o_s[0]),
                                                        rtol=prop.RTOL, atol=prop.ATOL),
              logits_and_shifts(), labels=("o", "shift (unused)")),
    ),
    "forward": (
        Check("shapes and ranges",
              "H (m, tau) in (-1, 1), P (K, tau) columns sum to 1, h = H[:, -1:]",
              _forward_properties, cases()),
        Check("chaining", "two passes over the halves, carrying h, equal one pass",
              _forward_chaining, cases_and_splits(), labels=("case", "split")),
        Check("complex parameters",
              "complex parameters, imaginary part 0, give the real pass (for chapter 5)",
              _forward_complex, cases()),
        Check("matches package", "agrees with charrnn_edu.forward.forward, h0 zero or random",
              _forward_reference, cases()),
    ),
    "cross-entropy": (
        Check("sum of steps", "L = -sum_t ln p_t[y_t], summed over the tau steps",
              _cross_entropy_sum, cases()),
        Check("uniform loss", "a model that knows nothing (p uniform) has L = tau ln K",
              lambda f, case: prop.check_uniform_loss(
                  lambda rnn, x, y, h0: f.cross_entropy(forward(rnn, x, h0).P, y),
                  *case.build()),
              cases()),
        Check("matches package", "agrees with charrnn_edu.loss.cross_entropy",
              _cross_entropy_reference, distributions_and_targets(), labels=("P", "y")),
    ),
    "bias-gradients": (
        Check("shapes", "dL/db is (m, 1) and dL/dc is (K, 1)", _bias_shapes, small_cases()),
        Check("dL/dc", "dL/dc = sum_t (p_t - onehot(y_t)), (4.1) and (4.3)",
              lambda f, case: prop.check_output_bias_gradient(
                  _as_gradients(f.bias_gradients), forward, one_hot, *case.build()),
              small_cases()),
        Check("complex step", "dL/db and dL/dc equal complex-step derivatives, h0 zero or "
              "random", _bias_complex_step, small_cases()),
    ),
    "bptt": (
        Check("shapes", "every gradient has its parameter's shape, h is (m, 1)",
              lambda f, case: prop.check_gradient_shapes(f.gradients, *case.build()),
              small_cases()),
        Check("dL/dc", "dL/dc = sum_t (p_t - onehot(y_t)), (4.1) and (4.3)",
              lambda f, case: prop.check_output_bias_gradient(f.gradients, forward, one_hot,
                                                              *case.build()),
              small_cases()),
        Check("complex step", "all five gradients equal complex-step derivatives, h0 zero or "
              "random", _bptt_complex_step, small_cases()),
        Check("large gradients", "gradients past the clip bound 5 come back unclipped "
              "(y all one character)", _bptt_large,
              small_cases(min_tau=12, max_tau=20, max_sigma=0.3)),
        Check("loss and h", "the loss and last hidden state agree with charrnn_edu",
              _bptt_reference, small_cases()),
    ),
    "numerical-gradients": (
        Check("model unchanged", "shapes of the parameters; the model is left as it was",
              _numerical_unchanged, small_cases()),
        Check("complex step", "equal complex-step derivatives to O(h^2), h = 3e-5",
              _numerical_complex_step, small_cases()),
        Check("matches package", "agrees with charrnn_edu.gradcheck.numerical_gradients",
              _numerical_reference, small_cases()),
    ),
    "relative-error": (
        Check("formula", "(5.2) element by element, every error in [0, 1]",
              lambda f, pair: prop.check_relative_error_formula(f.relative_error, *pair),
              gradient_pairs(), labels=("g_a", "g_n", "eps")),
        Check("known values", "0 when both are 0, |g_a| / eps below the floor, 1 for opposite "
              "signs", _relative_error_known_values,
              fixed="g_a = [0, 1e-8, 1, 1, -1], g_n = [0, 0, 1, 3, 1], eps = 1e-6"),
        Check("matches package", "agrees with charrnn_edu.gradcheck.relative_error",
              _relative_error_reference, gradient_pairs(), labels=("g_a", "g_n", "eps")),
    ),
    "clip": (
        Check("clipped", "all in [-bound, bound], in-range elements unchanged, input untouched",
              lambda f, g_b: prop.check_clip_properties(f.clip, *g_b),
              st.tuples(gradient_sets(), st.floats(0.01, 20.0)), labels=("grads", "bound")),
        Check("bad bound", "a bound of 0, -1 or nan raises ValueError naming the bound",
              _clip_rejects, fixed="bound = 0, -1 and nan"),
        Check("matches package", "agrees with charrnn_edu.adagrad.clip", _clip_reference,
              st.tuples(gradient_sets(), st.floats(0.01, 20.0)), labels=("grads", "bound")),
    ),
    "adagrad": (
        Check("zero gradient", "a zero gradient changes nothing; parameters updated in place",
              _adagrad_property(prop.check_zero_gradient_changes_nothing, zero_steps=True),
              adagrad_runs, labels=ADAGRAD_LABELS),
        Check("memory", "memory is the running sum of g^2, (6.2)",
              _adagrad_property(prop.check_memory_is_sum_of_squares), adagrad_runs,
              labels=ADAGRAD_LABELS),
        Check("first step", "the first step moves each element by less than eta, against g",
              _adagrad_property(prop.check_first_step, lambda g: g[0]), adagrad_runs,
              labels=ADAGRAD_LABELS),
        Check("update", "theta - eta g / sqrt(m + eps) at every step, (6.3)",
              _adagrad_property(prop.check_update_formula),
              st.tuples(seeds, sizes, st.integers(1, 4), etas, st.floats(0.1, 4.0)),
              labels=ADAGRAD_LABELS),
        Check("matches package", "agrees with charrnn_edu.adagrad.AdaGrad", _adagrad_reference,
              adagrad_runs, labels=ADAGRAD_LABELS),
    ),
    "temperature": (
        Check("shapes", "h is (m, 1), p is (K,), a distribution", _temperature_shapes,
              st.tuples(cases(), temperatures), labels=("case", "T")),
        Check("one step", "h and p = softmax(o / T) equal the textbook step (2.1)-(2.3)",
              _temperature_step, st.tuples(cases(), temperatures), labels=("case", "T")),
        Check("sharpening", "a lower temperature never makes p flatter (entropy falls with T)",
              _temperature_sharpens, st.tuples(cases(min_sigma=0.1), temperatures, temperatures),
              labels=("case", "T1", "T2")),
        Check("matches package", "agrees with charrnn_edu.sampling.next_distribution",
              _temperature_reference, st.tuples(cases(), temperatures), labels=("case", "T")),
    ),
    "top-p": (
        Check("nucleus", "p renormalised on the smallest most likely set of mass >= top_p",
              lambda f, p_t: prop.check_nucleus_properties(f.nucleus, *p_t),
              distributions_and_top_p(), labels=("p", "top_p")),
        Check("with zeros", "the same when some characters have probability 0",
              lambda f, p_t: prop.check_nucleus_properties(f.nucleus, *p_t),
              distributions_and_top_p(zeros=True), labels=("p", "top_p")),
        Check("top_p = 1", "top_p = 1 keeps p as it is",
              lambda f, p: np.testing.assert_allclose(f.nucleus(p.copy(), 1.0), p, rtol=1e-12,
                                                      atol=1e-15),
              distributions()),
        Check("matches package", "agrees with charrnn_edu.sampling.nucleus", _nucleus_reference,
              distributions_and_top_p(), labels=("p", "top_p")),
    ),
}

DIAGNOSES: dict[str, tuple[Diagnosis, ...]] = {
    "encoding": ENCODING_DIAGNOSES, "one-hot": ONE_HOT_DIAGNOSES, "softmax": SOFTMAX_DIAGNOSES,
    "forward": FORWARD_DIAGNOSES, "cross-entropy": CROSS_ENTROPY_DIAGNOSES,
    "bias-gradients": BIAS_DIAGNOSES, "bptt": BPTT_DIAGNOSES,
    "numerical-gradients": NUMERICAL_DIAGNOSES, "relative-error": RELATIVE_ERROR_DIAGNOSES,
    "clip": CLIP_DIAGNOSES, "adagrad": ADAGRAD_DIAGNOSES, "temperature": TEMPERATURE_DIAGNOSES,
    "top-p": NUCLEUS_DIAGNOSES,
}
assert set(CHECKS) == set(DIAGNOSES) == {e.name for e in EXERCISES}
