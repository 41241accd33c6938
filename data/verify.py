"""What both corpus builders share: check the built text, then write it, atomically.

A built corpus is written only if its size, vocabulary and SHA-256 are the expected ones, so
anyone who rebuilds it gets the same bytes or an error, never a different file.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path


def write_verified(text: str, out: Path, chars: int, K: int, sha256: str) -> int:
    """Write ``text`` to ``out`` as UTF-8 if it matches what is expected; 0 if written, else 1.

    Expected: ``chars`` characters, ``K`` distinct ones and this SHA-256. Either way, one line
    says what happened.
    """
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    built = (len(text), len(set(text)), digest)
    if built != (chars, K, sha256):
        print(f"error: built {built}, expected {(chars, K, sha256)}", file=sys.stderr)
        return 1
    fd, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(temporary, out)
    print(f"wrote {out}: {len(text):,} characters, K = {len(set(text))}, sha256 {digest}")
    return 0
