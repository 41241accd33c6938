"""Math rendered into the built site with KaTeX, fetched from the npm registry.

The site must show math with no network and must not carry third-party code in the
repository. So ``docs/build.py``, after either builder has written the site, fetches one
pinned KaTeX release with ``npm pack`` (the npm registry's own client), checks its sha512
against the value pinned here, unpacks it into the git-ignored ``build/katex/``, and then,
as a pass over the built HTML (``render_site``):

* renders every formula that ``pymdownx.arithmatex`` (generic mode) marked, with one
  ``node`` process running ``katex_render.js`` over all of them: the pages hold finished HTML
  (and MathML for screen readers), so no script runs in the reader's browser;
* copies KaTeX's stylesheet and fonts into ``SITE/assets/katex/`` (``mkdocs.yml`` links the
  stylesheet from every page).

A formula KaTeX cannot parse stops the build with the page and the formula, so a typo never
reaches the site as red TeX.

    python docs/hooks/katex.py SITE
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

KATEX_VERSION = "0.16.47"
# `npm view katex@0.16.47 dist.integrity`; checked against the downloaded tarball.
KATEX_INTEGRITY = ("sha512-Eeo8Ys1doU1z+x8AZsPpQu+p/QcZBI5PeOo7QGQdy2x2m0MU/hYagBbGOmXwr5KVbEfV"
                   "uWv9LpnQWeehogurjg==")
SITE_DIR = "assets/katex"

ROOT = Path(__file__).resolve().parents[2]


class KatexError(RuntimeError):
    """KaTeX could not be fetched, or rejected a formula; the message says which."""


# What arithmatex (generic: true) writes, with the TeX HTML-escaped inside.
MATH = re.compile(r'<(?P<tag>span|div) class="arithmatex">(?P<body>.*?)</(?P=tag)>', re.DOTALL)


def katex_package(root: Path) -> Path:
    """The unpacked KaTeX package under ``root/build/katex/``, fetched with npm if missing."""
    target = root / "build" / "katex" / KATEX_VERSION
    package = target / "package"
    if (package / "dist" / "katex.min.css").is_file():
        return package
    npm = shutil.which("npm")
    if npm is None:
        raise KatexError("the docs build needs npm to fetch KaTeX (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([npm, "pack", f"katex@{KATEX_VERSION}", "--pack-destination",
                                 tmp, "--silent"], capture_output=True, text=True, timeout=300)
        tarball = Path(tmp) / f"katex-{KATEX_VERSION}.tgz"
        if result.returncode != 0 or not tarball.is_file():
            raise KatexError(f"npm pack katex@{KATEX_VERSION} failed: {result.stderr.strip()}")
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if f"sha512-{digest}" != KATEX_INTEGRITY:
            raise KatexError(f"katex-{KATEX_VERSION}.tgz has sha512-{digest}, expected "
                             f"{KATEX_INTEGRITY}: refusing to use it")
        unpack = Path(tempfile.mkdtemp(dir=tmp))
        with tarfile.open(tarball) as tar:
            tar.extractall(unpack, filter="data")
        target.mkdir(parents=True, exist_ok=True)
        if package.exists():
            shutil.rmtree(package)
        shutil.move(unpack / "package", package)
    return package


def _tex(body: str) -> tuple[str, bool]:
    r"""The TeX and display flag of one arithmatex element: ``\(...\)`` or ``\[...\]``."""
    tex = html.unescape(body).strip()
    if tex.startswith(r"\(") and tex.endswith(r"\)"):
        return tex[2:-2], False
    if tex.startswith(r"\[") and tex.endswith(r"\]"):
        return tex[2:-2], True
    raise KatexError(f"unexpected arithmatex output: {tex[:80]!r}")


def render(package: Path, formulas: list[tuple[str, bool]]) -> list[dict[str, str]]:
    """KaTeX's answer for each (tex, display) pair: ``{"html": ...}`` or ``{"error": ...}``."""
    if shutil.which("node") is None:
        raise KatexError("the docs build needs node to render math with KaTeX "
                         "(apt-get install nodejs)")
    result = subprocess.run(
        ["node", str(Path(__file__).with_name("katex_render.js")), str(package)],
        input=json.dumps([{"tex": t, "display": d} for t, d in formulas]),
        capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise KatexError(f"KaTeX failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def render_site(site: Path, root: Path = ROOT) -> int:
    """Render every formula of every page of ``site`` in place; return how many there were.

    Also copies KaTeX's stylesheet and fonts into ``site/assets/katex/``.
    """
    package = katex_package(root)
    pages = sorted(site.rglob("*.html"))
    found: list[tuple[Path, str, list[re.Match[str]]]] = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        matches = list(MATH.finditer(text))
        if matches:
            found.append((page, text, matches))
    formulas = [_tex(m["body"]) for _, _, matches in found for m in matches]
    rendered = iter(render(package, formulas) if formulas else [])
    errors, outputs = [], []
    for page, text, matches in found:
        parts, last = [], 0
        for match in matches:
            answer = next(rendered)
            if "error" in answer:
                errors.append(f"  {page.relative_to(site)}: {html.unescape(match['body'])!r}: "
                              f"{answer['error']}")
            html_out = answer.get("html", "")
            parts += [text[last:match.start()],
                      f'<{match["tag"]} class="arithmatex">{html_out}</{match["tag"]}>']
            last = match.end()
        parts.append(text[last:])
        outputs.append((page, "".join(parts)))
    if errors:
        raise KatexError("KaTeX cannot render math in:\n" + "\n".join(errors))
    for page, text in outputs:
        page.write_text(text, encoding="utf-8")
    dist, target = package / "dist", site / SITE_DIR
    (target / "fonts").mkdir(parents=True, exist_ok=True)
    shutil.copy2(dist / "katex.min.css", target / "katex.min.css")
    for font in sorted((dist / "fonts").iterdir()):
        shutil.copy2(font, target / "fonts" / font.name)
    return len(formulas)


if __name__ == "__main__":
    print(f"katex: rendered {render_site(Path(sys.argv[1]))} formulas")
