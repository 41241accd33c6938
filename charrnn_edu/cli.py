"""The ``charrnn`` entry point (``charrnn = "charrnn_edu.cli:main"``).

The commands themselves are in :mod:`charrnn_edu.commands`.
"""

from charrnn_edu.commands import app, main

__all__ = ["app", "main"]
