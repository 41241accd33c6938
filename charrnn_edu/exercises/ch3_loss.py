"""Chapter 3's exercise: the summed cross-entropy loss (3.1)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import loss
from charrnn_edu.exercises.model import PROBE, Check, Exercise, Mistake
from charrnn_edu.forward import forward, softmax
from charrnn_edu.spec import properties as prop
from charrnn_edu.spec.properties import Case
from charrnn_edu.spec.strategies import cases, seeds

__all__ = ["EXERCISES", "MISTAKES"]


@st.composite
def distributions_and_targets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """P (K, tau) with columns from logits of spread 5 (some tiny probabilities) and y."""
    K, tau, seed = draw(st.integers(2, 12)), draw(st.integers(1, 12)), draw(seeds)
    rng = np.random.default_rng(seed)
    return softmax(rng.normal(0.0, 5.0, (K, tau))), rng.integers(0, K, tau)


def _uniform_loss(f: SimpleNamespace, case: Case) -> None:
    prop.check_uniform_loss(lambda rnn, x, y, h0: f.cross_entropy(forward(rnn, x, h0).P, y),
                            *case.build())


CROSS_ENTROPY = Exercise(
    name="cross-entropy", chapter=3, module=loss, title="the summed cross-entropy loss, (3.1)",
    functions=(loss.cross_entropy,), equations=("3.1",),
    checks=(
        Check("sum of steps", "L = -sum_t ln p_t[y_t], summed over the tau steps",
              lambda f, P_y: prop.check_cross_entropy_is_sum_of_steps(f.cross_entropy, *P_y),
              distributions_and_targets(), labels=("P", "y"),
              examples=((np.array([[0.1, 0.6, 0.3], [0.9, 0.4, 0.7]]), np.array([0, 1, 0])),)),
        Check("uniform loss", "a model that knows nothing (p uniform) has L = tau ln K",
              _uniform_loss, cases(), examples=(PROBE,)),
    ),
    probe=lambda outcome: [outcome("cross_entropy", forward(rnn, x, h0).P, y)
                           for rnn, x, y, h0 in (PROBE.build(),)],
)

CROSS_ENTROPY_MISTAKES = (
    Mistake(key="mean-loss", exercise="cross-entropy", check="uniform loss", equation="(3.1)",
            title="mean instead of sum over time",
            advice="The report's loss (3.1) is the sum over the tau steps: a model that knows "
                   "nothing starts at tau ln K, not ln K.",
            edits=(("np.arange(y.size)]).sum()", "np.arange(y.size)]).mean()"),), module=loss),
    Mistake(key="loss-sign", exercise="cross-entropy", check="sum of steps", equation="(3.1)",
            title="minus sign missing",
            advice="L = -sum_t ln p_t[y_t]: the logs of probabilities are negative, the loss "
                   "positive.",
            edits=(("return -np.log(", "return np.log("),), module=loss),
    Mistake(key="whole-rows", exercise="cross-entropy", check="sum of steps", equation="(3.1)",
            title="P[y] picks whole rows",
            advice="P[y] is a (tau, tau) array of whole rows. p_t[y_t] is the element in row "
                   "y_t of column t: P[y, np.arange(tau)].",
            edits=(("P[y, np.arange(y.size)]", "P[y]"),), module=loss),
)


EXERCISES = (CROSS_ENTROPY,)
MISTAKES = CROSS_ENTROPY_MISTAKES
