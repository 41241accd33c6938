"""Every chapter page, also as a Jupyter notebook to download and run.

``docs/generate.py`` turns each page under ``chapters/`` into ``generated/notebooks/<page>.ipynb``,
made from the page's Markdown with its numbers filled in, in the page's order:

* ```` ```python ```` blocks become code cells, as they are;
* ```` ```pycon ```` blocks become code cells, prompts removed, each ending with an example
  whose printed output the notebook then produces when it runs;
* code the page includes from the package (``--8<--``) is shown, not run: a Markdown cell
  with the source, read from the marked section as the site shows it; a Markdown file
  included in the prose (a measured table, a command's generated output) is inlined;
* everything else is Markdown: prose, math (Jupyter renders ``$...$`` itself), tables,
  command outputs; the "Check yourself" questions become ``<details>`` blocks that open
  on a click, like the site's; figures are attached to their cell, so the notebook needs
  no files beside it; links to other pages become plain text.

Each chapter page carries the download link under its title. Nothing generated is kept in
the repository (``docs/generated/`` is git-ignored). CI runs every notebook to the end
(``.ci/run_notebooks.py``).
"""

from __future__ import annotations

import base64
import mimetypes
import posixpath
import re
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SECTION = "chapters/"

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^\n`]*)\n"
                   r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*\n?", re.MULTILINE | re.DOTALL)
SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^":]+)(?::(?P<section>[a-z][-_0-9a-z]*))?"\s*$')
ADMONITION = re.compile(r'^(?P<kind>\?\?\?\+?|!!!) (?P<type>\w+)(?: "(?P<title>[^"]*)")?[ \t]*$')
IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)")
PAGE_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+\.md(?:#[^)\s]*)?)\)")



class NotebookError(ValueError):
    """A page that cannot become a notebook; the message names the page and the fix."""


# ------------------------------------------------------------------ Markdown to cells

def snippet_source(path: str, section: str | None) -> str:
    """The text ``--8<-- "path:section"`` stands for, dedented as the site shows it."""
    source = (ROOT / path).read_text(encoding="utf-8")
    if section is None:
        return source.rstrip("\n")
    start, end = f"# --8<-- [start:{section}]", f"# --8<-- [end:{section}]"
    if source.count(start) != 1 or source.count(end) != 1:
        raise NotebookError(f"{path} does not mark the section {section!r} exactly once")
    body = source.split(start, 1)[1].split(end, 1)[0]
    return textwrap.dedent(body.split("\n", 1)[1]).rstrip()


def pycon_cells(body: str) -> list[str]:
    """The code of a pycon block as cells, prompts and printed output removed.

    Examples that print nothing are gathered with the ones after them; a cell ends with
    an example that printed something, so that the notebook shows that output under it.
    """
    cells: list[list[str]] = [[]]
    for line in body.splitlines():
        if line.startswith(">>>"):
            cells[-1].append(line[4:])
        elif line.startswith("...") and cells[-1]:
            cells[-1].append(line[4:])
        elif line.strip() and cells[-1]:
            cells.append([])                    # expected output: the cell ends here
    return ["\n".join(cell).rstrip() for cell in cells if cell]


def _fenced(info: str, body: str) -> str:
    ticks = "```"
    while ticks in body:
        ticks += "`"
    return f"{ticks}{info}\n{body.rstrip()}\n{ticks}"


def _code_block(info: str, body: str) -> tuple[str, list[str]]:
    """("markdown", [text]) or ("code", [sources]) for one fenced block of the page."""
    language = info.split()[0] if info else ""
    lines = [line for line in body.splitlines() if line.strip()]
    if lines and all(SNIPPET.match(line) for line in lines):
        parts = [snippet_source(m["path"], m["section"])
                 for m in (SNIPPET.match(line) for line in lines)]
        titled = re.search(r'title="([^"]+)"', info)
        heading = f"From `{titled[1]}`:\n\n" if titled else ""
        return "markdown", [heading + _fenced("python", "\n\n".join(parts))]
    if info == "python":
        return "code", [body.rstrip()]
    if info == "pycon":
        return "code", pycon_cells(body)
    return "markdown", [_fenced(language, body)]


def _admonitions(text: str) -> str:
    """Material's ``??? question "..."`` and ``!!! note`` blocks as plain Markdown/HTML."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = ADMONITION.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        body = []
        i += 1
        while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        inner = textwrap.dedent("\n".join(body))
        title = match["title"] or match["type"].capitalize()
        if match["kind"].startswith("?"):
            out += [f"<details><summary><b>{title}</b></summary>", "", inner, "", "</details>",
                    ""]
        else:
            out += [f"> **{title}.** " + inner.replace("\n", "\n> "), ""]
    return "\n".join(out)


def split_cells(markdown: str) -> list[tuple[str, str]]:
    """The page's Markdown as (cell type, source) pairs, in order; see the module docstring."""
    cells: list[tuple[str, str]] = []
    text: list[str] = []

    def flush() -> None:
        # A bare --8<-- line in the prose includes a Markdown file (a measured table): inline it.
        joined = "\n".join(
            snippet_source(match["path"], match["section"])
            if (match := SNIPPET.match(line)) else line
            for line in "\n".join(text).splitlines()).strip()
        if joined:
            cells.append(("markdown", joined))
        text.clear()

    position = 0
    for match in FENCE.finditer(markdown):
        text.append(markdown[position:match.start()])
        position = match.end()
        indent = match["indent"]
        kind, sources = _code_block(match["info"].strip(), textwrap.dedent(
            "\n".join(line.removeprefix(indent) for line in match["body"].splitlines())))
        if kind == "markdown" or indent:
            # A block inside an admonition stays inside it: re-indent it as Markdown.
            block = "\n\n".join(sources) if kind == "markdown" else _fenced(
                "python", "\n".join(sources))
            text.append(textwrap.indent(block, indent) + "\n")
            continue
        flush()
        cells += [("code", source) for source in sources if source]
    text.append(markdown[position:])
    flush()
    return [(kind, _admonitions(source) if kind == "markdown" else source)
            for kind, source in cells]


def _markdown_cell(source: str, page_uri: str, files: Any) -> dict[str, Any]:
    attachments: dict[str, dict[str, str]] = {}

    def attach(match: re.Match[str]) -> str:
        src = match["src"]
        if re.match(r"^[a-z]+:", src):
            return match[0]
        uri = posixpath.normpath(posixpath.join(posixpath.dirname(page_uri), src))
        file = files.get_file_from_path(uri)
        if file is None or file.abs_src_path is None:
            raise NotebookError(f"{page_uri}: the image {src} is not part of the site")
        name = posixpath.basename(uri)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        data = Path(file.abs_src_path).read_bytes()
        attachments[name] = {mime: base64.b64encode(data).decode("ascii")}
        return f"![{match['alt']}](attachment:{name})"

    def prose(text: str) -> str:
        return PAGE_LINK.sub(lambda m: m["text"], IMAGE.sub(attach, text))

    # Images and links in prose only: a code block shows its text as it is.
    parts, position = [], 0
    for block in FENCE.finditer(source):
        parts += [prose(source[position:block.start()]), block[0]]
        position = block.end()
    source = "".join([*parts, prose(source[position:])])
    cell: dict[str, Any] = {"cell_type": "markdown", "metadata": {},
                            "source": source.splitlines(keepends=True)}
    if attachments:
        cell["attachments"] = attachments
    return cell


def _exercise_cells(page_uri: str, files: Any) -> list[dict[str, Any]]:
    """A chapter notebook ends with its exercises, each checked in the notebook."""
    from charrnn_edu.exercises.notebook import exercise_cells

    number = posixpath.basename(page_uri).split("-")[0]
    sources = exercise_cells(number)
    if not sources:
        return []
    intro = ("## Exercises, checked here\n\nWrite each function in place of its `raise "
             "NotImplementedError`, then run its cell: `check` grades it with the same checks "
             "and diagnoses as `charrnn exercises check`.")
    return [_markdown_cell(intro, page_uri, files),
            *({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": source.splitlines(keepends=True)} for source in sources)]


def notebook(markdown: str, page_uri: str, files: Any, site_name: str) -> dict[str, Any]:
    """The nbformat 4 notebook of a page (a dict, ready for ``json.dump``)."""
    intro = (f"*This notebook is a page of the {site_name} tutorial, made from the page "
             "when the site was built. Run the cells in order: each needs the ones before it "
             "and the package, which is not on a package index: install it from a checkout "
             "of its source, with `pip install -e \".[notebooks]\"` in the checkout's "
             "folder. The code the page includes from the package is shown, not run: it is "
             "the package's own.*")
    cells = [_markdown_cell(intro, page_uri, files)]
    for kind, source in split_cells(markdown):
        if kind == "markdown":
            cells.append(_markdown_cell(source, page_uri, files))
        else:
            cells.append({"cell_type": "code", "execution_count": None, "metadata": {},
                          "outputs": [], "source": source.splitlines(keepends=True)})
    cells += _exercise_cells(page_uri, files)
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {"cells": cells,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}
