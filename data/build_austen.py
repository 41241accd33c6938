"""Build ``data/austen.txt``, a second public-domain corpus of novel prose, from a package.

The novels come from Debian's package ``r-cran-janeaustenr`` 1.0.0-1 (Julia Silge's R package
*janeaustenr*: Project Gutenberg texts of Jane Austen's six novels, one line per element of a
character vector). Two novels are taken, *Pride and Prejudice* then *Persuasion*: 1,151,624
characters, about the length of the report's novel. Each is stripped of leading and trailing
newlines, they are joined by two blank lines and end with one newline, and the result is
verified against a known size, vocabulary and sha256.

The package stores its data as an R lazy-load database (``data/Rdata.rdb``): a run of blobs,
each a 4-byte big-endian length and a zlib stream holding one serialised R object. This
script reads that format itself, so neither R nor the package need be installed.

Usage::

    python data/build_austen.py               # downloads the .deb with apt-get
    python data/build_austen.py --deb FILE.deb
"""

from __future__ import annotations

import argparse
import io
import lzma
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

from verify import write_verified  # data/verify.py, beside this script

PACKAGE = "r-cran-janeaustenr=1.0.0-1"
DATABASE = "./usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"
NOVELS = ("PRIDE AND PREJUDICE", "Persuasion")  # each novel's first line, as the package has it
EXPECTED_CHARS = 1_151_624
EXPECTED_K = 77
EXPECTED_SHA256 = "5cfe0adccfa1fa72fd49f04d9310e0bc1a49cee96bb16cce60f4ffc42750add0"
OUT = Path(__file__).with_name("austen.txt")
MAX_BLOB = 1 << 25  # 32 MiB: the largest novel is under 1 MiB; refuse anything far larger


def download_deb(folder: Path) -> Path:
    """Fetch the package with apt-get (which needs Debian's package lists: apt-get update)."""
    subprocess.run(["apt-get", "download", PACKAGE], cwd=folder, check=True)
    return next(folder.glob("r-cran-janeaustenr_*.deb"))


def read_member(deb: bytes, name: str) -> bytes:
    """One member of a .deb, which is an ``ar`` archive: 8-byte magic, then 60-byte headers."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a .deb (ar) archive")
    pos = 8
    while pos + 60 <= len(deb):
        header = deb[pos:pos + 60]
        size = int(header[48:58].decode("ascii"))
        if header[:16].decode("ascii").rstrip().rstrip("/") == name:
            return deb[pos + 60:pos + 60 + size]
        pos += 60 + size + size % 2  # members are padded to an even offset
    raise ValueError(f"the archive has no member {name}")


def read_database(deb: Path) -> bytes:
    """The lazy-load database ``Rdata.rdb`` from inside the package."""
    data_tar = lzma.decompress(read_member(deb.read_bytes(), "data.tar.xz"))
    with tarfile.open(fileobj=io.BytesIO(data_tar)) as tar:
        member = tar.extractfile(DATABASE)
        if member is None:
            raise ValueError(f"{DATABASE} is not a regular file in {deb}")
        return member.read()


def blobs(database: bytes) -> list[bytes]:
    """Each serialised object in the database, decompressed, in file order."""
    out, pos = [], 0
    while pos < len(database):
        (size,) = struct.unpack(">I", database[pos:pos + 4])
        if size > MAX_BLOB:
            raise ValueError(f"a blob claims {size:,} bytes; the limit is {MAX_BLOB:,}")
        stream = zlib.decompressobj()
        blob = stream.decompress(database[pos + 4:], size + 1)
        if len(blob) != size or not stream.eof:
            raise ValueError(f"the blob at byte {pos} is not {size:,} bytes of zlib data")
        out.append(blob)
        pos = len(database) - len(stream.unused_data)
    return out


def character_vector(blob: bytes) -> list[str]:
    r"""Decode one R object serialised in XDR format (``X\n``, version 2 or 3), a STRSXP.

    Layout: format, version, writer's and reader's R versions, (version 3: the native
    encoding's name), then the object's flags (low byte 16 for a character vector), its
    length, and each element as flags, byte length (-1 for NA) and the bytes.
    """
    def ints(pos: int, n: int) -> tuple[int, ...]:
        if pos + 4 * n > len(blob):
            raise ValueError("the serialised object is truncated")
        return struct.unpack(f">{n}i", blob[pos:pos + 4 * n])

    if blob[:2] != b"X\n":
        raise ValueError("not an R object in XDR format")
    version, _, _ = ints(2, 3)
    pos = 14
    if version == 3:
        (n,) = ints(pos, 1)
        pos += 4 + n
    elif version != 2:
        raise ValueError(f"unknown serialisation version {version}")
    flags, length = ints(pos, 2)
    if flags & 0xFF != 16:
        raise ValueError(f"not a character vector (R type {flags & 0xFF})")
    pos += 8
    lines = []
    for _ in range(length):
        _, n = ints(pos, 2)
        pos += 8
        if n < 0:
            lines.append("")  # NA: no novel line is one, but treat it as empty
            continue
        if pos + n > len(blob):
            raise ValueError("the serialised object is truncated")
        lines.append(blob[pos:pos + n].decode("utf-8"))
        pos += n
    return lines


def build(novels: dict[str, list[str]]) -> str:
    """Join the chosen novels: newlines stripped at both ends, two blank lines between."""
    return "\n\n\n".join("\n".join(novels[title]).strip("\n") for title in NOVELS) + "\n"


def main() -> int:
    """Build, verify and write the corpus; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", type=Path, help="r-cran-janeaustenr_1.0.0-1_all.deb, "
                                                 "if already downloaded")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            deb = args.deb or download_deb(Path(tmp))
            vectors = [character_vector(blob) for blob in blobs(read_database(deb))]
    except (OSError, ValueError, lzma.LZMAError, tarfile.TarError, zlib.error,
            subprocess.CalledProcessError) as err:
        print(f"error: cannot read the package: {err}", file=sys.stderr)
        return 1
    novels = {lines[0]: lines for lines in vectors if lines}
    missing = [title for title in NOVELS if title not in novels]
    if missing:
        print(f"error: the package has no novel starting {missing}", file=sys.stderr)
        return 1
    text = build(novels)
    return write_verified(text, args.out, EXPECTED_CHARS, EXPECTED_K, EXPECTED_SHA256)


if __name__ == "__main__":
    sys.exit(main())
