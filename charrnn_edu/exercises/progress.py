"""A learner's progress through the exercises: a small JSON file in a per-user folder.

The folder is ``~/.charrnn``, or ``$CHARRNN_HOME`` when that is set; the file is
``exercises.json``. For each exercise it keeps the learner's file and the last verdict::

    {"version": 1,
     "exercises": {"softmax": {"file": "/home/ada/softmax.py", "status": "passed",
                               "passed": 3, "checks": 3}}}

An exercise missing from the file is "not started". The file is rewritten atomically, so an
interrupted command never leaves it half written.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from charrnn_edu.files import write_atomically

__all__ = ["ProgressError", "Entry", "Progress", "progress_file"]

VERSION = 1
STATUSES = ("started", "failing", "passed")


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
        except ValueError:
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
        """Read the progress file; a missing file is no progress yet."""
        path = progress_file() if path is None else path
        if not path.exists():
            return cls(path)
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            entries = {name: Entry(**entry) for name, entry in data["exercises"].items()}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ProgressError(f"{path} is not a charrnn progress file ({err}): delete it to "
                                "start over, or set CHARRNN_HOME to another folder") from None
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
        """Set exercise ``name``'s entry and save the file."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        self.entries[name] = Entry(str(Path(file).resolve()), status, passed, checks)
        data = {"version": VERSION,
                "exercises": {n: asdict(e) for n, e in sorted(self.entries.items())}}
        text = json.dumps(data, indent=2) + "\n"
        write_atomically(self.path, lambda f: f.write(text.encode("utf-8")))
