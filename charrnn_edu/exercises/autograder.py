r"""Gradescope's autograder bundle for one exercise: ``setup.sh``, ``run_autograder``, a wheel.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when it builds
its image, and ``run_autograder`` for each submission, which it puts in
``/autograder/submission``; ``run_autograder`` writes ``/autograder/results/results.json``
(:func:`~charrnn_edu.exercises.grade.gradescope`). The package is not on PyPI, so the bundle
carries it as a wheel built here, from the files of the installed package and its metadata;
``setup.sh`` installs that wheel, which fetches its dependencies from PyPI.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from importlib import metadata
from pathlib import Path

import charrnn_edu
from charrnn_edu.exercises.model import Exercise

__all__ = ["bundle", "wheel", "ROOT_VARIABLE"]

# run_autograder grades beneath this folder if the variable is set (tests, a dry run).
ROOT_VARIABLE = "CHARRNN_AUTOGRADER_ROOT"

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. charrnn-edu
# needs Python 3.11 or later: choose a base image that has it (Ubuntu 24.04 does).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3 python3-pip
fi
python3 -m pip install --break-system-packages ./{wheel} \\
    || python3 -m pip install ./{wheel}
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission, write
# /autograder/results/results.json. ${root} moves that root elsewhere (a dry run).
root="${{{root}:-/autograder}}"
python="${{CHARRNN_PYTHON:-python3}}"
mkdir -p "$root/results"
"$python" -m charrnn_edu exercises grade {exercise} "$root/submission" \\
    --out "$root/results/charrnn" --gradescope "$root/results/results.json" \\
    --timeout {timeout:g} --memory {memory}
code=$?
if [ ! -s "$root/results/results.json" ]; then
    message="the submission could not be graded (exit code $code): upload one file, {file}"
    printf '{{"score": 0, "output": "%s", "tests": []}}\\n' "$message" \\
        > "$root/results/results.json"
fi
exit 0
"""


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def wheel() -> tuple[str, bytes]:
    """A wheel of the installed package: its name and bytes.

    Raises
    ------
    ValueError
        If the package runs from a source tree that was never installed (no metadata).
    """
    try:
        dist = metadata.distribution("charrnn-edu")
    except metadata.PackageNotFoundError:
        raise ValueError("charrnn-edu is not installed, so it has no metadata to build a wheel "
                         "from: install it (pip install -e .) and build the bundle again") \
            from None
    version = dist.version
    info = f"charrnn_edu-{version}.dist-info"
    folder = Path(charrnn_edu.__file__).resolve().parent
    files = {f"charrnn_edu/{p.relative_to(folder).as_posix()}": p.read_bytes()
             for p in sorted(folder.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    files[f"{info}/METADATA"] = (dist.read_text("METADATA") or "").encode("utf-8")
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: charrnn-edu\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = (dist.read_text("entry_points.txt") or "").encode()
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return f"charrnn_edu-{version}-py3-none-any.whl", buffer.getvalue()


def bundle(exercise: Exercise, filename: str, timeout: float, memory: str) -> bytes:
    """The zip Gradescope takes as an autograder for ``exercise``, its file ``filename``."""
    name, data = wheel()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in (("setup.sh", SETUP.format(wheel=name)),
                           ("run_autograder", RUN.format(exercise=exercise.name, root=ROOT_VARIABLE,
                                                         timeout=timeout, memory=memory,
                                                         file=filename))):
            info = zipfile.ZipInfo(path)
            info.external_attr = 0o100755 << 16       # executable: Gradescope runs them as is
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
        archive.writestr(name, data)
    return buffer.getvalue()
