"""Run folders: one training run on disk, written by one process at a time.

Not a chapter: this is where a :class:`~charrnn_edu.training.Trainer` meets the file system.
A run folder holds::

    checkpoint.npz   everything to continue bit for bit (charrnn_edu.checkpoint)
    settings.json    the settings, the corpus it was trained on, the run's options
                     (checkpoint_every) and its training time so far
    history.csv      the loss of every iteration
    samples.md       the text synthesised during training
    .lock            held by the process that writes the folder; holds its PID while it
                     does, and is left empty when it is done

Every file is written atomically (``files.write_atomically``), and all of them at every save,
so a run killed at any moment leaves the last save whole. The lock is one the operating
system releases when the process ends, however it ends (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows), so a crashed run never leaves a folder locked. Signals
(:class:`~charrnn_edu.signals.StopSignals`: Ctrl-C, ``kill``, a closed terminal) ask the loop
to stop after the current iteration and save; a second one while saving waits for the save.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from charrnn_edu import __version__, checkpoint
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.evaluation import memory_parts
from charrnn_edu.files import Corpus, kind_of, read_small, remove_temporaries, write_atomically
from charrnn_edu.settings import MAX_ITERATIONS
from charrnn_edu.signals import StopSignals
from charrnn_edu.training import Sample, Settings, Trainer, TrainingDiverged

# The lock must die with its holder, however the process ends (kill -9 included), so it is
# one the operating system keeps: flock on POSIX, a locked byte on Windows. A lock file made
# with O_EXCL would survive a crash, and telling a stale one from a live one needs the
# holder's PID checked, which Windows cannot do safely (its os.kill terminates the process).
try:
    import fcntl
except ImportError:                      # Windows
    fcntl = None
    import msvcrt

__all__ = ["RunFolder", "FolderBusy", "FolderRefused", "RunFailed", "waiting_lock",
           "history_csv", "held_out_csv", "samples_markdown", "read_record", "read_corpus",
           "save", "start", "resume", "train", "finite"]

CHECKPOINT, RECORD, HISTORY, SAMPLES, LOCK = (
    "checkpoint.npz", "settings.json", "history.csv", "samples.md", ".lock")
HELD_OUT = "held_out.csv"   # only in a run that holds text out (--val-frac)
# Every file charrnn writes in a folder it locks (a run, a report, a study): the only names
# whose leftover temporary files it may delete there.
OURS = frozenset({CHECKPOINT, RECORD, HISTORY, SAMPLES, HELD_OUT, "report.md", "report.json",
                  "loss.png", "loss.svg", "study.json", "study.md", "study.png"})
# Windows locks are mandatory: a locked byte cannot be read by another process, so the lock
# is on a byte past the PID that a refused process reads (locking past the end is allowed).
_LOCKED_BYTE = 1024


class FolderBusy(RuntimeError):
    """Another process is writing the run folder."""


class FolderRefused(RuntimeError):
    """The run folder's ``.lock`` is not a regular file of its own (a link, a FIFO, a device)."""


class RunFailed(RuntimeError):
    """Training diverged, or the run could not be saved; the message says what is kept."""


def history_csv(trainer: Trainer) -> str:
    """The loss history as CSV: ``iteration, epoch, loss, smooth_loss``, one row per iteration."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["iteration", "epoch", "loss", "smooth_loss"])
    starts = trainer.epoch_starts
    epoch = 0
    for i, (loss, smooth) in enumerate(zip(trainer.losses, trainer.smooth_losses,
                                           strict=True), start=1):
        while epoch < len(starts) and starts[epoch] <= i:
            epoch += 1
        writer.writerow([i, epoch, repr(loss), repr(smooth)])
    return out.getvalue()


def held_out_csv(trainer: Trainer) -> str:
    """The held-out loss as CSV: ``iteration, nats, bits`` per character, one row per measure."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["iteration", "nats", "bits"])
    for iteration, nats in trainer.evaluations:
        writer.writerow([iteration, repr(nats), repr(nats / math.log(2))])
    return out.getvalue()


def samples_markdown(samples: Sequence[Sample], title: str = "Synthesised text") -> str:
    """The samples as Markdown: one section per sample with its iteration and smooth loss."""
    parts = [f"# {title}\n"]
    for s in samples:
        parts.append(f"## Iteration {s.iteration:,} — smooth loss {s.smooth_loss:.2f}\n\n"
                     f"```text\n{s.text}\n```\n")
    return "\n".join(parts)


def start(text: str, vocab: Vocabulary, settings: Settings, memory: int,
          engine: str = "fast") -> Trainer:
    """A new run on ``text``, if its arrays fit in ``memory`` bytes, trained by ``engine``.

    Raises
    ------
    ValueError
        If the run would need more memory (the message gives the estimate), or the text is
        too short for one sequence.
    """
    parts = memory_parts(len(text), len(vocab), settings)
    need = sum(parts.values())
    if need > memory:
        # Named after what costs the most: the parameters grow with m^2, the engine's
        # buffers with tau * B, the text with its length.
        largest = max(parts, key=parts.__getitem__)
        what, fix = {
            "parameters": (f"--hidden {settings.hidden:,}", "a smaller --hidden"),
            "buffers": (f"--seq-length {settings.seq_length:,}"
                        + (f" with --batch {settings.batch:,}" if settings.batch > 1 else ""),
                        "a smaller --seq-length" + (" or --batch" if settings.batch > 1
                                                    else "")),
            "text": (f"the text of {len(text):,} characters", "a shorter text")}[largest]
        raise ValueError(f"{what} needs about {need / 2**30:,.1f} GiB of "
                         f"memory, more than the {memory / 2**30:,.1f} GiB allowed (half of this "
                         f"machine's): choose {fix}")
    return Trainer.start(text, settings, vocab, engine=engine)


def resume(folder: Path, text: str, corpus: Corpus,
           given: Iterable[tuple[str, str, object]] = ()) -> Trainer:
    """The run saved in ``folder``, to continue on ``text``.

    ``given`` lists the options asked for now as (option as typed, Settings field, value),
    e.g. ("--hidden 64", "hidden", 64); a value other than the run's is refused rather than
    silently ignored. None stands for an option not given.

    Raises
    ------
    checkpoint.CheckpointError
        If the checkpoint is missing, damaged, or belongs to another text.
    ValueError
        If a given value contradicts the run (the message names the option and both values).
    RunFailed
        If the saved parameters are not finite: that run diverged.
    """
    trainer = checkpoint.load(folder / CHECKPOINT, text, corpus_sha256=corpus.sha256)
    for typed, field, value in given:
        kept = getattr(trainer.settings, field)
        if value is not None and value != kept:
            raise ValueError(f"{typed} contradicts the run in {folder}, which has {field} = "
                             f"{kept}: leave {typed.split()[0]} out to continue that run, or "
                             "start a new one with --out")
    if not finite(trainer):
        raise RunFailed(f"{folder / CHECKPOINT} holds infinite or NaN parameters: the run "
                        "diverged before it was saved; start a new run")
    return trainer


class RunFolder:
    """A run folder, locked for writing while the ``with`` block runs.

    Entering takes the lock (creating the folder unless ``create`` is False) and removes the
    temporary files a killed run left; leaving releases it. A folder this process created
    and never saved a run into is removed again, so a run stopped before its first save
    leaves nothing behind.

    The lock file is opened without following a symbolic link, and only a regular file is
    written: a ``.lock`` that links elsewhere (a folder copied from someone else, say) would
    otherwise truncate the file it points to.

    Raises
    ------
    FolderBusy
        On entering, if another process holds the lock (the message gives its PID).
    FolderRefused
        On entering, if ``.lock`` is a symbolic link, a FIFO, a device or a socket.
    """

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path)
        self.create = create
        self.created = False
        self._fd: int | None = None

    def __enter__(self) -> RunFolder:
        if self.create:
            try:
                self.path.mkdir(parents=True)
                self.created = True
            except FileExistsError:            # there already, or another process was faster
                pass
        fd = _open_lock(self.path / LOCK)
        if not _lock(fd):
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise FolderBusy(f"{self.path} is being written by another charrnn process "
                             f"(PID {holder}): wait for it to finish, or use another "
                             "folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        remove_temporaries(self.path, OURS)
        return self

    def __exit__(self, *exc: object) -> None:
        abandoned = self.created and not (self.path / CHECKPOINT).exists()
        if abandoned:
            remove_temporaries(self.path, OURS)
            for name in (RECORD, HISTORY, SAMPLES, HELD_OUT):
                (self.path / name).unlink(missing_ok=True)
            if fcntl is not None:        # POSIX: the lock file goes while the lock is held
                (self.path / LOCK).unlink(missing_ok=True)
        if self._fd is not None:
            with suppress(OSError):          # the PID of a process gone would only mislead
                os.ftruncate(self._fd, 0)
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None
        if abandoned:
            if fcntl is None:
                # Windows cannot delete an open file: only now, unless another process has
                # opened it since (and then the folder is its to keep).
                with suppress(PermissionError):
                    (self.path / LOCK).unlink(missing_ok=True)
            if not any(self.path.iterdir()):
                self.path.rmdir()


def _open_lock(path: Path) -> int:
    """Open (or create) the lock file ``path`` for writing, refusing anything but a file.

    O_NOFOLLOW makes opening a symbolic link fail; Windows has no such flag, so there the
    link is looked for first. O_NONBLOCK keeps a FIFO from waiting for a writer.
    """
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    if path.is_symlink():
        raise FolderRefused(_not_a_lock(path, "a symbolic link"))
    try:
        fd = os.open(path, flags, 0o666)
    except OSError:
        if path.is_symlink():          # ELOOP (Linux) or EMLINK/EFTYPE (BSDs): a link
            raise FolderRefused(_not_a_lock(path, "a symbolic link")) from None
        raise
    kind = kind_of(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise FolderRefused(_not_a_lock(path, kind))
    return fd


def _not_a_lock(path: Path, kind: str) -> str:
    return (f"{path} is {kind}, not a charrnn lock file: charrnn writes its PID there, so it "
            "leaves the folder alone; remove it, or use another folder")


@contextmanager
def waiting_lock(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` for a short read-merge-write, waiting for its holder first.

    For files several commands update (the exercises' progress), unlike a run folder, which
    refuses a second writer.

    Raises
    ------
    FolderRefused
        If ``path`` is a symbolic link, a FIFO, a device or a socket.
    """
    fd = _open_lock(path)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)   # retries for 10 s, then OSError
            os.lseek(fd, 0, os.SEEK_SET)
        yield
        _unlock(fd)
    finally:
        os.close(fd)


def _lock(fd: int) -> bool:
    """Take the run folder's lock on the open lock file ``fd``; False if another holds it."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)     # msvcrt locks from the file position
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:                             # held: LK_NBLCK does not wait
        return False
    finally:
        os.lseek(fd, 0, os.SEEK_SET)
    return True


def _unlock(fd: int) -> None:
    """Release the lock :func:`_lock` took (closing ``fd`` releases it too)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    # Windows releases a closed file's locks in its own time: unlock first, at once.
    os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


RECORD_LIMIT = 1_000_000     # bytes of settings.json: a few hundred in a real run
# What each read part of settings.json may hold: a field, its type(s), and a check of range.
_RECORD_FIELDS: dict[str, dict[str, tuple[type | tuple[type, ...], Callable[[Any], bool], str]]] = {
    "run": {
        "checkpoint_every": (int, lambda v: 1 <= v <= MAX_ITERATIONS,
                             f"an integer from 1 to {MAX_ITERATIONS:,}"),
        "train_seconds": ((int, float), lambda v: math.isfinite(v) and v >= 0,
                          "a finite number of seconds, at least 0")},
    "corpus": {
        "name": (str, lambda v: True, "a file name"),
        "encoding": (str, lambda v: True, "the name of a text encoding"),
        "sha256": (str, lambda v: True, "a hexadecimal SHA-256"),
        "characters": (int, lambda v: v >= 0, "a number of characters, at least 0")},
}


def _stored(folder: Path, part: str) -> dict[str, Any]:
    """Part ``part`` of ``folder/settings.json``, every field of it checked; {} if no file.

    Raises
    ------
    ValueError
        If settings.json is not a regular file, too large, not JSON, or a field has the
        wrong type or range (the message names the file and the field).
    """
    path = Path(folder) / RECORD
    fix = f"correct it, or delete {RECORD} (the checkpoint holds the run; the defaults are used)"
    try:
        raw = read_small(path, RECORD_LIMIT)
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ValueError(f"{err}: {fix}") from None
    try:
        record = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as err:    # UnicodeDecodeError is a ValueError
        raise ValueError(f"{path} is not JSON ({type(err).__name__}): {fix}") from None
    stored = record.get(part, {}) if isinstance(record, dict) else None
    if not isinstance(stored, dict):
        raise ValueError(f"{path}: {part} is not a JSON object: {fix}")
    for field, (kind, ok, expected) in _RECORD_FIELDS[part].items():
        if field not in stored:
            continue
        value = stored[field]
        if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
            raise ValueError(f"{path}: {part}.{field} is {_shown(value)}, expected {expected}: "
                             f"{fix}")
    return stored


def _shown(value: object) -> str:
    """A value read from a file, short and on one line, for a message."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."


def read_record(folder: Path) -> dict[str, Any]:
    """The ``run`` part of ``settings.json`` (checkpoint_every, train_seconds); {} if absent.

    Raises
    ------
    ValueError
        If settings.json cannot be read as the run's record, or a field is out of range.
    """
    return _stored(folder, "run")


def read_corpus(folder: Path) -> dict[str, Any]:
    """The ``corpus`` part of ``settings.json`` (name, encoding, sha256, characters).

    Raises
    ------
    ValueError
        As :func:`read_record`.
    """
    return _stored(folder, "corpus")


def save(folder: Path, trainer: Trainer, corpus: Corpus, options: dict[str, Any]) -> None:
    """Write every file of the run folder, each atomically, the checkpoint last.

    ``options`` (checkpoint_every, train_seconds, ...) is stored in settings.json as ``run``.
    The checkpoint is the run, the other files are views of it: written last, it stays at
    the previous save if any write fails (a full disk), which is what an error message says.
    """
    folder = Path(folder)
    record = {"settings": trainer.settings.to_dict(), "corpus": corpus.to_dict(),
              "K": len(trainer.vocab), "run": options, "package": f"charrnn-edu {__version__}"}
    texts = {RECORD: json.dumps(record, indent=2) + "\n",
             SAMPLES: samples_markdown(trainer.samples), HISTORY: history_csv(trainer)}
    if trainer.settings.val_frac > 0:
        texts[HELD_OUT] = held_out_csv(trainer)
    for name, text in texts.items():
        write_atomically(folder / name, lambda f, text=text: f.write(text.encode("utf-8")))
    checkpoint.save(folder / CHECKPOINT, trainer, corpus_sha256=corpus.sha256,
                    encoding=corpus.encoding, corpus_name=corpus.name)


def finite(trainer: Trainer) -> bool:
    """Whether the parameters, and the distribution they give the next input, are finite.

    Parameters can stay finite and yet be so large that o_t overflows, so the check takes
    one step (2.1)-(2.4), or the cell's, from the current state too.
    """
    if not all(bool(np.isfinite(theta).all()) for theta in trainer.rnn):
        return False
    x = int(trainer.data[trainer.e]) if trainer.e < len(trainer.data) else 0
    P, _ = trainer.cell.forward_streams(trainer.rnn, np.full((trainer.h.shape[1], 1), x),
                                        trainer.h)
    return bool(np.isfinite(P).all())


def train(trainer: Trainer, total: int, folder: Path, corpus: Corpus, checkpoint_every: int,
          stop: StopSignals, callback: Callable[[Trainer], None] | None = None,
          saved: int | None = None) -> float:
    """Train to ``total`` iterations, saving the run every ``checkpoint_every`` and at the end.

    ``saved`` is the iteration of the checkpoint already in ``folder`` (None for a new run).
    Returns the run's training time in seconds, all sessions together (kept in settings.json).

    Raises
    ------
    RunFailed
        If the loss or the parameters became NaN or infinite, or a save failed (a full disk,
        say); the message says which checkpoint is kept. Nothing is saved after the failure.
    """
    stop.on_first = lambda: setattr(trainer, "stop_requested", True)
    if stop.signum is not None:                   # a signal came before training began
        trainer.stop_requested = True
    seconds = float(read_record(folder).get("train_seconds", 0.0)) if saved is not None else 0.0
    options = {"checkpoint_every": checkpoint_every, "train_seconds": seconds}

    def kept() -> str:
        return (f"the last good checkpoint, iteration {saved:,}, is in {folder}"
                if saved is not None else "nothing was saved")

    while trainer.iteration < total and not trainer.stop_requested:
        target = min(total, (trainer.iteration // checkpoint_every + 1) * checkpoint_every)
        start = time.perf_counter()
        try:
            trainer.run(target, callback)
        except TrainingDiverged as err:
            raise RunFailed(f"{err}; {kept()}") from None
        except (IndexError, ValueError):
            # Parameters that overflowed in the update just before a sample make that sample
            # draw from NaN and fail; the cause is the divergence, not the sampling.
            if finite(trainer):
                raise
        if not finite(trainer):
            raise RunFailed(f"training diverged by iteration {trainer.iteration:,}: the "
                            "parameters or the network's output became infinite or NaN "
                            f"(learning rate {trainer.settings.eta:g}); try a smaller --eta or "
                            f"--clip; {kept()}")
        options["train_seconds"] = seconds = seconds + time.perf_counter() - start
        with stop.deferred():
            try:
                save(folder, trainer, corpus, options)
            except OSError as err:
                raise RunFailed(f"cannot save the run in {folder}: {err.strerror or err}; "
                                f"{kept()}") from None
        saved = trainer.iteration
    return seconds

