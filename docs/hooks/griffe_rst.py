"""Griffe extension: docstrings written with a few reStructuredText habits, as Markdown.

The docstrings are numpy-style and mostly plain text, but they use four reST forms that
Markdown would print literally. This extension rewrites them in the docstring text that
mkdocstrings renders (the source files are not touched):

* ``:math:`h_t``` becomes ``$h_t$`` (rendered by KaTeX like the rest of the site);
* ``:func:`name```, ``:meth:``, ``:class:``, ``:mod:``, ``:data:``, ``:attr:`` become a link
  to the object's entry when the API pages document it (it has a docstring), plain code
  otherwise; a leading
  ``~`` shows only the last part of the name, as in Sphinx;
* a paragraph ending in ``::`` (reST's "a literal block follows") ends in ``:``; the
  indented block after it is already a Markdown code block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?P<role>func|meth|class|mod|data|attr):`(?P<target>[^`]+)`")
MATH = re.compile(r":math:`(?P<tex>[^`]+)`")
LITERAL = re.compile(r"::(?=\n\n)")


class RestRoles(griffe.Extension):
    """Rewrite reST roles and literal-block markers in every docstring of the package."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader,
                   **kwargs: Any) -> None:
        """Rewrite the docstrings of the whole package once it is loaded."""
        self._fix(pkg, loader)

    def _fix(self, obj: griffe.Object, loader: griffe.GriffeLoader) -> None:
        if obj.docstring is not None:
            obj.docstring.value = self._rewrite(obj, obj.docstring.value, loader)
        for member in obj.members.values():
            if not member.is_alias:
                self._fix(member, loader)

    def _rewrite(self, obj: griffe.Object, text: str, loader: griffe.GriffeLoader) -> str:
        text = MATH.sub(lambda m: f"${m['tex'].strip()}$", text)
        text = ROLE.sub(lambda m: self._link(obj, m["target"], loader), text)
        return LITERAL.sub(":", text)

    def _link(self, obj: griffe.Object, target: str, loader: griffe.GriffeLoader) -> str:
        short = target.startswith("~")
        target = target.lstrip("~")
        shown = target.rsplit(".", 1)[-1] if short else target
        scopes = [target]
        parent = obj if obj.is_module or obj.is_class else obj.parent
        while parent is not None:
            scopes.append(f"{parent.path}.{target}")
            parent = parent.parent
        for path in scopes:
            try:
                found = loader.modules_collection.get_member(path)
            except (KeyError, ValueError, AttributeError):
                continue
            # Only objects with a docstring get an entry (and an anchor) on the API pages.
            if path.startswith("charrnn_edu") and found.docstring is not None:
                return f"[`{shown}`][{path}]"
        return f"`{shown}`"
