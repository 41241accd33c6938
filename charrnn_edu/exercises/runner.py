r"""Running an exercise's checks on a set of functions, and reporting what failed.

Each check with a strategy runs through ``hypothesis.find``, looking for an example on which
the check fails: derandomised and without a database, so the same functions get the same
verdict and the same smallest failing example every time. A ``NotImplementedError`` from the
learner's function stops the search at once and marks the check "todo". When a check fails,
every diagnosis of the exercise probes the functions for its symptom.

Nothing here prints: the CLI formats the :class:`Report`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import HypothesisException, NoSuchExample

from charrnn_edu.exercises.catalog import Exercise
from charrnn_edu.exercises.checks import CHECKS, DIAGNOSES, Check, Diagnosis
from charrnn_edu.exercises.properties import Case
from charrnn_edu.forward import RNN

__all__ = ["CheckResult", "Report", "run_checks", "compact", "one_line", "DEFAULT_EXAMPLES"]

DEFAULT_EXAMPLES = 50


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: "pass", "fail", or "todo" (a function is not written yet)."""

    check: Check
    status: str
    error: str = ""
    example: str = ""


@dataclass(frozen=True)
class Report:
    """All checks of one exercise against one set of functions, and the diagnoses."""

    exercise: Exercise
    results: tuple[CheckResult, ...]
    diagnoses: tuple[Diagnosis, ...]
    unimplemented: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(r.status == "pass" for r in self.results)

    def failed(self) -> list[str]:
        """Names of the checks that failed (not those waiting for an unwritten function)."""
        return [r.check.name for r in self.results if r.status == "fail"]


# Recognised from the failure messages, not by a probe: any exercise can show it.
RETURNS_NONE = Diagnosis("returns-none", "a function returns None",
                         "A function returned None: is a `return` missing at its end?",
                         lambda f: False)


class _Unimplemented(BaseException):
    """Stops ``hypothesis.find`` at once: a BaseException is not a failing example to shrink."""


def compact(value: Any, width: int = 300, labels: tuple[str, ...] = ()) -> str:
    """A one-line, short rendering of an example: arrays abbreviated, cases with their problem.

    A tuple with ``labels`` shows as ``label = value, ...``.
    """
    if labels and isinstance(value, tuple) and len(labels) == len(value):
        text = ", ".join(f"{label} = {compact(v, width)}" for label, v in zip(labels, value,
                                                                              strict=True))
    elif isinstance(value, Case):
        _, x, y, h0 = value.build()
        h0_text = "zeros" if not h0.any() else compact(h0[:, 0])
        text = (f"m={value.m}, K={value.K}, x={x.tolist()}, y={y.tolist()}, h0={h0_text} "
                f"[{value!r}]")
    elif isinstance(value, RNN):
        text = "RNN(" + ", ".join(f"{n}={compact(a)}" for n, a in zip(RNN.names(), value,
                                                                       strict=True)) + ")"
    elif isinstance(value, np.ndarray):
        with np.printoptions(precision=4, threshold=16, edgeitems=3, linewidth=10_000):
            text = " ".join(np.array2string(value, separator=", ").split())
    elif isinstance(value, tuple):
        text = "(" + ", ".join(compact(v) for v in value) + ")"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _numpy_message(lines: list[str]) -> str | None:
    """numpy.testing's several-line report, as one line: where, what it got, what it expected.

    None if ``lines`` is not such a report.
    """
    if not lines or not lines[0].startswith(("Not equal to tolerance", "Arrays are not equal")):
        return None
    tolerance = lines[0].removeprefix("Not equal to tolerance ").removeprefix(
        "Arrays are not equal")
    starts = ("Mismatch", "(shapes", "x and y nan", "nan location", "+inf", "-inf", "ACTUAL",
              "DESIRED", "Max ", "[")
    context = [line for line in lines[1:] if not line.startswith(starts)]
    found = {key: line.split(":", 1)[1].strip() for line in lines
             for key in ("ACTUAL", "DESIRED") if line.startswith(key + ":")}
    where = next((line for line in lines if line.startswith("[")), "")
    shapes = next((line for line in lines if line.startswith("(shapes")), "")
    if shapes:
        what = shapes.strip("()").replace(" mismatch", "").replace("shapes ", "shapes differ: ")
        what = f"{what} (yours first)"
    elif where:
        index, values = where.split(": ", 1)
        actual, _, desired = values.partition(", ")
        what = (f"at {index}: got {actual.replace(' (ACTUAL)', '')}, expected "
                f"{desired.replace(' (DESIRED)', '')}")
        mismatched = next((line for line in lines if line.startswith("Mismatched elements")), "")
        if mismatched:
            what += f" ({mismatched.split(': ', 1)[1].split(' (')[0]} elements differ)"
    else:
        what = f"got {found.get('ACTUAL', '?')}, expected {found.get('DESIRED', '?')}"
    prefix = f"{'; '.join(context)}: " if context else ""
    return prefix + what + (f" [{tolerance}]" if tolerance else "")


def one_line(err: BaseException, width: int = 300) -> str:
    """An exception as one short line: type (unless an assertion) and its message's lines."""
    lines = [" ".join(line.split()) for line in str(err).splitlines()]
    lines = [line for line in lines if line]
    text = _numpy_message(lines) or "; ".join(lines)
    if not isinstance(err, AssertionError) or not text:
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= width else text[:width - 3] + "..."


def _unimplemented_names(err: BaseException, f: SimpleNamespace) -> list[str]:
    """Which of the learner's functions raised ``err`` (found on its traceback)."""
    codes = {getattr(fn, "__code__", None): name for name, fn in vars(f).items()}
    names, tb = [], err.__traceback__
    while tb is not None:
        name = codes.get(tb.tb_frame.f_code)
        if name is not None and name not in names:
            names.append(name)
        tb = tb.tb_next
    return names[-1:] or list(vars(f))


def _run_one(check: Check, f: SimpleNamespace, max_examples: int) -> tuple[CheckResult, list]:
    unimplemented: list[str] = []
    if check.strategy is None:
        try:
            check.body(f)
        except NotImplementedError as err:
            return CheckResult(check, "todo"), _unimplemented_names(err, f)
        except (Exception, SystemExit) as err:  # the learner's code may raise anything
            return CheckResult(check, "fail", one_line(err), check.fixed), unimplemented
        return CheckResult(check, "pass"), unimplemented

    def fails(example: Any) -> bool:
        try:
            check.body(f, copy.deepcopy(example))  # the function may change its input
        except NotImplementedError as err:
            unimplemented.extend(_unimplemented_names(err, f))
            raise _Unimplemented from None
        except (Exception, SystemExit):
            return True
        return False

    config = settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck),
                      phases=(Phase.explicit, Phase.generate, Phase.shrink))
    try:
        smallest = find(check.strategy, fails, settings=config)
    except NoSuchExample:
        return CheckResult(check, "pass"), unimplemented
    except _Unimplemented:
        return CheckResult(check, "todo"), unimplemented
    except HypothesisException as err:
        flaky = "Flaky" in type(err).__name__
        return CheckResult(check, "fail", "the function does not give the same result on the "
                           "same input: does it keep state between calls?" if flaky
                           else one_line(err)), unimplemented
    example = compact(smallest, labels=check.labels)
    try:
        check.body(f, copy.deepcopy(smallest))
    except (Exception, SystemExit) as err:
        return CheckResult(check, "fail", one_line(err), example), unimplemented
    return CheckResult(check, "fail", "failed once, then passed on the same input: does the "
                       "function keep state between calls?", example), unimplemented


def _diagnose(exercise: Exercise, f: SimpleNamespace,
              results: list[CheckResult]) -> tuple[Diagnosis, ...]:
    found = []
    for diagnosis in DIAGNOSES[exercise.name]:
        try:
            with np.errstate(all="ignore"):
                if diagnosis.probe(f):
                    found.append(diagnosis)
        except (Exception, SystemExit):         # a probe that cannot run shows no symptom
            continue
    if not found and any("NoneType" in r.error for r in results):
        found.append(RETURNS_NONE)
    return tuple(found)


def run_checks(exercise: Exercise, functions: dict[str, Callable],
               max_examples: int = DEFAULT_EXAMPLES) -> Report:
    """Run every check of ``exercise`` on ``functions``; diagnose the mistakes if one fails.

    Parameters
    ----------
    exercise : Exercise
    functions : dict of str to callable
        One function per name in ``exercise.function_names``.
    max_examples : int
        Hypothesis examples per check before it counts as passed.

    Returns
    -------
    Report
    """
    missing = set(exercise.function_names) - set(functions)
    if missing:
        raise ValueError(f"no function for {sorted(missing)} of exercise {exercise.name}")
    f = SimpleNamespace(**{name: functions[name] for name in exercise.function_names})
    results, unimplemented = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # numpy's overflow warnings, ComplexWarning...
        for check in CHECKS[exercise.name]:
            result, todo = _run_one(check, f, max_examples)
            results.append(result)
            unimplemented += [name for name in todo if name not in unimplemented]
        failed = any(r.status == "fail" for r in results)
        diagnoses = _diagnose(exercise, f, results) if failed else ()
    return Report(exercise, tuple(results), diagnoses, tuple(unimplemented))
