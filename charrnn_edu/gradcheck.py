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

**When does a check pass?** Element by element, never by one number for a whole matrix.
BPTT itself rounds: each gradient element sums tau terms, each carried back through up to
tau products with W, so its rounding error grows with tau, m and the size of the gradients
(a network with large weights has exploding ones). Call that allowance

    r = COMPLEX_ULPS * eps_mach * tau * m * max|g_c|

* against the complex step, which is exact, an element passes when |g_a - g_c| <= r;
* against centred differences, an element passes when its relative error (5.2) is below
  ``rtol`` *or* its absolute error is below ``atol``, or below 2|g_n - g_c| + r: (5.1)
  cannot judge more finely than its own error |g_n - g_c|, which the exact complex step
  measures (it is large where the loss curves sharply, for a large sigma). Relative error
  alone is harsh on tiny elements: one below the eps floor has e = |g_a - g_n| / eps, and
  the rounding of (5.1) alone, ~1e-10, makes that 1e-4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from charrnn_edu.bptt import gradients
from charrnn_edu.forward import RNN, forward
from charrnn_edu.loss import cross_entropy

__all__ = ["numerical_gradients", "complex_step_gradients", "relative_error",
           "GradCheckRow", "check", "passes", "table", "RTOL", "ATOL", "COMPLEX_ULPS"]

COMPLEX_STEP = 1e-30
RTOL = 1e-5
"""An element agrees with centred differences when its relative error (5.2) is below this..."""
ATOL = 1e-8
"""...or its absolute error is below this (or below the two methods' own errors)."""
COMPLEX_ULPS = 4096
"""BPTT's rounding allowance r, in rounding units of tau m max|g_c| (module docstring)."""


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
    failures, complex_failures : int
        Elements that disagree with the centred differences, and with the complex step, by
        the rule in the module docstring; 0 and 0 for correct gradients.
    """

    name: str
    shape: tuple[int, ...]
    max_rel: float
    mean_rel: float
    max_abs: float
    complex_rel: float
    failures: int = 0
    complex_failures: int = 0

    @property
    def passed(self) -> bool:
        """Every element agrees with both numerical gradients."""
        return self.failures == 0 and self.complex_failures == 0


# --8<-- [start:check]
def check(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray, step: float = 1e-4,
          eps: float = 1e-6, rtol: float = RTOL, atol: float = ATOL) -> list[GradCheckRow]:
    """Compare BPTT's gradients with centred differences and complex steps.

    ``rtol`` and ``atol`` judge each element against the centred differences (see the
    module docstring); the complex step to BPTT's rounding allowance r.

    Returns
    -------
    list of GradCheckRow
        One row per parameter, in the order b, c, U, W, V.
    """
    _, analytic, _ = gradients(rnn, x, y, h0)
    centred = numerical_gradients(rnn, x, y, h0, step)
    exact = complex_step_gradients(rnn, x, y, h0)
    # BPTT's own rounding: tau terms per element, m units per step, gradients this large.
    scale = max(float(np.abs(g).max()) for g in exact)
    rounding = COMPLEX_ULPS * np.finfo(float).eps * len(x) * rnn.m * scale
    rows = []
    for name, g_a, g_n, g_c in zip(RNN.names(), analytic, centred, exact, strict=True):
        rel, error = relative_error(g_a, g_n, eps), np.abs(g_a - g_n)
        own = np.abs(g_n - g_c)                  # (5.1)'s own error: truncation and rounding
        agrees = (rel < rtol) | (error < np.maximum(atol, 2 * own + rounding))
        exactly = np.abs(g_a - g_c) <= rounding
        rows.append(GradCheckRow(name=name, shape=g_a.shape, max_rel=float(rel.max()),
                                 mean_rel=float(rel.mean()), max_abs=float(error.max()),
                                 complex_rel=float(relative_error(g_a, g_c, eps).max()),
                                 failures=int((~agrees).sum()),
                                 complex_failures=int((~exactly).sum())))
    return rows
# --8<-- [end:check]


def passes(rows: list[GradCheckRow]) -> bool:
    """The verdict of a check: every element of every parameter agrees (see the docstring)."""
    return all(row.passed for row in rows)


def table(rows: list[GradCheckRow], markdown: bool = False) -> str:
    """The gradient-check table (the report's Table 1), as aligned text or as Markdown."""
    header = ("param", "shape", "max rel. error", "mean rel. error", "max abs. error",
              "complex-step rel. error", "verdict")
    body = [(r.name, "×".join(map(str, r.shape)), f"{r.max_rel:.2e}", f"{r.mean_rel:.2e}",
             f"{r.max_abs:.2e}", f"{r.complex_rel:.2e}",
             "ok" if r.passed else f"FAILED ({r.failures} + {r.complex_failures} elements)")
            for r in rows]
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|---" * len(header) + "|",
                          *("| " + " | ".join(line) + " |" for line in body)])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                     .rstrip() for line in [header, *body])
