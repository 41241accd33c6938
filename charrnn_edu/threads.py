"""Threads: one BLAS thread while the package trains, whichever BLAS numpy was built with.

Not a chapter. Every matrix product in training is small (m = 100, tau = 25): a second
BLAS thread costs more to wake and wait for than it saves, and on a busy 2-core machine it
made batched products 5 to 10 times slower (``benchmarks/speed.py``). One thread also makes
the thread count one fact rather than a property of the machine.

``threadpoolctl`` sets the count at run time, after numpy is imported, for OpenBLAS (the
library numpy's wheels ship on Linux, Windows and Intel Macs), MKL (conda's numpy), BLIS and
FlexiBLAS, so it holds in a notebook or a script as well as in ``charrnn``. It has no control
over Apple's Accelerate (numpy's wheels for Apple silicon), which reads
``VECLIB_MAXIMUM_THREADS`` once, when it is loaded: ``charrnn`` sets that before numpy is
imported; a notebook sets it in the environment of the kernel.

A count the user chose is kept: with any of :data:`THREAD_VARIABLES` set, each library has
already read its own at load, and :func:`one_blas_thread` changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

__all__ = ["THREAD_VARIABLES", "one_blas_thread"]

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "OMP_NUM_THREADS")
"""The variables by which a user sets the BLAS thread count (OpenMP's is the fallback of
OpenBLAS and MKL): with any of them set, :func:`one_blas_thread` leaves the count alone."""


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one BLAS thread, and restore the count the libraries had after it.

    Entering costs about a millisecond (threadpoolctl finds the loaded libraries), so it
    goes around a whole run (:meth:`charrnn_edu.training.Trainer.run`, a ``charrnn``
    command), not around each iteration: a loop of ``Trainer.step()`` in a notebook goes
    inside one ``with one_blas_thread():``. Blocks nest.
    """
    if any(name in os.environ for name in THREAD_VARIABLES):
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
