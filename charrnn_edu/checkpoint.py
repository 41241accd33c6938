r"""Checkpoints: saving a training run and continuing it bit for bit.

A checkpoint is everything a :class:`~charrnn_edu.training.Trainer` holds except the corpus,
in one ``.npz`` file: a zip of uncompressed ``.npy`` arrays that any numpy can read::

    format_version           3; bumped whenever the entries or their meaning change
    rnn.b ... rnn.V          the parameters, (m, 1), (K, 1), (m, K), (m, m), (K, m) for
                             the vanilla cell; the gated cells' are rnn.b, rnn.d, rnn.U,
                             rnn.W, rnn.V with 4m (LSTM) or 3m (GRU) rows in b, U and W
    best.b ... best.V        the parameters with the lowest smooth loss
    memory.b ... memory.V    AdaGrad's m_θ (6.2), once its first step has made them;
                             Adam's first.* and second.*, s_θ and r_θ of (6.4) and
                             (6.5), instead: the optimiser's ``state_names``
    h                        the state carried to the next piece, (m, B); the LSTM's is
                             h with c under it, (2m, B)
    losses, smooth_losses    float64, (iteration,); epoch_starts: int64, (epoch,)
    state                    JSON: settings, vocabulary, e, iteration, epoch, the smooth and
                             best losses, the optimiser's eps and step count, the samples,
                             the random generator's state, the corpus's name, SHA-256 and
                             encoding

Parameters, optimiser state and h have the dtype ``settings.dtype``; ``settings.cell`` says
which cell's arrays the file holds (``charrnn_edu.cells``). Files of format 2 (from before
the gated cells: no cell, so the vanilla one) and of format 1 (one entry per scalar) are read
too, and converted as they are loaded.

Resuming is bit-exact: training 2N iterations, or N, saving, loading and N more, gives
identical arrays. Arrays keep their bits; JSON writes floats with ``repr``, which reads back
to the same float64, and integers of any size, so PCG64's 128-bit state survives and the
next sample draws the very same numbers.

Four design choices, and why:

* **No pickle.** Unpickling can run arbitrary code, so a checkpoint someone sends you would
  be a program. Every entry is a plain array or a string; an entry of Python objects is
  refused unread.
* **Atomic writes.** A crash, a full disk or a second Ctrl-C can strike during a save, so the
  bytes go to a temporary file that then replaces the old checkpoint in one rename
  (``files.write_atomically``): a reader sees the old file or the new one, never half.
* **The corpus is checked, not stored.** Only its SHA-256 is kept; :func:`load` refuses a
  text with characters outside the vocabulary, or another hash.
* **Damaged or hostile files cost nothing.** :func:`load` opens the zip itself and reads only
  the entries it expects. Before reading an entry's data it checks the ``.npy`` header's
  dtype and shape against what the settings imply, and the size against the file's.
  Entries must be stored uncompressed, as :func:`save` writes them, so none can unpack into
  more bytes than the file holds (a "zip bomb"). The zip's CRC-32 catches changed bytes;
  the values are checked too (finite numbers, a text position where a piece starts). Any
  problem is one :class:`CheckpointError` naming the file and what is wrong.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import struct
import zipfile
import zlib
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from charrnn_edu.adagrad import OPTIMIZERS, make_optimizer
from charrnn_edu.cells import CELLS
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import corpus_sha256, write_atomically
from charrnn_edu.training import Sample, Settings, Trainer, split_text

__all__ = ["FORMAT_VERSION", "CheckpointError", "DamagedCheckpoint", "save", "load",
           "load_model"]

FORMAT_VERSION = 3
"""The checkpoint layout this module writes; see the module docstring."""

_INT64, _FLOAT64 = np.dtype("<i8"), np.dtype("<f8")
# What zipfile, numpy and json raise on bad bytes or values (NotImplementedError is a
# RuntimeError, KeyError a LookupError, OverflowError an ArithmeticError). MemoryError is a
# last guard: no entry larger than the file is ever allocated.
_ERRORS = (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error, struct.error,
           LookupError, ValueError, TypeError, AttributeError, ArithmeticError, MemoryError)


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not belong to the given text."""


class DamagedCheckpoint(CheckpointError):
    """The file is there but is not a valid checkpoint: damaged, crafted, or not one at all."""


class _Refused(Exception):
    """A problem found inside a checkpoint; :func:`_read` adds the file's name."""


def save(path: str | os.PathLike[str], trainer: Trainer, *, corpus_sha256: str,
         encoding: str, corpus_name: str) -> None:
    """Write a checkpoint of ``trainer`` to ``path``, atomically.

    Parameters
    ----------
    path : str or path-like
        The file, used as given (no ``.npz`` is appended); missing folders are created.
    trainer : Trainer
        The run to save; it is not changed.
    corpus_sha256, encoding, corpus_name : str
        :func:`~charrnn_edu.files.corpus_sha256` of the training text (checked again by
        :func:`load`), the encoding it was read with, and a name for it (its file name) for
        messages.

    Raises
    ------
    ValueError
        If the trainer's random generator is not PCG64; nothing is written then.
    OSError
        If the file cannot be written; ``path`` then still holds its previous checkpoint,
        if any, and no temporary file is left behind.
    """
    rng_state, optimizer = trainer.rng.bit_generator.state, trainer.optimizer
    if rng_state["bit_generator"] != "PCG64":               # what load rebuilds
        raise ValueError(f"the trainer's random generator is {rng_state['bit_generator']}; "
                         "checkpoints hold PCG64 only (use numpy.random.default_rng)")
    moments = {prefix: getattr(optimizer, prefix)           # None before the first step
               for prefix in optimizer.state_names}
    started = all(rnn is not None for rnn in moments.values())
    state = {"settings": trainer.settings.to_dict(), "vocabulary": trainer.vocab.chars,
             "e": int(trainer.e), "iteration": int(trainer.iteration),
             "epoch": int(trainer.epoch), "best_iteration": int(trainer.best_iteration),
             "smooth_loss": float(trainer.smooth_loss), "best_loss": float(trainer.best_loss),
             "optimizer": {"eps": float(optimizer.eps), "t": int(getattr(optimizer, "t", 0)),
                           "started": started},
             "samples": [{"iteration": int(s.iteration), "smooth_loss": float(s.smooth_loss),
                          "text": s.text} for s in trainer.samples],
             "evaluations": [[int(i), float(loss)] for i, loss in trainer.evaluations],
             "rng_state": rng_state,
             "corpus": {"name": corpus_name, "sha256": corpus_sha256, "encoding": encoding}}
    # JSON escapes control characters, so the text never ends in a NUL (which numpy's
    # fixed-width strings would drop).
    arrays = {"format_version": np.int64(FORMAT_VERSION),
              "state": np.array(json.dumps(state), dtype=np.str_),                # ()
              "h": np.ascontiguousarray(trainer.h),                               # (m, B)
              "losses": np.asarray(trainer.losses, dtype=np.float64),            # (iteration,)
              "smooth_losses": np.asarray(trainer.smooth_losses, dtype=np.float64),
              "epoch_starts": np.asarray(trainer.epoch_starts, dtype=np.int64)}  # (epoch,)
    for prefix, rnn in {"rnn": trainer.rnn, "best": trainer.best,
                        **(moments if started else {})}.items():
        arrays.update({f"{prefix}.{name}": getattr(rnn, name) for name in trainer.cell.names})
    # An open file object, not a path: np.savez would append ".npz" to a path.
    write_atomically(path, lambda f: np.savez(f, **arrays))


def _entry(archive: zipfile.ZipFile, limit: int, name: str, shape: tuple[int, ...],
           dtype: np.dtype | str) -> np.ndarray:
    """Entry ``name``, read only once its header and size are checked.

    The header must say ``dtype`` ("U": a string of any length) and ``shape``, and the size
    must fit both the header and ``limit``, the size of the whole file.
    """
    if f"{name}.npy" not in archive.namelist():
        raise _Refused(f"missing {name}")
    info = archive.getinfo(f"{name}.npy")
    if info.flag_bits & 0x1 or info.compress_type != zipfile.ZIP_STORED:
        raise _Refused(f"{name} is encrypted or compressed (method {info.compress_type}); "
                       "checkpoints store their entries as plain bytes")
    if not info.file_size == info.compress_size <= limit:
        raise _Refused(f"{name} claims {info.file_size:,} bytes ({info.compress_size:,} "
                       f"stored) in a file of {limit:,}")
    with archive.open(info) as f:
        # numpy parses the header text with ast and tokenize, so damaged bytes can raise
        # ValueError, SyntaxError, tokenize.TokenError, ...: the CRC-32 that would have
        # caught them is checked only at the end of the entry.
        try:
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}[
                               np.lib.format.read_magic(f)]
            found_shape, fortran, found = read_header(f)          # at most 10,000 bytes
        except Exception as err:
            raise _Refused(f"{name} is not a .npy array ({type(err).__name__}: {err})") from None
        if found.hasobject:
            raise _Refused(f"{name} holds Python objects, which only pickle reads; refused")
        if found_shape != shape or fortran or not (
                found.kind == "U" if dtype == "U" else found == dtype):
            raise _Refused(f"{name} is {found} of shape {found_shape}"
                           f"{' in Fortran order' if fortran else ''}, expected "
                           f"{'a string' if dtype == 'U' else dtype} of shape {shape}")
        size = math.prod(shape) * found.itemsize
        if info.file_size != f.tell() + size:
            raise _Refused(f"{name} holds {info.file_size - f.tell():,} bytes of data, but "
                           f"its header says {size:,}")
        data = f.read(size + 1)            # reading to the end makes zipfile check the CRC-32
    return np.frombuffer(data, dtype=found).reshape(shape).copy()


def _only(archive: zipfile.ZipFile, expected: set[str]) -> None:
    """Refuse an archive whose entries are not exactly ``expected`` (names without .npy)."""
    names = archive.namelist()
    unknown = sorted(set(names) - {f"{name}.npy" for name in expected})
    if len(set(names)) != len(names) or unknown:
        raise _Refused(f"unknown entries {', '.join(unknown[:5])}" if unknown
                       else "an entry appears twice")


def _settings(value: dict[str, Any]) -> Settings:
    settings = Settings(**value)          # refuses unknown names and out-of-range values
    for field in fields(Settings):
        got, default = getattr(settings, field.name), field.default
        kinds = (int, float) if isinstance(default, float) else (type(default),)
        if not isinstance(got, kinds) or isinstance(got, bool):
            raise _Refused(f"setting {field.name} is {got!r}, expected a {kinds[-1].__name__}")
    return settings


def _count(state: dict[str, Any], key: str) -> int:
    if type(state[key]) is not int or state[key] < 0:
        raise _Refused(f"{key} is {state[key]!r}, expected a whole number, 0 or more")
    return state[key]


def _layout(state: dict[str, Any], started: bool) -> dict[str, tuple[Any, ...]]:
    """The shape and dtype of every array entry, as the state's settings and counters say."""
    settings, K = _settings(state["settings"]), len(state["vocabulary"])
    m, dtype = settings.hidden, np.dtype(settings.dtype).newbyteorder("<")
    cell = CELLS[settings.cell]
    shapes = cell.shapes(m, K)
    prefixes = ("rnn", "best", *(OPTIMIZERS[settings.optimizer].state_names if started else ()))
    layout = {f"{prefix}.{name}": (shape, dtype) for prefix in prefixes
              for name, shape in shapes.items()}
    iteration, epoch = _count(state, "iteration"), _count(state, "epoch")
    return {**layout, "h": ((cell.states * m, settings.batch), dtype),
            "losses": ((iteration,), _FLOAT64),
            "smooth_losses": ((iteration,), _FLOAT64), "epoch_starts": ((epoch,), _INT64)}


def _format_1(archive: zipfile.ZipFile, limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A format-1 file (one entry per scalar; zeros for unused optimiser state) as format 2."""
    def scalar(name: str, dtype: np.dtype | str = _INT64) -> Any:
        return _entry(archive, limit, name, (), dtype).item()

    def old(name: str) -> str:              # "rnn.W" -> "W", "best.W" -> "best_W", ...
        prefix, _, param = name.rpartition(".")
        return {"": name, "rnn": param, "second": f"memory_{param}"}.get(prefix,
                                                                          f"{prefix}_{param}")

    text = {name: scalar(name, "U") for name in ("settings", "samples", "rng_state",
                                                 "vocabulary", "corpus_name",
                                                 "corpus_sha256", "encoding")}
    ints = {name: scalar(name) for name in ("e", "iteration", "epoch", "best_iteration")}
    started = scalar("memory_started", np.dtype("?"))
    adam = json.loads(text["settings"]).get("optimizer") == "adam"
    state = {"settings": json.loads(text["settings"]), "vocabulary": text["vocabulary"], **ints,
             "smooth_loss": scalar("smooth_loss", _FLOAT64),
             "best_loss": scalar("best_loss", _FLOAT64),
             "optimizer": {"eps": scalar("optimizer_eps", _FLOAT64), "started": started,
                           "t": scalar("adam_t") if adam else 0},
             "samples": json.loads(text["samples"]), "rng_state": json.loads(text["rng_state"]),
             "corpus": {"name": text["corpus_name"], "sha256": text["corpus_sha256"],
                        "encoding": text["encoding"]}}
    layout = _layout(state, started=True)
    _only(archive, {"format_version", "memory_started", "optimizer_eps", "smooth_loss",
                    "best_loss", *text, *ints, *(["adam_t"] if adam else []), *map(old, layout)})
    return state, {name: _entry(archive, limit, old(name), *spec)      # no state if unstarted
                   for name, spec in _layout(state, started).items()}


def _trainer(state: dict[str, Any], arrays: dict[str, Any]) -> tuple[Trainer, dict[str, str]]:
    """The trainer a checkpoint describes (with empty ``data``), and its corpus record."""
    settings, vocab = _settings(state["settings"]), Vocabulary(str(state["vocabulary"]))
    iteration, e, tau = _count(state, "iteration"), state["e"], settings.seq_length
    # e moves from 0 in steps of tau; the next piece is data[e : e + tau + 1].
    if type(e) is not int or e < 0 or e % tau or (iteration == 0 and e != 0):
        raise _Refused(f"the text position e = {e!r} is not where a piece of seq_length {tau} "
                       "can start")
    losses = {name: float(state[name]) for name in ("smooth_loss", "best_loss")}
    # Before the first iteration the smooth loss is NaN and the best loss infinite.
    bad = [name for name, value in [*arrays.items(), *(losses.items() if iteration else [])]
           if np.asarray(value).dtype.kind == "f" and not np.isfinite(value).all()]
    if bad:
        raise _Refused(f"{', '.join(bad)} hold NaN or infinite values")
    corpus = {key: state["corpus"][key] for key in ("name", "sha256", "encoding")}
    if not all(isinstance(value, str) for value in corpus.values()):
        raise _Refused(f"the corpus record {corpus} is not three strings")
    codecs.lookup(corpus["encoding"])                     # LookupError if there is no such codec
    # PCG64() seeds itself from the operating system, but the assignment then overwrites its
    # whole state (128-bit state and increment, and any buffered 32-bit half).
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = state["rng_state"]

    cell = CELLS[settings.cell]

    def params(prefix: str) -> Any:
        return (cell.model(*(arrays[f"{prefix}.{name}"] for name in cell.names))
                if f"{prefix}.b" in arrays else None)

    eps, t = float(state["optimizer"]["eps"]), _count(state["optimizer"], "t")
    optimizer = make_optimizer(settings.optimizer, settings.eta, eps=eps, **{
        name: params(name) for name in OPTIMIZERS[settings.optimizer].state_names})
    if hasattr(optimizer, "t"):                           # Adam's step count
        optimizer.t = t
    trainer = Trainer(
        data=np.empty(0, dtype=np.int64), vocab=vocab, settings=settings, rnn=params("rnn"),
        optimizer=optimizer, rng=rng, h=arrays["h"], best=params("best"), e=e,
        iteration=iteration, epoch=_count(state, "epoch"),
        best_iteration=_count(state, "best_iteration"), **losses,
        losses=arrays["losses"].tolist(),            # Python floats, as training appends them
        smooth_losses=arrays["smooth_losses"].tolist(),
        epoch_starts=arrays["epoch_starts"].tolist(),
        samples=[Sample(int(s["iteration"]), float(s["smooth_loss"]), str(s["text"]))
                 for s in state["samples"]],
        evaluations=_evaluations(state.get("evaluations", []), iteration))
    return trainer, corpus


def _evaluations(value: Any, iteration: int) -> list[tuple[int, float]]:
    """The held-out losses: [iteration, loss] pairs, iterations rising, losses finite."""
    try:
        pairs = [(int(i), float(loss)) for i, loss in value]
    except (TypeError, ValueError):
        raise _Refused("the held-out evaluations are not [iteration, loss] pairs") from None
    iterations = [i for i, _ in pairs]
    if (iterations != sorted(set(iterations)) or any(not 0 < i <= iteration for i in iterations)
            or not all(np.isfinite(loss) and loss >= 0 for _, loss in pairs)):
        raise _Refused("the held-out evaluations are out of order, beyond the run's "
                       "iterations, or not finite")
    return pairs


def _corrupt(path: Path, problem: str) -> CheckpointError:
    problem = " ".join(problem.split())                  # one line, whatever the cause said
    return DamagedCheckpoint(f"{path} is not a charrnn checkpoint (or is corrupt): {problem}")


def _read(path: Path) -> tuple[Trainer, dict[str, str]]:
    """The trainer stored at ``path`` (with empty ``data``) and its corpus record."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: check the path, or train a run "
                              "first with 'charrnn train'")
    try:
        # First, so that random bytes get a plain message. A truncated .npz fails here too:
        # a zip's directory sits at its very end.
        if not zipfile.is_zipfile(path):
            raise _Refused("it is not an .npz (zip) archive")
        limit = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            if "format_version.npy" not in archive.namelist():
                raise _Refused("it has no format_version")
            version = _entry(archive, limit, "format_version", (), _INT64).item()
            if version == 1:
                state, arrays = _format_1(archive, limit)
            elif version in (2, FORMAT_VERSION):          # 2: the same, all vanilla
                state = json.loads(str(_entry(archive, limit, "state", (), "U")))
                layout = _layout(state, started=state["optimizer"]["started"] is True)
                _only(archive, {"format_version", "state", *layout})
                arrays = {name: _entry(archive, limit, name, *spec)
                          for name, spec in layout.items()}
            else:
                raise _Refused(f"format version {version}, but this charrnn-edu reads versions "
                               f"1 to {FORMAT_VERSION}; use the charrnn-edu that wrote it")
        return _trainer(state, arrays)
    except _Refused as err:
        raise _corrupt(path, str(err)) from None
    except _ERRORS as err:                                   # JSONDecodeError: a ValueError
        raise _corrupt(path, f"{type(err).__name__}: {err}") from None


def _characters(chars: set[str]) -> str:
    shown = ", ".join(repr(ch) for ch in sorted(chars)[:10])
    return shown + (f" and {len(chars) - 10} more" if len(chars) > 10 else "")


def _check_text(path: Path, trainer: Trainer, corpus: dict[str, str], text: str,
                given_sha: str | None) -> None:
    """Refuse ``text`` unless it is the text the checkpoint was trained on."""
    fix = "pass the same --data and --encoding as when training"
    vocab, name, encoding = trainer.vocab, corpus["name"], corpus["encoding"]
    # The vocabulary first: its message names the characters, the hash's cannot.
    unknown = set(text) - set(vocab.chars)
    if unknown:
        lacking = set(vocab.chars) - set(text)
        raise CheckpointError(
            f"{path} was trained on {name}, whose vocabulary of {len(vocab)} characters does "
            f"not match the given text: the text has {_characters(unknown)} that the "
            f"vocabulary lacks{f', and it lacks {_characters(lacking)}' if lacking else ''}; "
            f"{fix}")
    # Hashed with the saved encoding: the caller's hash of the file's bytes alone would miss
    # the same file read with another encoding. Both must match.
    try:
        own_sha = corpus_sha256(text, encoding)
    except UnicodeEncodeError:
        raise CheckpointError(f"{path} was trained on {name}, read as {encoding}, which "
                              f"cannot encode the given text; {fix}") from None
    for sha in (given_sha, own_sha):
        if sha is not None and sha != corpus["sha256"]:
            raise CheckpointError(
                f"{path} was trained on {name} with sha256 {corpus['sha256'][:12]}, but the "
                f"given text has sha256 {sha[:12]}; {fix}")
    data, _ = split_text(text, trainer.settings, trainer.vocab)
    length = len(data) // trainer.settings.batch              # of each stream
    if trainer.e >= length:
        where = "each stream of the text" if trainer.settings.batch > 1 else "the text"
        raise _corrupt(path, f"the text position e = {trainer.e} lies beyond the end of "
                             f"{where} ({length} characters)")


def load(path: str | os.PathLike[str], text: str | None = None, *,
         corpus_sha256: str | None = None) -> Trainer:
    """Rebuild the :class:`Trainer` saved at ``path``, ready to continue bit for bit.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` (format 2, or format 1).
    text : str or None
        The training text, needed to continue training: it is checked against the saved
        vocabulary and SHA-256, then encoded into ``data``, shape (n,). With ``None`` the
        trainer is for sampling and plotting: ``data`` is empty, shape (0,).
    corpus_sha256 : str or None
        The caller's :func:`~charrnn_edu.files.corpus_sha256` of the text's file, checked too
        if given.

    Returns
    -------
    Trainer
        Everything exactly as saved; ``stop_requested`` False.

    Raises
    ------
    CheckpointError
        If there is no file at ``path``, it is damaged or not a checkpoint, or ``text`` is
        not the text it was trained on. The one-line message names the file and the problem.
    """
    path = Path(path)
    trainer, corpus = _read(path)
    if text is not None:
        _check_text(path, trainer, corpus, text, corpus_sha256)
        # The held-out part (settings.val_frac) is split off exactly as when training.
        trainer.data, trainer.held_out = split_text(text, trainer.settings, trainer.vocab)
    elif corpus_sha256 is not None and corpus_sha256 != corpus["sha256"]:
        raise CheckpointError(
            f"{path} was trained on {corpus['name']} with sha256 {corpus['sha256'][:12]}, but "
            f"the given sha256 is {corpus_sha256[:12]}; pass the same --data and --encoding "
            "as when training")
    return trainer


def load_model(path: str | os.PathLike[str],
               best: bool = False) -> tuple[Any, Vocabulary, dict[str, Any]]:
    """The parameters and vocabulary saved at ``path``, for sampling.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    best : bool
        Return the parameters with the lowest smooth loss instead of the latest ones.

    Returns
    -------
    rnn : RNN, LSTM or GRU
        The cell's parameters (``settings.cell``): for the vanilla RNN b (m, 1), c (K, 1),
        U (m, K), W (m, m), V (K, m).
    vocab : Vocabulary
    meta : dict
        ``settings``, ``iteration``, ``epoch``, ``smooth_loss``, ``best_iteration``,
        ``best_loss``, ``best``, ``corpus_name``, ``corpus_sha256`` and ``encoding``.

    Raises
    ------
    CheckpointError
        If there is no file at ``path`` or it is not a valid checkpoint.
    """
    trainer, corpus = _read(Path(path))
    meta = {"settings": trainer.settings, "iteration": trainer.iteration,
            "epoch": trainer.epoch, "smooth_loss": trainer.smooth_loss,
            "best_iteration": trainer.best_iteration, "best_loss": trainer.best_loss,
            "best": best, "corpus_name": corpus["name"], "corpus_sha256": corpus["sha256"],
            "encoding": corpus["encoding"]}
    return (trainer.best if best else trainer.rnn), trainer.vocab, meta
