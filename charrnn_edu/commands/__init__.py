"""The ``charrnn`` command: every chapter of the package, runnable from the shell.

One module per command group; each parses its options, calls the library and prints.
:mod:`~charrnn_edu.commands.common` holds what they share: the app factory, the one error
mechanism (exit code 2 for a usage error, 1 for a run that failed, 128 + N for a run stopped
by signal N) and the progress bar; :mod:`~charrnn_edu.commands.options` the shared options,
each with its bound. This module only assembles the app.
"""

from __future__ import annotations

import os

# One BLAS thread unless the user says otherwise (charrnn_edu.threads: every product here is
# small). run_app limits OpenBLAS, MKL and BLIS around each command with threadpoolctl;
# Apple's Accelerate, which threadpoolctl cannot reach, reads this once, as numpy loads it.
os.environ.setdefault("VECLIB_MAXIMUM_THREADS", "1")

import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Annotated  # noqa: E402


@contextmanager
def _somewhere_to_stand() -> Iterator[None]:
    """A current folder that exists while the commands are imported.

    Hypothesis (the exercises' checks) asks for the current folder as it is imported; in a
    folder deleted under the shell that would end every command with a traceback. The
    deleted folder is the current one again afterwards, so relative paths still fail as
    they would (one line each) and absolute ones work.
    """
    try:
        os.getcwd()
    except FileNotFoundError:
        if hasattr(os, "fchdir"):        # POSIX: Windows cannot delete a folder in use
            here = os.open(".", os.O_RDONLY)
            os.chdir(tempfile.gettempdir())
            try:
                yield
            finally:
                os.fchdir(here)
                os.close(here)
            return
    yield


with _somewhere_to_stand():
    import typer

    from charrnn_edu import __version__
    from charrnn_edu.commands import (
        exercises,
        gradcheck,
        lab,
        report,
        sample,
        study,
        train,
    )
    from charrnn_edu.commands.common import run_app, typer_factory

__all__ = ["app", "main"]

HELP = "A character-level vanilla RNN, built, trained and checked step by step."
app = typer_factory(name="charrnn", help=HELP)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"charrnn-edu {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """A character-level vanilla RNN, built, trained and checked step by step."""


app.command()(gradcheck.gradcheck)
app.command()(train.train)
app.command()(sample.sample)
app.command()(sample.plot)
app.command()(report.report)
app.command("eval")(sample.evaluate)
app.command()(study.study)
# The exercises and the bug lab (charrnn_edu.exercises): write each chapter's functions yourself.
app.add_typer(exercises.app, name="exercises")
app.add_typer(lab.app, name="lab")


def main(argv: list[str] | None = None) -> None:
    """Run the ``charrnn`` command; turn every error into one line and an exit code."""
    sys.exit(run_app(app, argv))
