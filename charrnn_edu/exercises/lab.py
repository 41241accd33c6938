r"""The bug lab: classic mistakes, each a small mutation of the package's own function.

Every mutation is a short function that differs from the package's implementation in one
place, next to a one-line description. ``charrnn lab`` runs the exercise's checks on it and
shows which check catches it and which diagnosis names it; the package's tests assert that
each is caught by the intended check with the intended diagnosis, so the checks' power to
catch real mistakes is itself tested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from charrnn_edu.adagrad import clip
from charrnn_edu.bptt import gradients
from charrnn_edu.exercises.catalog import Exercise, find_exercise
from charrnn_edu.exercises.properties import textbook_gradients
from charrnn_edu.exercises.runner import DEFAULT_EXAMPLES, Report, run_checks
from charrnn_edu.forward import RNN, Forward, forward, softmax
from charrnn_edu.loss import cross_entropy, sequence_loss

__all__ = ["Mutation", "MUTATIONS", "LabRow", "run_lab"]


@dataclass(frozen=True)
class Mutation:
    """A mistake, as a replacement for one function of an exercise.

    Attributes
    ----------
    name : str
    exercise : str
        Name of the exercise whose function it replaces.
    function : callable
        The mutated function; it replaces the reference of the same name.
    description : str
        The mistake, as short as code: the diagnosis's title says it in words.
    caught_by : str
        Name of the check that must fail.
    diagnosis : str
        Key of the diagnosis that must name the mistake.
    replaces : str or None
        The name of the function it replaces; None for the exercise's only function.
    """

    name: str
    exercise: str
    function: Callable
    description: str
    caught_by: str
    diagnosis: str
    replaces: str | None = None

    def functions(self) -> dict[str, Callable]:
        """The exercise's reference functions with this one mutated."""
        references = find_exercise(self.exercise).references
        replaces = self.replaces or next(iter(references))
        if self.replaces is None and len(references) > 1 or replaces not in references:
            raise ValueError(f"mutation {self.name}: name the function of exercise "
                             f"{self.exercise} it replaces, one of {sorted(references)}")
        return {**references, replaces: self.function}


# ---------------------------------------------------------------- the mutations

def vocabulary_in_set_order(text: str) -> str:
    """The vocabulary in set order."""
    return "".join(set(text))


def one_hot_rows(ids: np.ndarray, K: int) -> np.ndarray:
    """One row per time step."""
    return np.eye(K)[np.asarray(ids, dtype=np.int64)]          # (tau, K)


def softmax_overflowing(o: np.ndarray) -> np.ndarray:
    """The definition, straight."""
    e = np.exp(o)
    return e / e.sum(axis=0, keepdims=True)


def softmax_over_rows(o: np.ndarray) -> np.ndarray:
    """Stable, but each row sums to 1."""
    e = np.exp(o - o.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward_from_zero(rnn: RNN, x: np.ndarray, h0: np.ndarray) -> Forward:
    """The recurrence starts from zeros, whatever h0 is."""
    h, columns = np.zeros_like(h0), []
    for x_t in x:
        h = np.tanh(rnn.W @ h + rnn.U[:, x_t:x_t + 1] + rnn.b)    # (m, 1)
        columns.append(h)
    H = np.hstack(columns)                                        # (m, tau)
    return Forward(H, softmax(rnn.V @ H + rnn.c), h)


def forward_real_only(rnn: RNN, x: np.ndarray, h0: np.ndarray) -> Forward:
    """Hidden states stored in a float array."""
    H, h = np.zeros((rnn.m, len(x))), h0                          # (m, tau), float64
    for t, x_t in enumerate(x):
        h = np.tanh(rnn.W @ h + rnn.U[:, x_t:x_t + 1] + rnn.b)
        H[:, t:t + 1] = h
    return Forward(H, softmax(rnn.V @ H + rnn.c), H[:, -1:])


def cross_entropy_mean(P: np.ndarray, y: np.ndarray) -> float:
    """The mean over time steps."""
    return float(cross_entropy(P, y)) / len(y)


def bias_gradients_without_target(rnn: RNN, x: np.ndarray, y: np.ndarray,
                                  h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g_t = p_t: the target never subtracted from dL/dc."""
    _, grads, _ = gradients(rnn, x, y, h0)
    return grads.b, grads.c + np.bincount(y, minlength=rnn.K).reshape(-1, 1)


def bias_gradients_without_recurrence(rnn: RNN, x: np.ndarray, y: np.ndarray,
                                      h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dL/dh_t = V^T g_t only."""
    _, grads, _ = gradients(rnn, x, y, h0)
    H, P, _ = forward(rnn, x, h0)
    G = P.copy()
    G[y, np.arange(len(y))] -= 1.0                                # (K, tau)
    return ((rnn.V.T @ G) * (1 - H * H)).sum(axis=1, keepdims=True), grads.c


def gradients_without_target(rnn: RNN, x: np.ndarray, y: np.ndarray,
                             h0: np.ndarray) -> tuple[float, RNN, np.ndarray]:
    """dL/dc from g_t = p_t."""
    loss, grads, h = gradients(rnn, x, y, h0)
    grads.c = grads.c + np.bincount(y, minlength=rnn.K).reshape(-1, 1)
    return loss, grads, h


def gradients_without_h0(rnn: RNN, x: np.ndarray, y: np.ndarray,
                         h0: np.ndarray) -> tuple[float, RNN, np.ndarray]:
    """dL/dW summed as if h_0 were 0."""
    return textbook_gradients(rnn, x, y, h0, drop_h0_from_dW=True)


def gradients_clipped(rnn: RNN, x: np.ndarray, y: np.ndarray,
                      h0: np.ndarray) -> tuple[float, RNN, np.ndarray]:
    """Clips before returning."""
    loss, grads, h = gradients(rnn, x, y, h0)
    return loss, clip(grads, 5.0), h


def numerical_forward_difference(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                                 step: float = 1e-4) -> RNN:
    """(L(θ + h) - L(θ)) / h."""
    model = rnn.copy()
    base = sequence_loss(model, x, y, h0)
    grads = model.map(np.zeros_like)
    for theta, g in zip(model, grads, strict=True):
        for i in np.ndindex(theta.shape):
            theta[i] += step
            g[i] = (sequence_loss(model, x, y, h0) - base) / step
            theta[i] -= step
    return grads


def numerical_not_restored(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                           step: float = 1e-4) -> RNN:
    """Perturbs the caller's model and leaves it at θ - h."""
    grads = rnn.map(np.zeros_like)
    for theta, g in zip(rnn, grads, strict=True):
        for i in np.ndindex(theta.shape):
            theta[i] += step
            plus = sequence_loss(rnn, x, y, h0)
            theta[i] -= 2 * step
            g[i] = (plus - sequence_loss(rnn, x, y, h0)) / (2 * step)
    return grads


def relative_error_eps_added(g_a: np.ndarray, g_n: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Adds eps to the denominator."""
    return np.abs(g_a - g_n) / (np.abs(g_a) + np.abs(g_n) + eps)


def relative_error_abs_of_sum(g_a: np.ndarray, g_n: np.ndarray,
                              eps: float = 1e-6) -> np.ndarray:
    """|g_a + g_n| in the denominator."""
    return np.abs(g_a - g_n) / np.maximum(eps, np.abs(g_a + g_n))


def clip_in_place(grads: RNN, bound: float = 5.0) -> RNN:
    """np.clip with out=: the caller's gradients change too."""
    if not bound > 0:
        raise ValueError(f"the clipping bound must be positive, got {bound}")
    return grads.map(lambda g: np.clip(g, -bound, bound, out=g))


def clip_upper_only(grads: RNN, bound: float = 5.0) -> RNN:
    """np.minimum(g, bound)."""
    if not bound > 0:
        raise ValueError(f"the clipping bound must be positive, got {bound}")
    return grads.map(lambda g: np.minimum(g, bound))


def adagrad_eps_outside(rnn: RNN, grads: RNN, memory: RNN, eta: float = 0.1,
                        eps: float = 1e-8) -> None:
    """Steps by eta g / (sqrt(m) + eps)."""
    for theta, g, m in zip(rnn, grads, memory, strict=True):
        m += g * g
        theta -= eta * g / (np.sqrt(m) + eps)


def adagrad_memory_replaced(rnn: RNN, grads: RNN, memory: RNN, eta: float = 0.1,
                            eps: float = 1e-8) -> None:
    """Overwrites the memory with g^2."""
    for theta, g, m in zip(rnn, grads, memory, strict=True):
        m[...] = g * g
        theta -= eta * g / np.sqrt(m + eps)


def next_distribution_times_t(rnn: RNN, h: np.ndarray, x: int,
                              temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """softmax(o * T)."""
    h = np.tanh(rnn.W @ h + rnn.U[:, x:x + 1] + rnn.b)           # (m, 1)
    return h, softmax((rnn.V @ h + rnn.c) * temperature)[:, 0]


def next_distribution_after_softmax(rnn: RNN, h: np.ndarray, x: int,
                                    temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """softmax(o) / T."""
    h = np.tanh(rnn.W @ h + rnn.U[:, x:x + 1] + rnn.b)           # (m, 1)
    return h, softmax(rnn.V @ h + rnn.c)[:, 0] / temperature


def nucleus_without_crossing(p: np.ndarray, top_p: float) -> np.ndarray:
    """Keeps characters while the running mass, them included, is below top_p."""
    order = np.argsort(-p, kind="stable")
    kept = order[np.cumsum(p[order]) < top_p]
    q = np.zeros_like(p)
    q[kept] = p[kept]
    return q / q.sum()


def nucleus_not_renormalised(p: np.ndarray, top_p: float) -> np.ndarray:
    """Zeros the rest, never divides by the kept mass."""
    order = np.argsort(-p, kind="stable")
    kept = order[np.concatenate([[0.0], np.cumsum(p[order])[:-1]]) < top_p]
    q = np.zeros_like(p)
    q[kept] = p[kept]
    return q


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("unsorted-vocabulary", "encoding", vocabulary_in_set_order,
             "''.join(set(text))", "vocabulary", "unsorted-vocabulary", replaces="vocabulary"),
    Mutation("one-hot-rows", "one-hot", one_hot_rows, "np.eye(K)[ids]: shape (tau, K)",
             "one-hot columns", "transposed-one-hot"),
    Mutation("softmax-overflow", "softmax", softmax_overflowing, "exp(o) / sum exp(o)",
             "extreme logits", "softmax-overflow"),
    Mutation("softmax-rows", "softmax", softmax_over_rows, "max and sum over axis=1",
             "distribution", "softmax-rows"),
    Mutation("h0-ignored", "forward", forward_from_zero, "h = 0 before the first step",
             "chaining", "h0-ignored"),
    Mutation("real-only", "forward", forward_real_only, "H = np.zeros((m, tau)): float",
             "complex parameters", "real-only"),
    Mutation("mean-loss", "cross-entropy", cross_entropy_mean, "L / tau",
             "uniform loss", "mean-not-sum"),
    Mutation("dc-without-target", "bias-gradients", bias_gradients_without_target,
             "g_t = p_t in dL/dc", "dL/dc", "dc-without-target"),
    Mutation("db-without-recurrence", "bias-gradients", bias_gradients_without_recurrence,
             "dL/dh_t = V^T g_t, no W^T term", "complex step", "db-without-recurrence"),
    Mutation("bptt-dc-without-target", "bptt", gradients_without_target, "g_t = p_t in dL/dc",
             "dL/dc", "dc-without-target"),
    Mutation("bptt-h0-dropped", "bptt", gradients_without_h0, "dL/dW without dL/da_1 h_0^T",
             "complex step", "h0-dropped-from-dW"),
    Mutation("bptt-clipped", "bptt", gradients_clipped, "returns clip(grads, 5)",
             "large gradients", "clipped-in-bptt"),
    Mutation("forward-difference", "numerical-gradients", numerical_forward_difference,
             "(L(θ + h) - L(θ)) / h", "complex step", "one-sided-difference"),
    Mutation("not-restored", "numerical-gradients", numerical_not_restored, "θ left at θ - h",
             "model unchanged", "not-restored"),
    Mutation("eps-added", "relative-error", relative_error_eps_added, "/ (|g_a| + |g_n| + eps)",
             "formula", "eps-added"),
    Mutation("abs-of-sum", "relative-error", relative_error_abs_of_sum, "/ max(eps, |g_a + g_n|)",
             "formula", "abs-of-sum"),
    Mutation("clip-in-place", "clip", clip_in_place, "np.clip(g, -b, b, out=g)",
             "clipped", "clip-in-place"),
    Mutation("clip-one-side", "clip", clip_upper_only, "np.minimum(g, bound)",
             "clipped", "clip-one-side"),
    Mutation("eps-outside-sqrt", "adagrad", adagrad_eps_outside, "eta g / (sqrt(m) + eps)",
             "update", "eps-outside-sqrt"),
    Mutation("memory-replaced", "adagrad", adagrad_memory_replaced, "m = g^2, not m += g^2",
             "memory", "memory-replaced"),
    Mutation("temperature-multiplied", "temperature", next_distribution_times_t, "softmax(o * T)",
             "sharpening", "temperature-multiplied"),
    Mutation("temperature-after-softmax", "temperature", next_distribution_after_softmax,
             "softmax(o) / T", "shapes", "temperature-after-softmax"),
    Mutation("crossing-dropped", "top-p", nucleus_without_crossing, "keep while cumsum < top_p",
             "nucleus", "crossing-character-dropped"),
    Mutation("not-renormalised", "top-p", nucleus_not_renormalised, "q never divided by its sum",
             "nucleus", "not-renormalised"),
)


@dataclass(frozen=True)
class LabRow:
    """One mutation and what the checks made of it."""

    mutation: Mutation
    report: Report

    @property
    def caught(self) -> bool:
        """The intended check failed and the intended diagnosis was made."""
        return (self.mutation.caught_by in self.report.failed()
                and self.mutation.diagnosis in {d.key for d in self.report.diagnoses})


def run_lab(exercise: Exercise | None = None,
            max_examples: int = DEFAULT_EXAMPLES) -> list[LabRow]:
    """Run the checks on every mutation (of one exercise, if given)."""
    chosen = [m for m in MUTATIONS if exercise is None or m.exercise == exercise.name]
    return [LabRow(m, run_checks(find_exercise(m.exercise), m.functions(), max_examples))
            for m in chosen]
