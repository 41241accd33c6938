"""``python -m charrnn_edu`` is the ``charrnn`` command."""

from charrnn_edu.cli import main

main()
