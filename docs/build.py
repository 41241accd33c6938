"""Build the whole documentation site: generate, build, render math, in that order.

    python docs/build.py [--builder mkdocs|zensical] [--site DIR] [--regenerate]

1. ``docs/generate.py`` writes everything the package computes (figures, numbers, command
   outputs, the CLI reference, the report's fragments, the notebooks) to the git-ignored
   ``docs/generated/``; the costly part only when the package, commands or data changed.
2. The builder (MkDocs, the published site, or Zensical) turns ``mkdocs.yml`` and the pages
   into HTML in ``DIR`` (default ``site``), in strict mode: a warning fails the build.
3. ``docs/hooks/katex.py`` renders every formula of the built HTML with KaTeX.

Run it from anywhere; it needs the docs extra (``pip install -e ".[dev,docs]"``), node and
npm (KaTeX), and Zensical itself for ``--builder zensical``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

import generate  # noqa: E402 (docs/ is put on the path just above)
from hooks import katex  # noqa: E402


def build(builder: str, site: Path) -> None:
    """Run ``builder`` on mkdocs.yml into ``site``, strict; exit with its status if it fails."""
    env = {**os.environ,
           # The Markdown extension docs.hooks.values is imported from the repository.
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           # Material prints a notice about MkDocs 2.0 on every build; mkdocs is pinned < 2.
           "NO_MKDOCS_2_WARNING": "1"}
    if builder == "mkdocs":
        result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                                 "--site-dir", str(site)], cwd=ROOT, env=env)
    else:
        zensical = shutil.which("zensical", path=os.pathsep.join(
            [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        if zensical is None:
            sys.exit("build: --builder zensical needs Zensical (pip install -e \".[zensical]\")")
        # Zensical takes the site folder from the configuration only, and only one inside
        # the project: a copy of mkdocs.yml beside it (docs_dir is relative to the file)
        # names a folder under build/, moved to DIR afterwards.
        inside = site.is_relative_to(ROOT)
        target = site if inside else ROOT / "build" / f"zensical-site-{os.getpid()}"
        config = ROOT / f".mkdocs-zensical-{os.getpid()}.yml"
        config.write_text((ROOT / "mkdocs.yml").read_text(encoding="utf-8")
                          + f"\nsite_dir: {target}\n", encoding="utf-8")
        try:
            result = subprocess.run([zensical, "build", "--strict", "--clean", "-f",
                                     str(config)], cwd=ROOT, env=env)
        finally:
            config.unlink(missing_ok=True)
        if result.returncode == 0 and not inside:
            shutil.rmtree(site, ignore_errors=True)
            shutil.move(target, site)
    if result.returncode != 0:
        sys.exit(f"build: {builder} failed with status {result.returncode}")


def main(argv: list[str] | None = None) -> int:
    """Generate, build and render the math; print the time of each step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builder", choices=["mkdocs", "zensical"], default="mkdocs")
    parser.add_argument("--site", type=Path, default=ROOT / "site",
                        help="the folder to build the site in (default: site)")
    parser.add_argument("--regenerate", action="store_true",
                        help="regenerate everything, even if its inputs are unchanged")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    started = time.monotonic()
    try:
        generate.generate(force=args.regenerate)
    except generate.GenerationError as error:
        sys.exit(f"build: {error}")
    generated = time.monotonic()
    build(args.builder, site)
    built = time.monotonic()
    try:
        count = katex.render_site(site)
    except katex.KatexError as error:
        sys.exit(f"build: {error}")
    print(f"build: generated in {generated - started:.1f} s, {args.builder} built {site} in "
          f"{built - generated:.1f} s, KaTeX rendered {count} formulas in "
          f"{time.monotonic() - built:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
