"""Running the ``charrnn`` command in-process, as the CLI tests do."""

import pytest

from charrnn_edu.cli import main


def run(capsys, *args) -> tuple[int, str, str]:
    """``charrnn ARGS`` in this process: its exit code, stdout and stderr (never a traceback)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    return exit_info.value.code, out, err


def one_line_error(err: str) -> str:
    """The one line of a usage or run error, which must be all of stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charrnn: error: "), err
    return lines[0]
