"""The package's metadata says what is true: README links that work on PyPI, CI's constraints."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_links_are_absolute_and_name_files_of_this_repository():
    # PyPI shows the README without the repository around it: a relative link is broken there.
    source = PROJECT["urls"]["Source"]
    links = LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert links, "README.md has no Markdown links (the pattern is wrong?)"
    relative = [url for url in links if not url.startswith(("https://", "http://"))]
    assert not relative, f"README.md links {relative}: make them {source}/blob/main/PATH"
    for url in links:
        if not url.startswith(source + "/"):
            continue
        kind, branch, path = (url[len(source) + 1:].split("#")[0].split("/", 2) + ["", ""])[:3]
        assert (kind, branch) in {("blob", "main"), ("tree", "main")}, url
        target = ROOT / path
        assert (target.is_file() if kind == "blob" else target.is_dir()), \
            f"README.md links {url}, but {path} is not a {'file' if kind == 'blob' else 'folder'}"


def test_ci_constraints_pin_every_direct_dependency_inside_its_range():
    # .ci/run installs with -c .ci/constraints.txt: a pin outside pyproject.toml's range
    # would fail that install, a missing one would float. Refresh: bash .ci/refresh-constraints
    pins = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    extras = PROJECT["optional-dependencies"]
    for text in PROJECT["dependencies"] + extras["dev"] + extras["docs"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in .ci/constraints.txt: run .ci/refresh-constraints"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            (f".ci/constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's "
             f"{requirement}: run .ci/refresh-constraints")
