"""Run folders: one training run on disk, written by one process at a time.

Not a chapter: this is where a :class:`~charrnn_edu.training.Trainer` meets the file system.
A run folder holds::

    checkpoint.npz   everything to continue bit for bit (charrnn_edu.checkpoint)
    settings.json    the settings, the corpus it was trained on, the run's options
                     (checkpoint_every) and its training time so far
    history.csv      the loss of every iteration
    samples.md       the text synthesised during training
    .lock            held by the process that writes the folder; holds its PID

Every file is written atomically (``files.write_atomically``), and all of them at every save,
so a run killed at any moment leaves the last save whole. The lock is an ``fcntl.flock``: the
operating system releases it when the process ends, however it ends, so a crashed run never
leaves a folder locked. Signals (Ctrl-C, ``kill``, a closed terminal) ask the loop to stop
after the current iteration and save; a second one while saving waits for the save.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from charrnn_edu import __version__, checkpoint
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import remove_temporaries, write_atomically
from charrnn_edu.forward import RNN, step
from charrnn_edu.sampling import greedy as greedy_ids
from charrnn_edu.sampling import prime, sample
from charrnn_edu.training import (
    Sample,
    Settings,
    Trainer,
    TrainingDiverged,
    held_out_loss,
    split_text,
)

__all__ = ["Corpus", "RunFolder", "FolderBusy", "RunFailed", "Interrupted", "StopSignals",
           "history_csv", "held_out_csv", "samples_markdown", "read_record", "read_corpus",
           "save", "start", "resume", "train", "finite", "memory_estimate", "sample_stream",
           "Evaluation", "evaluate"]

CHECKPOINT, RECORD, HISTORY, SAMPLES, LOCK = (
    "checkpoint.npz", "settings.json", "history.csv", "samples.md", ".lock")
HELD_OUT = "held_out.csv"   # only in a run that holds text out (--val-frac)


class FolderBusy(RuntimeError):
    """Another process is writing the run folder."""


class RunFailed(RuntimeError):
    """Training diverged, or the run could not be saved; the message says what is kept."""


class Interrupted(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt
    """A second stop signal before the run could stop by itself; ``signum`` says which.

    A BaseException, as KeyboardInterrupt is: no ``except Exception`` may swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class Corpus:
    """Which text a run trains on: file name, encoding, SHA-256 of its bytes, length."""

    name: str
    encoding: str
    sha256: str
    characters: int

    @classmethod
    def of(cls, path: Path, text: str, encoding: str) -> Corpus:
        """The record of ``text``, read from ``path`` with ``encoding``."""
        return cls(path.name, encoding, checkpoint.corpus_sha256(text, encoding), len(text))

    def to_dict(self) -> dict[str, str | int]:
        """The record as a plain dict (for JSON)."""
        return asdict(self)


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
    need = memory_estimate(len(text), len(vocab), settings)
    if need > memory:
        raise ValueError(f"--hidden {settings.hidden:,} needs about {need / 2**30:,.1f} GiB of "
                         f"memory, more than the {memory / 2**30:,.1f} GiB allowed (half of this "
                         "machine's): choose a smaller --hidden")
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


@dataclass(frozen=True)
class Evaluation:
    """A model's loss on a text: what text, nats and bits per character, and K."""

    what: str
    nats: float
    bits: float
    K: int


def evaluate(rnn: RNN, vocab: Vocabulary, settings: Settings, text: str, name: str,
             encoding: str, trained_sha: str) -> Evaluation:
    """The loss per character of a trained model (``rnn``), on the right text.

    On the run's held-out part when ``text`` is the text it trained on (read with
    ``encoding``, its SHA-256 is ``trained_sha``), on all of ``text`` otherwise.

    Raises
    ------
    ValueError
        If the run trained on all of its text (nothing held out), the text has characters
        the model never saw, or it is too short.
    """
    same = checkpoint.corpus_sha256(text, encoding) == trained_sha
    if same and settings.val_frac == 0:
        raise ValueError(f"the run was trained on all of {name} (no --val-frac): every "
                         "character of it was seen in training; give --data another text "
                         "to evaluate on")
    if same:
        _, ids = split_text(text, settings, vocab)
        what = f"the held-out {settings.val_frac:g} of {name} ({len(ids):,} characters)"
    else:
        unknown = sorted(set(text) - set(vocab.chars))
        if unknown:
            raise ValueError(f"{name} has characters the model never saw "
                             f"({', '.join(map(repr, unknown[:5]))}): it can only be "
                             "evaluated on text in its vocabulary")
        ids = vocab.encode(text)
        what = f"all of {name} ({len(ids):,} characters)"
    if len(ids) < 2:
        raise ValueError(f"{what} is too short to evaluate: it needs at least 2 characters")
    nats = held_out_loss(rnn, ids)
    return Evaluation(what, nats, nats / math.log(2), len(vocab))


def memory_estimate(n_chars: int, K: int, settings: Settings) -> int:
    """Bytes a run needs, roughly: its arrays, not Python's own overhead.

    The parameters (m + K + mK + m^2 + Km numbers) exist about ten times over: the current
    and best copies, the gradients and their clipped copy, the optimiser's one or two
    accumulators and the engine's flat buffers, plus the engine's (tau, B, m + K) buffers.
    The corpus is one byte per character for K <= 256.
    """
    m = settings.hidden
    parameters = m + K + 2 * m * K + m * m
    itemsize = np.dtype(settings.dtype).itemsize
    # The engine's buffers hold a few (tau, B, m + K) arrays for B streams.
    buffers = 8 * settings.seq_length * settings.batch * (m + K)
    return ((10 * parameters + buffers) * itemsize
            + n_chars * np.min_scalar_type(K - 1).itemsize)


class RunFolder:
    """A run folder, locked for writing while the ``with`` block runs.

    Entering takes the lock (creating the folder unless ``create`` is False) and removes the
    temporary files a killed run left; leaving releases it. A folder this process created
    and never saved a run into is removed again, so a run stopped before its first save
    leaves nothing behind.

    Raises
    ------
    FolderBusy
        On entering, if another process holds the lock (the message gives its PID).
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
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise FolderBusy(f"{self.path} is being written by another charrnn process "
                             f"(PID {holder}): wait for it to finish, or use another "
                             "folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        remove_temporaries(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.created and not (self.path / CHECKPOINT).exists():
            remove_temporaries(self.path)
            for name in (LOCK, RECORD, HISTORY, SAMPLES, HELD_OUT):
                (self.path / name).unlink(missing_ok=True)
            if not any(self.path.iterdir()):
                self.path.rmdir()
        if self._fd is not None:
            os.close(self._fd)                         # releases the lock
            self._fd = None


def _stored(folder: Path, part: str) -> dict[str, Any]:
    try:
        stored = json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))[part]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return stored if isinstance(stored, dict) else {}


def read_record(folder: Path) -> dict[str, Any]:
    """The ``run`` part of ``settings.json`` (checkpoint_every, train_seconds); {} if absent."""
    return _stored(folder, "run")


def read_corpus(folder: Path) -> dict[str, Any]:
    """The ``corpus`` part of ``settings.json`` (name, encoding, sha256, characters)."""
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


class StopSignals:
    """Ctrl-C (SIGINT), ``kill`` (SIGTERM) and a closed terminal (SIGHUP), handled gently.

    The first of them calls ``on_first`` (which asks the loop to stop) and is remembered in
    :attr:`signum`; a second raises :class:`Interrupted`, except inside :meth:`deferred`,
    where it waits until the block is done. The shell's exit code for a
    process stopped by signal N is 128 + N: 130, 143, 129.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

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


def finite(trainer: Trainer) -> bool:
    """Whether the parameters, and the distribution they give the next input, are finite.

    Parameters can stay finite and yet be so large that o_t overflows, so the check takes
    one step (2.1)-(2.4) from the current state too.
    """
    if not all(bool(np.isfinite(theta).all()) for theta in trainer.rnn):
        return False
    x = int(trainer.data[trainer.e]) if trainer.e < len(trainer.data) else 0
    return bool(np.isfinite(step(trainer.rnn, trainer.h, x).p).all())


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



def sample_stream(rnn: RNN, vocab: Vocabulary, n: int, rng: np.random.Generator, *,
                  prefix: str = "", temperature: float = 1.0, top_p: float = 1.0,
                  greedy: bool = False, chunk: int = 1000) -> Iterator[str]:
    """The text of ``sampling.generate``, in pieces of ``chunk`` characters, as they come.

    The prefix first, then the n characters: the same characters ``generate`` gives for the
    same arguments and generator, so a long sample can be printed (and stopped) as it goes.
    Each piece continues from the hidden state after the one before, recomputed by
    ``sampling.prime`` over the piece's inputs.

    Raises
    ------
    ValueError
        If a prefix character is not in the vocabulary, or the model's K differs from it.
    """
    if len(vocab) != rnn.K:
        raise ValueError(f"the vocabulary has {len(vocab)} characters but the model has "
                         f"K = {rnn.K}: use the vocabulary the model was trained with")
    ids = vocab.encode(prefix or ("\n" if "\n" in vocab else vocab.chars[0]))
    h, x = prime(rnn, np.zeros((rnn.m, 1)), ids[:-1]), int(ids[-1])
    yield prefix
    for done in range(0, n, chunk):
        k = min(chunk, n - done)
        new = (greedy_ids(rnn, h, x, k) if greedy
               else sample(rnn, h, x, k, rng, temperature, top_p))            # (k,)
        h, x = prime(rnn, h, np.concatenate([[x], new[:-1]])), int(new[-1])
        yield vocab.decode(new)
