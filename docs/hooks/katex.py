"""MkDocs hook: math rendered to HTML at build time with KaTeX, fetched from the npm registry.

The site must show math with no network and must not carry third-party code in the
repository. So the build fetches one pinned KaTeX release with ``npm pack`` (the npm
registry's own client), checks its sha512 against the value pinned here, unpacks it into the
git-ignored ``build/katex/``, and then:

* renders every formula that ``pymdownx.arithmatex`` (generic mode) marked, by one ``node``
  process per page running ``katex_render.js``: the pages hold finished HTML (and MathML for
  screen readers), so no script runs in the reader's browser;
* copies KaTeX's stylesheet and fonts into ``site/assets/katex/``.

A formula KaTeX cannot parse stops the build with the page and the formula, so a typo never
reaches the site as red TeX.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

KATEX_VERSION = "0.16.47"
# `npm view katex@0.16.47 dist.integrity`; checked against the downloaded tarball.
KATEX_INTEGRITY = ("sha512-Eeo8Ys1doU1z+x8AZsPpQu+p/QcZBI5PeOo7QGQdy2x2m0MU/hYagBbGOmXwr5KVbEfV"
                   "uWv9LpnQWeehogurjg==")
SITE_DIR = "assets/katex"

log = logging.getLogger("mkdocs.hooks.katex")
_package: Path | None = None

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
        raise PluginError("the docs build needs npm to fetch KaTeX (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([npm, "pack", f"katex@{KATEX_VERSION}", "--pack-destination",
                                 tmp, "--silent"], capture_output=True, text=True, timeout=300)
        tarball = Path(tmp) / f"katex-{KATEX_VERSION}.tgz"
        if result.returncode != 0 or not tarball.is_file():
            raise PluginError(f"npm pack katex@{KATEX_VERSION} failed: {result.stderr.strip()}")
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if f"sha512-{digest}" != KATEX_INTEGRITY:
            raise PluginError(f"katex-{KATEX_VERSION}.tgz has sha512-{digest}, expected "
                              f"{KATEX_INTEGRITY}: refusing to use it")
        unpack = Path(tempfile.mkdtemp(dir=tmp))
        with tarfile.open(tarball) as tar:
            tar.extractall(unpack, filter="data")
        target.mkdir(parents=True, exist_ok=True)
        if package.exists():
            shutil.rmtree(package)
        shutil.move(unpack / "package", package)
    log.info("fetched KaTeX %s into %s", KATEX_VERSION, package)
    return package


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fetch KaTeX if needed, and link its stylesheet from every page."""
    global _package
    if shutil.which("node") is None:
        raise PluginError("the docs build needs node to render math with KaTeX "
                          "(apt-get install nodejs)")
    _package = katex_package(Path(config.config_file_path).resolve().parent)
    config.extra_css.insert(0, f"{SITE_DIR}/katex.min.css")
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Copy KaTeX's stylesheet and fonts into the site."""
    dist = _package / "dist"
    for source in [dist / "katex.min.css", *sorted((dist / "fonts").iterdir())]:
        uri = f"{SITE_DIR}/{source.relative_to(dist).as_posix()}"
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files


def _tex(body: str) -> tuple[str, bool]:
    r"""The TeX and display flag of one arithmatex element: ``\(...\)`` or ``\[...\]``."""
    tex = html.unescape(body).strip()
    if tex.startswith(r"\(") and tex.endswith(r"\)"):
        return tex[2:-2], False
    if tex.startswith(r"\[") and tex.endswith(r"\]"):
        return tex[2:-2], True
    raise PluginError(f"unexpected arithmatex output: {tex[:80]!r}")


def render(formulas: list[tuple[str, bool]], where: str) -> list[str]:
    """KaTeX's HTML for each (tex, display) pair; a formula KaTeX rejects stops the build."""
    result = subprocess.run(
        ["node", str(Path(__file__).with_name("katex_render.js")), str(_package)],
        input=json.dumps([{"tex": t, "display": d} for t, d in formulas]),
        capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise PluginError(f"KaTeX failed on {where}: {result.stderr.strip()}")
    rendered = json.loads(result.stdout)
    errors = [f"  {tex!r}: {r['error']}" for (tex, _), r in zip(formulas, rendered, strict=True)
              if "error" in r]
    if errors:
        raise PluginError(f"KaTeX cannot render math in {where}:\n" + "\n".join(errors))
    return [r["html"] for r in rendered]


def on_page_content(content: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace each formula of the page by KaTeX's HTML for it."""
    matches = list(MATH.finditer(content))
    if not matches:
        return content
    html_out = render([_tex(m["body"]) for m in matches], page.file.src_uri)
    parts, last = [], 0
    for match, rendered in zip(matches, html_out, strict=True):
        parts += [content[last:match.start()],
                  f'<{match["tag"]} class="arithmatex">{rendered}</{match["tag"]}>']
        last = match.end()
    parts.append(content[last:])
    return "".join(parts)
