r"""The classic mistakes: one table that the checks' diagnoses, the bug lab and the tests read.

Each mistake is the package's own code with one line (rarely two) changed. Applying its
edits to the chapter's source gives both the mistake's *implementation* (the source run as a
module of its own) and the *lab's file* (the source written out for a learner to repair).
A learner's functions show a mistake when, on the exercise's probes, they give the mistake's
outputs wherever those differ from the package's.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from charrnn_edu import adagrad, bptt, encoding, forward, gradcheck, loss, sampling
from charrnn_edu.exercises import references
from charrnn_edu.exercises.checks import PROBE
from charrnn_edu.exercises.sandbox import RAISED

__all__ = ["Mistake", "MISTAKES", "find_mistake", "planted_source", "wrong_functions"]


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: where it is, what it breaks, what to do, what must catch it.

    Attributes
    ----------
    key, title, advice : str
        Its name, the mistake in a few words, and what is wrong and how to fix it.
    exercise, check : str
        The exercise, and the name of its check that must catch the mistake.
    equation : str
        The equation it breaks, like ``"(4.5)"``.
    edits : tuple of (str, str)
        Each a piece of the chapter's source and what the mistake writes instead.
    module : ModuleType
        The chapter (or :mod:`~charrnn_edu.exercises.references`) the edits apply to.
    probe : callable or None
        ``probe(outcome)``, a sign of the mistake on fixed inputs, instead of the exercise's
        probe; for mistakes whose outputs vary from one learner's version to another's.
    """

    key: str
    exercise: str
    check: str
    equation: str
    title: str
    advice: str
    edits: tuple[tuple[str, str], ...]
    module: ModuleType
    probe: Callable[[Callable], Any] | None = None


def _rows(module: ModuleType, *rows: tuple) -> tuple[Mistake, ...]:
    return tuple(Mistake(*row[:7], module=module, probe=(*row[7:], None)[0]) for row in rows)


def _model_changed(outcome: Callable) -> list[Any]:
    """Whether numerical_gradients left the model it was given changed (not its numbers)."""
    problem = PROBE.build()
    seen = outcome("numerical_gradients", *problem, 1e-4)
    return [None if seen == RAISED else
            not all(np.array_equal(a, b) for a, b in zip(seen[1][0], problem.rnn, strict=True))]


TRANSPOSE = ("Take the transpose: the Jacobian of a = M h with respect to h is M, so the "
             "gradient flows back through M^T.")

MISTAKES: tuple[Mistake, ...] = (
    *_rows(references,
           ("unsorted-vocabulary", "encoding", "vocabulary", "(1.1)", "vocabulary not sorted",
            "The order of set(text) depends on string hashing, which Python salts differently "
            "in every process: the same text would get other ids next run, and a saved model "
            "would decode to gibberish. Return ''.join(sorted(set(text))).",
            (("sorted(set(text))", "set(text)"),)),
           ("eps-outside-sqrt", "adagrad", "update", "(6.3)", "epsilon outside the square root",
            "Your step divides by sqrt(m) + eps. The report (and min-char-rnn) put eps inside: "
            "theta -= eta * g / np.sqrt(m + eps).",
            (("np.sqrt(m_theta + eps)", "(np.sqrt(m_theta) + eps)"),)),
           ("memory-replaced", "adagrad", "memory", "(6.2)", "memory replaced, not accumulated",
            "m_theta must add up every squared gradient so far: m += g * g. Yours holds only "
            "the last one, so the steps never shrink.",
            (("m_theta += g * g", "m_theta[...] = g * g"),)),
           ("accumulated-after-update", "adagrad", "update", "(6.2)-(6.3)",
            "memory accumulated after the update",
            "(6.2) comes before (6.3): add g^2 to the memory first, then step with the new "
            "memory. Stepping first divides the first gradient by sqrt(eps), a huge step.",
            (("m_theta += g * g                                  # (6.2)\n        "
              "theta -= eta * g / np.sqrt(m_theta + eps)         # (6.3)",
              "theta -= eta * g / np.sqrt(m_theta + eps)         # (6.3)\n        "
              "m_theta += g * g                                  # (6.2)"),)),
           ("not-in-place", "adagrad", "update", "(6.3)", "parameters not updated in place",
            "theta = theta - ... makes a new array and binds it to a local name; the caller's "
            "parameters do not change. Update in place: theta -= ... (or theta[...] = ...).",
            (("theta -= eta", "theta = theta - eta"),)),
           ("no-sqrt", "adagrad", "update", "(6.3)", "divided by m, not by its square root",
            "(6.3) divides by sqrt(m + eps): the step must have the units of eta, whatever the "
            "scale of g.", (("np.sqrt(m_theta + eps)", "(m_theta + eps)"),))),
    *_rows(encoding,
           ("one-hot-rows", "one-hot", "one-hot columns", "(1.1)", "one-hot built on the "
            "wrong axis", "X has shape (tau, K), one row per time step. Columns are time "
            "steps here: X is (K, tau) and X[k, t] = 1 when x_t = k.",
            (("np.zeros((K, ids.size))", "np.zeros((ids.size, K))"),
             ("X[ids, np.arange(ids.size)]", "X[np.arange(ids.size), ids]")))),
    *_rows(forward,
           ("softmax-overflow", "softmax", "extreme logits", "(2.4)", "softmax overflows on "
            "large logits", "exp(1000) is inf in float64, and inf / inf is nan. softmax(o) = "
            "softmax(o - s) for any constant s: subtract each column's maximum first, "
            "e = np.exp(o - o.max(axis=0, keepdims=True)).",
            (("np.exp(o - o.real.max(axis=0, keepdims=True))", "np.exp(o)"),)),
           ("softmax-rows", "softmax", "distribution", "(2.4)", "softmax over the wrong axis",
            "Each column of o is one time step, so each column of p must sum to 1: max and sum "
            "with axis=0 (and keepdims=True), not axis=1.",
            (("o.real.max(axis=0, keepdims=True)", "o.real.max(axis=1, keepdims=True)"),
             ("e.sum(axis=0, keepdims=True)", "e.sum(axis=1, keepdims=True)"))),
           ("softmax-global-max", "softmax", "extreme logits", "(2.4)",
            "shifted by the maximum of the whole matrix",
            "A column far below the global maximum underflows to all zeros, and 0 / 0 is nan. "
            "Subtract each column's own maximum: o.max(axis=0, keepdims=True).",
            (("o.real.max(axis=0, keepdims=True)", "o.real.max()"),)),
           ("tanh-missing", "forward-step", "equations", "(2.2)", "tanh left out",
            "h_t = tanh(a_t): without the tanh the network is linear and h grows without bound.",
            (("h = np.tanh(a)", "h = a"),)),
           ("W-transposed-forward", "forward-step", "equations", "(2.1)", "W^T instead of W",
            "a_t = W h_{t-1} + U x_t + b: row i of W holds the weights into unit i, so multiply "
            "by W itself; the transpose belongs to the backward pass, (4.4).",
            (("rnn.W @ h_prev", "rnn.W.T @ h_prev"),)),
           ("state-not-carried", "forward", "matches package", "(2.1)", "state not carried "
            "from step to step", "Every step starts from h0. The recurrence is "
            "a_t = W h_{t-1} + ...: pass each step the h the step before it returned.",
            (("step(rnn, h, int(x_t))", "step(rnn, h0, int(x_t))"),)),
           ("h0-ignored", "forward", "chaining", "(2.1)", "h0 ignored in the first step",
            "Your pass starts from zeros. The first step is a_1 = W h0 + U x_1 + b: start from "
            "the h0 you are given, so a sequence continues where the last one stopped.",
            (("h, hs, ps = h0, [], []", "h, hs, ps = np.zeros_like(h0), [], []"),)),
           ("real-only", "forward", "complex parameters", "(5.3)", "complex parameters lose "
            "their imaginary part", "Chapter 5's complex step runs forward on complex "
            "parameters: do not force float (np.zeros((m, tau)) is float); collect the "
            "columns in a list and np.hstack them, or use np.result_type(rnn.W, h0).",
            (("H=np.hstack(hs), P=np.hstack(ps)",
              "H=np.hstack(hs).real, P=np.hstack(ps).real"),))),
    *_rows(loss,
           ("mean-loss", "cross-entropy", "uniform loss", "(3.1)", "mean instead of sum over time",
            "The report's loss (3.1) is the sum over the tau steps: a model that knows nothing "
            "starts at tau ln K, not ln K.", (("np.arange(y.size)]).sum()",
                                              "np.arange(y.size)]).mean()"),)),
           ("loss-sign", "cross-entropy", "sum of steps", "(3.1)", "minus sign missing",
            "L = -sum_t ln p_t[y_t]: the logs of probabilities are negative, the loss positive.",
            (("return -np.log(", "return np.log("),)),
           ("whole-rows", "cross-entropy", "sum of steps", "(3.1)", "P[y] picks whole rows",
            "P[y] is a (tau, tau) array of whole rows. p_t[y_t] is the element in row y_t of "
            "column t: P[y, np.arange(tau)].", (("P[y, np.arange(y.size)]", "P[y]"),))),
    *_rows(bptt,
           ("g-sign", "backward-step", "complex step", "(4.1)", "p_t - y_t with the wrong sign",
            "g_t = dL/do_t = p_t - y_t: the loss falls as p_t[y_t] grows, so the target's entry "
            "of g_t is p_t[y_t] - 1 < 0. Yours is y_t - p_t.",
            (("g = p_t.copy()", "g = -p_t.copy()"), ("g[y_t] -= 1", "g[y_t] += 1"))),
           ("g-index", "backward-step", "complex step", "(4.1)", "one-hot at the input, not the "
            "target", "g_t = p_t - y_t subtracts 1 at the *target* y_t, the character that "
            "came next, not at the input x_t.", (("g[y_t] -= 1", "g[x_t] -= 1"),)),
           ("V-not-transposed", "backward-step", "complex step", "(4.4)", "V instead of V^T",
            f"dL/dh_t = V^T g_t + ...: o_t = V h_t + c, so g_t reaches h_t through V^T. "
            f"{TRANSPOSE}", (("rnn.V.T @ g", "rnn.V @ g"),)),
           ("W-not-transposed", "backward-step", "complex step", "(4.4)", "W instead of W^T",
            f"dL/dh_t = ... + W^T dL/da_{{t+1}}: a_{{t+1}} = W h_t + ..., so the "
            f"gradient from the next step reaches h_t through W^T. {TRANSPOSE}",
            (("rnn.W.T @ da_next", "rnn.W @ da_next"),)),
           ("next-step-term-dropped", "backward-step", "complex step", "(4.4)", "the next-step "
            "term of (4.4) dropped: no recurrence", "h_t reaches the loss two ways, through o_t "
            "and through a_{t+1}: dL/dh_t = V^T g_t + W^T dL/da_{t+1}. Without the second term "
            "no gradient flows back in time.", (("rnn.V.T @ g + rnn.W.T @ da_next",
                                                 "rnn.V.T @ g"),)),
           ("tanh-derivative-missing", "backward-step", "complex step", "(4.5)", "tanh "
            "derivative (1 - h_t^2) missing", "h_t = tanh(a_t), so dL/da_t = dL/dh_t * "
            "(1 - h_t^2), element by element. Yours is exact only where tanh is nearly linear "
            "(tiny a_t), wrong everywhere else.", (("dh * (1 - h_t**2)", "dh"),)),
           ("h_t-in-dW", "backward-step", "complex step", "(4.6)", "h_t instead of h_{t-1}",
            "a_t = W h_{t-1} + ...: W multiplies the state *before* the step, so "
            "dL/dW gets dL/da_t h_{t-1}^T (h_prev), not h_t^T.",
            (("da @ h_prev.T", "da @ h_t.T"),)),
           ("dW-transposed", "backward-step", "complex step", "(4.6)", "dL/dW transposed",
            "dL/dW = dL/da_t h_{t-1}^T: rows belong to a_t, columns to h_{t-1}.",
            (("da @ h_prev.T", "h_prev @ da.T"),)),
           ("sums-overwritten", "backward-step", "complex step", "(4.2)-(4.8)", "the sums "
            "overwritten, not added to", "Each step *adds* its terms to the sums over t: "
            "grads.V += ..., not grads.V = ...; the other steps' terms are in there already.",
            (("grads.V += ", "grads.V = "), ("grads.c += ", "grads.c = "),
             ("grads.W += ", "grads.W = "), ("grads.U[:, [x_t]] += ", "grads.U[:, [x_t]] = "),
             ("grads.b += ", "grads.b = "))),
           ("h0-dropped", "bptt", "complex step", "(4.6)", "the h_0 term of dL/dW dropped",
            "dL/dW misses the first step's term dL/da_1 h_0^T: the sum runs over t = 1..tau "
            "with h_0 the given h0. It vanishes only when h0 = 0, which is why the checks also "
            "use a random h0.", (("np.hstack([h0, H])", "np.hstack([np.zeros_like(h0), H])"),)),
           ("clipped-in-bptt", "bptt", "large gradients", "(6.1)", "gradients clipped before "
            "the gradient check", "Your gradients are the true ones clipped to [-5, 5]. "
            "Clipping changes the gradient, so a check of clipped gradients checks the wrong "
            "thing: return the raw gradients and clip in the optimiser (chapter 6).",
            (("return loss, grads, h_last",
              "return loss, grads.map(lambda g: np.clip(g, -5, 5)), h_last"),))),
    *_rows(gradcheck,
           ("forward-difference", "numerical-gradients", "complex step", "(5.1)", "forward "
            "difference instead of centred", "(L(θ + h) - L(θ)) / h errs by O(h). The centred "
            "(L(θ + h) - L(θ - h)) / (2h) of (5.1) cancels the h^2 term of the Taylor series.",
            (("theta[index] = old - step", "theta[index] = old"),
             ("/ (2 * step)", "/ step"))),
           ("divided-by-h", "numerical-gradients", "complex step", "(5.1)", "divided by h, not "
            "2h", "L(θ + h) and L(θ - h) are 2h apart: divide their difference by 2h.",
            (("/ (2 * step)", "/ step"),)),
           ("not-restored", "numerical-gradients", "model unchanged", "(5.1)", "θ not restored "
            "after perturbing it", "Put each element back after evaluating L(θ ± h) (or "
            "perturb a copy, rnn.copy()): the caller's model must not change, and every later "
            "derivative would be taken at the wrong point.",
            (("model = rnn.copy()", "model = rnn"),
             ("        theta[index] = old\n", "")), _model_changed),
           ("eps-added", "relative-error", "formula", "(5.2)", "eps added to the denominator",
            "eps is a floor, not an offset: divide by max(eps, |g_a| + |g_n|) (np.maximum), so "
            "eps matters only where both gradients are almost 0.",
            (("np.maximum(eps, np.abs(g_a) + np.abs(g_n))",
              "(eps + np.abs(g_a) + np.abs(g_n))"),)),
           ("abs-of-sum", "relative-error", "formula", "(5.2)", "|g_a + g_n| in the denominator",
            "The denominator is |g_a| + |g_n|. |g_a + g_n| is 0 when the two have opposite "
            "signs, and the error explodes.", (("np.abs(g_a) + np.abs(g_n))",
                                               "np.abs(g_a + g_n))"),)),
           ("no-floor", "relative-error", "known values", "(5.2)", "no eps floor: 0 / 0",
            "Where both gradients are 0 you divide 0 by 0. Floor the denominator: "
            "np.maximum(eps, np.abs(g_a) + np.abs(g_n)).",
            (("np.maximum(eps, np.abs(g_a) + np.abs(g_n))", "(np.abs(g_a) + np.abs(g_n))"),))),
    *_rows(adagrad,
           ("clip-in-place", "clip", "clipped", "(6.1)", "clip changed its input",
            "Return new arrays and leave the gradients you are given as they were: "
            "np.clip(g, -bound, bound) without out=.",
            (("np.clip(g, -bound, bound)", "np.clip(g, -bound, bound, out=g)"),)),
           ("clip-one-side", "clip", "clipped", "(6.1)", "only one side clipped",
            "Clip both sides, every element into [-bound, bound]: np.clip(g, -bound, bound).",
            (("np.clip(g, -bound, bound)", "np.minimum(g, bound)"),))),
    *_rows(sampling,
           ("temperature-multiplied", "temperature", "sharpening", "(7.1)", "logits multiplied "
            "by T, not divided", "p = softmax(o / T). Multiplying makes T < 1 flatten p "
            "instead of sharpening it.", (("now.o / temperature", "now.o * temperature"),)),
           ("temperature-after-softmax", "temperature", "shapes", "(7.1)", "temperature applied "
            "after the softmax", "Divide the logits by T *before* the softmax, softmax(o / T); "
            "softmax(o) / T no longer sums to 1.",
            (("softmax(now.o / temperature)[:, 0]", "softmax(now.o)[:, 0] / temperature"),)),
           ("temperature-ignored", "temperature", "one step", "(7.1)", "temperature ignored",
            "p does not change with T: divide the logits by T before the softmax.",
            (("softmax(now.o / temperature)", "softmax(now.o)"),)),
           ("crossing-dropped", "top-p", "nucleus", "top-p", "drops the character that reaches "
            "top_p", "Keep the character whose probability makes the mass reach top_p: keep "
            "the most likely characters whose mass *before* them is below top_p.",
            (("order[mass_before < top_p]", "order[np.cumsum(p[order]) < top_p]"),)),
           ("not-renormalised", "top-p", "nucleus", "top-p", "kept probabilities not "
            "renormalised", "After zeroing the other characters, divide by the kept mass so "
            "q sums to 1.", (("return q / q.sum()", "return q"),)),
           ("least-likely-kept", "top-p", "nucleus", "top-p", "sorted the wrong way",
            "The nucleus is the *most* likely characters: sort by decreasing probability, "
            "np.argsort(-p).", (("np.argsort(-p, kind=\"stable\")",
                                 "np.argsort(p, kind=\"stable\")"),))),
)


def find_mistake(key: str) -> Mistake:
    """The mistake called ``key``; ValueError naming the closest one if there is none."""
    for mistake in MISTAKES:
        if mistake.key == key:
            return mistake
    from difflib import get_close_matches
    close = get_close_matches(key, [m.key for m in MISTAKES], n=1)
    raise ValueError(f"there is no mistake called '{key}': "
                     + (f"did you mean '{close[0]}'? " if close else "")
                     + "'charrnn lab list' shows them all")


def planted_source(mistake: Mistake) -> str:
    """The source of the mistake's chapter with its edits applied.

    Raises
    ------
    LookupError
        If a piece to edit is not in the chapter exactly once (the chapter changed).
    """
    source = inspect.getsource(mistake.module)
    for old, new in mistake.edits:
        if source.count(old) != 1:
            raise LookupError(f"mistake {mistake.key}: {old!r} is not in "
                              f"{mistake.module.__name__} exactly once")
        if "\n" not in old and len(new) < len(old):
            new = new.ljust(len(old)) if source.split(old, 1)[1][:2] == "  " else new
        source = source.replace(old, new)
    return source


@functools.cache
def wrong_functions(key: str) -> dict[str, Callable]:
    """The mistake's chapter run as a module of its own: its functions, by name."""
    mistake = find_mistake(key)
    name = f"charrnn_mistake_{key.replace('-', '_')}"
    module = ModuleType(name)
    module.__file__ = f"<mistake {key}>"
    sys.modules[name] = module          # dataclasses look their module up there
    exec(compile(planted_source(mistake), module.__file__, "exec"), module.__dict__)
    return {n: v for n, v in vars(module).items() if inspect.isfunction(v)}
