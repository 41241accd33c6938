r"""Grading a class: one row per submission, whatever the submission does.

A teacher collects the files of one exercise in a folder: the folder holding the exercise's
file itself (the name ``charrnn exercises start`` writes) is one submission; otherwise each
subfolder holding it, and each ``.py`` file directly in the folder, is one, named by its
folder or file stem (:func:`submissions`). :func:`grade` runs each in its own
:class:`~charrnn_edu.exercises.sandbox.Sandbox`, a few at a time, and gives each a
:class:`Row`: its status (one of :data:`STATUSES`), checks passed, and the diagnosis.
:func:`write_results` writes ``results.csv``, ``results.json`` and ``feedback/NAME.md``;
:func:`gradescope` gives Gradescope's ``results.json`` for one submission. Nothing here
prints or records progress: the CLI gives the callbacks that show rows and feedback.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from charrnn_edu.exercises.catalog import starter_filename
from charrnn_edu.exercises.confine import Limits
from charrnn_edu.exercises.model import Exercise
from charrnn_edu.exercises.runner import DEFAULT_EXAMPLES, Report, run_checks
from charrnn_edu.exercises.sandbox import DEFAULT_TIMEOUT, FileProblem, Sandbox, Stopped
from charrnn_edu.files import write_atomically

__all__ = ["STATUSES", "Submission", "Row", "submissions", "grade", "grade_one",
           "write_results", "gradescope", "COLUMNS"]

STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "refused")
COLUMNS = ("submission", "status", "checks_passed", "checks_total", "diagnosis", "seconds")

# What the CLI makes of a run for the learner: (the submission's file, its report or None,
# what its code printed, the reason it stopped or could not run) -> what ``check`` shows.
Feedback = Callable[[Path, Report | None, bytes, str], str]


@dataclass(frozen=True)
class Submission:
    """One learner's work: its name, the exercise's file, and the folder copied with it."""

    name: str
    file: Path
    folder: Path | None = None


@dataclass
class Row:
    """The grade of one submission; ``checks`` holds (name, status, error, example) each."""

    submission: str
    status: str
    checks_passed: int
    checks_total: int
    diagnosis: str = ""
    seconds: float = 0.0
    checks: list[tuple[str, str, str, str]] = field(default_factory=list)
    feedback: str = ""

    def fields(self) -> dict[str, str | int | float]:
        """The row's cells, by column."""
        return {c: getattr(self, c) for c in COLUMNS}


def submissions(exercise: Exercise, folder: Path) -> list[Submission]:
    """The submissions in ``folder``, in name order; ValueError if it holds none."""
    filename = starter_filename(exercise)
    if (folder / filename).is_file():
        return [Submission(folder.resolve().name, folder / filename, folder)]
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and (entry / filename).is_file():
            found[entry.name] = Submission(entry.name, entry / filename, entry)
        elif entry.is_file() and entry.suffix == ".py":
            name = entry.stem if entry.stem not in found else entry.name
            found[name] = Submission(name, entry)
    if not found:
        raise ValueError(f"{folder} holds no submission of {exercise.name}: put each "
                         f"learner's {filename} in a folder of their own, or their .py files "
                         "side by side")
    return list(found.values())


def _diagnosis(report: Report) -> str:
    if report.diagnoses:
        return "; ".join(f"{m.title}, breaking {m.equation}" for m in report.diagnoses)
    if report.stopped:
        return report.stopped
    failed = [r for r in report.results if r.status == "fail"]
    if failed:
        return f"check '{failed[0].check.name}' fails: {failed[0].error}"[:300]
    todo = [r.error for r in report.results if r.status == "todo"]
    return f"{', '.join(todo)} not written yet" if todo else ""


def grade_one(exercise: Exercise, submission: Submission, feedback: Feedback, *,
              timeout: float = DEFAULT_TIMEOUT, limits: Limits | None = None,
              examples: int = DEFAULT_EXAMPLES,
              opened: Callable[[Sandbox | None], None] = lambda box: None) -> Row:
    """Grade one submission; every outcome, even a crash of the grader's own, is a row.

    ``opened(box)`` is told of the sandbox when its child starts and ``opened(None)`` when
    it is closed, so that a grader that is stopped can close it from another thread.
    """
    start, total = time.monotonic(), len(exercise.checks)
    try:
        try:
            box = Sandbox([(submission.file, exercise.functions)], timeout, limits=limits,
                          folder=submission.folder, exercises=[exercise], started=opened)
        except (FileProblem, Stopped) as err:
            return Row(submission.name, getattr(err, "kind", "failed"), 0, total, str(err),
                       round(time.monotonic() - start, 1),
                       feedback=feedback(submission.file, None, b"", str(err)))
        with box:
            report = run_checks(exercise, box, examples)
    finally:
        opened(None)
    passed = sum(r.status == "pass" for r in report.results)
    status = (box.stopped.kind if box.stopped else "crashed") if report.stopped else \
        "passed" if report.passed else "failed"
    return Row(submission.name, status, passed, len(report.results) or total,
               _diagnosis(report), round(time.monotonic() - start, 1),
               [(r.check.name, r.status, r.error, r.example) for r in report.results],
               feedback(submission.file, report, bytes(box.printed), report.stopped))


def grade(exercise: Exercise, found: list[Submission], feedback: Feedback, *, jobs: int = 1,
          on_row: Callable[[Row], None] = lambda row: None, **options: object) -> list[Row]:
    """Grade every submission, ``jobs`` at a time; the rows in the order of ``found``.

    ``on_row`` is called as each row is done. Interrupted (Ctrl-C), it closes every open
    sandbox, so that no child outlives the grader, and raises on.
    """
    live: set[Sandbox] = set()
    lock = threading.Lock()

    def one(submission: Submission) -> Row:
        box_of: list[Sandbox] = []

        def opened(box: Sandbox | None) -> None:
            with lock:
                if box is not None:
                    box_of.append(box)
                    live.add(box)
                elif box_of:
                    live.discard(box_of[0])
        try:
            row = grade_one(exercise, submission, feedback, opened=opened,
                            **options)  # type: ignore[arg-type]
        except Exception as err:        # a bug of the grader's: still the submission's row
            row = Row(submission.name, "crashed", 0, len(exercise.checks),
                      f"the grader failed: {type(err).__name__}: {err}"[:300])
        on_row(row)
        return row

    if jobs <= 1:
        return [one(s) for s in found]
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures: list[Future[Row]] = [pool.submit(one, s) for s in found]
    try:
        pending = set(futures)
        while pending:                  # short waits: Ctrl-C reaches this thread between them
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
    except BaseException:
        for future in futures:
            future.cancel()
        with lock:
            boxes = list(live)
        for box in boxes:
            box.close()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [f.result() for f in futures]


def _csv(rows: list[Row]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row.fields() for row in rows)
    return text.getvalue().encode("utf-8")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".") or "_"


def write_results(out: Path, exercise: Exercise, rows: list[Row], missing: list[str]) -> None:
    """``results.csv``, ``results.json`` and ``feedback/NAME.md`` in ``out``, each atomically."""
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    data = {"exercise": exercise.name, "protections_missing": missing,
            "counts": {s: sum(r.status == s for r in rows) for s in STATUSES},
            "submissions": [{**row.fields(), "checks": [dict(zip(
                ("name", "status", "error", "example"), c, strict=True)) for c in row.checks]}
                for row in rows]}
    write_atomically(out / "results.csv", lambda f: f.write(_csv(rows)))
    text = json.dumps(data, indent=2) + "\n"
    write_atomically(out / "results.json", lambda f: f.write(text.encode("utf-8")))
    for row in rows:
        body = f"# {exercise.name}: {row.submission}\n\n```text\n{row.feedback}\n```\n"
        write_atomically(out / "feedback" / f"{_safe(row.submission)}.md",
                         lambda f, b=body: f.write(b.encode("utf-8")))


def gradescope(row: Row) -> dict:
    """Gradescope's ``results.json`` for one submission: a point per check, its feedback."""
    tests = [{"name": name, "score": int(status == "pass"), "max_score": 1,
              "status": "passed" if status == "pass" else "failed",
              "output": "\n".join(filter(None, [error, example and f"smallest failing "
                                                f"example: {example}"]))}
             for name, status, error, example in row.checks]
    return {"score": row.checks_passed, "max_score": row.checks_total,
            "output": row.feedback, "tests": tests,
            "extra_data": {k: v for k, v in asdict(row).items()
                           if k in ("status", "diagnosis", "seconds")}}
