"""Python-Markdown extension: the numbers the prose quotes, filled in from a generated file.

``{{value:NAME:FORMAT}}`` is a number of ``training_experiments.tutorial_values`` and
``{{report:PATH:FORMAT}}`` one of the committed report.json (``PATH`` dotted, list indices
allowed); ``FORMAT`` is a Python format spec. Both come from ``docs/generated/values.json``,
which ``docs/generate.py`` writes. A Markdown extension, not a builder hook, because MkDocs
and Zensical both run the page through Python-Markdown with the extensions of
``mkdocs.yml``: listed there as ``docs.hooks.values`` (``docs/build.py`` puts the
repository on the import path). An unknown name, or a missing file, stops the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

VALUES = Path(__file__).resolve().parents[1] / "generated" / "values.json"
PLACEHOLDER = re.compile(r"\{\{(?P<kind>value|report):(?P<name>[\w.]+)(?::(?P<fmt>[^}]*))?\}\}")


def load(path: Path = VALUES) -> dict[str, Any]:
    """The generated values: ``{"value": {...}, "report": {...}}``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python docs/generate.py` (or build "
                                "with `python docs/build.py`) first")
    return json.loads(path.read_text(encoding="utf-8"))


def lookup(table: dict[str, Any], kind: str, name: str) -> Any:
    """One value: a name of ``value``, or a dotted path into ``report``."""
    if kind == "value":
        if name not in table["value"]:
            raise KeyError(f"{{{{value:{name}}}}}: no such value; the names are "
                           f"{', '.join(sorted(table['value']))}")
        return table["value"][name]
    found: Any = table["report"]
    for key in name.split("."):
        try:
            found = found[int(key)] if isinstance(found, list) else found[key]
        except (KeyError, IndexError, ValueError):
            raise KeyError(f"{{{{report:{name}}}}}: report.json has no {name!r}") from None
    return found


def fill(text: str, table: dict[str, Any]) -> str:
    """Every placeholder of ``text`` replaced by its formatted value."""
    return PLACEHOLDER.sub(
        lambda m: format(lookup(table, m["kind"], m["name"]), m["fmt"] or ""), text)


class _Fill(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        # mkdocstrings renders docstrings with the same extensions; a docstring that names
        # the placeholder syntax means it literally.
        docstring = any(type(extension).__name__ == "MkdocstringsInnerExtension"
                        for extension in self.md.registeredExtensions)
        if docstring or not PLACEHOLDER.search(text):
            return lines
        return fill(text, load()).split("\n")


class ValuesExtension(Extension):
    """Registers the preprocessor, after pymdownx.snippets so included text is filled too."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Python-Markdown's name)
        """Add the preprocessor to ``md``."""
        md.preprocessors.register(_Fill(md), "charrnn_values", 30)


def makeExtension(**kwargs: Any) -> ValuesExtension:  # noqa: N802 (Python-Markdown's name)
    """The entry point Python-Markdown calls for ``docs.hooks.values``."""
    return ValuesExtension(**kwargs)
