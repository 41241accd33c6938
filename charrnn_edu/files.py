"""Files: reading a corpus, the record of which corpus it was, and writing any file atomically.

The bundled corpus is found here too, and figures are saved here the same way as any file.

Not a chapter: the chapters never touch the disk. Everything that reads or writes a file
goes through here, so the guarantees (one-line errors, no half-written file) live in one place.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:       # matplotlib is imported only when a figure is saved
    from matplotlib.figure import Figure

__all__ = ["read_text", "read_small", "kind_of", "default_corpus", "write_atomically",
           "save_figure", "corpus_sha256", "Corpus", "remove_temporaries"]


def kind_of(mode: int) -> str | None:
    """What a non-regular file is, in words, or None for a regular file."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """Read a corpus file as text.

    Only a regular file is opened: a directory, a device or a FIFO is named as such (opening
    a FIFO would wait for a writer; ``/dev/zero`` would never end).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    IsADirectoryError, ValueError
        The path is a directory, or another non-regular file (device, FIFO, socket).
    ValueError
        The file is empty, holds a NUL character (a binary file, not text), or its bytes are
        not valid in ``encoding`` (the message gives the byte offset and suggests
        ``--encoding latin-1``, which accepts any byte).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"corpus file not found: {path} "
                                "(pass an existing text file with --data)") from None
    kind = kind_of(mode)
    if kind == "a directory":
        raise IsADirectoryError(f"{path} is a directory, not a text file "
                                "(pass a text file with --data)")
    if kind is not None:
        raise ValueError(f"{path} is {kind}, not a text file (pass a text file with --data)")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        marked = _byte_order_mark(data)
        hint = (f"it starts with a {marked.upper()} byte-order mark: try --encoding {marked}"
                if marked and marked != encoding.lower() else "try --encoding latin-1")
        raise ValueError(f"{path} is not valid {encoding}: byte 0x{data[err.start]:02x} at offset "
                         f"{err.start} ({hint})") from None
    except LookupError:
        raise ValueError(f"unknown text encoding {encoding!r} (try utf-8 or latin-1)") from None
    marked = _byte_order_mark(data[:4])
    del data                           # the text alone from here: a large corpus is not held twice
    if not text:
        raise ValueError(f"corpus file is empty: {path} (pass a file with some text in it)")
    # Text files never hold NUL; binary files (images, archives, /dev/zero copies) nearly
    # always do. Decoded first, so a UTF-16 text, whose bytes hold zeros, is still text.
    nul = text.find("\x00")
    if nul >= 0:
        hint = (f"it starts with a {marked.upper()} byte-order mark: try --encoding {marked}"
                if marked else "pass a text file with --data")
        raise ValueError(f"{path} holds a NUL character at position {nul:,}: it is a binary "
                         f"file, not text ({hint})")
    return text


def _byte_order_mark(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``data`` announces, or None.

    UTF-16 and UTF-32 texts (Windows Notepad's "Unicode") begin with one; decoded as UTF-8
    they fail at byte 0, and as latin-1 they hold NUL characters.
    """
    for mark, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(mark):
            return name
    return None


def read_small(path: str | Path, limit: int) -> bytes:
    """The bytes of a small file the package wrote and now reads back (JSON, say).

    Only a regular file of at most ``limit`` bytes is read: a FIFO put in its place would
    make a plain read wait for a writer forever, a device or a huge file never end.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        It is not a regular file, or is larger than ``limit`` (the message names it).
    """
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        kind = kind_of(info.st_mode)
        if kind is not None:
            raise ValueError(f"{path} is {kind}, not a file charrnn wrote")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than the {limit:,} bytes charrnn writes there")
    return data


def default_corpus() -> Path:
    """Path of the bundled corpus, ``data/shakespeare.txt`` (eight plays, public domain).

    An installed wheel carries it inside the package; a source checkout keeps it in ``data/``.
    """
    packaged = resources.files("charrnn_edu") / "_data" / "shakespeare.txt"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "data" / "shakespeare.txt"


def corpus_sha256(text: str, encoding: str) -> str:
    """SHA-256 (hex) of ``text`` encoded with ``encoding``: the corpus file's bytes.

    Raises
    ------
    UnicodeEncodeError
        If ``text`` has a character that ``encoding`` cannot represent.
    """
    return hashlib.sha256(text.encode(encoding)).hexdigest()


@dataclass(frozen=True)
class Corpus:
    """Which text a run trains on: file name, encoding, SHA-256 of its bytes, length."""

    name: str
    encoding: str
    sha256: str
    characters: int

    @classmethod
    def of(cls, path: Path, text: str, encoding: str) -> Corpus:
        """The record of ``text``, read from ``path`` with ``encoding``.

        Raises
        ------
        ValueError
            If ``encoding`` decoded the file but cannot encode the text back (idna does
            that): the file's bytes, which the record names by SHA-256, are then unknown.
        """
        try:
            sha256 = corpus_sha256(text, encoding)
        except UnicodeError as err:
            raise ValueError(f"{path} decodes as {encoding}, but {encoding} cannot encode the "
                             f"text back ({err}): choose another --encoding, such as utf-8 or "
                             "latin-1") from None
        return cls(path.name, encoding, sha256, len(text))

    def to_dict(self) -> dict[str, str | int]:
        """The record as a plain dict (for JSON)."""
        return asdict(self)


TEMPORARY = ".tmp"
"""Suffix of the temporary files :func:`write_atomically` writes (``.NAME.XXXXXXXX.tmp``)."""
# mkstemp's random part is drawn from lower-case letters, digits and "_".
_TEMPORARY_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]+" + re.escape(TEMPORARY))


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a temporary file, then rename it onto ``path`` in one step.

    A crash, a full disk or a Ctrl-C during ``write`` leaves ``path`` as it was and no
    temporary file behind. Missing folders are created. An ``OSError`` names ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file must be in the same folder: os.replace is atomic only within one
    # file system. The leading dot hides it from ordinary listings while it is being written.
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY)
    except OSError as err:
        err.filename = str(path)       # the file asked for, not the temporary one
        raise
    try:
        if hasattr(os, "fchmod"):      # Windows (before 3.13) has none, nor group bits to set
            # mkstemp's 0600 would hide the run from other users; the user's umask says who
            # may read it, as it does for any file an ordinary open() creates.
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())       # the bytes are on disk before the rename makes them live
        os.replace(tmp, path)
    except BaseException as err:       # also KeyboardInterrupt: never leave a stray temp file
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            err.filename = str(path)   # the file asked for, not the temporary one
        raise


def _umask() -> int:
    mask = os.umask(0o022)             # the only way to read it is to set it, then set it back
    os.umask(mask)
    return mask


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: float | None = None) -> None:
    """Write a matplotlib figure to ``path``, atomically; its suffix picks the format.

    ``.svg``, ``.png``, ``.pdf`` or any other suffix matplotlib writes. No date and a fixed
    id salt: the same figure gives the same bytes every time, so a figure committed to the
    repository changes only when what it shows changes.

    Raises
    ------
    ValueError
        If ``path`` has no suffix, or one matplotlib cannot write.
    """
    from matplotlib import rc_context  # only the code that draws pays for matplotlib

    path = Path(path)
    kind = path.suffix.lower()[1:]
    if not kind:
        raise ValueError(f"{path} has no suffix to choose the figure's format by: "
                         "name it .svg, .png or .pdf")
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(kind)
    options = {} if dpi is None else {"dpi": dpi}
    with rc_context({"svg.hashsalt": "charrnn-edu"}):
        write_atomically(path, lambda f: fig.savefig(f, format=kind, metadata=metadata,
                                                     **options))


def remove_temporaries(folder: str | os.PathLike[str], names: Collection[str]) -> list[Path]:
    """Delete the temporary files a killed :func:`write_atomically` left in ``folder``.

    ``kill -9`` gives no chance to clean up, so a ``.NAME.XXXXXXXX.tmp`` file (as large as
    the file it was to become) can stay behind. Only that exact pattern, for a NAME in
    ``names`` (the files the caller writes there), is removed: a user's own ``.notes.tmp``
    is not ours to delete. Call this only while no other process writes to ``folder`` (a run
    folder's lock guarantees it). Returns the files removed.
    """
    removed = []
    for path in Path(folder).glob(f".*{TEMPORARY}"):
        made = _TEMPORARY_NAME.fullmatch(path.name)
        if made and made["name"] in names and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
