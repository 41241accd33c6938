r"""Running an exercise's checks on a learner's functions, and naming the mistake behind a failure.

Each check runs through ``hypothesis.find``, derandomised and without a database: the same
functions get the same verdict and the same smallest failing example every time. A
``NotImplementedError`` marks a check "todo"; a stopped child ends the run. When a check
fails, :func:`diagnose` names the mistakes of the table whose outputs the learner's match.
Nothing here prints: the CLI formats the :class:`Report`.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field, is_dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException, NoSuchExample

from charrnn_edu.exercises.catalog import MISTAKES, wrong_functions
from charrnn_edu.exercises.model import (
    Check,
    CheckResult,
    Exercise,
    Mistake,
    abbreviated,
    described,
)
from charrnn_edu.exercises.sandbox import InProcess, Learner, LearnerError, Stopped
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.spec.properties import Case

__all__ = ["Report", "run_checks", "diagnose", "compact", "DEFAULT_EXAMPLES"]

DEFAULT_EXAMPLES = 50


@dataclass
class Report:
    """All checks of one exercise on one learner's functions, and what they point to."""

    exercise: Exercise
    results: list[CheckResult] = field(default_factory=list)
    diagnoses: list[Mistake] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    stopped: str = ""

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return bool(self.results) and all(r.status == "pass" for r in self.results)

    def failed(self) -> list[str]:
        """Names of the checks that failed."""
        return [r.check.name for r in self.results if r.status == "fail"]


class _Unimplemented(BaseException):
    """Stops ``hypothesis.find`` at once: a BaseException is not a failing example."""


def compact(value: Any, width: int = 300, labels: tuple[str, ...] = ()) -> str:
    """A one-line, short rendering of an example: arrays abbreviated, cases with their problem."""
    if labels and isinstance(value, tuple) and len(labels) == len(value):
        text = ", ".join(f"{label} = {compact(v, width)}"
                         for label, v in zip(labels, value, strict=True))
    elif isinstance(value, Case):
        _, x, y, h0 = value.build()
        text = described(value, x=x.tolist(), y=y.tolist(),
                         h0=h0[:, 0] if h0.any() else "zeros")
    elif isinstance(value, RNN):
        text = "RNN(" + ", ".join(f"{n}={compact(a)}" for n, a in zip(NAMES, value,
                                                                       strict=True)) + ")"
    elif isinstance(value, np.ndarray):
        text = abbreviated(value)
    elif isinstance(value, tuple):
        text = "(" + ", ".join(compact(v) for v in value) + ")"
    else:
        text = f"{value:.6g}" if isinstance(value, float) else repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if not isinstance(err, AssertionError | LearnerError) or not text:
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= 400 else text[:397] + "..."


_NONE = object()        # no pinned example fails


def _run_one(check: Check, f: Any, examples: int, shrink: bool) -> CheckResult:
    def body(example: Any) -> None:
        try:
            check.body(f, *([] if check.strategy is None else [copy.deepcopy(example)]))
        except LearnerError as err:
            if err.kind == "NotImplementedError":
                raise _Unimplemented(err.function) from None
            raise

    def fails(example: Any) -> bool:
        try:
            body(example)
        except Exception:             # the learner's results may break anything
            return True
        return False

    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    config = settings(max_examples=max(examples, 1), derandomize=True, database=None,
                      deadline=None, suppress_health_check=list(HealthCheck), phases=phases)
    try:
        # A pinned example that fails fails the check whatever Hypothesis draws; the drawn
        # (and shrunk) one is shown when there is one. examples=0 tries only the pinned ones.
        smallest = next((e for e in check.examples if fails(e)), _NONE)
        if examples > 0 or not check.examples:
            try:
                smallest = find(st.just(None) if check.strategy is None else check.strategy,
                                fails, settings=config)
            except NoSuchExample:
                pass
        if smallest is _NONE:
            return CheckResult(check, "pass")
    except _Unimplemented as stop:
        return CheckResult(check, "todo", stop.args[0])
    except HypothesisException as err:
        return CheckResult(check, "fail", "the function does not give the same result on the "
                           "same input: does it keep state between calls?"
                           if "Flaky" in type(err).__name__ else _one_line(err))
    shown = check.fixed or (check.shows(smallest) if check.shows is not None
                            else compact(smallest, labels=check.labels))
    try:
        body(smallest)
    except Exception as err:
        return CheckResult(check, "fail", _one_line(err), shown)
    return CheckResult(check, "fail", "failed once, then passed on the same input: does the "
                       "function keep state between calls?", shown)


def _same(a: Any, b: Any) -> bool:
    """Two leaves of outcomes alike: equal text, or numbers of one shape within 1e-7."""
    if isinstance(a, str | type(None)) or isinstance(b, str | type(None)):
        return type(a) is type(b) and a == b
    try:
        a, b = np.asarray(a), np.asarray(b)
        return (a.shape == b.shape and (a.dtype.kind == "c") == (b.dtype.kind == "c")
                and bool(np.allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True)))
    except (TypeError, ValueError):
        return False


def _signs(outcomes: list[Any]) -> dict[tuple, Any]:
    """Every number, text or "raised" of a probe's outcomes, by where it is in them."""
    signs = {}

    def walk(value: Any, where: tuple) -> None:
        # Chapter 10's LSTM and 10b's GRU by name: a lab file's is its own copy of the class.
        if isinstance(value, RNN | tuple | list) or (type(value).__name__ in ("LSTM", "GRU")
                                                     and is_dataclass(value)):
            signs[(*where, "length")] = len(list(value))
            for i, v in enumerate(value):
                walk(v, (*where, i))
        else:
            signs[where] = value
    walk(outcomes, ())
    return signs


def diagnose(exercise: Exercise, learner: Learner) -> list[Mistake]:
    """The mistakes whose outputs the learner's functions give on the exercise's probe.

    A mistake fits when, wherever its outputs differ from the package's, the learner's
    equal the mistake's. The mistakes of other exercises in the same chapter are tried too:
    a slip in ``backward_step`` shows in ``gradients``.
    """
    names = exercise.function_names
    chapter = {f.__module__ for f in exercise.functions}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        default = exercise.probe
        reference = InProcess(exercise.references)
        seen = {}
        found = []
        for mistake in sorted(MISTAKES, key=lambda m: m.exercise != exercise.name):
            if mistake.module.__name__ not in chapter:
                continue
            probe = mistake.probe or default
            if probe not in seen:
                seen[probe] = (_signs(probe(learner.outcome)), _signs(probe(reference.outcome)))
            mine, right = seen[probe]
            wrong = _signs(probe(InProcess({n: wrong_functions(mistake.key)[n]
                                            for n in names}).outcome))
            differs = {key for key in set(wrong) | set(right)
                       if not _same(wrong.get(key), right.get(key))}
            if differs and all(_same(mine.get(key), wrong.get(key)) for key in differs):
                found.append((mistake, probe, differs))
    # A mistake whose signs all lie inside another's that fits too explains less: leave it out.
    return [m for m, probe, where in found
            if not any(p is probe and where < other for _, p, other in found)]


def run_checks(exercise: Exercise, learner: Learner, examples: int = DEFAULT_EXAMPLES,
               only: str | None = None, shrink: bool = True) -> Report:
    """Run the checks of ``exercise`` (or the one called ``only``) on ``learner``'s functions.

    Parameters
    ----------
    exercise : Exercise
    learner : Learner
        Where the functions run: a :class:`~charrnn_edu.exercises.sandbox.Sandbox` for a
        learner's file, :class:`~charrnn_edu.exercises.sandbox.InProcess` for the package's.
    examples : int
        Hypothesis examples per check before it counts as passed, after the check's pinned
        ones (``Check.examples``); 0 tries only the pinned ones.
    only : str or None
        Run only this check.
    shrink : bool
        Shrink a failing example to the smallest (slower, clearer).
    """
    report = Report(exercise)
    f = learner.namespace(exercise.function_names)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")     # numpy's overflow warnings, ComplexWarning...
            for check in exercise.checks:
                if only is None or check.name == only:
                    report.results.append(_run_one(check, f, examples, shrink))
        if report.failed():
            report.diagnoses = diagnose(exercise, learner)
    except Stopped as err:
        report.stopped = str(err)
    if not report.diagnoses:
        report.notes = dict(learner.notes)
    return report
