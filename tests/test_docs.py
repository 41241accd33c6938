"""The documentation is code: every example on the site runs here, and prints what it shows.

Sybil reads every page under docs/ and runs, in page order and in one namespace per page:

* ```` ```python ```` blocks, as code (a block that starts with ``>>>`` as a doctest);
* ```` ```pycon ```` blocks, as doctests: each ``>>>`` line runs and its printed output must be
  exactly the lines that follow it.

Code that a page includes from the package with ``--8<--`` is checked to resolve to a
non-empty marked section; ``charrnn`` command lines shown on a page are checked against the
real command-line parser; the figures' functions (``charrnn_edu.experiments``) are run and
what they draw is checked; each chapter's notebook is made and checked against its page.
The build itself (``python docs/build.py``, whose generator runs the ``<!-- run`` blocks)
and the notebooks' execution are run by .ci/docs; its machinery is tested in
test_docs_build.py.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from sybil import Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser

from charrnn_edu import experiments
from charrnn_edu.bptt import gradients
from charrnn_edu.cli import main
from charrnn_edu.files import save_figure
from charrnn_edu.forward import RNN, forward
from charrnn_edu.gradcheck import elementwise

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "report" not in p.relative_to(DOCS).parts[:1])
CHAPTERS = sorted((DOCS / "chapters").glob("*.md"))
OPTIONFLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^\n`]*)\n"
                   r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^":]+)(?::(?P<section>[a-z][-_0-9a-z]*))?"\s*$')
RUN_BLOCK = re.compile(r"^<!-- run\n(?P<commands>.*?)\n-->$", re.MULTILINE | re.DOTALL)


class PyconParser:
    """```pycon blocks as doctests (Sybil's markdown parser runs ```python blocks only)."""

    def __init__(self, optionflags: int) -> None:
        self.blocks = CodeBlockParser("pycon")
        self.doctests = DocTestStringParser(DocTestEvaluator(optionflags))

    def __call__(self, document):
        for region in self.blocks(document):
            source = region.parsed
            for example in self.doctests(source, document.path):
                example.adjust(region, source)
                yield example


SYBIL = Sybil(parsers=[PythonCodeBlockParser(doctest_optionflags=OPTIONFLAGS),
                       PyconParser(OPTIONFLAGS)],
              path=str(DOCS), pattern="**/*.md")


def fenced_blocks(page: Path) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block of a page."""
    return [(m["info"].strip(), m["body"]) for m in FENCE.finditer(page.read_text("utf-8"))]


def page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


@pytest.mark.parametrize("page", [p for p in PAGES
                                  if any(info in ("python", "pycon")
                                         for info, _ in fenced_blocks(p))], ids=page_id)
def test_every_example_runs_and_prints_what_the_page_shows(page: Path) -> None:
    document = SYBIL.parse(page)
    examples = list(document)
    assert examples, f"{page_id(page)} has python blocks but Sybil found no example"
    for example in examples:
        example.evaluate()


def test_every_python_block_is_run_or_included_from_the_package() -> None:
    for page in PAGES:
        for info, body in fenced_blocks(page):
            language = info.split()[0] if info else ""
            if language not in ("python", "py", "pycon", "py3"):
                continue
            if info in ("python", "pycon"):
                continue  # run by Sybil
            lines = [line for line in body.splitlines() if line.strip()]
            assert lines and all(SNIPPET.match(line) for line in lines), (
                f"{page_id(page)}: a ```{info} block is neither run (plain ```python or "
                f"```pycon) nor an include of the package's code:\n{body[:200]}")


def test_no_heading_holds_math() -> None:
    # The table of contents shows headings as plain text, so TeX there would show raw.
    for page in PAGES:
        text = FENCE.sub("", page.read_text("utf-8"))
        headings = [line for line in text.splitlines() if re.match(r"^#{1,6} ", line)]
        assert not [h for h in headings if "$" in h], f"{page_id(page)}: math in a heading"


def snippet_includes() -> list[tuple[Path, str, str | None]]:
    found = []
    for page in PAGES:
        for _, body in fenced_blocks(page):
            for line in body.splitlines():
                if match := SNIPPET.match(line):
                    found.append((page, match["path"], match["section"]))
    return found


def test_included_code_comes_from_marked_sections_of_the_package() -> None:
    includes = snippet_includes()
    assert includes
    for page, path, section in includes:
        source = ROOT / path
        assert source.is_file(), f"{page_id(page)} includes {path}, which does not exist"
        text = source.read_text("utf-8")
        if section is None:
            continue
        start, end = f"# --8<-- [start:{section}]", f"# --8<-- [end:{section}]"
        assert text.count(start) == 1 and text.count(end) == 1, (
            f"{page_id(page)} includes {path}:{section}, but the file does not mark that "
            "section exactly once")
        body = text.split(start, 1)[1].split(end, 1)[0]
        assert body.strip(), f"{path}:{section} is empty"


def test_every_chapter_has_code_an_example_a_command_questions_and_exercises() -> None:
    assert len(CHAPTERS) == 14
    for page in CHAPTERS:
        text = page.read_text("utf-8")
        blocks = fenced_blocks(page)
        assert any(info == "pycon" for info, _ in blocks), f"{page_id(page)}: no example"
        assert "--8<--" in text, f"{page_id(page)}: no code included from the package"
        assert "<!-- run\ncharrnn " in text, f"{page_id(page)}: no charrnn command run"
        assert '??? question "' in text, f"{page_id(page)}: no check-yourself questions"
        assert "## Exercises" in text or "## Exercise" in text, f"{page_id(page)}: no exercises"


def charrnn_command_lines() -> list[tuple[Path, str]]:
    """Every ``charrnn ...`` line a reader is told to run: in shell blocks and run blocks."""
    lines = []
    for page in PAGES:
        text = page.read_text("utf-8")
        for info, body in fenced_blocks(page):
            if info.split()[:1] in (["bash"], ["console"], ["sh"]):
                lines += [(page, line.strip().removeprefix("$ ").split(" #")[0].strip())
                          for line in body.splitlines()
                          if line.strip().removeprefix("$ ").startswith("charrnn ")]
        for match in RUN_BLOCK.finditer(text):
            lines += [(page, line.strip()) for line in match["commands"].splitlines()]
    return lines


def test_every_charrnn_command_shown_exists_with_those_options(capsys) -> None:
    commands = charrnn_command_lines()
    assert len(commands) >= 9
    for page, line in commands:
        args = shlex.split(line)
        assert args[0] == "charrnn", line
        # Click handles --help before it converts any value but after it has matched every
        # option name, so this accepts the line exactly when its command and options exist.
        with pytest.raises(SystemExit) as exit_info:
            main([*args[1:], "--help"])
        out, err = capsys.readouterr()
        assert exit_info.value.code == 0, (
            f"{page_id(page)}: `{line}` is not a valid command:\n{err}")


def test_step_size_figure_shows_the_v_and_the_flat_complex_step(tmp_path: Path) -> None:
    # Seven of the figure's thirteen steps: both arms of the V and its bottom.
    errors = experiments.step_errors(np.array([1e-13, 1e-9, 1e-6, 1e-5, 1e-4, 1e-3, 1e-1]))
    steps, centred = errors["steps"], errors["centred"]
    best = int(np.argmin(centred))
    # The V: the best step lies well inside the range, near 1e-4 to 1e-5 ...
    assert 1e-6 <= steps[best] <= 1e-3
    # ... and the error grows on both sides, by orders of magnitude at the ends.
    assert centred[0] > 1e4 * centred[best] and centred[-1] > 1e4 * centred[best]
    # Forward differences are worse at their best than centred differences at theirs.
    assert errors["forward"].min() > 10 * centred[best]
    # Complex steps have no rounding branch: tiny steps give machine precision.
    assert np.all(errors["complex"][steps <= 1e-8] < 1e-13)
    out = tmp_path / "steps.svg"
    save_figure(experiments.draw_step_errors(errors), out)
    first = out.read_bytes()
    save_figure(experiments.draw_step_errors(errors), out)
    assert out.read_text("utf-8").lstrip().startswith("<?xml") and out.read_bytes() == first


def load_hook(name: str):
    path = DOCS / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"hook_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", CHAPTERS, ids=page_id)
def test_the_notebook_of_a_chapter_runs_the_same_code_as_its_page(page: Path,
                                                                 monkeypatch) -> None:
    # The notebook's code cells, in order, hold the examples Sybil runs on the page, so CI's
    # run of the notebooks runs what the page shows.
    notebooks = load_hook("notebooks")
    # A command's output is a fragment docs/generate.py writes, which a fresh checkout has not
    # made yet (the suite runs before the site is built): it is prose, never a code cell.
    included = notebooks.snippet_source
    monkeypatch.setattr(notebooks, "snippet_source", lambda path, section: (
        f"(the output of {path})" if path.startswith("docs/generated/")
        and not (notebooks.ROOT / path).exists() else included(path, section)))
    cells = notebooks.split_cells(page.read_text("utf-8"))
    code = [source for kind, source in cells if kind == "code"]
    examples = []
    for example in SYBIL.parse(page):
        parsed = example.parsed
        examples.append((parsed.source if isinstance(parsed, doctest.Example)
                         else str(parsed)).rstrip())
    assert "\n".join(code) == "\n".join(examples), (
        f"{page_id(page)}: the notebook's code differs from the page's")
    for source in code:
        compile(source, page_id(page), "exec")
    text = "\n".join(source for kind, source in cells if kind == "markdown")
    assert "--8<--" not in text and ">>> " not in text, f"{page_id(page)}: not converted"
    assert text.count("<details>") == text.count("</details>") \
        == page.read_text("utf-8").count("??? "), f"{page_id(page)}: a question was lost"


def test_a_notebook_is_valid_nbformat_with_its_figures_attached(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    notebooks = load_hook("notebooks")
    figure = tmp_path / "v.svg"
    save_figure(experiments.draw_unrolled(2), figure)

    class OneFile:
        abs_src_path = str(figure)

    class Files:
        def get_file_from_path(self, uri):
            return OneFile() if uri == "figures/v.svg" else None

    page = ("# T\n\nProse with $a_t$ and a [link](other.md).\n\n![the figure](../figures/v.svg)\n\n"
            "```pycon\n>>> x = 1\n>>> x + 1\n2\n```\n\n"
            '??? question "Why?"\n    Because $x = 1$.\n')
    book = notebooks.notebook(page, "chapters/t.md", Files(), "site")
    nbformat.validate(nbformat.from_dict(json.loads(json.dumps(book))))
    kinds = [cell["cell_type"] for cell in book["cells"]]
    assert kinds == ["markdown", "markdown", "code", "markdown"]
    assert "".join(book["cells"][2]["source"]) == "x = 1\nx + 1"
    prose = "".join(book["cells"][1]["source"])
    assert "attachment:v.svg" in prose and "(other.md)" not in prose
    assert set(book["cells"][1]["attachments"]["v.svg"]) == {"image/svg+xml"}
    assert "<summary><b>Why?</b></summary>" in "".join(book["cells"][3]["source"])
    # A chapter's notebook ends with its exercises, each cell checking its functions.
    sixth = notebooks.notebook(page, "chapters/6-adagrad.md", Files(), "site")["cells"]
    assert "".join(sixth[-1]["source"]).endswith("check('adam', adam_step)")
    assert [c["cell_type"] for c in sixth[-4:]] == ["markdown", "code", "code", "code"]
    nbformat.validate(nbformat.from_dict(json.loads(json.dumps(
        notebooks.notebook(page, "chapters/6-adagrad.md", Files(), "site")))))
    # Chapter 10b's number is not an integer: its notebook ends with its exercises all the same.
    gru = notebooks.notebook(page, "chapters/10b-gru.md", Files(), "site")["cells"]
    assert "".join(gru[-1]["source"]).endswith("check('gru-backward-step', backward_step)")
    # The package is on no index: the first cell says how to install it from a checkout.
    intro = "".join(book["cells"][0]["source"])
    assert 'pip install -e ".[notebooks]"' in intro and "pip install charrnn-edu" not in intro


# ------------------------------------------------------------------ the experiments of 4b

def _small_network(seed: int, sigma: float = 0.5):
    rng = np.random.default_rng(seed)
    rnn = RNN.init(6, 4, sigma, rng=rng)
    rnn.b[:] = rng.uniform(-0.5, 0.5, rnn.b.shape)
    x, y = rng.integers(0, 6, 7), rng.integers(0, 6, 7)
    return rnn, x, y, rng.uniform(-1, 1, (4, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_norms_are_the_norms_of_the_forward_maps_derivative(seed: int) -> None:
    # J_k is the transpose of d a_tau / d a_{tau-k}; measured here by complex steps on the
    # forward recurrence a_{t+1} = W tanh(a_t) + U x_{t+1} + b, not by (4b.1).
    rnn, x, _, h0 = _small_network(seed)
    norms = experiments.jacobian_norms(rnn, x, h0)
    a = [forward(rnn, x[:t + 1], h0).h for t in range(len(x))]   # h_t, 0-based
    a = [np.arctanh(h) for h in a]                                            # a_t
    tau = len(x)

    def a_tau(value, start, i):          # entry i of a_tau, from a_start = value
        for t in range(start + 1, tau):
            value = rnn.W @ np.tanh(value) + rnn.U[:, [x[t]]] + rnn.b
        return value[i, 0]

    for k in (1, 3, tau - 1):
        start = tau - 1 - k
        jacobian = np.array([elementwise(lambda v, s=start, i=i: a_tau(v, s, i),   # row i
                                         a[start].astype(complex), method="complex")[:, 0]
                             for i in range(4)])
        assert np.isclose(norms[k - 1], np.linalg.norm(jacobian, 2), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 3])
def test_h0_gradients_are_the_size_of_each_steps_loss_derivative(seed: int) -> None:
    rnn, x, y, h0 = _small_network(seed)
    sizes = experiments.h0_gradients(rnn, x, y, h0)

    def step_loss(h_start, t):      # l_t alone: -ln p_t[y_t], complex-capable
        p = forward(rnn, x[:t + 1], h_start).P[y[t], t]
        return -np.log(p)

    for t in range(len(x)):
        exact = elementwise(lambda h, t=t: step_loss(h, t), h0.astype(complex), method="complex")
        assert np.isclose(sizes[t], np.linalg.norm(exact), rtol=1e-8, atol=1e-14)


def test_norm_clipping_keeps_the_direction_and_elementwise_clipping_does_not() -> None:
    rnn, x, y, h0 = _small_network(4, sigma=3.0)
    _, grads, _ = gradients(rnn, x, y, h0)
    grads.W *= 100                                       # an exploding W, healthy rest
    numbers = experiments.clipping_numbers(grads, bound=5.0)
    clipped = experiments.norm_clip(grads, 5.0)
    assert np.isclose(np.sqrt(sum((g**2).sum() for g in clipped)), 5.0, rtol=1e-12)
    for g, c in zip(grads, clipped, strict=True):
        assert np.allclose(c, g * numbers["norm_clip_factor"], rtol=1e-12, atol=0)
    assert numbers["clipped_cosine"] < 1 - 1e-6 and numbers["clipped_share"] > 0
    small = grads.map(lambda g: g * 1e-3 / numbers["largest"])     # within the bound
    assert all(np.array_equal(a, b)
               for a, b in zip(experiments.norm_clip(small, 5.0), small, strict=True))
