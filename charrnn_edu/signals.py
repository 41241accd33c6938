"""Stop signals: Ctrl-C, ``kill`` and a closed terminal ask a long job to stop, gently.

Not a chapter: this is how a training run or a long sample is stopped without losing
anything. The first signal only asks (the loop stops after the current iteration and saves);
a second one, while a save is under way, waits for the save to finish before it interrupts.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["Interrupted", "StopSignals"]


class Interrupted(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt
    """A second stop signal before the run could stop by itself; ``signum`` says which.

    A BaseException, as KeyboardInterrupt is: no ``except Exception`` may swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """Ctrl-C (SIGINT), ``kill`` (SIGTERM) and a closed terminal (SIGHUP), handled gently.

    The first of them calls ``on_first`` (which asks the loop to stop) and is remembered in
    :attr:`signum`; a second raises :class:`Interrupted`, except inside :meth:`deferred`,
    where it waits until the block is done. The shell's exit code for a
    process stopped by signal N is 128 + N: 130, 143, 129.
    """

    # Windows has no SIGHUP: closing its console ends the process without a signal Python
    # can handle, so there only Ctrl-C and SIGTERM are caught.
    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))

    def __init__(self, on_first: Callable[[], None] = lambda: None) -> None:
        self.on_first = on_first
        self.signum: int | None = None
        self._old: dict[int, Any] = {}
        self._deferring = False
        self._pending: int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.on_first()
        elif self._deferring:
            self._pending = signum
        else:
            raise Interrupted(signum)

    def __enter__(self) -> StopSignals:
        for s in self.SIGNALS:
            self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, or 0 if no signal came."""
        return 0 if self.signum is None else 128 + self.signum

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a second stop signal until the block is done (an atomic save, say).

        Python runs signal handlers in the main thread only, so a flag checked there is
        reliable; blocking the signals (``pthread_sigmask``) would not be, as numpy's BLAS
        threads could still receive them.
        """
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            if self._pending is not None:
                signum, self._pending = self._pending, None
                raise Interrupted(signum)
