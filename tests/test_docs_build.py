"""The docs build's own machinery: the generator's contract with the pages, the numbers'
Markdown extension, and the site checker's reading of silent failures.

The build itself (``python docs/build.py`` with MkDocs and with Zensical) and the browser
check are run by .ci/docs; these are the parts that can be checked in a second.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INCLUDE = re.compile(r'^--8<-- "docs/generated/fragments/(?P<name>[^"]+)"$', re.MULTILINE)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = load(DOCS / "generate.py", "docs_generate")


def test_every_generated_include_on_a_page_is_a_fragment_the_generator_writes() -> None:
    # run_blocks fails on a run block without its include line; the other names are the
    # generator's fixed fragments. A page that includes anything else would fail the build
    # (check_paths), but only after the costly generation: this says it at once.
    runs = {name for page in generate.pages() for name, _ in generate.run_blocks(page)}
    fixed = {"cli-reference.md", "report-include.md", "report-comparison.md",
             "report-sample.md", "readme-quick-start.md"}
    included = {m["name"] for page in generate.pages()
                for m in INCLUDE.finditer(page.read_text("utf-8"))}
    assert len(runs) >= 20
    assert included == runs | fixed


def test_a_run_block_without_its_include_line_is_refused(tmp_path: Path,
                                                         monkeypatch) -> None:
    monkeypatch.setattr(generate, "DOCS", tmp_path)
    page = tmp_path / "p.md"
    page.write_text("# P\n\n<!-- run\ncharrnn gradcheck\n-->\n\nProse.\n", encoding="utf-8")
    with pytest.raises(generate.GenerationError, match='run-p-1.md'):
        generate.run_blocks(page)
    page.write_text("# P\n\n<!-- run\ncharrnn gradcheck\n-->\n\n"
                    '--8<-- "docs/generated/fragments/run-p-1.md"\n', encoding="utf-8")
    assert generate.run_blocks(page) == [("run-p-1.md", ["charrnn gradcheck"])]


def test_every_chapter_has_its_notebook_link_under_its_title() -> None:
    for page in sorted((DOCS / "chapters").glob("*.md")):
        lines = page.read_text("utf-8").splitlines()
        assert lines[1:3] == ["", generate.notebook_link(f"chapters/{page.name}")], page.name


def test_values_are_filled_formatted_and_an_unknown_name_stops_the_build() -> None:
    pytest.importorskip("markdown", reason="the values extension needs the docs extra")
    values = load(DOCS / "hooks" / "values.py", "docs_values")
    table = {"value": {"trained.iterations": 12000, "fresh.rho": 0.123456},
             "report": {"training": {"wall_time_s": 81.6}, "runs": [{"loss": 1.5}]}}
    text = ("{{value:trained.iterations:,}} steps, rho {{value:fresh.rho:.3f}}, "
            "{{report:training.wall_time_s:.0f}} s, {{report:runs.0.loss}}")
    assert values.fill(text, table) == "12,000 steps, rho 0.123, 82 s, 1.5"
    with pytest.raises(KeyError, match="the names are fresh.rho, trained.iterations"):
        values.fill("{{value:trained.iteration}}", table)
    with pytest.raises(KeyError, match="report.json has no 'training.wall'"):
        values.fill("{{report:training.wall}}", table)


def _site(tmp_path: Path, pages: dict[str, str]) -> Path:
    for page, body in pages.items():
        path = tmp_path / page / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return tmp_path


RUN_OK = ('<!-- run\ncharrnn gradcheck\n-->\n\n<p><em>Run while this site was built, on the '
          'machine that built it:</em></p>\n<div class="highlight"><pre><span></span><code>'
          '<span class="gp">$ </span>charrnn gradcheck\nok</code></pre></div>')


def test_the_site_check_reads_every_silent_failure_of_a_builder(tmp_path: Path) -> None:
    pytest.importorskip("websockets", reason="the site check needs the docs extra")
    nbformat = pytest.importorskip("nbformat")
    check = load(ROOT / ".ci" / "check_site.py", "check_site")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "good.ipynb").write_text(nbformat.writes(book), encoding="utf-8")
    (tmp_path / "nb" / "bad.ipynb").write_text('{"cells": 1}', encoding="utf-8")
    (tmp_path / "f.svg").write_text("<svg/>", encoding="utf-8")
    site = _site(tmp_path, {
        "good": RUN_OK + '<img src="../f.svg"> <code>x</code>',
        "chapters/good": '<a href="../../nb/good.ipynb" download="good.ipynb">nb</a>',
        "reference/api/x": "<code>{{value:NAME}}</code>",
        "reference/cli": '<h2 id="a"><code>charrnn</code></h2><pre><code>Usage: charrnn'
                         '</code></pre><h2 id="b"><code>charrnn x</code></h2>',
        "leak": "<p>rho {{value:fresh.rho:.3f}} and {{report:training.x}}</p>",
        "directive": "<!-- cli-reference -->",
        "run": "<!-- run\ncharrnn gradcheck\n-->\n<p>nothing</p>",
        "wrong": RUN_OK.replace("$ </span>charrnn gradcheck", "$ </span>charrnn other"),
        "empty": '<div class="highlight"><pre><span></span><code> </code></pre></div>',
        "figure": '<img src="../figures/missing.svg">',
        "chapters/none": "<p>no link</p>",
        "chapters/bad": '<a download="bad.ipynb" href="../../nb/bad.ipynb">nb</a>',
        "chapters/gone": '<a href="../../nb/gone.ipynb" download>nb</a>',
    })
    found = {page: check.page_problems(site, page) for page in
             ["good", "chapters/good", "reference/api/x", "reference/cli", "leak",
              "directive", "run", "wrong", "empty", "figure", "chapters/none",
              "chapters/bad", "chapters/gone"]}
    assert found["good"] == [] and found["chapters/good"] == [] \
        and found["reference/api/x"] == []
    assert found["reference/cli"] == ["CLI reference incomplete: 2 command headings, "
                                      "1 Usage blocks"]
    assert [p.split(":")[0] for p in found["leak"]] == ["leaked placeholder"] * 2
    assert found["directive"] == ["directive comment where output should be: "
                                  "'<!-- cli-reference -->'"]
    assert found["run"] == ["directive comment where output should be: run "
                            "['charrnn gradcheck']"]
    assert found["wrong"] == ["command-output block without its commands: "
                              "['charrnn gradcheck']"]
    assert found["empty"] == ["empty code block"]
    assert found["figure"] == ["figure not in the site: ../figures/missing.svg"]
    assert found["chapters/none"] == ["chapter without a link to its notebook"]
    assert [p.split(":")[0] for p in found["chapters/bad"] + found["chapters/gone"]] \
        == ["notebook ../../nb/bad.ipynb", "notebook ../../nb/gone.ipynb"]
    assert json.loads((tmp_path / "nb" / "bad.ipynb").read_text("utf-8")) == {"cells": 1}
