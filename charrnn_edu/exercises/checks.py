r"""The checks of every exercise, and the probes that find which mistake a learner made.

A :class:`Check` is a property of :mod:`~charrnn_edu.exercises.properties` (the package's
tests use the same) or a comparison with the package, fed by a Hypothesis strategy or one
fixed case. It runs in this process: ``f.softmax(o)`` sends ``o`` to the learner's function
wherever that runs and brings the result back, so every comparison uses this process's numpy.
The step exercises compare each output of one time step with the package and with
complex-step derivatives, so a wrong output is pinned to the equation that makes it.

A *probe* calls the learner's functions on fixed inputs where each mistake of
:mod:`~charrnn_edu.exercises.mistakes` has outputs of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import bptt
from charrnn_edu.adagrad import clip
from charrnn_edu.encoding import Vocabulary, one_hot
from charrnn_edu.exercises import properties as prop
from charrnn_edu.exercises.properties import Case, assert_close
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
from charrnn_edu.forward import RNN, forward, softmax, step
from charrnn_edu.gradcheck import COMPLEX_STEP, complex_step_gradients
from charrnn_edu.gradcheck import relative_error as package_relative_error
from charrnn_edu.loss import sequence_loss
from charrnn_edu.sampling import nucleus

__all__ = ["Check", "CHECKS", "PROBES", "step_problem", "one_step_derivatives"]


@dataclass(frozen=True)
class Check:
    """One check of an exercise.

    Attributes
    ----------
    name, what : str
        A few words, unique within the exercise, and the property in one line.
    body : callable
        ``body(f, example)`` raises when the property fails for ``example`` (``body(f)`` for
        a fixed case); ``f`` holds the learner's functions as attributes.
    strategy : SearchStrategy or None
        Where the examples come from; None for one fixed case, described by ``fixed``.
    labels : tuple of str
        Names of the parts of a tuple example, to show it as ``ids = [], K = 1``.
    """

    name: str
    what: str
    body: Callable[..., None]
    strategy: st.SearchStrategy | None = None
    fixed: str = ""
    labels: tuple[str, ...] = ()


def small_cases(**kwargs: Any) -> st.SearchStrategy[Case]:
    """Problems small enough for element-wise derivatives on every example."""
    return cases(**{"max_m": 5, "max_K": 6, "max_tau": 8, **kwargs})


def pinned(outputs: list[tuple[str, Any, Any]], rtol: float, atol: float) -> None:
    """Compare each (label, got, expected) in equation order; name the first wrong one."""
    failures = []
    for label, got, expected in outputs:
        try:
            assert_close(got, expected, rtol, atol, what=label)
        except AssertionError as err:
            failures.append((label, str(err)))
    if failures:
        right = [label.split(" (")[0] for label, _, _ in outputs
                 if label not in dict(failures)]
        raise AssertionError(f"{failures[0][1]}; look there first"
                             + (f"; also wrong: {', '.join(f for f, _ in failures[1:])}"
                                if failures[1:] else "")
                             + (f"; right: {', '.join(right)}" if right else ""))


# ---------------------------------------------------------------- chapter 1

def _encoding_reference(f: SimpleNamespace, corpus_text: tuple[str, str]) -> None:
    corpus, s = corpus_text
    ref = Vocabulary.from_text(corpus)
    chars = f.vocabulary(corpus)
    assert chars == ref.chars, f"vocabulary({corpus!r}) = {chars!r}, expected {ref.chars!r}"
    assert_close(f.encode(s, ref.chars), ref.encode(s), what=f"encode({s!r})")
    text = f.decode(ref.encode(s), ref.chars)
    assert text == s, f"decode gave {text!r}, expected {s!r}"


@st.composite
def id_sequences(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Ids (tau,) in 0..K-1 from a drawn seed, and K; tau may be 0."""
    K, tau, seed = draw(st.integers(1, 12)), draw(st.integers(0, 12)), draw(seeds)
    return np.random.default_rng(seed).integers(0, K, tau), K


# ---------------------------------------------------------------- chapter 2

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
        assert_close(value, ref, prop.RTOL, prop.ATOL, what=f"the complex {name}")


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


# ---------------------------------------------------------------- chapter 3

@st.composite
def distributions_and_targets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """P (K, tau) with columns from logits of spread 5 (some tiny probabilities) and y."""
    K, tau, seed = draw(st.integers(2, 12)), draw(st.integers(1, 12)), draw(seeds)
    rng = np.random.default_rng(seed)
    return softmax(rng.normal(0.0, 5.0, (K, tau))), rng.integers(0, K, tau)


def _uniform_loss(f: SimpleNamespace, case: Case) -> None:
    prop.check_uniform_loss(lambda rnn, x, y, h0: f.cross_entropy(forward(rnn, x, h0).P, y),
                            *case.build())


# ---------------------------------------------------------------- chapter 4

def step_problem(case: Case) -> tuple:
    """The arguments of ``backward_step`` for one step of ``case``.

    The upstream da_next is random, and the sums do not start at 0, so that a step that
    overwrites them instead of adding to them shows.
    """
    rnn, x, y, h_prev = case.build()
    rng = np.random.default_rng(case.seed + 1)
    da_next = rng.standard_normal((case.m, 1))                                 # (m, 1)
    start = rnn.map(lambda a: rng.standard_normal(a.shape))
    now = step(rnn, h_prev, int(x[0]))
    return rnn, start, now.p, int(y[0]), now.h, h_prev, int(x[0]), da_next


def one_step_derivatives(rnn: RNN, p_t: np.ndarray, y_t: int, h_t: np.ndarray,
                         h_prev: np.ndarray, x_t: int, da_next: np.ndarray) -> RNN:
    r"""Complex-step derivatives, (5.3), of the loss of one step and what comes after it.

    The loss is :math:`\ell = -\ln p_t[y_t] + \delta^T W h_t` with the upstream term
    :math:`\delta` = ``da_next`` and the W of that term held fixed: then
    :math:`\partial\ell/\partial h_t = V^T g_t + W^T \delta`, as in (4.4), and the
    derivatives are this step's terms of (4.2)–(4.8); dL/db is dL/da_t.
    """
    model = rnn.map(lambda a: a.astype(complex))

    def loss() -> complex:
        now = step(model, h_prev, x_t)
        return -np.log(now.p[y_t, 0]) + (da_next.T @ rnn.W @ now.h)[0, 0]

    grads = rnn.map(np.zeros_like)
    for theta, g in zip(model, grads, strict=True):
        for i in np.ndindex(theta.shape):
            theta[i] += 1j * COMPLEX_STEP
            g[i] = loss().imag / COMPLEX_STEP
            theta[i] -= 1j * COMPLEX_STEP
    return grads


def _backward_step(reference: str) -> Callable[[SimpleNamespace, Case], None]:
    def body(f: SimpleNamespace, case: Case) -> None:
        rnn, start, *rest = step_problem(case)
        grads = start.copy()
        da = f.backward_step(rnn, grads, *rest)
        if reference == "package":
            exact = start.copy()
            exact_da = bptt.backward_step(rnn, exact, *rest)
            exact = exact.map(np.subtract, start)
        else:
            exact = one_step_derivatives(rnn, *rest)
            exact_da = exact.b
        mine = grads.map(lambda g, s: np.asarray(g) - s if np.shape(g) == s.shape else g, start)
        pinned([("dL/dV (4.2)", mine.V, exact.V), ("dL/dc (4.3)", mine.c, exact.c),
                ("dL/da_t (4.4)-(4.5)", da, exact_da), ("dL/dW (4.6)", mine.W, exact.W),
                ("dL/dU (4.7)", mine.U, exact.U), ("dL/db (4.8)", mine.b, exact.b)],
               1e-9, 1e-12)
    return body


def _bptt_against_complex_step(same_targets: bool = False) -> Callable:
    def body(f: SimpleNamespace, case: Case) -> None:
        rnn, x, y, h0 = case.build()
        y = np.full_like(y, y[0]) if same_targets else y   # dL/dc past 5: clipping shows
        _, grads, _ = f.gradients(rnn, x, y, h0)
        exact = complex_step_gradients(rnn, x, y, h0)
        pinned([(f"dL/d{n}", g, e) for n, g, e in zip(RNN.names(), grads, exact, strict=True)],
               1e-9, 1e-12)
    return body


def _bptt_reference(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    loss, _, h = f.gradients(rnn, x, y, h0)
    assert_close(loss, sequence_loss(rnn, x, y, h0), 1e-10, 0, what="the loss")
    assert_close(h, forward(rnn, x, h0).h, 1e-10, 1e-12, what="the last hidden state")


# ---------------------------------------------------------------- chapter 5

def _numerical_unchanged(f: SimpleNamespace, case: Case) -> None:
    rnn, x, y, h0 = case.build()
    before = rnn.copy()
    grads = f.numerical_gradients(rnn, x, y, h0, prop.NUMERICAL_STEP)
    for name, a, b in zip(RNN.names(), rnn, before, strict=True):
        assert_close(a, b, what=f"numerical_gradients changed {name}: {name}")
    for name, g, theta in zip(RNN.names(), grads, rnn, strict=True):
        assert np.shape(g) == theta.shape, f"d{name} has shape {np.shape(g)}, not {theta.shape}"


def _numerical_complex_step(f: SimpleNamespace, case: Case) -> None:
    problem = case.build()
    grads = f.numerical_gradients(*problem, prop.NUMERICAL_STEP)
    prop.assert_gradients_close(grads, complex_step_gradients(*problem), prop.CENTRED_RTOL,
                                prop.CENTRED_ATOL, "complex-step derivatives")


# ---------------------------------------------------------------- chapter 6

CLIP_EXAMPLE = RNN(b=np.array([[-7.0], [2.0]]), c=np.array([[5.0], [-5.0], [6.5]]),
                   U=np.array([[1.0, -9.0, 0.0], [4.99, 5.01, -5.01]]), W=np.zeros((2, 2)),
                   V=np.full((3, 2), -100.0))


def _clip_rejects(f: SimpleNamespace) -> None:
    for bound in (0.0, -1.0, math.nan):
        prop.check_clip_rejects_bound(f.clip, CLIP_EXAMPLE.copy(), bound)


def _clip_reference(f: SimpleNamespace, grads_bound: tuple[RNN, float]) -> None:
    grads, bound = grads_bound
    for name, got, expected in zip(RNN.names(), f.clip(grads, bound), clip(grads, bound),
                                   strict=True):
        assert_close(got, expected, what=f"d{name}")


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
ADAGRAD = ("seed", "(m, K)", "steps", "eta", "eps")


def _adagrad(check: Callable, first_only: bool = False, zero_steps: bool = False) -> Callable:
    def body(f: SimpleNamespace, run: tuple) -> None:
        seed, (m, K), n, eta, eps = run
        rnn, grads = prop.random_problem(seed, m, K, n - 1 if zero_steps else n)
        check(optimiser(f.adagrad_step), rnn, grads[0] if first_only else grads, eta, eps)
    return body


# ---------------------------------------------------------------- chapter 7

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


@st.composite
def distributions_and_top_p(draw: st.DrawFn, zeros: bool = False) -> tuple[np.ndarray, float]:
    """A distribution p (K,) and a top_p in (0, 1]."""
    return draw(distributions(zeros=zeros)), draw(st.floats(1e-9, 1.0))


def _nucleus_reference(f: SimpleNamespace, p_top: tuple[np.ndarray, float]) -> None:
    p, top_p = p_top
    if np.any(np.abs(np.cumsum(np.sort(p)[::-1]) - top_p) < 1e-9):
        return                                  # top_p on a partial sum: rounding decides
    assert_close(f.nucleus(p, top_p), nucleus(p, top_p), 1e-12, 1e-14, what="q")


# ---------------------------------------------------------------- every exercise's checks

STEP_CASES = small_cases(random_h0=st.just(True))
GRADS_BOUND = (st.tuples(gradient_sets(), st.floats(0.01, 20.0)), ("grads", "bound"))
CASE_T = (st.tuples(cases(), temperatures), ("case", "T"))
P_TOP = (distributions_and_top_p(), ("p", "top_p"))

CHECKS: dict[str, tuple[Check, ...]] = {
    "encoding": (
        Check("vocabulary", "vocabulary(text) holds each character of text once, sorted",
              lambda f, text: prop.check_vocabulary(f.vocabulary, text), st.text(min_size=1)),
        Check("round trip", "decode(encode(s)) == s, ids int64 positions in the vocabulary",
              lambda f, cs: prop.check_roundtrip(
                  lambda t: f.encode(t, Vocabulary.from_text(cs[0]).chars),
                  lambda ids: f.decode(ids, Vocabulary.from_text(cs[0]).chars),
                  Vocabulary.from_text(cs[0]).chars, cs[1]),
              corpus_and_text(), labels=("corpus", "s")),
        Check("matches package", "agrees with charrnn_edu.encoding.Vocabulary",
              _encoding_reference, corpus_and_text(), labels=("corpus", "s")),
    ),
    "one-hot": (
        Check("one-hot columns", "shape (K, tau), one 1 per column, at row x_t",
              lambda f, ids_K: prop.check_one_hot_properties(f.one_hot, *ids_K), id_sequences(),
              labels=("ids", "K")),
        Check("matches package", "agrees with charrnn_edu.encoding.one_hot",
              lambda f, ids_K: assert_close(f.one_hot(*ids_K), one_hot(*ids_K), what="X"),
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
              lambda f, o_s: assert_close(f.softmax(o_s[0]), softmax(o_s[0]), prop.RTOL,
                                          prop.ATOL, what="p"),
              logits_and_shifts(), labels=("o", "shift (unused)")),
    ),
    "forward-step": (
        Check("equations", "a, h (m, 1) and o, p (K, 1) each equal (2.1)-(2.4) of forward.step",
              _step_equations, cases()),
        Check("complex parameters", "complex parameters give complex a, h, o, p (chapter 5)",
              _step_complex, cases()),
    ),
    "forward": (
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
              _forward_reference, cases()),
    ),
    "cross-entropy": (
        Check("sum of steps", "L = -sum_t ln p_t[y_t], summed over the tau steps",
              lambda f, P_y: prop.check_cross_entropy_is_sum_of_steps(f.cross_entropy, *P_y),
              distributions_and_targets(), labels=("P", "y")),
        Check("uniform loss", "a model that knows nothing (p uniform) has L = tau ln K",
              _uniform_loss, cases()),
    ),
    "backward-step": (
        Check("complex step", "every output equals a complex-step derivative of the step's "
              "loss, upstream term included", _backward_step("complex"), STEP_CASES),
        Check("matches package", "every output agrees with charrnn_edu.bptt.backward_step",
              _backward_step("package"), STEP_CASES),
    ),
    "bptt": (
        Check("shapes", "every gradient has its parameter's shape, h is (m, 1)",
              lambda f, case: prop.check_gradient_shapes(f.gradients, *case.build()),
              small_cases()),
        Check("dL/dc", "dL/dc = sum_t (p_t - onehot(y_t)), (4.1) and (4.3)",
              lambda f, case: prop.check_output_bias_gradient(f.gradients, forward, one_hot,
                                                              *case.build()), small_cases()),
        Check("complex step", "all five gradients equal complex-step derivatives, h0 zero or "
              "random", _bptt_against_complex_step(), small_cases()),
        Check("large gradients", "gradients past the clip bound 5 come back unclipped "
              "(y all one character)", _bptt_against_complex_step(same_targets=True),
              small_cases(min_tau=12, max_tau=20, max_sigma=0.3)),
        Check("loss and h", "the loss and last hidden state agree with charrnn_edu",
              _bptt_reference, small_cases()),
    ),
    "numerical-gradients": (
        Check("model unchanged", "shapes of the parameters; the model is left as it was",
              _numerical_unchanged, small_cases()),
        Check("complex step", "equal complex-step derivatives to O(h^2), h = 3e-5",
              _numerical_complex_step, small_cases()),
    ),
    "relative-error": (
        Check("formula", "(5.2) element by element, every error in [0, 1]",
              lambda f, pair: prop.check_relative_error_formula(f.relative_error, *pair),
              gradient_pairs(), labels=("g_a", "g_n", "eps")),
        Check("known values", "0 when both are 0, |g_a| / eps below the floor, 1 for opposite "
              "signs", lambda f: prop.check_relative_error_known_values(f.relative_error),
              fixed="g_a = [0, 1e-8, 1, 1, -1], g_n = [0, 0, 1, 3, 1], eps = 1e-6"),
        Check("matches package", "agrees with charrnn_edu.gradcheck.relative_error",
              lambda f, pair: assert_close(f.relative_error(*pair),
                                           package_relative_error(*pair), 1e-14, 0, what="e"),
              gradient_pairs(), labels=("g_a", "g_n", "eps")),
    ),
    "clip": (
        Check("clipped", "all in [-bound, bound], in-range elements unchanged, input untouched",
              lambda f, g_b: prop.check_clip_properties(f.clip, *g_b), *GRADS_BOUND),
        Check("bad bound", "a bound of 0, -1 or nan raises ValueError naming the bound",
              _clip_rejects, fixed="bound = 0, -1 and nan"),
        Check("matches package", "agrees with charrnn_edu.adagrad.clip", _clip_reference,
              *GRADS_BOUND),
    ),
    "adagrad": (
        Check("zero gradient", "a zero gradient changes nothing; parameters updated in place",
              _adagrad(prop.check_zero_gradient_changes_nothing, zero_steps=True), adagrad_runs,
              labels=ADAGRAD),
        Check("memory", "memory is the running sum of g^2, (6.2)",
              _adagrad(prop.check_memory_is_sum_of_squares), adagrad_runs, labels=ADAGRAD),
        Check("first step", "the first step moves each element by less than eta, against g",
              _adagrad(prop.check_first_step, first_only=True), adagrad_runs, labels=ADAGRAD),
        Check("update", "theta - eta g / sqrt(m + eps) at every step, (6.3)",
              _adagrad(prop.check_update_formula),
              st.tuples(seeds, sizes, st.integers(1, 4), etas, st.floats(0.1, 4.0)),
              labels=ADAGRAD),
    ),
    "temperature": (
        Check("shapes", "h is (m, 1), p is (K,), a distribution", _temperature_shapes, *CASE_T),
        Check("one step", "h and p = softmax(o / T) equal the chapter's step (2.1)-(2.3)",
              _temperature_step, *CASE_T),
        Check("sharpening", "a lower temperature never makes p flatter (entropy falls with T)",
              _temperature_sharpens, st.tuples(cases(min_sigma=0.1), temperatures, temperatures),
              labels=("case", "T1", "T2")),
    ),
    "top-p": (
        Check("nucleus", "p renormalised on the smallest most likely set of mass >= top_p",
              lambda f, p_t: prop.check_nucleus_properties(f.nucleus, *p_t), *P_TOP),
        Check("with zeros", "the same when some characters have probability 0",
              lambda f, p_t: prop.check_nucleus_properties(f.nucleus, *p_t),
              distributions_and_top_p(zeros=True), labels=("p", "top_p")),
        Check("matches package", "agrees with charrnn_edu.sampling.nucleus", _nucleus_reference,
              *P_TOP),
    ),
}


# ---------------------------------------------------------------- probes
# Each probe takes ``outcome(name, *args)`` and returns what the functions did on its fixed
# inputs. m, K and tau all differ in PROBE, so a transpose shows; SQUARE has m = K, so a
# mistake that forgets a transpose there runs instead of failing on shapes.

PROBE = Case(seed=7, m=3, K=4, tau=6, sigma=0.5, random_h0=True)
SQUARE = Case(seed=5, m=3, K=3, tau=5, sigma=0.5, random_h0=True)
LONG = Case(seed=11, m=3, K=4, tau=20, sigma=0.2, random_h0=True)


def _long_same_targets() -> prop.Problem:
    rnn, x, y, h0 = LONG.build()
    return prop.Problem(rnn, x, np.full_like(y, (x[0] + 1) % LONG.K), h0)


def _adagrad_probe(outcome: Callable) -> list:
    rnn, grads = prop.random_problem(3, 2, 3, 2, zero_fraction=0.0)
    memory, seen = rnn.map(np.zeros_like), []
    for g in grads:
        seen.append(outcome("adagrad_step", rnn, g, memory, 0.5, 1.0))
        if seen[-1] != "raised":
            rnn, _, memory = seen[-1][1][:3]
    return seen


PROBES: dict[str, Callable[[Callable], list]] = {
    "encoding": lambda outcome: [outcome("vocabulary", "the quick brown fox, jumping"),
                                 outcome("encode", "abca", "abc"), outcome("encode", "", "abc"),
                                 outcome("decode", np.array([0, 2, 1]), "abc")],
    "one-hot": lambda outcome: [outcome("one_hot", np.array([0, 2, 2]), 4)],
    "softmax": lambda outcome: [outcome("softmax", np.array(o)) for o in (
        [[1.0, 2.0, 3.0], [4.0, 0.0, 1.0]], [[1000.0], [0.0]], [[0.0, -1000.0], [1.0, -1001.0]])],
    "forward-step": lambda outcome: [outcome("step", rnn, h0, int(x[1])) for rnn, x, _, h0 in
                                     (PROBE.build(), SQUARE.build())],
    "forward": lambda outcome: [outcome("forward", *args) for args in (
        _no_y(PROBE), (PROBE.build().rnn.map(lambda a: a.astype(complex)), PROBE.build().x,
                       PROBE.build().h0.astype(complex)))],
    "cross-entropy": lambda outcome: [outcome("cross_entropy", forward(rnn, x, h0).P, y)
                                      for rnn, x, y, h0 in (PROBE.build(),)],
    "backward-step": lambda outcome: [outcome("backward_step", *step_problem(case))
                                      for case in (PROBE, SQUARE)],
    "bptt": lambda outcome: [outcome("gradients", *problem) for problem in (
        PROBE.build(), SQUARE.build(), _long_same_targets())],
    "numerical-gradients": lambda outcome: [outcome("numerical_gradients", *PROBE.build(),
                                                    1e-4)],
    "relative-error": lambda outcome: [
        outcome("relative_error", np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, 0.25]), 0.5),
        outcome("relative_error", np.zeros(2), np.zeros(2), 1e-6)],
    "clip": lambda outcome: [outcome("clip", CLIP_EXAMPLE.copy(), 5.0)],
    "adagrad": _adagrad_probe,
    "temperature": lambda outcome: [outcome("next_distribution", rnn, h0, int(x[0]), 0.5)
                                    for rnn, x, _, h0 in (PROBE.build(),)],
    "top-p": lambda outcome: [outcome("nucleus", np.array(p), top) for p, top in (
        ([0.2, 0.5, 0.3], 0.6), ([0.1, 0.6, 0.3], 0.95))],
}
assert set(CHECKS) == set(PROBES)
