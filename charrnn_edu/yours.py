r"""Check a learner's own ``loss_and_gradients`` in their conventions, and name what differs.

The contract: ``loss_and_gradients(params, x, y, h0) -> (loss, grads)``, ``params`` and
``grads`` dicts keyed b, c, U, W, V in the declared layout (columns or rows, see
:mod:`charrnn_edu.conventions`), ``x`` and ``y`` int ids of shape (tau,), the loss the sum
(3.1) or the mean. :func:`check_yours` compares the learner's gradients with the reference
in those conventions and with centred differences (5.1) of the learner's *own* loss, element
by element by chapter 5's rule; when they fail, :func:`diagnose` tries the usual convention
slips against the numbers and names the one that fits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from charrnn_edu.conventions import (
    Problem,
    ShapeProblem,
    expected_shapes,
    other_layout,
    reference,
    slip_gradients,
    to_layout,
)
from charrnn_edu.forward import NAMES, RNN, forward
from charrnn_edu.gradcheck import ATOL, COMPLEX_ULPS, RTOL, elementwise, relative_error
from charrnn_edu.loss import cross_entropy

__all__ = ["STEP", "Row", "Result", "read_result", "check_yours", "diagnose", "table"]

STEP = 1e-4
"""h of the centred differences of the learner's own loss (5.1)."""


def _number(value: Any) -> float:
    array = np.asarray(value) if isinstance(value, int | float | np.ndarray | np.generic) \
        else None
    if array is None or array.size != 1 or array.dtype.kind not in "iuf":
        raise ShapeProblem(f"the loss must be a number; your function returned "
                           f"{type(value).__name__} {str(value)[:40]}")
    return float(array.reshape(()))


def read_result(result: Any,
                problem: Problem) -> tuple[float, dict[str, np.ndarray], list[str]]:
    """The learner's loss and gradients, and the arrays that have the other layout's shape.

    Raises
    ------
    ShapeProblem
        A result that is not ``(number, dict of five arrays)``, or an array that fits neither
        layout; the message is one line naming the array, its shape and the shapes expected.
    """
    if not (isinstance(result, tuple | list) and len(result) == 2):
        raise ShapeProblem("your function must return (loss, grads); it returned "
                           f"{type(result).__name__} {str(result)[:40]}")
    loss, grads = result
    if not isinstance(grads, dict):
        raise ShapeProblem(f"grads must be a dict keyed b, c, U, W, V; it is "
                           f"{type(grads).__name__}")
    missing = [name for name in NAMES if name not in grads]
    if missing:
        raise ShapeProblem(f"grads has no {', '.join(missing)}: it must hold the gradients "
                           "of b, c, U, W and V")
    m, K = problem.rnn.m, problem.rnn.K
    mine, theirs = (expected_shapes(problem.layout, m, K),
                    expected_shapes(other_layout(problem.layout), m, K))
    arrays, transposed = {}, []
    for name in NAMES:
        g = np.asarray(grads[name]) if isinstance(grads[name], np.ndarray | list) else None
        if g is None or g.dtype.kind not in "iuf":
            raise ShapeProblem(f"grads[{name!r}] must be an array of numbers; it is "
                               f"{type(grads[name]).__name__}")
        if g.shape != mine[name] and g.shape == theirs[name]:
            transposed.append(name)
        elif g.shape != mine[name]:
            raise ShapeProblem(f"grads[{name!r}] has shape {g.shape}; expected {mine[name]} "
                               f"(--layout {problem.layout}) or {theirs[name]} (--layout "
                               f"{other_layout(problem.layout)})")
        arrays[name] = g
    return _number(loss), arrays, transposed


def _rounding(problem: Problem, grads: Mapping[str, np.ndarray]) -> float:
    """BPTT's own rounding r, as chapter 5 allows it (gradcheck's module docstring)."""
    scale = max(float(np.abs(g).max()) for g in grads.values())
    return COMPLEX_ULPS * np.finfo(float).eps * problem.tau * problem.rnn.m * scale


def _agree(a: np.ndarray, b: np.ndarray, allowance: float) -> np.ndarray:
    """Chapter 5's rule, element-wise: relative error below RTOL, or absolute below ATOL + r."""
    return (relative_error(a, b) < RTOL) | (np.abs(a - b) < ATOL + allowance)


def _fits(grads: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray],
          allowance: float, names: tuple[str, ...] = NAMES) -> bool:
    return all(np.shape(grads[n]) == np.shape(other[n])
               and bool(_agree(grads[n], other[n], allowance).all()) for n in names)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


# ---------------------------------------------------------------- the check and the diagnosis

@dataclass(frozen=True)
class Row:
    """One parameter of the check: the largest relative errors (5.2) of the learner's gradient.

    Attributes
    ----------
    name : str
    shape : tuple of int
        The shape in the declared layout.
    reference, own : float
        Against the reference in the declared conventions, and against centred differences
        (5.1) of the learner's own loss.
    torch : float or None
        Against torch.autograd's gradient, when asked for.
    failures, own_failures : int
        Elements that disagree with the reference, and with the own differences (chapter 5's
        rule: relative error below RTOL, or absolute below ATOL + the rounding allowance r).
    """

    name: str
    shape: tuple[int, ...]
    reference: float
    own: float
    torch: float | None
    failures: int
    own_failures: int


@dataclass(frozen=True)
class Result:
    """The verdict on a learner's ``loss_and_gradients``.

    Attributes
    ----------
    rows : list of Row
        b, c, U, W, V.
    loss, reference_loss : float
        The learner's loss and the reference's.
    passed : bool
        Every gradient element and the loss agree with the reference.
    diagnosis : str or None
        The slip that explains the difference, in one or two sentences; None when passed.
    """

    rows: list[Row]
    loss: float
    reference_loss: float
    passed: bool
    diagnosis: str | None


def _own_differences(function: Callable, problem: Problem, step: float) -> dict[str, np.ndarray]:
    """(5.1) of the learner's own loss: their function called with one element moved."""
    params, x, y, h0 = problem.arguments()

    def loss(_: np.ndarray) -> float:           # the moved element is one of params' arrays
        return _number(function(params, x, y, h0)[0])

    return {name: elementwise(loss, params[name], step=step) for name in NAMES}


def _reference_differences(problem: Problem, step: float) -> dict[str, np.ndarray]:
    """(5.1) of the reference loss, to measure how finely centred differences can judge."""
    model = problem.rnn.copy()

    def loss(_: np.ndarray) -> float:
        return float(cross_entropy(forward(model, problem.x, problem.h0).P, problem.y))

    numerical = RNN(*(elementwise(loss, theta, step=step) for theta in model))
    scale = 1 / problem.tau if problem.loss == "mean" else 1.0
    return to_layout(numerical.map(lambda g: g * scale), problem.layout)


def check_yours(function: Callable, problem: Problem, *, torch: Mapping | None = None,
                step: float = STEP) -> Result:
    """Check ``function(params, x, y, h0) -> (loss, grads)`` in the problem's conventions.

    Parameters
    ----------
    function : callable
        The learner's function (any callable: ``charrnn gradcheck --yours`` passes one that
        runs it in the sandbox). Called once as given, then twice per parameter element for
        the centred differences of its own loss.
    problem : Problem
    torch : dict of str to ndarray, optional
        torch.autograd's gradients (:func:`torch_reference`), for a column beside the package's.
    step : float
        h of (5.1).

    Raises
    ------
    ShapeProblem
        A result that is not ``(number, dict of five arrays)``, an array that fits neither
        layout, or a function that fails in the declared layout and runs in the other.
    """
    ref_loss, ref = reference(problem)
    try:
        result = function(*problem.arguments())
    except Exception as err:
        other = other_layout(problem.layout)
        try:
            function(*problem.arguments(other))
        except Exception:
            raise err from None
        raise ShapeProblem(f"your function fails on the {problem.layout} layout's arrays "
                           f"({err}) and runs on the {other} layout's: check it with "
                           f"--layout {other}") from None
    loss, grads, transposed = read_result(result, problem)
    judged = {n: (g.T if n in transposed else g) for n, g in grads.items()}
    own = _own_differences(function, problem, step)
    allowance = _rounding(problem, ref)
    limit = {n: 2 * np.abs(d - ref[n]) + allowance
             for n, d in _reference_differences(problem, step).items()}
    rows = []
    for name in NAMES:
        g, d = judged[name].astype(float), own[name]
        # (5.1) cannot judge more finely than its own error, measured on the reference's loss.
        by_own = (relative_error(g, d) < RTOL) | (np.abs(g - d) < np.maximum(ATOL, limit[name]))
        rows.append(Row(name=name, shape=grads[name].shape,
                        reference=float(relative_error(g, ref[name]).max()),
                        own=float(relative_error(g, d).max()),
                        torch=None if torch is None
                        else float(relative_error(g, torch[name]).max()),
                        failures=int((~_agree(g, ref[name], allowance)).sum()),
                        own_failures=int((~by_own).sum())))
    passed = not transposed and _close(loss, ref_loss) and all(r.failures == 0 for r in rows)
    diagnosis = None if passed else diagnose(problem, loss, grads, rows, transposed)
    return Result(rows=rows, loss=loss, reference_loss=ref_loss, passed=passed,
                  diagnosis=diagnosis)


EQUATION = {"b": "(4.8)", "c": "(4.3)", "U": "(4.7)", "W": "(4.6)", "V": "(4.2)"}
"""The equation of chapter 4 that gives each gradient."""


def diagnose(problem: Problem, loss: float, grads: Mapping[str, np.ndarray], rows: list[Row],
             transposed: list[str]) -> str:
    """The convention slip that explains the learner's numbers, tried in turn; one or two sentences.

    Tried in this order: gradients in the other layout's shapes; float32 arithmetic; a
    square gradient transposed; the other loss (a factor tau); W or V untransposed in
    (4.4); h0 ignored; gradients clipped; gradients that are those of the learner's own
    loss but not of the reference; and at last which parameters are right and which wrong.
    """
    tau, declared = problem.tau, problem.loss
    other_loss = "mean" if declared == "sum" else "sum"
    ref_loss, ref = reference(problem)
    allowance = _rounding(problem, ref)
    m, K = problem.rnn.m, problem.rnn.K
    if transposed:
        other = other_layout(problem.layout)
        theirs, mine = expected_shapes(other, m, K), expected_shapes(problem.layout, m, K)
        shown = ", ".join(f"d{n} {theirs[n]}" for n in transposed)
        wanted = ", ".join(f"{mine[n]}" for n in transposed)
        return (f"the other layout: {shown} have the {other} layout's shapes; --layout "
                f"{problem.layout} wants {wanted}. Transpose them, or check your code with "
                f"--layout {other}")
    worst = max(r.reference for r in rows)
    if worst < 1e-3 and (any(np.asarray(g).dtype.itemsize < 8 for g in grads.values())
                         or all(np.array_equal(g, g.astype(np.float32)) for g in grads.values())):
        return (f"float32 arithmetic: your gradients agree with the reference to {worst:.1e}, "
                f"and your loss {loss:.9g} with its {ref_loss:.9g}, the rounding of float32 "
                "(about 1e-7 per operation); compute in float64 (chapter 5 needs it)")
    flipped = [n for n in NAMES if grads[n].shape[0] == grads[n].shape[-1] > 1
               and not _fits(grads, ref, allowance, (n,))
               and _fits({n: grads[n].T}, ref, allowance, (n,))]
    if flipped and _fits(grads, ref, allowance, tuple(n for n in NAMES if n not in flipped)):
        return (f"d{', d'.join(flipped)} transposed: the reference's is the transpose of yours "
                f"(see {', '.join(EQUATION[n] for n in flipped)}; in rows every gradient is the "
                "transpose of its column form)")
    gradients_right = _fits(grads, ref, allowance)
    for factor, name in ((tau, "sum"), (1 / tau, "mean")):
        if tau == 1 or name == declared:
            continue
        scaled = {n: g * factor for n, g in ref.items()}
        if _fits(grads, scaled, allowance):
            if _close(loss, ref_loss * factor):
                return (f"the {name} where --loss {declared} was declared: your loss {loss:.6g} "
                        f"and your gradients are {_times(factor, tau)} the reference's "
                        f"({ref_loss:.6g}). Check with --loss {name}, or compute the {declared}")
            fix = "divide them by" if name == "sum" else "multiply them by"
            said = (f"your loss is the {declared} ({loss:.6g}, right)" if _close(loss, ref_loss)
                    else f"your loss {loss:.6g} is not the reference's {ref_loss:.6g} either")
            return (f"{said}, but your gradients are those of the {name} loss, "
                    f"{_times(factor, tau)} the reference's: {fix} tau = {tau}")
    if gradients_right:
        if _close(loss, ref_loss * (tau if declared == "mean" else 1 / tau)):
            return (f"your gradients are right but your loss {loss:.6g} is the {other_loss} "
                    f"(the {declared} is {ref_loss:.6g})")
        return (f"your gradients are right but your loss is not: yours is {loss:.6g}, the "
                f"reference's {ref_loss:.6g}")
    slips = ["W untransposed", "h0 ignored", "h0 missing from dW"]
    if K == m:
        slips.insert(1, "V untransposed")
    for slip in slips:
        if _fits(grads, slip_gradients(problem, slip)[1], allowance):
            return _slip_message(slip, problem.layout == "rows")
    largest = max(float(np.abs(g).max()) for g in grads.values())
    clipped = {n: np.clip(g, -largest, largest) for n, g in ref.items()}
    if largest > 0 and any(np.abs(g).max() > largest * (1 + 1e-6) for g in ref.values()) \
            and _fits(grads, clipped, allowance):
        return (f"gradients clipped at ±{largest:.6g} before the check: clipping changes the "
                "gradient, so check the raw gradients and clip in the optimiser (chapter 6)")
    if all(r.own_failures == 0 for r in rows):
        return (f"your gradients are those of your own loss, but your loss is another function: "
                f"yours is {loss:.6g} here, the reference's ({declared}, {problem.layout}) "
                f"{ref_loss:.6g}. Look at the forward pass and the loss, (2.1)-(3.1)")
    right = [r.name for r in rows if r.failures == 0]
    wrong = [r.name for r in rows if r.failures]
    where = ", ".join(f"d{n} {EQUATION[n]}" for n in wrong)
    said = f"d{', d'.join(right)} right, " if right else ""
    return (f"{said}{where} wrong" + ("" if _close(loss, ref_loss) else
                                       f"; your loss {loss:.6g} is not the reference's "
                                       f"{ref_loss:.6g} either"))


def _times(factor: float, tau: int) -> str:
    return f"tau = {tau} times" if factor > 1 else f"1/tau = 1/{tau} of"


def _slip_message(slip: str, rows: bool) -> str:
    """What a slip of :func:`slip_gradients` is, in the learner's layout, and its repair."""
    if slip in ("W untransposed", "V untransposed"):
        M, d = slip[0], "dL/da_{t+1}" if slip[0] == "W" else "g_t"
        needs, has = (f"{d} {M}^T", f"{d} {M}") if rows else (f"{M}^T {d}", f"{M} {d}")
        return (f"{M} untransposed in the backward recurrence (4.4): your dL/dh_t takes {has} "
                f"where it needs {needs}")
    if slip == "h0 ignored":
        return ("h0 ignored: your forward pass starts from zeros, not from the h0 it is given "
                "(the loss and every gradient depend on h0)")
    return ("h0 missing from dW: the t = 1 term of (4.6), "
            + ("h_0^T dL/da_1" if rows else "dL/da_1 h_0^T") + ", is left out")


def table(rows: list[Row]) -> str:
    """The check's table, one line per parameter, as chapter 5's ``gradcheck.table``."""
    with_torch = any(r.torch is not None for r in rows)
    header = ("param", "shape", "vs reference", *(("vs torch",) if with_torch else ()),
              "vs your own loss", "verdict")
    body = [(r.name, "×".join(map(str, r.shape)), f"{r.reference:.2e}",
             *((f"{r.torch:.2e}",) if with_torch else ()), f"{r.own:.2e}",
             "ok" if r.failures == 0 else f"FAILED ({r.failures} elements)") for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                     .rstrip() for line in [header, *body])


