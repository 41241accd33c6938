"""data/build_austen.py reads a Debian package and an R lazy-load database by itself.

The real package is not fetched here (CI has no business downloading it); instead the tests
build a .deb of the same layout around novels they make up, in R's serialisation format, and
check the script reads every line back, and refuses damaged or hostile input with a
ValueError rather than a crash or a huge allocation.
"""

import importlib.util
import io
import lzma
import struct
import sys
import tarfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

SCRIPT = Path(__file__).parents[1] / "data" / "build_austen.py"
sys.path.insert(0, str(SCRIPT.parent))    # as when run: data/verify.py sits beside it
spec = importlib.util.spec_from_file_location("build_austen", SCRIPT)
build_austen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_austen)

lines = st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=40),
                 min_size=1, max_size=30)


def serialise(vector: list[str | None], version: int = 3) -> bytes:
    """A character vector as R's ``serialize(x, NULL, xdr = TRUE)`` writes it (NA as None)."""
    out = b"X\n" + struct.pack(">3i", version, 0x040201, 0x030500)
    if version == 3:
        out += struct.pack(">i", 5) + b"UTF-8"
    out += struct.pack(">2i", 16, len(vector))
    for line in vector:
        if line is None:
            out += struct.pack(">2i", 9, -1)
        else:
            data = line.encode("utf-8")
            out += struct.pack(">2i", 0x8009, len(data)) + data
    return out


def database(objects: list[bytes]) -> bytes:
    """The lazy-load database: each object as its length and a zlib stream."""
    return b"".join(struct.pack(">I", len(o)) + zlib.compress(o) for o in objects)


def deb(rdb: bytes) -> bytes:
    """A .deb (an ar archive) whose data.tar.xz holds ``rdb`` where the package keeps it."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        info = tarfile.TarInfo(build_austen.DATABASE)
        info.size = len(rdb)
        tar.addfile(info, io.BytesIO(rdb))
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", lzma.compress(b"")),
               ("data.tar.xz", lzma.compress(tar_bytes.getvalue()))]
    out = b"!<arch>\n"
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode("ascii")
        out += data + b"\n" * (len(data) % 2)
    return out


@given(first=lines, second=lines, version=st.sampled_from([2, 3]))
def test_every_line_of_every_novel_is_read_back(tmp_path_factory, first, second, version):
    novels = [["PRIDE AND PREJUDICE", *first], ["Other"], ["Persuasion", *second]]
    path = tmp_path_factory.mktemp("deb") / "package.deb"
    path.write_bytes(deb(database([serialise(n, version) for n in novels])))
    vectors = [build_austen.character_vector(b)
               for b in build_austen.blobs(build_austen.read_database(path))]
    assert vectors == novels
    text = build_austen.build({v[0]: v for v in vectors})
    assert text == ("\n".join(novels[0]).strip("\n") + "\n\n\n"
                    + "\n".join(novels[2]).strip("\n") + "\n")


def test_a_missing_value_reads_as_an_empty_line():
    assert build_austen.character_vector(serialise(["a", None, "b"])) == ["a", "", "b"]


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-3], "truncated"),
    (lambda b: b"B\n" + b[2:], "XDR"),
    (lambda b: b[:2] + struct.pack(">i", 7) + b[6:], "version 7"),
    (lambda b: b[:23] + struct.pack(">i", 19) + b[27:], "R type 19"),
])
def test_a_damaged_object_is_refused(damage, message):
    blob = serialise(["PRIDE AND PREJUDICE", "It is a truth"])
    with pytest.raises(ValueError, match=message):
        build_austen.character_vector(damage(blob))


def test_a_blob_that_claims_too_much_or_lies_about_its_size_is_refused():
    huge = struct.pack(">I", build_austen.MAX_BLOB + 1) + zlib.compress(b"x")
    with pytest.raises(ValueError, match="limit"):
        build_austen.blobs(huge)
    lying = struct.pack(">I", 10) + zlib.compress(b"x" * 1000)
    with pytest.raises(ValueError, match="not 10 bytes"):
        build_austen.blobs(lying)
    with pytest.raises(ValueError, match="zlib"):
        build_austen.blobs(struct.pack(">I", 3) + zlib.compress(b"abc")[:-2])


def test_an_archive_without_the_data_member_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a .deb"):
        build_austen.read_member(b"PK\x03\x04", "data.tar.xz")
    with pytest.raises(ValueError, match="no member"):
        build_austen.read_member(b"!<arch>\n", "data.tar.xz")
