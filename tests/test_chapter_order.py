"""The package reads in order: a chapter imports only chapters before it."""

import ast
from pathlib import Path

import pytest

import charrnn_edu

ORDER = ["encoding", "forward", "loss", "bptt", "gradcheck", "adagrad", "sampling",
         "training", "checkpoint", "report", "exercises", "cli"]
# Package machinery, not chapters: __main__ is the entry point and may import anything.
NOT_CHAPTERS = {"__init__", "__main__"}
PACKAGE = Path(charrnn_edu.__file__).resolve().parent


def package_modules():
    return sorted(path.stem for path in PACKAGE.glob("*.py"))


def imported_package_modules(path):
    """Names of the charrnn_edu modules that the file at ``path`` imports, anywhere in it."""
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
            elif node.level == 1:
                parts = ["charrnn_edu", *(node.module.split(".") if node.module else [])]
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
                         f"to ORDER in tests/test_chapter_order.py (and to STYLE.md)")


def test_order_has_no_repeats():
    assert len(ORDER) == len(set(ORDER))


@pytest.mark.parametrize("chapter", ORDER)
def test_chapter_imports_only_earlier_chapters(chapter):
    path = PACKAGE / f"{chapter}.py"
    if not path.exists():
        pytest.skip(f"charrnn_edu/{chapter}.py does not exist yet")
    earlier = set(ORDER[:ORDER.index(chapter)])
    later = sorted(imported_package_modules(path) - earlier)
    assert not later, (f"{chapter} (chapter {ORDER.index(chapter) + 1}) imports {later}, "
                       f"which are not earlier chapters: {ORDER}")


def test_package_init_imports_no_chapter():
    # `import charrnn_edu.encoding` runs __init__ first; if it pulled in later chapters,
    # chapter 1 would depend on all of them.
    imported = imported_package_modules(PACKAGE / "__init__.py")
    assert not imported, f"charrnn_edu/__init__.py imports chapters {sorted(imported)}"
