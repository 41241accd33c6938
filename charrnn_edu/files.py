"""Files: reading a corpus, the bundled corpus, and writing any file atomically.

Not a chapter: the chapters never touch the disk. Everything that reads or writes a file
goes through here, so the guarantees (one-line errors, no half-written file) live in one place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import BinaryIO

__all__ = ["read_text", "default_corpus", "write_atomically"]


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """Read a corpus file as text.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is empty, or its bytes are not valid in ``encoding`` (the message gives the
        byte offset and suggests ``--encoding latin-1``, which accepts any byte).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path} "
                                "(pass an existing text file with --data)")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not valid {encoding}: byte 0x{data[err.start]:02x} at offset "
                         f"{err.start} (try --encoding latin-1)") from None
    except LookupError:
        raise ValueError(f"unknown text encoding {encoding!r} (try utf-8 or latin-1)") from None
    if not text:
        raise ValueError(f"corpus file is empty: {path} (pass a file with some text in it)")
    return text


def default_corpus() -> Path:
    """Path of the bundled corpus, ``data/shakespeare.txt`` (eight plays, public domain).

    An installed wheel carries it inside the package; a source checkout keeps it in ``data/``.
    """
    packaged = resources.files("charrnn_edu") / "_data" / "shakespeare.txt"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "data" / "shakespeare.txt"


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a temporary file, then rename it onto ``path`` in one step.

    A crash, a full disk or a Ctrl-C during ``write`` leaves ``path`` as it was and no
    temporary file behind. Missing folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file must be in the same folder: os.replace is atomic only within one
    # file system. The leading dot hides it from ordinary listings while it is being written.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)           # mkstemp's 0600 would hide the run from other users
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())       # the bytes are on disk before the rename makes them live
        os.replace(tmp, path)
    except BaseException:              # also KeyboardInterrupt: never leave a stray temp file
        Path(tmp).unlink(missing_ok=True)
        raise
