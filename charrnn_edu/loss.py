r"""Chapter 3 — The loss: summed cross-entropy over a sequence.

At step t the network gives probabilities :math:`p_t` for the next character, and the true
next character is :math:`y_t` (the input shifted by one). Cross-entropy charges
:math:`-\ln p_t[y_t]`: zero when the network was sure and right, large when it gave the
truth a small probability. The report sums, not averages, over the tau steps::

    (3.1)  L = - sum_{t=1}^{tau} ln p_t[y_t]

A network that knows nothing predicts the uniform distribution p_t[k] = 1/K, so its loss is
exactly tau ln K — the 110.48 ≈ 25 ln 83 at iteration 1 of the report. Training only makes
sense as a fall from there.
"""

from __future__ import annotations

import numpy as np

from charrnn_edu.forward import RNN, forward

__all__ = ["cross_entropy", "sequence_loss"]


# --8<-- [start:cross-entropy]
def cross_entropy(P: np.ndarray, y: np.ndarray) -> float:
    """Summed cross-entropy, equation (3.1).

    Parameters
    ----------
    P : ndarray of shape (K, tau)
        Column t is the predicted distribution p_t.
    y : ndarray of shape (tau,)
        Target ids; y_t is the character that really came next.

    Returns
    -------
    float
        L. (Complex when P is complex, for the complex-step check of chapter 5.)
    """
    y = np.asarray(y)
    # Pick p_t[y_t] from every column in one gather instead of a one-hot product.
    return -np.log(P[y, np.arange(y.size)]).sum()
# --8<-- [end:cross-entropy]


# --8<-- [start:sequence-loss]
def sequence_loss(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> float:
    """The loss of the network on one sequence: forward pass, then (3.1).

    Parameters
    ----------
    rnn : RNN
    x, y : ndarray of shape (tau,)
        Input ids and target ids.
    h0 : ndarray of shape (m, 1)
        Hidden state before the first step.
    """
    return float(cross_entropy(forward(rnn, x, h0).P, y))
# --8<-- [end:sequence-loss]
