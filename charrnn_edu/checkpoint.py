r"""Checkpoints: saving a training run and continuing it bit for bit.

A checkpoint is everything a :class:`~charrnn_edu.training.Trainer` holds except the corpus
itself, in one ``.npz`` file (a zip of ``.npy`` arrays that any numpy can read)::

    b, c, U, W, V            the current parameters: (m, 1), (K, 1), (m, K), (m, m), (K, m)
    memory_b ... memory_V    AdaGrad's m_θ of (6.2), or Adam's v_θ of (6.5), same shapes;
                             zeros before the first step
    memory_started           False until the optimiser's first step
    optimizer_eps            the optimiser's eps, (6.3) or (6.6)
    first_b ... first_V      Adam only: m_θ of (6.4)
    adam_t                   Adam only: the steps taken
    best_b ... best_V        the parameters with the lowest smooth loss, same shapes
    h                        the hidden state carried to the next piece, (m, 1)
    e, iteration, epoch      where the loop stands (int64 scalars)
    smooth_loss, best_loss   (8.1) now and at its lowest (float64 scalars)
    best_iteration           when the lowest was reached (int64 scalar)
    losses, smooth_losses    one float64 per iteration, (iteration,)
    epoch_starts             the iteration each epoch began, int64, (epoch,)
    samples                  JSON: a list of {iteration, smooth_loss, text}
    rng_state                JSON: the random generator's complete state
    settings                 JSON: the run's Settings
    vocabulary               the K characters, in id order
    corpus_name, corpus_sha256, encoding    which text the run was trained on, and how read
    format_version           1; bumped whenever the entries or their meaning change

Resuming is bit-exact: training 2N iterations in one go and training N, saving, loading and
training N more give identical arrays, because every number the next iteration reads is
restored exactly. Arrays keep their float64 bits; the few floats inside JSON are written
with ``repr``, which reads back to the same float64; and the random generator's complete
internal state is stored, so the next sample draws the very same uniform numbers.

Three design choices, and why:

* **No pickle.** Unpickling a file can run arbitrary code, so a checkpoint someone sends you
  would be a program. Here every entry is a plain numeric array or a string, and
  :func:`load` reads with ``allow_pickle=False``.
* **Atomic writes.** Training saves every few thousand iterations, and a crash, a full disk
  or a second Ctrl-C can strike in the middle of a save. Writing the file in place would
  then destroy the last good checkpoint too. Instead the bytes go to a temporary file in the
  same folder, which then replaces the old one with ``os.replace``, a single rename that the
  operating system performs completely or not at all: a reader sees the old checkpoint or
  the new one, never half of one.
* **The corpus is checked, not stored.** A corpus can be large and is already on disk, so a
  checkpoint keeps only its SHA-256. Resuming on another text would silently go on training
  on characters the ids do not describe, so :func:`load` refuses a text with characters
  outside the saved vocabulary (naming them) or whose hash differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from charrnn_edu.adagrad import AdaGrad, Adam
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import write_atomically
from charrnn_edu.forward import RNN
from charrnn_edu.training import Sample, Settings, Trainer

__all__ = ["FORMAT_VERSION", "CheckpointError", "corpus_sha256", "save", "load", "load_model"]

FORMAT_VERSION = 1
"""The checkpoint layout this module writes and reads; see the module docstring."""

_PARAMS = RNN.names()                                  # ("b", "c", "U", "W", "V")
_INTS = ("e", "iteration", "epoch", "best_iteration")
_FLOATS = ("smooth_loss", "best_loss", "optimizer_eps")
_STRINGS = ("samples", "rng_state", "settings", "vocabulary",
            "corpus_name", "corpus_sha256", "encoding")
_KEYS = ("format_version", *_PARAMS, *(f"memory_{n}" for n in _PARAMS),
         *(f"best_{n}" for n in _PARAMS), "memory_started", "h", *_INTS, *_FLOATS,
         "losses", "smooth_losses", "epoch_starts", *_STRINGS)


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not belong to the given text."""


def _sha256(text: str, encoding: str) -> str:
    return hashlib.sha256(text.encode(encoding)).hexdigest()


def corpus_sha256(text: str, encoding: str) -> str:
    """SHA-256 (hex) of ``text`` encoded with ``encoding``: the corpus file's bytes.

    Raises
    ------
    UnicodeEncodeError
        If ``text`` has a character that ``encoding`` cannot represent.
    """
    return _sha256(text, encoding)


def _string(value: str) -> np.ndarray:
    """``value`` as a 0-d numpy unicode array, which ``np.load`` reads without pickle."""
    stored = np.array(value, dtype=np.str_)            # () <U...
    # numpy's fixed-width strings drop trailing NUL characters; refuse rather than lose them.
    if str(stored) != value:
        raise ValueError(f"cannot store the string {value[:40]!r}: it ends in a NUL character")
    return stored


def _arrays(trainer: Trainer, corpus_sha: str, encoding: str,
            corpus_name: str) -> dict[str, np.ndarray]:
    """Every entry of the checkpoint file, by name (see the module docstring)."""
    rnn, optimizer = trainer.rnn, trainer.optimizer
    memory = optimizer.second if isinstance(optimizer, Adam) else optimizer.memory
    state = trainer.rng.bit_generator.state
    # load rebuilds a PCG64 (numpy's default, what Trainer.start uses); refuse any other
    # generator now rather than write a checkpoint that cannot be resumed.
    if state["bit_generator"] != "PCG64":
        raise ValueError(f"the trainer's random generator is {state['bit_generator']}; "
                         "checkpoints hold PCG64 only (use numpy.random.default_rng)")
    arrays: dict[str, np.ndarray] = {"format_version": np.int64(FORMAT_VERSION)}
    for name in _PARAMS:
        theta = getattr(rnn, name)
        arrays[name] = theta
        # Before the first step AdaGrad has no accumulators yet; its first step would start
        # them at zero, so zeros (with the flag below) describe that state exactly.
        arrays[f"memory_{name}"] = (np.zeros_like(theta) if memory is None
                                    else getattr(memory, name))
        arrays[f"best_{name}"] = getattr(trainer.best, name)
    arrays["memory_started"] = np.bool_(memory is not None)
    arrays["h"] = trainer.h                                                  # (m, 1)
    for name in _INTS:
        arrays[name] = np.int64(getattr(trainer, name))
    arrays["smooth_loss"] = np.float64(trainer.smooth_loss)
    arrays["best_loss"] = np.float64(trainer.best_loss)
    arrays["optimizer_eps"] = np.float64(optimizer.eps)
    if isinstance(optimizer, Adam):
        for name in _PARAMS:
            arrays[f"first_{name}"] = (np.zeros_like(getattr(rnn, name))
                                       if optimizer.first is None
                                       else getattr(optimizer.first, name))
        arrays["adam_t"] = np.int64(optimizer.t)
    arrays["losses"] = np.asarray(trainer.losses, dtype=np.float64)               # (iteration,)
    arrays["smooth_losses"] = np.asarray(trainer.smooth_losses, dtype=np.float64)  # (iteration,)
    arrays["epoch_starts"] = np.asarray(trainer.epoch_starts, dtype=np.int64)      # (epoch,)
    # JSON for the structured parts. Python writes floats with repr, which reads back to the
    # same float64, and integers of any size: PCG64's 128-bit state survives exactly.
    samples = [{"iteration": int(s.iteration), "smooth_loss": float(s.smooth_loss),
                "text": s.text} for s in trainer.samples]
    strings = {"samples": json.dumps(samples),
               "rng_state": json.dumps(state),
               "settings": json.dumps(trainer.settings.to_dict()),
               "vocabulary": trainer.vocab.chars,
               "corpus_name": corpus_name, "corpus_sha256": corpus_sha, "encoding": encoding}
    arrays.update({name: _string(value) for name, value in strings.items()})
    return arrays


def save(path: str | os.PathLike[str], trainer: Trainer, *, corpus_sha256: str,
         encoding: str, corpus_name: str) -> None:
    """Write a checkpoint of ``trainer`` to ``path``, atomically.

    Parameters
    ----------
    path : str or path-like
        The file to write, used as given (no ``.npz`` is appended). Missing folders are
        created. An existing file there is replaced only once the new one is complete.
    trainer : Trainer
        The run to save; it is not changed.
    corpus_sha256 : str
        :func:`corpus_sha256` of the training text, checked again by :func:`load`.
    encoding : str
        The text encoding the corpus was read with.
    corpus_name : str
        A name for the corpus (its file name), for messages.

    Raises
    ------
    OSError
        If the file cannot be written; ``path`` then still holds the previous checkpoint,
        if there was one, and no temporary file is left behind.
    """
    arrays = _arrays(trainer, corpus_sha256, encoding, corpus_name)
    # An open file object, not a path: np.savez would append ".npz" to a path.
    write_atomically(path, lambda f: np.savez(f, **arrays))


def _corrupt(path: Path, problem: str) -> CheckpointError:
    problem = " ".join(problem.split())               # one line, whatever the cause said
    return CheckpointError(f"{path} is not a charrnn checkpoint (or is corrupt): {problem}")


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All entries of the file at ``path``, read eagerly, with the format checked."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: check the path, or train a run "
                              "first with 'charrnn train'")
    # Checked first so random bytes get a plain message, not numpy's guess that they are a
    # pickle. A truncated .npz fails here too: a zip's directory sits at its very end.
    if not zipfile.is_zipfile(path):
        raise _corrupt(path, "it is not an .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise _corrupt(path, f"{type(err).__name__}: {err}") from None
    version = arrays.get("format_version")
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise _corrupt(path, "it has no format_version")
    if int(version) != FORMAT_VERSION:
        raise _corrupt(path, f"format version {int(version)}, but this charrnn-edu reads "
                             f"version {FORMAT_VERSION} (use the charrnn-edu that wrote it)")
    missing = [name for name in _KEYS if name not in arrays]
    if missing:
        raise _corrupt(path, f"missing {', '.join(missing)}")
    return arrays


def _expect(path: Path, name: str, array: np.ndarray, shape: tuple[int, ...],
            kinds: str) -> None:
    """Refuse an entry of the wrong shape or dtype kind ("f" float, "i" int, "U" string, ...)."""
    if array.shape != shape or array.dtype.kind not in kinds:
        raise _corrupt(path, f"{name} is {array.dtype} of shape {array.shape}, expected "
                             f"shape {shape} (dtype kind {kinds!r})")


def _read(path: Path) -> tuple[Trainer, dict[str, str]]:
    """The trainer stored at ``path`` (with empty ``data``) and its corpus name, sha, encoding.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, or its entries do not fit together.
    """
    arrays = _read_arrays(path)
    for name in _STRINGS:
        _expect(path, name, arrays[name], (), "U")
    for name in _INTS:
        _expect(path, name, arrays[name], (), "iu")
    for name in _FLOATS:
        _expect(path, name, arrays[name], (), "f")
    _expect(path, "memory_started", arrays["memory_started"], (), "b")
    try:
        strings = {name: str(arrays[name]) for name in _STRINGS}
        settings = Settings(**json.loads(strings["settings"]))
        vocab = Vocabulary(strings["vocabulary"])
        samples = [Sample(int(s["iteration"]), float(s["smooth_loss"]), str(s["text"]))
                   for s in json.loads(strings["samples"])]
        state = json.loads(strings["rng_state"])
        # PCG64() seeds itself from the operating system, but the assignment then overwrites
        # its whole state (128-bit state and increment, and any buffered 32-bit half).
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state
        ints = {name: int(arrays[name]) for name in _INTS}
        floats = {name: float(arrays[name]) for name in _FLOATS}
        started = bool(arrays["memory_started"])
    except (TypeError, ValueError, KeyError) as err:     # JSONDecodeError is a ValueError
        raise _corrupt(path, f"{type(err).__name__}: {err}") from None

    m, K = settings.hidden, len(vocab)
    shapes = {"b": (m, 1), "c": (K, 1), "U": (m, K), "W": (m, m), "V": (K, m)}
    for name, shape in shapes.items():
        for prefix in ("", "memory_", "best_"):
            _expect(path, prefix + name, arrays[prefix + name], shape, "f")
    _expect(path, "h", arrays["h"], (m, 1), "f")
    for name in ("losses", "smooth_losses"):
        _expect(path, name, arrays[name], (ints["iteration"],), "f")
    _expect(path, "epoch_starts", arrays["epoch_starts"], (ints["epoch"],), "iu")

    def params(prefix: str) -> RNN:
        return RNN(*(arrays[prefix + name] for name in _PARAMS))

    optimizer: AdaGrad | Adam
    if settings.optimizer == "adam":
        adam_keys = [*(f"first_{n}" for n in _PARAMS), "adam_t"]
        missing = [name for name in adam_keys if name not in arrays]
        if missing:
            raise _corrupt(path, f"missing {', '.join(missing)}")
        for name, shape in shapes.items():
            _expect(path, "first_" + name, arrays["first_" + name], shape, "f")
        _expect(path, "adam_t", arrays["adam_t"], (), "iu")
        optimizer = Adam(eta=settings.eta, eps=floats["optimizer_eps"],
                         first=params("first_") if started else None,
                         second=params("memory_") if started else None,
                         t=int(arrays["adam_t"]))
    else:
        optimizer = AdaGrad(eta=settings.eta, eps=floats["optimizer_eps"],
                            memory=params("memory_") if started else None)
    trainer = Trainer(
        data=np.empty(0, dtype=np.int64), vocab=vocab, settings=settings, rnn=params(""),
        optimizer=optimizer, rng=rng, h=arrays["h"], best=params("best_"),
        e=ints["e"], iteration=ints["iteration"], epoch=ints["epoch"],
        smooth_loss=floats["smooth_loss"], best_loss=floats["best_loss"],
        best_iteration=ints["best_iteration"],
        # .tolist() gives Python floats and ints, as the training loop appends them.
        losses=arrays["losses"].tolist(), smooth_losses=arrays["smooth_losses"].tolist(),
        epoch_starts=arrays["epoch_starts"].tolist(), samples=samples)
    corpus = {name: strings[name] for name in ("corpus_name", "corpus_sha256", "encoding")}
    return trainer, corpus


def _characters(chars: set[str]) -> str:
    shown = ", ".join(repr(ch) for ch in sorted(chars)[:10])
    return shown + (f" and {len(chars) - 10} more" if len(chars) > 10 else "")


def _check_text(path: Path, vocab: Vocabulary, corpus: dict[str, str], text: str,
                given_sha: str | None) -> None:
    """Refuse ``text`` unless it is the text the checkpoint was trained on."""
    fix = "pass the same --data and --encoding as when training"
    name, saved_sha, encoding = corpus["corpus_name"], corpus["corpus_sha256"], corpus["encoding"]
    # The vocabulary first: its message names the characters, the hash's cannot.
    unknown = set(text) - set(vocab.chars)
    if unknown:
        lacking = set(vocab.chars) - set(text)
        also = f", and it lacks {_characters(lacking)}" if lacking else ""
        raise CheckpointError(
            f"{path} was trained on {name}, whose vocabulary of {len(vocab)} characters does "
            f"not match the given text: the text has {_characters(unknown)} that the "
            f"vocabulary lacks{also}; {fix}")
    # Hashing with the saved encoding tells whether this is the very text trained on; a
    # caller's hash of the file's bytes alone would miss the same file read with another
    # encoding. Both must match.
    try:
        own_sha = _sha256(text, encoding)
    except UnicodeEncodeError:
        own_sha = f"(not encodable in {encoding})"
    for sha in (given_sha, own_sha):
        if sha is not None and sha != saved_sha:
            raise CheckpointError(
                f"{path} was trained on {name} with sha256 {saved_sha[:12]}, but the given "
                f"text has sha256 {sha[:12]}; {fix}")


def load(path: str | os.PathLike[str], text: str | None = None, *,
         corpus_sha256: str | None = None) -> Trainer:
    """Rebuild the :class:`Trainer` saved at ``path``, ready to continue bit for bit.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    text : str or None
        The training text. A checkpoint does not carry its corpus, so continuing to train
        needs it: it is checked against the saved vocabulary and SHA-256, then encoded with
        the saved vocabulary into ``data``, shape (n,). With ``None`` the trainer is for
        inspection and sampling only: ``data`` is an empty int64 array of shape (0,), and
        :meth:`Trainer.step` must not be called.
    corpus_sha256 : str or None
        The caller's :func:`corpus_sha256` of the text's file, checked too if given.

    Returns
    -------
    Trainer
        Parameters, optimiser state, best parameters, hidden state, position, counters, loss
        history, samples and random generator exactly as saved; ``stop_requested`` False.

    Raises
    ------
    CheckpointError
        If there is no file at ``path``, it is not a valid checkpoint of this format
        version, or ``text`` is not the text it was trained on (the message says which
        characters or which hashes differ).
    """
    path = Path(path)
    trainer, corpus = _read(path)
    if text is None:
        if corpus_sha256 is not None and corpus_sha256 != corpus["corpus_sha256"]:
            raise CheckpointError(
                f"{path} was trained on {corpus['corpus_name']} with sha256 "
                f"{corpus['corpus_sha256'][:12]}, but the given sha256 is {corpus_sha256[:12]}; "
                "pass the same --data and --encoding as when training")
        return trainer
    _check_text(path, trainer.vocab, corpus, text, corpus_sha256)
    trainer.data = trainer.vocab.encode(text)                             # (n,)
    return trainer


def load_model(path: str | os.PathLike[str],
               best: bool = False) -> tuple[RNN, Vocabulary, dict[str, Any]]:
    """The parameters and vocabulary saved at ``path``, for sampling.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    best : bool
        Return the parameters with the lowest smooth loss instead of the latest ones.

    Returns
    -------
    rnn : RNN
        b (m, 1), c (K, 1), U (m, K), W (m, m), V (K, m).
    vocab : Vocabulary
        The K characters the ids stand for.
    meta : dict
        ``settings`` (a :class:`Settings`), ``iteration``, ``epoch``, ``smooth_loss``,
        ``best_iteration``, ``best_loss``, ``best`` (which parameters these are),
        ``corpus_name``, ``corpus_sha256`` and ``encoding``.

    Raises
    ------
    CheckpointError
        If there is no file at ``path`` or it is not a valid checkpoint.
    """
    trainer, corpus = _read(Path(path))
    meta: dict[str, Any] = {
        "settings": trainer.settings, "iteration": trainer.iteration, "epoch": trainer.epoch,
        "smooth_loss": trainer.smooth_loss, "best_iteration": trainer.best_iteration,
        "best_loss": trainer.best_loss, "best": best, **corpus}
    return (trainer.best if best else trainer.rnn), trainer.vocab, meta
