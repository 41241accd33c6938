r"""Chapter 5 — Checking the gradients.

Chapter 4's equations are easy to get subtly wrong, and a wrong gradient still trains a
little, so the bug hides. We check every element of every gradient against derivatives
computed without any of chapter 4's algebra.

**Centred differences.** For one parameter element :math:`\theta` and a small step h::

    (5.1)  dL/dθ ≈ (L(θ + h) - L(θ - h)) / (2h)

The error of (5.1) is O(h^2) (the forward difference (L(θ+h) - L(θ))/h is only O(h)), but
the subtraction of two nearly equal losses loses digits to rounding, O(ε_mach / h). The
total error is smallest near h ≈ 1e-4 to 1e-5 and grows on both sides: the V-shaped curve.

**The report's equation (1)**, the element-wise relative error of an analytic gradient
g_a against a numerical one g_n::

    (5.2)  e = |g_a - g_n| / max(eps, |g_a| + |g_n|)

The eps floor stops elements where both gradients are almost 0 from dividing by almost 0.

**Complex step.** For a real-analytic L, a step along the imaginary axis gives::

    (5.3)  dL/dθ = Im L(θ + i h) / h + O(h^2)

with no subtraction at all, so h can be 1e-30 and the result is exact to machine precision.
Every operation of the forward pass (tanh, exp, log, sums, products) is analytic, which is
why chapter 2 keeps ``forward`` working on complex arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from charrnn_edu.bptt import gradients
from charrnn_edu.forward import RNN, forward
from charrnn_edu.loss import cross_entropy

__all__ = ["numerical_gradients", "complex_step_gradients", "relative_error",
           "GradCheckRow", "check"]

COMPLEX_STEP = 1e-30


# --8<-- [start:elementwise]
def _elementwise(rnn: RNN, derivative: Callable[[str, tuple[int, ...]], float]) -> RNN:
    """An RNN holding ``derivative(name, index)`` for every element of every parameter."""
    grads = {}
    for name, theta in zip(RNN.names(), rnn, strict=True):
        g = np.empty(theta.shape)
        for index in np.ndindex(theta.shape):
            g[index] = derivative(name, index)
        grads[name] = g
    return RNN(**grads)
# --8<-- [end:elementwise]


# --8<-- [start:numerical]
def numerical_gradients(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                        step: float = 1e-4) -> RNN:
    """Centred-difference gradients, equation (5.1), one element at a time.

    Parameters
    ----------
    rnn : RNN
        Left unchanged (a copy is perturbed).
    x, y : ndarray of shape (tau,)
    h0 : ndarray of shape (m, 1)
    step : float
        h in (5.1).

    Returns
    -------
    RNN
        Numerical dL/db, dL/dc, dL/dU, dL/dW, dL/dV, with the parameters' shapes.
    """
    if not step > 0:
        raise ValueError(f"the finite-difference step must be positive, got {step}")
    model = rnn.copy()

    def centred(name: str, index: tuple[int, ...]) -> float:
        theta = getattr(model, name)
        old = theta[index]
        theta[index] = old + step
        loss_plus = cross_entropy(forward(model, x, h0).P, y)
        theta[index] = old - step
        loss_minus = cross_entropy(forward(model, x, h0).P, y)
        theta[index] = old
        return (loss_plus - loss_minus) / (2 * step)

    return _elementwise(model, centred)
# --8<-- [end:numerical]


# --8<-- [start:complex-step]
def complex_step_gradients(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                           step: float = COMPLEX_STEP) -> RNN:
    """Complex-step gradients, equation (5.3): exact to machine precision.

    Parameters and returns as :func:`numerical_gradients`; ``step`` is h in (5.3).
    """
    model = rnn.map(lambda a: a.astype(complex))

    def imaginary(name: str, index: tuple[int, ...]) -> float:
        theta = getattr(model, name)
        theta[index] += 1j * step
        loss = cross_entropy(forward(model, x, h0).P, y)
        theta[index] -= 1j * step
        return loss.imag / step

    return _elementwise(model, imaginary)
# --8<-- [end:complex-step]


# --8<-- [start:relative-error]
def relative_error(g_a: np.ndarray, g_n: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The report's equation (1), here (5.2), element-wise.

    Parameters
    ----------
    g_a, g_n : ndarray
        Analytic and numerical gradients of the same shape.
    eps : float
        Floor of the denominator.

    Returns
    -------
    ndarray
        ``|g_a - g_n| / max(eps, |g_a| + |g_n|)``, with the shape of the inputs.
    """
    return np.abs(g_a - g_n) / np.maximum(eps, np.abs(g_a) + np.abs(g_n))
# --8<-- [end:relative-error]


@dataclass(frozen=True)
class GradCheckRow:
    """One row of the gradient-check table (the report's Table 1).

    Attributes
    ----------
    name : str
        Parameter name: b, c, U, W or V.
    shape : tuple of int
    max_rel, mean_rel : float
        Largest and mean (5.2) of the analytic against the centred-difference gradient.
    max_abs : float
        Largest |g_a - g_n| against centred differences.
    complex_rel : float
        Largest (5.2) of the analytic against the complex-step gradient.
    """

    name: str
    shape: tuple[int, ...]
    max_rel: float
    mean_rel: float
    max_abs: float
    complex_rel: float


# --8<-- [start:check]
def check(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray, step: float = 1e-4,
          eps: float = 1e-6) -> list[GradCheckRow]:
    """Compare BPTT's gradients with centred differences and complex steps.

    Returns
    -------
    list of GradCheckRow
        One row per parameter, in the order b, c, U, W, V.
    """
    _, analytic, _ = gradients(rnn, x, y, h0)
    centred = numerical_gradients(rnn, x, y, h0, step)
    exact = complex_step_gradients(rnn, x, y, h0)
    rows = []
    for name, g_a, g_n, g_c in zip(RNN.names(), analytic, centred, exact, strict=True):
        rel = relative_error(g_a, g_n, eps)
        rows.append(GradCheckRow(name=name, shape=g_a.shape, max_rel=float(rel.max()),
                                 mean_rel=float(rel.mean()),
                                 max_abs=float(np.abs(g_a - g_n).max()),
                                 complex_rel=float(relative_error(g_a, g_c, eps).max())))
    return rows
# --8<-- [end:check]
