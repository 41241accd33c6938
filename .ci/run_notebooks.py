"""Run every chapter notebook of the built site to the end; fail on the first error of any.

    python .ci/run_notebooks.py site/generated/notebooks [--jobs 2] [--timeout 600]

Each notebook runs in a fresh Jupyter kernel (nbclient with this Python's ipykernel), in a
scratch folder of its own, with cells in order, as a reader would run it after
downloading it. Prints one line per notebook with its time, and for a failure the cell
and the error; exits 1 if any notebook failed. Needs the docs extra (nbclient, ipykernel).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def run(path: Path, timeout: float) -> tuple[str, float, str | None]:
    """Run one notebook; return its name, the seconds it took and the error, if any."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    started = time.monotonic()
    book = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="charrnn-notebook-") as scratch:
        # IPC sockets in the scratch folder: the kernel is reachable from this machine's
        # processes only (and warns about nothing).
        manager = KernelManager(kernel_name="python3", transport="ipc",
                                ip=str(Path(scratch) / "kernel"))
        client = NotebookClient(book, km=manager, timeout=timeout,
                                resources={"metadata": {"path": scratch}})
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            return path.name, time.monotonic() - started, str(error)[-3000:]
        finally:
            if manager.has_kernel:              # a kernel we started, we stop
                manager.shutdown_kernel(now=True)
    return path.name, time.monotonic() - started, None


def main(argv: list[str] | None = None) -> int:
    """Run the notebooks; one line per notebook; exit 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the built site's notebooks/ folder")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per cell at most")
    args = parser.parse_args(argv)
    books = sorted(args.folder.glob("*.ipynb"))
    if not books:
        sys.exit(f"run_notebooks: no notebooks in {args.folder}: build the site first")
    started, failed = time.monotonic(), 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run, path, args.timeout) for path in books]
        for future in futures:
            name, seconds, error = future.result()
            print(f"{'ok  ' if error is None else 'FAIL'} {name}: {seconds:.1f} s", flush=True)
            if error is not None:
                failed += 1
                print("\n".join("       " + line for line in error.splitlines()), flush=True)
    print(f"run_notebooks: {len(books)} notebooks in {time.monotonic() - started:.0f} s, "
          f"{len(books) - failed} ran to the end")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
