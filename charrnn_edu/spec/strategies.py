"""Hypothesis strategies that feed the properties, for the package's tests and the exercises.

Bounded float64 values, explicit seeds for everything drawn from a Generator, and small sizes:
a failure shrinks to a case a person can work through by hand.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from charrnn_edu.forward import RNN
from charrnn_edu.spec.properties import Case, parameter_shapes

__all__ = ["seeds", "cases", "logits_and_shifts", "corpus_and_text", "gradient_pairs",
           "gradient_sets", "sizes", "etas", "epsilons", "distributions"]

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def cases(*, max_m: int = 8, max_K: int = 12, min_tau: int = 1, max_tau: int = 12,
          min_sigma: float = 0.01, max_sigma: float = 0.5,
          random_h0: st.SearchStrategy[bool] | None = None) -> st.SearchStrategy[Case]:
    """Small random problems: m in 1..max_m, K in 2..max_K, tau in min_tau..max_tau."""
    return st.builds(Case, seed=seeds, m=st.integers(1, max_m), K=st.integers(2, max_K),
                     tau=st.integers(min_tau, max_tau), sigma=st.floats(min_sigma, max_sigma),
                     random_h0=st.booleans() if random_h0 is None else random_h0)


@st.composite
def logits_and_shifts(draw: st.DrawFn, bound: float = 30.0,
                      shift_bound: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Logits o (K, tau) in [-bound, bound] and a per-column shift s (1, tau)."""
    K, tau = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    o = draw(hnp.arrays(np.float64, (K, tau), elements=st.floats(-bound, bound)))
    s = draw(hnp.arrays(np.float64, (1, tau), elements=st.floats(-shift_bound, shift_bound)))
    return o, s


@st.composite
def corpus_and_text(draw: st.DrawFn) -> tuple[str, str]:
    """A non-empty corpus and a string made only of the corpus's characters."""
    corpus = draw(st.text(min_size=1))
    return corpus, draw(st.text(alphabet=sorted(set(corpus))))


@st.composite
def gradient_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    """An analytic and a numerical gradient of one shape, and the floor eps of (5.2)."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=6))
    # Mostly moderate values, with exact zeros and values below the eps floor mixed in.
    elements = st.one_of(st.floats(-10, 10), st.just(0.0), st.floats(-1e-7, 1e-7))
    g_a = draw(hnp.arrays(np.float64, shape, elements=elements))
    g_n = draw(hnp.arrays(np.float64, shape, elements=elements))
    return g_a, g_n, draw(st.floats(1e-12, 1.0))


@st.composite
def gradient_sets(draw: st.DrawFn, magnitude: float = 50.0) -> RNN:
    """An RNN-shaped set of arrays, m in 1..8 and K in 2..12, elements in [-magnitude, magnitude].

    Drawn element by element (not from a seed) so that Hypothesis tries 0, the bound and its
    neighbours, and shrinks a failure to the offending element.
    """
    m, K = draw(st.integers(1, 8)), draw(st.integers(2, 12))
    elements = st.floats(-magnitude, magnitude, allow_subnormal=False)
    return RNN(*(draw(hnp.arrays(np.float64, shape, elements=elements))
                 for shape in parameter_shapes(m, K)))


sizes = st.tuples(st.integers(1, 8), st.integers(2, 12))    # (m, K)
etas = st.floats(1e-2, 1.0)
epsilons = st.floats(1e-8, 1.0)


@st.composite
def distributions(draw: st.DrawFn, min_K: int = 1, max_K: int = 12,
                  zeros: bool = False) -> np.ndarray:
    """A probability vector p of shape (K,), from logits in [-10, 10] (so ties happen too).

    With ``zeros`` some entries are exactly 0, but never all of them.
    """
    K = draw(st.integers(min_K, max_K))
    logits = draw(hnp.arrays(np.float64, K, elements=st.floats(-10.0, 10.0)))
    p = np.exp(logits - logits.max())
    if zeros:
        mask = draw(hnp.arrays(np.bool_, K))
        mask[int(np.argmax(logits))] = False
        p[mask] = 0.0
    return p / p.sum()
