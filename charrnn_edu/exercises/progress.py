"""A learner's progress through the exercises: a small JSON file in a per-user folder.

The folder is ``~/.charrnn``, or ``$CHARRNN_HOME`` when that is set; the file is
``exercises.json``. For each exercise it keeps the learner's file and the last verdict::

    {"version": 1,
     "exercises": {"softmax": {"file": "/home/ada/softmax.py", "status": "passed",
                               "passed": 3, "checks": 3}}}

An exercise missing from the file is "not started". The file is rewritten atomically, so an
interrupted command never leaves it half written, and under a lock (``.exercises.json.lock``)
after reading it again, so two checks at once both keep their verdicts. Every field read is
checked: a hand-edited or foreign file is named in one line, never trusted.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from charrnn_edu.files import read_small, write_atomically
from charrnn_edu.runs import waiting_lock

__all__ = ["ProgressError", "Entry", "Progress", "progress_file"]

VERSION = 1
STATUSES = ("started", "failing", "passed")
LIMIT = 10_000_000           # bytes: some hundred per exercise


class ProgressError(Exception):
    """The progress file cannot be read (a usage error: the message names the file and fix)."""


def progress_file() -> Path:
    """``$CHARRNN_HOME/exercises.json``, or ``~/.charrnn/exercises.json``."""
    home = os.environ.get("CHARRNN_HOME")
    return (Path(home) if home else Path.home() / ".charrnn") / "exercises.json"


@dataclass(frozen=True)
class Entry:
    """Where one exercise stands: the learner's file, and the verdict of its last check."""

    file: str
    status: str
    passed: int = 0
    checks: int = 0

    def describe(self, cwd: Path | None = None) -> str:
        """``started: FILE``, ``failing: FILE (1 of 3 checks pass)`` or ``passed: FILE``."""
        path = Path(self.file)
        try:
            shown = str(path.relative_to(cwd or Path.cwd()))
        except (ValueError, OSError):    # elsewhere, or the current folder was deleted
            shown = str(path)
        if self.status == "failing":
            return f"failing: {shown} ({self.passed} of {self.checks} checks pass)"
        return f"{self.status}: {shown}"


@dataclass
class Progress:
    """The entries of ``path``, by exercise name."""

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Progress:
        """Read the progress file; a missing file is no progress yet.

        Raises
        ------
        ProgressError
            If the file is not a regular file, too large, not JSON, or a field has the wrong
            type (the message names the file and the field).
        """
        path = progress_file() if path is None else path
        fix = "delete it to start over, or set CHARRNN_HOME to another folder"
        try:
            data: Any = json.loads(read_small(path, LIMIT).decode("utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, RecursionError) as err:
            raise ProgressError(f"{path} is not a charrnn progress file ({err}): {fix}") from None
        exercises = data.get("exercises") if isinstance(data, dict) else None
        if not isinstance(exercises, dict):
            raise ProgressError(f"{path} is not a charrnn progress file (its exercises are not "
                                f"a JSON object): {fix}")
        entries = {}
        for name, entry in exercises.items():
            problem = _problem(entry)
            if problem:
                raise ProgressError(f"{path}: exercises.{_shown(name)} {problem}: {fix}")
            entries[name] = Entry(**entry)
        bad = sorted(name for name, e in entries.items() if e.status not in STATUSES)
        if bad:
            raise ProgressError(f"{path} has an unknown status for {bad}: delete it to start "
                                "over")
        return cls(path, entries)
    def status(self, name: str) -> str:
        """How exercise ``name`` stands, for ``charrnn exercises list``."""
        entry = self.entries.get(name)
        return "not started" if entry is None else entry.describe()

    def record(self, name: str, file: str | Path, status: str, passed: int = 0,
               checks: int = 0) -> None:
        """Set exercise ``name``'s entry and save the file, keeping what others saved since.

        Raises
        ------
        OSError
            If the file cannot be written.
        ProgressError
            If the file on disk has become unreadable since it was loaded.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        entry = Entry(str(Path(file).resolve()), status, passed, checks)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with waiting_lock(self.path.with_name(f".{self.path.name}.lock")):
            self.entries = {**Progress.load(self.path).entries, name: entry}
            data = {"version": VERSION,
                    "exercises": {n: asdict(e) for n, e in sorted(self.entries.items())}}
            text = json.dumps(data, indent=2) + "\n"
            write_atomically(self.path, lambda f: f.write(text.encode("utf-8")))


def _problem(entry: object) -> str | None:
    """What is wrong with one entry read from the file, or None."""
    if not isinstance(entry, dict) or set(entry) - {"file", "status", "passed", "checks"}:
        return "is not an entry of file, status, passed and checks"
    if not isinstance(entry.get("file"), str) or not entry["file"]:
        return f"has file {_shown(entry.get('file'))}, expected the path of a .py file"
    if not isinstance(entry.get("status"), str):
        return f"has status {_shown(entry.get('status'))}, expected one of {', '.join(STATUSES)}"
    for count in ("passed", "checks"):
        value = entry.get(count, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"has {count} {_shown(value)}, expected a number of checks"
    return None


def _shown(value: object) -> str:
    """A value read from the file, short and on one line, for a message."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."
