"""The package reads in order: a chapter imports only chapters before it."""

import ast
from pathlib import Path

import pytest

import charrnn_edu

ORDER = ["encoding", "forward", "loss", "bptt", "gradcheck", "adagrad", "sampling",
         "batches", "lstm", "gru", "spec", "files", "signals", "threads", "original",
         "engine", "gated_engine", "cells", "settings", "training", "evaluation", "checkpoint",
         "runs", "report", "study", "experiments", "gated_experiments", "training_experiments",
         "conventions", "yours", "exercises", "commands", "cli"]
# Package machinery, not chapters: __main__ is the entry point and may import anything.
NOT_CHAPTERS = {"__init__", "__main__"}
PACKAGE = Path(charrnn_edu.__file__).resolve().parent


def package_modules():
    """The package's modules and subpackages (a folder with an __init__.py is one chapter)."""
    return sorted({path.stem for path in PACKAGE.glob("*.py")}
                  | {path.parent.name for path in PACKAGE.glob("*/__init__.py")})


def chapter_files(chapter):
    """The files of a chapter: its module, or every module of its subpackage."""
    folder = PACKAGE / chapter
    if folder.is_dir():
        return sorted(folder.rglob("*.py"))
    path = PACKAGE / f"{chapter}.py"
    return [path] if path.exists() else []


def imported_package_modules(path):
    """Names of the charrnn_edu modules that the file at ``path`` imports, anywhere in it.

    For a file inside a subpackage, an import of that subpackage counts as its own name.
    """
    # The package a relative import starts from: ["charrnn_edu"] or ["charrnn_edu", "sub"].
    here = ["charrnn_edu", *path.resolve().parent.relative_to(PACKAGE).parts]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "charrnn_edu" and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module is not None:
                parts = node.module.split(".")
                if parts[0] != "charrnn_edu":
                    continue
            elif node.level <= len(here):
                base = here[:len(here) - node.level + 1]
                parts = [*base, *(node.module.split(".") if node.module else [])]
            else:
                raise AssertionError(f"{path.name}: relative import beyond the package")
            if len(parts) > 1:
                found.add(parts[1])            # from charrnn_edu.forward import RNN
            else:                              # from charrnn_edu import forward, __version__
                modules = set(ORDER) | set(package_modules())
                found.update(alias.name for alias in node.names if alias.name in modules)
    return found


def test_every_module_has_a_place_in_the_order():
    unknown = [name for name in package_modules() if name not in ORDER + sorted(NOT_CHAPTERS)]
    assert not unknown, (f"charrnn_edu modules {unknown} are not in the chapter order: add them "
                         "to ORDER in tests/test_chapter_order.py")


def test_order_has_no_repeats():
    assert len(ORDER) == len(set(ORDER))


@pytest.mark.parametrize("chapter", ORDER)
def test_chapter_imports_only_earlier_chapters(chapter):
    files = chapter_files(chapter)
    if not files:
        pytest.skip(f"charrnn_edu/{chapter} does not exist yet")
    # A subpackage's modules may import each other; a module cannot import itself.
    allowed = set(ORDER[:ORDER.index(chapter)]) | ({chapter} if len(files) > 1 else set())
    for path in files:
        later = sorted(imported_package_modules(path) - allowed)
        assert not later, (f"{path.relative_to(PACKAGE)} (chapter {ORDER.index(chapter) + 1}, "
                           f"{chapter}) imports {later}, which are not earlier chapters: {ORDER}")


def test_package_init_imports_no_chapter():
    # `import charrnn_edu.encoding` runs __init__ first; if it pulled in later chapters,
    # chapter 1 would depend on all of them.
    imported = imported_package_modules(PACKAGE / "__init__.py")
    assert not imported, f"charrnn_edu/__init__.py imports chapters {sorted(imported)}"
