r"""What an exercise is: the functions to write, the checks that grade them, the mistakes they name.

An :class:`Exercise` carries everything that grades it: its :class:`Check`\ s and its probe.
A :class:`Mistake` is the package's own code with one line (rarely two) changed. Each
chapter's file (``ch1_encoding.py`` ... ``ch10b_gru.py``) writes its exercises and its
mistakes side by side with these; :mod:`~charrnn_edu.exercises.catalog` collects them. The
helpers at the end are what the chapters' checks share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from charrnn_edu.spec.properties import Case, assert_close
from charrnn_edu.spec.strategies import cases

__all__ = ["Check", "Exercise", "Mistake", "Status", "CheckResult", "Probe", "pinned",
           "small_cases", "abbreviated", "described", "PROBE", "SQUARE"]

# ``outcome(name, *args)`` runs one call of the functions under test for a diagnosis; a
# probe makes its fixed calls through it and returns what they gave.
Probe = Callable[[Callable[..., Any]], list[Any]]


@dataclass(frozen=True)
class Check:
    """One check of an exercise.

    Attributes
    ----------
    name, what : str
        A few words, unique within the exercise, and the property in one line.
    body : callable
        ``body(f, example)`` raises when the property fails for ``example`` (``body(f)`` for
        a fixed case); ``f`` holds the learner's functions as attributes.
    strategy : SearchStrategy or None
        Where the examples come from; None for one fixed case, described by ``fixed``.
    labels : tuple of str
        Names of the parts of a tuple example, to show it as ``ids = [], K = 1``.
    shows : callable or None
        ``shows(example)``, the failing example in one line, for a check whose cases are not
        the vanilla problem of ``Case.build()`` (see :func:`described`); None for the default.
    examples : tuple
        Examples tried before any is drawn, like Hypothesis's ``@example``: each planted
        mistake this check must catch fails on one of them, so catching it does not hang on
        which examples a version of Hypothesis happens to draw.
    """

    name: str
    what: str
    body: Callable[..., None]
    strategy: st.SearchStrategy | None = None
    fixed: str = ""
    labels: tuple[str, ...] = ()
    examples: tuple[Any, ...] = ()
    shows: Callable[[Any], str] | None = None

    def __post_init__(self) -> None:
        # (strategy, labels) splatted by position once put the labels in ``fixed``.
        if not isinstance(self.fixed, str):
            raise TypeError(f"Check {self.name!r}: fixed must be a description, got "
                            f"{self.fixed!r} (pass labels=... by name)")


@dataclass(frozen=True, kw_only=True)
class Exercise:
    """One exercise: a chapter's function(s) to write, where their equations are, its checks.

    Attributes
    ----------
    name, title : str
        What ``charrnn exercises`` calls it, and one line for its list.
    chapter : int or str
        The chapter's number as its page writes it: 4, or "10b".
    module : ModuleType
        The chapter's module; its docstring holds the equations.
    functions : tuple of callable
        The package's functions: their names and signatures are the ones to write.
    checks : tuple of Check
        What ``charrnn exercises check`` runs, in order.
    probe : callable
        ``probe(outcome)``: fixed calls where each of the chapter's mistakes gives outputs
        of its own (see :func:`~charrnn_edu.exercises.runner.diagnose`).
    equations : tuple of str
        Tags like ``"2.1"`` of the equations the starter shows.
    imports : str
        The starter's import lines: what the learner may use from earlier chapters.
    promise : str
        Added to the starter's docstring: what the checks test that the docstring leaves out.
    rerun : tuple of str
        The Python lines, after ``from charrnn_edu.spec.properties import Case``, that build
        again what a failing example ``[Case(...)]`` stands for: the arguments of the call
        when the exercise's chapter file has a function that makes them.
    """

    name: str
    chapter: int | str
    module: ModuleType
    title: str
    functions: tuple[Callable, ...]
    checks: tuple[Check, ...]
    probe: Probe
    equations: tuple[str, ...] = ()
    imports: str = ""
    promise: str = ""
    rerun: tuple[str, ...] = ("rnn, x, y, h0 = Case(...).build()",)

    @property
    def function_names(self) -> tuple[str, ...]:
        """Names of the functions to write, in order."""
        return tuple(f.__name__ for f in self.functions)

    @property
    def references(self) -> dict[str, Callable]:
        """The package's implementation of every function, by name."""
        return {f.__name__: f for f in self.functions}


@dataclass(frozen=True, kw_only=True)
class Mistake:
    """A classic mistake: where it is, what it breaks, what to do, what must catch it.

    Applying its edits to the chapter's source gives both the mistake's *implementation*
    (the source run as a module of its own) and the *lab's file* (the source written out for
    a learner to repair).

    Attributes
    ----------
    key, title, advice : str
        Its name, the mistake in a few words, and what is wrong and how to fix it.
    exercise, check : str
        The exercise, and the name of its check that must catch the mistake.
    equation : str
        The equation it breaks, like ``"(4.5)"``.
    edits : tuple of (str, str)
        Each a piece of the chapter's source and what the mistake writes instead.
    module : ModuleType
        The chapter (or :mod:`~charrnn_edu.exercises.references`) the edits apply to.
    probe : callable or None
        ``probe(outcome)``, a sign of the mistake on fixed inputs, instead of the exercise's
        probe; for mistakes whose outputs vary from one learner's version to another's.
    """

    key: str
    exercise: str
    check: str
    equation: str
    title: str
    advice: str
    edits: tuple[tuple[str, str], ...]
    module: ModuleType
    probe: Probe | None = None


# A check that raised NotImplementedError is "todo"; a child that stopped ends the whole
# report (Report.stopped), so it is never one check's verdict.
Status = Literal["pass", "fail", "todo"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check, with the error and the smallest failing example if it failed."""

    check: Check
    status: Status
    error: str = ""
    example: str = ""


# ---------------------------------------------------------------- what the checks share

def small_cases(**kwargs: Any) -> st.SearchStrategy[Case]:
    """Problems small enough for element-wise derivatives on every example."""
    return cases(**{"max_m": 5, "max_K": 6, "max_tau": 8, **kwargs})


def pinned(outputs: list[tuple[str, Any, Any]], rtol: float, atol: float) -> None:
    """Compare each (label, got, expected) in equation order; name the first wrong one."""
    failures = []
    for label, got, expected in outputs:
        try:
            assert_close(got, expected, rtol, atol, what=label)
        except AssertionError as err:
            failures.append((label, str(err)))
    if failures:
        right = [label.split(" (")[0] for label, _, _ in outputs
                 if label not in dict(failures)]
        raise AssertionError(f"{failures[0][1]}; look there first"
                             + (f"; also wrong: {', '.join(f for f, _ in failures[1:])}"
                                if failures[1:] else "")
                             + (f"; right: {', '.join(right)}" if right else ""))


def abbreviated(a: np.ndarray) -> str:
    """An array on one line, four digits, at most 16 elements shown: ``[0.7527, -0.1]``."""
    with np.printoptions(precision=4, threshold=16, edgeitems=3, linewidth=10_000):
        return " ".join(np.array2string(np.asarray(a), separator=", ").split())


def described(case: Case, **parts: Any) -> str:
    """``m=1, K=2, x_t=1, h_prev=[0.7527] [Case(...)]``: a case by what the check gives.

    Arrays in ``parts`` are :func:`abbreviated`, anything else shown as it is.
    """
    shown = [f"{name}={abbreviated(v) if isinstance(v, np.ndarray) else v}"
             for name, v in parts.items()]
    return ", ".join([f"m={case.m}", f"K={case.K}", *shown]) + f" [{case!r}]"


# The problems of the probes. m, K and tau all differ in PROBE, so a transpose shows; SQUARE
# has m = K, so a mistake that forgets a transpose there runs instead of failing on shapes.
PROBE = Case(seed=7, m=3, K=4, tau=6, sigma=0.5, random_h0=True)
SQUARE = Case(seed=5, m=3, K=3, tau=5, sigma=0.5, random_h0=True)
