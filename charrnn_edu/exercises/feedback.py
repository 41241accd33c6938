"""The text of a verdict: one line per check, the failing example, the diagnosis.

``charrnn exercises check`` prints it and a notebook's :func:`~charrnn_edu.exercises.check`
shows it; both take it from here, so a learner reads the same words in either.
"""

from __future__ import annotations

import textwrap

from charrnn_edu.exercises.runner import Report

__all__ = ["WIDTH", "wrap", "format_report"]

WIDTH = 96


def wrap(text: str, indent: str = "  ") -> str:
    """``text`` filled to :data:`WIDTH` columns, every line indented."""
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


def format_report(report: Report, hints: bool = True) -> list[str]:
    """One line per check, a failure with its smallest example, then what it points to."""
    lines, width = [], max(len(r.check.name) for r in report.results) if report.results else 0
    for result in report.results:
        mark = {"pass": "pass", "fail": "FAIL", "todo": "todo"}[result.status]
        lines.append(f"  {mark}  {result.check.name.ljust(width)}  {result.check.what}")
        if result.status == "fail":
            lines.append(wrap(f"error: {result.error}", " " * 8))
            if result.example:
                label = "example" if result.check.strategy is None else "smallest failing example"
                lines.append(wrap(f"{label}: {result.example}", " " * 8))
    todo = sorted({r.error for r in report.results if r.status == "todo"})
    if todo:
        lines += ["", wrap(f"{' and '.join(todo)} {'is' if len(todo) == 1 else 'are'} not "
                           "written yet, and that is how every exercise starts: replace the "
                           "`raise NotImplementedError(...)` line with your code (its "
                           "docstring says what to compute, with the shapes) and check again.",
                           "")]
    if hints:
        for mistake in report.diagnoses:
            lines += ["", f"diagnosis: {mistake.title}, breaking {mistake.equation}",
                      wrap(mistake.advice)]
        notes = {"none": "returned None: is a `return` missing at its end?",
                 "nan": "returned nan or inf for finite inputs: look for exp of a large "
                        "number, log of 0, or 0 / 0."}
        for kind, name in report.notes.items():
            lines += ["", wrap(f"note: {name} {notes[kind]}", "")]
    if any("[Case(" in r.example for r in report.results if r.status == "fail"):
        lines += ["", "To rerun an example [Case(...)] in Python:",
                  "  from charrnn_edu.spec.properties import Case",
                  *(f"  {line}" for line in report.exercise.rerun)]
    return lines
