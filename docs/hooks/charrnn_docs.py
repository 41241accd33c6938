"""MkDocs hook: the parts of the site that come from running the package at build time.

Nothing here is written by hand: every block below is produced by the package itself while
the site builds, so the site cannot drift from the code.

``<!-- run`` ... ``-->``
    Each line inside is a ``charrnn`` command. The build runs it (in one scratch folder per
    build, so a later command can use a run folder an earlier one wrote) and puts the command
    and its real output on the page. A command that exits non-zero stops the build.
``<!-- cli-reference -->``
    The ``--help`` output of ``charrnn`` and of every subcommand, found by walking the real
    command tree, so a new subcommand appears without touching the docs.
``<!-- report-include -->``, ``<!-- report-comparison -->``, ``<!-- report-sample N -->``,
``{{report:PATH:FORMAT}}``
    The committed run of ``charrnn report --out docs/report``: its report.md (headings moved
    one level down, image links made relative to the page), a table of its numbers beside
    the original report's, the first N characters of its best model's text, and single
    values of report.json (``PATH`` is dotted, list indices allowed, ``FORMAT`` a Python
    format spec).
``<!-- readme-quick-start -->``
    The code block of the README's "Quick start" section, so the two never differ.
``figures/*.svg``
    Drawn by ``charrnn_edu.experiments`` and ``charrnn_edu.training_experiments`` while the
    site builds (see ``figures``); the pages that need a trained model get one trained once
    per build (``training_experiments.trained_model``).
``{{value:NAME:FORMAT}}``
    A number from an experiment, ``training_experiments.tutorial_values`` of that model,
    formatted with the Python format spec ``FORMAT``; also usable inside the answers of
    the "Check yourself" questions.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.charrnn_docs")

ROOT = Path(__file__).resolve().parents[2]
REPORT_COMMAND = "charrnn report --out docs/report"
HELP_COLUMNS = "88"
# The piece of the bundled text whose H and P chapter 2 shows: its first line of verse.
STATES_TEXT = "When shall we three meet again"

RUN = re.compile(r"^<!-- run\n(?P<commands>.*?)\n-->$", re.MULTILINE | re.DOTALL)
CLI_REFERENCE = re.compile(r"^<!-- cli-reference -->$", re.MULTILINE)
REPORT_INCLUDE = re.compile(r"^<!-- report-include -->$", re.MULTILINE)
REPORT_COMPARISON = re.compile(r"^<!-- report-comparison -->$", re.MULTILINE)
REPORT_SAMPLE = re.compile(r"^<!-- report-sample (?P<n>\d+) -->$", re.MULTILINE)
README_QUICK_START = re.compile(r"^<!-- readme-quick-start -->$", re.MULTILINE)
REPORT_VALUE = re.compile(r"\{\{report:(?P<path>[\w.]+)(?::(?P<fmt>[^}]*))?\}\}")
VALUE = re.compile(r"\{\{value:(?P<name>[\w.]+)(?::(?P<fmt>[^}]*))?\}\}")

# The original report's numbers (KTH DD2424 Assignment 4, Harry Potter and the Goblet of Fire
# read as Latin-1): what the reproduction page sets beside the committed run.

_state: dict[str, Any] = {}


# ------------------------------------------------------------------ build set-up and files

def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Point pymdownx.snippets at the repository root, and make it fail on a missing file."""
    # Snippets resolve paths from the repository root whatever the working directory is.
    snippets = config.mdx_configs.setdefault("pymdownx.snippets", {})
    snippets["base_path"] = [str(ROOT)]
    snippets["check_paths"] = True
    return config


def on_pre_build(config: MkDocsConfig) -> None:
    """A fresh scratch folder for the commands this build runs."""
    _state.clear()
    _state["workdir"] = Path(tempfile.mkdtemp(prefix="charrnn-docs-"))
    _state["outputs"] = {}


def on_post_build(config: MkDocsConfig) -> None:
    """Remove the scratch folder."""
    with contextlib.suppress(KeyError):
        shutil.rmtree(_state.pop("workdir"), ignore_errors=True)


def on_build_error(error: Exception) -> None:
    """Remove the scratch folder of a failed build too."""
    with contextlib.suppress(KeyError):
        shutil.rmtree(_state.pop("workdir"), ignore_errors=True)


def figures() -> dict[str, Any]:
    """Every figure of the site, by file name: drawn by the package's experiments modules.

    Trains the model the pages call "trained" (once per build), and keeps the numbers the
    pages quote from it for ``{{value:...}}``.
    """
    import numpy as np

    from charrnn_edu import experiments as ex
    from charrnn_edu import gated_experiments as gx
    from charrnn_edu import training_experiments as tx
    from charrnn_edu.forward import RNN

    trained = tx.trained_model()
    _state["values"] = tx.tutorial_values(trained)
    K, m = trained.rnn.K, trained.rnn.m
    models = {"fresh, sigma = 0.01": RNN.init(K, m, 0.01, rng=np.random.default_rng(0)),
              f"trained, {trained.iteration:,} iterations": trained.rnn,
              "fresh, sigma = 1": RNN.init(K, m, 1.0, rng=np.random.default_rng(0))}
    x, y = trained.data[1000:1100], trained.data[1001:1101]
    h0 = np.zeros((m, 1))
    text = trained.vocab.decode(trained.data)
    start = text.index(STATES_TEXT)
    return {
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
        "state-gradients.svg": gx.draw_state_gradients(gx.state_gradient_curves(x, y, K, m)),
        "streams.svg": tx.draw_streams(),
    }


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Draw every figure and add it to the site under ``figures/``."""
    from charrnn_edu.files import save_figure

    started = time.monotonic()
    drawn = figures()
    log.info("trained the model and drew %d figures in %.0f s", len(drawn),
             time.monotonic() - started)
    for name, fig in drawn.items():
        path = _state["workdir"] / "figures" / name
        save_figure(fig, path)
        files.append(File.generated(config, f"figures/{name}", abs_src_path=str(path)))
    return files


def value(match: re.Match[str]) -> str:
    """``{{value:NAME:FORMAT}}``: a number from ``training_experiments.tutorial_values``."""
    values = _state["values"]
    if match["name"] not in values:
        raise PluginError(f"{{{{value:{match['name']}}}}}: no such value; the names are "
                          f"{', '.join(sorted(values))}")
    return format(values[match["name"]], match["fmt"] or "")


# ------------------------------------------------------------------ running charrnn

def _charrnn(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # CHARRNN_HOME: `charrnn exercises` keeps a learner's progress there; the build's own
    # runs must not touch the progress of whoever builds the site.
    env = {**os.environ, "COLUMNS": HELP_COLUMNS, "NO_COLOR": "1", "TERM": "dumb",
           "CHARRNN_HOME": str(_state["workdir"] / "charrnn-home")}
    return subprocess.run([sys.executable, "-m", "charrnn_edu", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _fence(language: str, text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def run_command(command: str) -> str:
    """The output of one ``charrnn`` command line, run once per build."""
    outputs: dict[str, str] = _state["outputs"]
    if command not in outputs:
        args = shlex.split(command)
        if not args or args[0] != "charrnn":
            raise PluginError(f"a run block may only hold charrnn commands, got {command!r}")
        started = time.monotonic()
        result = _charrnn(args[1:], _state["workdir"])
        log.debug("%s: %.1f s", command, time.monotonic() - started)
        if result.returncode != 0:
            raise PluginError(f"`{command}` exited {result.returncode}:\n"
                              f"{result.stdout}{result.stderr}")
        outputs[command] = result.stdout.rstrip()
    return outputs[command]


def _run_block(match: re.Match[str]) -> str:
    parts = []
    for command in match["commands"].strip().splitlines():
        output = run_command(command.strip())
        parts.append(f"$ {command.strip()}" + (f"\n{output}" if output else ""))
    # Said on the page: these numbers are the build machine's, not a committed run's.
    return ("*Run while this site was built, on the machine that built it:*\n\n"
            + _fence("console", "\n\n".join(parts)))


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
        raise PluginError(f"charrnn {' '.join(path)} --help printed no usage: "
                          f"{out.getvalue()[:200]!r}")
    return out.getvalue()


def cli_reference() -> str:
    """One section per command with its real ``--help`` output."""
    sections = []
    for path in command_tree():
        name = " ".join(["charrnn", *path])
        sections.append(f"## `{name}`\n\n" + _fence("text", help_text(path)))
    return "\n\n".join(sections)


def readme_quick_start() -> str:
    """The first code block of the README's "Quick start" section, as it is."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    if "\n## Quick start\n" not in text:
        raise PluginError("README.md has no '## Quick start' section for the home page")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^(`{3,})(\w*)\n(.*?)^\1[ \t]*$", section, re.MULTILINE | re.DOTALL)
    if block is None:
        raise PluginError("README.md's Quick start section has no code block")
    return f"{block[1]}{block[2]}\n{block[3]}{block[1]}"


# ------------------------------------------------------------------ the committed report

def report_dir(config: MkDocsConfig) -> Path:
    """``docs/report``: where the committed run of ``charrnn report`` lives."""
    return Path(config.docs_dir) / "report"


def report_json(config: MkDocsConfig) -> dict[str, Any]:
    """The committed report.json, read once per build."""
    if "report" not in _state:
        path = report_dir(config) / "report.json"
        if not path.is_file():
            raise PluginError(f"{path} is missing: the site shows the committed run of "
                              f"`{REPORT_COMMAND}`; run it and commit docs/report")
        _state["report"] = json.loads(path.read_text(encoding="utf-8"))
    return _state["report"]


def report_value(report: dict[str, Any], dotted: str) -> Any:
    """``report["a"]["b"][0]`` for the dotted path ``a.b.0``."""
    value: Any = report
    for key in dotted.split("."):
        try:
            value = value[int(key)] if isinstance(value, list) else value[key]
        except (KeyError, IndexError, ValueError):
            raise PluginError(f"report.json has no {dotted!r}") from None
    return value


def _relative(page: Page, target: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(page.file.src_uri) or ".")


def report_include(config: MkDocsConfig, page: Page) -> str:
    """report.md with its title dropped, headings one level down, image links re-rooted."""
    path = report_dir(config) / "report.md"
    if not path.is_file():
        raise PluginError(f"{path} is missing: run `{REPORT_COMMAND}` and commit docs/report")
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out, fence = [], None
    for line in lines:
        opening = re.match(r"^(`{3,})", line)
        if opening and (fence is None or line.strip() == fence):
            fence = opening.group(1) if fence is None else None
        elif fence is None:
            if line.startswith("#"):
                line = "#" + line
            line = re.sub(r"!\[([^\]]*)\]\((?!https?:|/)([^)]+)\)",
                          lambda m: f"![{m[1]}]({_relative(page, 'report/' + m[2])})", line)
        out.append(line)
    return "\n".join(out)


def report_comparison(config: MkDocsConfig) -> str:
    """A Markdown table: the committed run's numbers beside the original report's.

    The rows are the committed report.json's own ("original", written by ``charrnn report``
    from ``charrnn_edu.original``), so the page shows exactly what the command wrote.
    """
    from charrnn_edu.report import comparison_markdown

    r = report_json(config)
    corpus, train = r["corpus"], r["training"]
    texts = (f"| text | `{corpus['name']}`, {corpus['characters']:,} characters, read as "
             f"{corpus['encoding']}, {train['iterations']:,} iterations | *Harry Potter and "
             "the Goblet of Fire*, read one byte per character | |")
    table = comparison_markdown(r["original"]).splitlines()
    return "\n".join([*table[:2], texts, *table[2:]])


def report_sample(config: MkDocsConfig, n: int) -> str:
    """The first ``n`` characters of the best model's text, cut at the end of a line."""
    text = report_json(config)["final"]["text"]
    cut = text[:n]
    if "\n" in cut and len(text) > n:
        cut = cut[:cut.rindex("\n")]
    return _fence("text", cut)


def _value(config: MkDocsConfig, match: re.Match[str]) -> str:
    value = report_value(report_json(config), match["path"])
    return format(value, match["fmt"] or "")


# ------------------------------------------------------------------ the page hook

def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace every directive of the module docstring on this page."""
    markdown = RUN.sub(_run_block, markdown)
    markdown = CLI_REFERENCE.sub(lambda m: cli_reference(), markdown)
    markdown = README_QUICK_START.sub(lambda m: readme_quick_start(), markdown)
    markdown = REPORT_INCLUDE.sub(lambda m: report_include(config, page), markdown)
    markdown = REPORT_COMPARISON.sub(lambda m: report_comparison(config), markdown)
    markdown = REPORT_SAMPLE.sub(lambda m: report_sample(config, int(m["n"])), markdown)
    markdown = VALUE.sub(value, markdown)
    return REPORT_VALUE.sub(lambda m: _value(config, m), markdown)
