"""Everything the site shows that the package computes, written to ``docs/generated/``.

Run before either builder (``docs/build.py`` does it); the pages include what it writes with
``pymdownx.snippets``, which MkDocs and Zensical both run, so the site cannot drift from the
code whichever builds it. Nothing written here is committed (``docs/generated/`` is
git-ignored).

``figures/*.svg``
    Drawn by ``charrnn_edu.experiments`` and ``charrnn_edu.training_experiments``; the pages
    that need a trained model get one trained once (``training_experiments.trained_model``).
``values.json``
    The numbers the prose quotes: ``value`` (``tutorial_values`` of that model) and
    ``report`` (the committed ``docs/report/report.json``), filled into ``{{value:NAME:FMT}}``
    and ``{{report:PATH:FMT}}`` by the Markdown extension ``docs/hooks/values.py``.
``fragments/run-PAGE-N.md``
    The N-th ``<!-- run`` block of PAGE: each line inside is a ``charrnn`` command, run (in
    one scratch folder, so a later command can use a run folder an earlier one wrote) and
    shown with its real output. The page includes it on the line after the block::

        --8<-- "docs/generated/fragments/run-1-encoding-1.md"

    A command that exits non-zero, or a run block without its include line, stops the build.
``fragments/cli-reference.md``
    The ``--help`` output of ``charrnn`` and of every subcommand, found by walking the real
    command tree, so a new subcommand appears without touching the docs.
``fragments/report-include.md``, ``report-comparison.md``, ``report-sample.md``
    The committed run of ``charrnn report --out docs/report``: its report.md (headings one
    level down, image links made relative to chapter 9), a table of its numbers beside the
    original report's, and the first characters of its best model's text.
``fragments/readme-quick-start.md``
    The code block of the README's "Quick start" section, so the two never differ.
``notebooks/PAGE.ipynb``
    Each chapter as a Jupyter notebook, made from the filled-in page (``hooks/notebooks.py``).

The costly part (the model, the figures, the commands, ``--help``) is cached by a hash of
its inputs: the package's source, the commands of every run block, the bundled data, the
committed report, this file and the versions of Python and the libraries that print. A
prose-only edit regenerates only the notebooks and the report fragments, in seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATED = DOCS / "generated"
FRAGMENTS = GENERATED / "fragments"
STAMP = GENERATED / "inputs.sha256"
REPORT = DOCS / "report"
REPORT_COMMAND = "charrnn report --out docs/report"
# The page that includes report.md: its image links are made relative to it.
REPORT_PAGE = "chapters/9-report.md"
REPORT_SAMPLE_CHARACTERS = 400
HELP_COLUMNS = "88"
# The piece of the bundled text whose H and P chapter 2 shows: its first line of verse.
STATES_TEXT = "When shall we three meet again"
SITE_NAME = "charrnn-edu"

RUN = re.compile(r"^<!-- run\n(?P<commands>.*?)\n-->\n", re.MULTILINE | re.DOTALL)
INCLUDE = '--8<-- "docs/generated/fragments/{name}"'


class GenerationError(RuntimeError):
    """Something the site needs could not be generated; the message says what and why."""


def pages() -> list[Path]:
    """Every Markdown page of the site, in a fixed order (the order its commands run in)."""
    return sorted(p for p in DOCS.rglob("*.md")
                  if p.relative_to(DOCS).parts[0] not in ("generated", "hooks", "report",
                                                          "measured", "study"))


def uri(page: Path) -> str:
    """The page's path under docs/, as the builders name it: ``chapters/1-encoding.md``."""
    return page.relative_to(DOCS).as_posix()


def fence(language: str, text: str) -> str:
    """``text`` in a fenced code block, with more backticks than it holds."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


# ------------------------------------------------------------------ run blocks

def run_blocks(page: Path) -> list[tuple[str, list[str]]]:
    """(fragment name, commands) of each run block of a page; checks its include line."""
    text = page.read_text(encoding="utf-8")
    stem = posixpath.splitext(posixpath.basename(uri(page)))[0]
    blocks = []
    for number, match in enumerate(RUN.finditer(text), start=1):
        name = f"run-{stem}-{number}.md"
        include = INCLUDE.format(name=name)
        if not text[match.end():].lstrip("\n").startswith(include + "\n"):
            raise GenerationError(f"{uri(page)}: run block {number} must be followed by a "
                                  f"blank line and the line {include}")
        commands = [c.strip() for c in match["commands"].strip().splitlines() if c.strip()]
        blocks.append((name, commands))
    return blocks


def _charrnn(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # CHARRNN_HOME: `charrnn exercises` keeps a learner's progress there; the build's own
    # runs must not touch the progress of whoever builds the site.
    env = {**os.environ, "COLUMNS": HELP_COLUMNS, "NO_COLOR": "1", "TERM": "dumb",
           "CHARRNN_HOME": str(cwd / "charrnn-home")}
    return subprocess.run([sys.executable, "-m", "charrnn_edu", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def run_fragment(commands: list[str], workdir: Path, outputs: dict[str, str]) -> str:
    """The commands and their real output, each command run once per generation."""
    parts = []
    for command in commands:
        if command not in outputs:
            args = shlex.split(command)
            if not args or args[0] != "charrnn":
                raise GenerationError(f"a run block may only hold charrnn commands, "
                                      f"got {command!r}")
            result = _charrnn(args[1:], workdir)
            if result.returncode != 0:
                raise GenerationError(f"`{command}` exited {result.returncode}:\n"
                                      f"{result.stdout}{result.stderr}")
            outputs[command] = result.stdout.rstrip()
        output = outputs[command]
        parts.append(f"$ {command}" + (f"\n{output}" if output else ""))
    # Said on the page: these numbers are the build machine's, not a committed run's.
    return ("*Run while this site was built, on the machine that built it:*\n\n"
            + fence("console", "\n\n".join(parts)) + "\n")


# ------------------------------------------------------------------ the CLI reference

def command_tree() -> list[list[str]]:
    """Every command path of ``charrnn``: [], ["gradcheck"], ..., in the CLI's own order."""
    import typer

    from charrnn_edu.cli import app

    paths: list[list[str]] = []

    # Typer carries its own copy of click, so groups are recognised by what they can do.
    def walk(command: Any, path: list[str], ctx: Any) -> None:
        paths.append(path)
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not getattr(sub, "hidden", False):
                    walk(sub, [*path, name], sub.context_class(sub, info_name=name, parent=ctx))

    root = typer.main.get_command(app)
    walk(root, [], root.context_class(root, info_name="charrnn"))
    return paths


def help_text(path: list[str]) -> str:
    """What ``charrnn PATH --help`` prints, from the real entry point, at a fixed width."""
    from charrnn_edu.cli import main

    out, saved = io.StringIO(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*path, "--help"])
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    if not out.getvalue().startswith("Usage: "):
        raise GenerationError(f"charrnn {' '.join(path)} --help printed no usage: "
                              f"{out.getvalue()[:200]!r}")
    return out.getvalue()


def cli_reference() -> str:
    """One section per command with its real ``--help`` output."""
    sections = []
    for path in command_tree():
        name = " ".join(["charrnn", *path])
        sections.append(f"## `{name}`\n\n" + fence("text", help_text(path)))
    return "\n\n".join(sections) + "\n"


# ------------------------------------------------------------------ figures and values

def figures_and_values() -> tuple[dict[str, Any], dict[str, float]]:
    """Every figure of the site, by file name, and the numbers the pages quote.

    Trains the model the pages call "trained" once.
    """
    import numpy as np

    from charrnn_edu import experiments as ex
    from charrnn_edu import gated_experiments as gx
    from charrnn_edu import training_experiments as tx
    from charrnn_edu.forward import RNN

    trained = tx.trained_model()
    values = {k: v.item() if hasattr(v, "item") else v
              for k, v in tx.tutorial_values(trained).items()}
    K, m = trained.rnn.K, trained.rnn.m
    models = {"fresh, sigma = 0.01": RNN.init(K, m, 0.01, rng=np.random.default_rng(0)),
              f"trained, {trained.iteration:,} iterations": trained.rnn,
              "fresh, sigma = 1": RNN.init(K, m, 1.0, rng=np.random.default_rng(0))}
    x, y = trained.data[1000:1100], trained.data[1001:1101]
    h0 = np.zeros((m, 1))
    text = trained.vocab.decode(trained.data)
    start = text.index(STATES_TEXT)
    figures = {
        "unrolled.svg": ex.draw_unrolled(4),
        "bptt-paths.svg": ex.draw_unrolled(4, bptt_at=2),
        "states.svg": ex.draw_states(trained.rnn, trained.vocab,
                                     text[start:start + len(STATES_TEXT) + 1]),
        "smooth-loss.svg": tx.draw_smooth_loss(trained),
        "jacobian-norms.svg": ex.draw_jacobian_norms(
            {k: ex.jacobian_norms(r, x, h0) for k, r in models.items()},
            {k: ex.spectral_radius(r.W) for k, r in models.items()}),
        "h0-gradients.svg": ex.draw_h0_gradients(
            {k: ex.h0_gradients(r, x, y, h0) for k, r in models.items()}),
        "gradcheck-steps.svg": ex.draw_step_errors(ex.step_errors()),
        "state-gradients.svg": gx.draw_state_gradients(gx.state_gradient_curves(
            x, y, K, m, trained=(trained.rnn, tx.trained_model(cell="lstm").rnn))),
        "streams.svg": tx.draw_streams(),
    }
    return figures, values


# ------------------------------------------------------------------ the committed report

def report_json() -> dict[str, Any]:
    """The committed report.json."""
    path = REPORT / "report.json"
    if not path.is_file():
        raise GenerationError(f"{path} is missing: the site shows the committed run of "
                              f"`{REPORT_COMMAND}`; run it and commit docs/report")
    return json.loads(path.read_text(encoding="utf-8"))


def report_include() -> str:
    """report.md with its title dropped, headings one level down, image links re-rooted."""
    path = REPORT / "report.md"
    if not path.is_file():
        raise GenerationError(f"{path} is missing: run `{REPORT_COMMAND}` and commit "
                              "docs/report")
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    here = posixpath.dirname(REPORT_PAGE)
    out, opened = [], None
    for line in lines:
        opening = re.match(r"^(`{3,})", line)
        if opening and (opened is None or line.strip() == opened):
            opened = opening.group(1) if opened is None else None
        elif opened is None:
            if line.startswith("#"):
                line = "#" + line
            line = re.sub(r"!\[([^\]]*)\]\((?!https?:|/)([^)]+)\)",
                          lambda m: f"![{m[1]}]({posixpath.relpath('report/' + m[2], here)})",
                          line)
        out.append(line)
    return "\n".join(out) + "\n"


def report_comparison(report: dict[str, Any]) -> str:
    """A Markdown table: the committed run's numbers beside the original report's.

    The rows are the committed report.json's own ("original", written by ``charrnn report``
    from ``charrnn_edu.original``), so the page shows exactly what the command wrote.
    """
    from charrnn_edu.report import comparison_markdown

    corpus, train = report["corpus"], report["training"]
    texts = (f"| text | `{corpus['name']}`, {corpus['characters']:,} characters, read as "
             f"{corpus['encoding']}, {train['iterations']:,} iterations | *Harry Potter and "
             "the Goblet of Fire*, read one byte per character | |")
    table = comparison_markdown(report["original"]).splitlines()
    return "\n".join([*table[:2], texts, *table[2:]]) + "\n"


def report_sample(report: dict[str, Any], n: int) -> str:
    """The first ``n`` characters of the best model's text, cut at the end of a line."""
    text = report["final"]["text"]
    cut = text[:n]
    if "\n" in cut and len(text) > n:
        cut = cut[:cut.rindex("\n")]
    return fence("text", cut) + "\n"


def readme_quick_start() -> str:
    """The first code block of the README's "Quick start" section, as it is."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    if "\n## Quick start\n" not in text:
        raise GenerationError("README.md has no '## Quick start' section for the home page")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^(`{3,})(\w*)\n(.*?)^\1[ \t]*$", section, re.MULTILINE | re.DOTALL)
    if block is None:
        raise GenerationError("README.md's Quick start section has no code block")
    return f"{block[1]}{block[2]}\n{block[3]}{block[1]}\n"


# ------------------------------------------------------------------ notebooks

class DocsFiles:
    """The site's files as ``hooks/notebooks.py`` asks for them: by URI under docs/."""

    class _File:
        def __init__(self, path: Path) -> None:
            self.abs_src_path = str(path)

    def get_file_from_path(self, uri: str) -> DocsFiles._File | None:
        """The file at ``uri`` under docs/, or None if there is none."""
        path = DOCS / uri
        return self._File(path) if path.is_file() else None


def notebook_link(page_uri: str) -> str:
    """The download link a chapter page carries under its title."""
    name = posixpath.splitext(posixpath.basename(page_uri))[0] + ".ipynb"
    return (f"[Download this chapter as a Jupyter notebook ({name})](../generated/notebooks/"
            f'{name}){{ download="{name}" .notebook-download }}')


def write_notebooks(values: Callable[[str], str]) -> list[Path]:
    """Each chapter page as a notebook, from its page with numbers and includes filled in."""
    import nbformat

    sys.path.insert(0, str(DOCS))
    from hooks import notebooks

    folder = GENERATED / "notebooks"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    written = []
    for page in pages():
        if not uri(page).startswith(notebooks.SECTION):
            continue
        text = page.read_text(encoding="utf-8")
        link = notebook_link(uri(page))
        title, _, rest = text.partition("\n")
        if not rest.startswith(f"\n{link}\n"):
            raise GenerationError(f"{uri(page)}: the line after its title must be a blank "
                                  f"line and then its notebook's link:\n{link}")
        text = f"{title}\n{rest.removeprefix(chr(10) + link + chr(10))}"
        book = notebooks.notebook(values(text), uri(page), DocsFiles(), SITE_NAME)
        nbformat.validate(nbformat.from_dict(book))
        path = folder / (page.stem + ".ipynb")
        path.write_text(json.dumps(book, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


# ------------------------------------------------------------------ the cache and main

def inputs_hash(blocks: list[tuple[str, list[str]]]) -> str:
    """A hash of everything the costly part of the generation reads."""
    digest = hashlib.sha256()
    files = [*sorted((ROOT / "charrnn_edu").rglob("*.py")), *sorted((ROOT / "data").glob("*")),
             Path(__file__), ROOT / "pyproject.toml"]
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(blocks).encode())
    versions = [sys.version] + [importlib.metadata.version(name) for name in
                                ("numpy", "matplotlib", "typer", "click", "rich")]
    digest.update(json.dumps(versions).encode())
    return digest.hexdigest()


def generate_costly(blocks: list[tuple[str, list[str]]], log: Callable[[str], None]) -> None:
    """The model, figures, values, command outputs and CLI reference, into GENERATED."""
    from charrnn_edu.files import save_figure

    started = time.monotonic()
    figures, values = figures_and_values()
    shutil.rmtree(GENERATED / "figures", ignore_errors=True)
    for name, fig in figures.items():
        save_figure(fig, GENERATED / "figures" / name)
    (GENERATED / "tutorial-values.json").write_text(json.dumps(values, indent=1) + "\n",
                                                    encoding="utf-8")
    log(f"trained the model and drew {len(figures)} figures in "
        f"{time.monotonic() - started:.0f} s")
    started = time.monotonic()
    for old in FRAGMENTS.glob("run-*.md"):
        old.unlink()
    outputs: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="charrnn-docs-") as workdir:
        for name, commands in blocks:
            (FRAGMENTS / name).write_text(run_fragment(commands, Path(workdir), outputs),
                                          encoding="utf-8")
    (FRAGMENTS / "cli-reference.md").write_text(cli_reference(), encoding="utf-8")
    log(f"ran {len(outputs)} commands and the CLI reference in "
        f"{time.monotonic() - started:.0f} s")


def generate(force: bool = False, log: Callable[[str], None] = print) -> None:
    """Write everything under docs/generated/; the costly part only when its inputs changed."""
    sys.path.insert(0, str(DOCS))
    from hooks import values as values_extension

    FRAGMENTS.mkdir(parents=True, exist_ok=True)
    blocks = [block for page in pages() for block in run_blocks(page)]
    digest = inputs_hash(blocks)
    if force or not STAMP.is_file() or STAMP.read_text(encoding="utf-8").strip() != digest:
        STAMP.unlink(missing_ok=True)
        generate_costly(blocks, log)
        STAMP.write_text(digest + "\n", encoding="utf-8")
    else:
        log("generate: the package, commands and data are unchanged: kept the model, "
            "figures, command outputs and CLI reference")
    report = report_json()
    tutorial = json.loads((GENERATED / "tutorial-values.json").read_text(encoding="utf-8"))
    (GENERATED / "values.json").write_text(
        json.dumps({"value": tutorial, "report": report}, indent=1) + "\n", encoding="utf-8")
    fragments = {"report-include.md": report_include(),
                 "report-comparison.md": report_comparison(report),
                 "report-sample.md": report_sample(report, REPORT_SAMPLE_CHARACTERS),
                 "readme-quick-start.md": readme_quick_start()}
    for name, text in fragments.items():
        (FRAGMENTS / name).write_text(text, encoding="utf-8")
    table = values_extension.load(GENERATED / "values.json")
    books = write_notebooks(lambda text: values_extension.fill(text, table))
    log(f"generate: wrote {len(books)} notebooks and {len(fragments)} report fragments")


if __name__ == "__main__":
    generate(force="--force" in sys.argv[1:])
