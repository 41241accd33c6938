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

All of them are one loop, :func:`elementwise`: move one element, compute the loss, put the
element back (CS231n's ``eval_numerical_gradient(f, x, h)`` has the same shape).

**When does a check pass?** Element by element, never by one number for a whole matrix.
The report's rule, :func:`report_passes`: a parameter passes when its largest relative error
(5.2) against the centred differences is below a threshold, ``RTOL`` = 1e-5 here (the
report's own errors lay between 1e-11 and 1e-8).

That rule can fail correct code, so the package's verdict, :func:`agrees` (and
:func:`passes` for a whole check), allows for two things. Relative error is harsh on tiny
elements: one below the eps floor has e = |g_a - g_n| / eps, and the rounding of (5.1)
alone, ~1e-10, makes that 1e-4. And BPTT itself rounds: each gradient element sums tau
terms, each carried back through up to tau products with W, so its rounding error grows
with tau, m and the size of the gradients (a network with large weights has exploding
ones). Call that allowance

    r = COMPLEX_ULPS * eps_mach * tau * m * max|g_c|

* against the complex step, which is exact, an element agrees when |g_a - g_c| <= r;
* against centred differences, an element agrees when its relative error (5.2) is below
  ``rtol`` *or* its absolute error is below ``atol``, or below 2|g_n - g_c| + r: (5.1)
  cannot judge more finely than its own error |g_n - g_c|, which the exact complex step
  measures (it is large where the loss curves sharply, for a large sigma).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from charrnn_edu.bptt import gradients
from charrnn_edu.forward import NAMES, RNN, forward
from charrnn_edu.loss import cross_entropy

__all__ = ["elementwise", "numerical_gradients", "complex_step_gradients", "relative_error",
           "GradCheckRow", "check", "table_rows", "report_passes", "agrees", "passes", "table",
           "RTOL",
           "ATOL", "COMPLEX_ULPS", "COMPLEX_STEP", "METHODS"]

COMPLEX_STEP = 1e-30
"""h of the complex step (5.3): no subtraction, so no rounding limits how small it can be."""
RTOL = 1e-5
"""The report's rule: a relative error (5.2) below this passes (and an element agrees)..."""
ATOL = 1e-8
"""...or an absolute error below this (or below the two methods' own errors)."""
COMPLEX_ULPS = 4096
"""BPTT's rounding allowance r, in rounding units of tau m max|g_c| (module docstring)."""
METHODS = ("centred", "forward", "complex")
"""The derivatives :func:`elementwise` computes: (5.1), the one-sided difference, (5.3)."""


# --8<-- [start:elementwise]
def elementwise(loss: Callable[[np.ndarray], float], theta: np.ndarray, *,
                method: str = "centred", step: float | None = None) -> np.ndarray:
    """The derivative of the number ``loss(theta)`` with respect to every element of ``theta``.

    One element at a time is moved by the step h, the loss is computed, and the element is
    put back, so ``theta`` ends as it began. The move is made in ``theta`` itself: ``loss``
    may ignore its argument and read a model that holds ``theta`` as one of its parameters.

    Parameters
    ----------
    loss : callable
        ``loss(theta)``: a real number, or a complex one for the complex step.
    theta : ndarray
        Changed during the call and restored; complex for ``method="complex"``.
    method : {"centred", "forward", "complex"}
        Centred differences (5.1), the forward difference (L(θ + h) - L(θ)) / h, or the
        complex step (5.3).
    step : float, optional
        h: by default 1e-4, or :data:`COMPLEX_STEP` for the complex step.

    Returns
    -------
    ndarray of the shape of ``theta``
    """
    step = (COMPLEX_STEP if method == "complex" else 1e-4) if step is None else step
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if not step > 0:
        raise ValueError(f"the step h must be positive, got {step}")
    if method == "complex" and not np.iscomplexobj(theta):
        raise ValueError("the complex step needs a complex theta (pass theta.astype(complex))")
    base = loss(theta) if method == "forward" else None
    g = np.empty(theta.shape)
    for index in np.ndindex(theta.shape):
        old = theta[index]
        if method == "centred":
            theta[index] = old + step
            plus = loss(theta)
            theta[index] = old - step
            g[index] = (plus - loss(theta)) / (2 * step)          # (5.1)
        elif method == "forward":
            theta[index] = old + step
            g[index] = (loss(theta) - base) / step                # O(h), for comparison
        else:
            theta[index] = old + 1j * step
            g[index] = loss(theta).imag / step                    # (5.3)
        theta[index] = old
    return g
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
    model = rnn.copy()

    def loss(_: np.ndarray) -> float:      # the moved element is one of model's arrays
        return cross_entropy(forward(model, x, h0).P, y)

    return RNN(*(elementwise(loss, theta, step=step) for theta in model))
# --8<-- [end:numerical]


# --8<-- [start:complex-step]
def complex_step_gradients(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                           step: float = COMPLEX_STEP) -> RNN:
    """Complex-step gradients, equation (5.3): exact to machine precision.

    Parameters and returns as :func:`numerical_gradients`; ``step`` is h in (5.3).
    """
    model = rnn.map(lambda a: a.astype(complex))

    def loss(_: np.ndarray) -> complex:
        return cross_entropy(forward(model, x, h0).P, y)

    return RNN(*(elementwise(loss, theta, method="complex", step=step) for theta in model))
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
        :func:`agrees`; 0 and 0 for correct gradients.
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
        """Every element agrees with both numerical gradients (:func:`agrees`)."""
        return self.failures == 0 and self.complex_failures == 0


# --8<-- [start:check]
def check(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray, step: float = 1e-4,
          eps: float = 1e-6, rtol: float = RTOL, atol: float = ATOL,
          analytic: RNN | None = None) -> list[GradCheckRow]:
    """The report's Table 1: BPTT's gradients against centred differences and complex steps.

    Each row holds the report's numbers for one parameter, the largest and the mean (5.2)
    against the centred differences (the largest is what :func:`report_passes` judges),
    and how many elements :func:`agrees` finds wrong, with ``rtol`` and ``atol``.
    ``analytic`` checks other gradients of the same loss instead of chapter 4's, such as
    a learner's (``charrnn lab check``).

    Returns
    -------
    list of GradCheckRow
        One row per parameter, in the order b, c, U, W, V.
    """
    if analytic is None:
        _, analytic, _ = gradients(rnn, x, y, h0)
    centred = numerical_gradients(rnn, x, y, h0, step)
    exact = complex_step_gradients(rnn, x, y, h0)
    return table_rows(NAMES, analytic, centred, exact, len(x), eps, rtol, atol)
# --8<-- [end:check]


def table_rows(names: Sequence[str], analytic: RNN, centred: RNN, exact: RNN, tau: int,
               eps: float = 1e-6, rtol: float = RTOL, atol: float = ATOL) -> list[GradCheckRow]:
    """The rows of the table from the three gradients of each parameter, in ``names`` order.

    Every cell's check (this chapter's, the LSTM's, the GRU's) makes its table here: a gated
    cell passes its own container, whose ``m`` is its hidden size.
    """
    by_centred, by_complex = agrees(analytic, centred, exact, tau, rtol, atol, eps)
    rows = []
    for name, g_a, g_n, g_c, ok, exactly in zip(names, analytic, centred, exact, by_centred,
                                               by_complex, strict=True):
        rel = relative_error(g_a, g_n, eps)                       # (5.2), element-wise
        rows.append(GradCheckRow(name=name, shape=g_a.shape, max_rel=float(rel.max()),
                                 mean_rel=float(rel.mean()),
                                 max_abs=float(np.abs(g_a - g_n).max()),
                                 complex_rel=float(relative_error(g_a, g_c, eps).max()),
                                 failures=int((~ok).sum()),
                                 complex_failures=int((~exactly).sum())))
    return rows


# --8<-- [start:rules]
def report_passes(rows: list[GradCheckRow], threshold: float = RTOL) -> bool:
    """The report's rule: every parameter's largest relative error (5.2) is below ``threshold``."""
    return all(row.max_rel < threshold for row in rows)


def agrees(analytic: RNN, centred: RNN, exact: RNN, tau: int, rtol: float = RTOL,
           atol: float = ATOL, eps: float = 1e-6) -> tuple[RNN, RNN]:
    """The package's verdict, element by element (the rule of the module docstring).

    Parameters
    ----------
    analytic, centred, exact : RNN
        BPTT's gradients g_a, centred differences g_n (5.1), complex steps g_c (5.3).
    tau : int
        The length of the sequence they were computed on.
    rtol, atol, eps : float
        The relative and absolute tolerances against g_n, and the floor of (5.2).

    Returns
    -------
    by_centred, by_complex : RNN
        Boolean arrays of the parameters' shapes: True where g_a agrees with g_n, and with g_c.
    """
    # BPTT's own rounding r: tau terms per element, m units per step, gradients this large.
    scale = max(float(np.abs(g).max()) for g in exact)
    rounding = COMPLEX_ULPS * np.finfo(float).eps * tau * analytic.m * scale
    by_centred, by_complex = [], []
    for g_a, g_n, g_c in zip(analytic, centred, exact, strict=True):
        own = np.abs(g_n - g_c)                  # (5.1)'s own error: truncation and rounding
        by_centred.append((relative_error(g_a, g_n, eps) < rtol)
                          | (np.abs(g_a - g_n) < np.maximum(atol, 2 * own + rounding)))
        by_complex.append(np.abs(g_a - g_c) <= rounding)
    return RNN(*by_centred), RNN(*by_complex)
# --8<-- [end:rules]


def passes(rows: list[GradCheckRow]) -> bool:
    """The package's verdict on a check: :func:`agrees` found every element right."""
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
