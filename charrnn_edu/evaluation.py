"""Evaluation: a trained model's loss on a text, and what a run costs in memory.

Not a chapter: chapter 8's held-out loss (:func:`~charrnn_edu.training.held_out_loss`)
applied to the right text, with the checks a user's choice of text needs, and the memory
estimate that decides whether a run fits on this machine before it starts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from charrnn_edu.cells import CELLS
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import corpus_sha256
from charrnn_edu.training import Settings, held_out_loss, split_text

__all__ = ["Evaluation", "evaluate", "memory_estimate", "memory_parts", "physical_memory"]


@dataclass(frozen=True)
class Evaluation:
    """A model's loss on a text: what text, nats and bits per character, and K."""

    what: str
    nats: float
    bits: float
    K: int


def evaluate(rnn: Any, vocab: Vocabulary, settings: Settings, text: str, name: str,
             encoding: str, trained_sha: str) -> Evaluation:
    """The loss per character of a trained model (``rnn``, any cell's), on the right text.

    On the run's held-out part when ``text`` is the text it trained on (read with
    ``encoding``, its SHA-256 is ``trained_sha``), on all of ``text`` otherwise.

    Raises
    ------
    ValueError
        If the run trained on all of its text (nothing held out), the text has characters
        the model never saw, or it is too short.
    """
    same = corpus_sha256(text, encoding) == trained_sha
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

    The sum of :func:`memory_parts`.
    """
    return sum(memory_parts(n_chars, K, settings).values())


def memory_parts(n_chars: int, K: int, settings: Settings) -> dict[str, int]:
    """Bytes a run needs for its parameters, the engine's buffers and the text, roughly.

    The parameters (m + K + mK + m^2 + Km numbers for the vanilla cell, G(m^2 + mK + m) +
    Km + K for a cell with G gate blocks) exist about ten times over: the current and best
    copies, the gradients and their clipped copy, the optimiser's one or two accumulators
    and the engine's flat buffers; the engine's (tau, B, Gm + K) buffers grow with the
    sequence length and the streams (a gated cell keeps each gate of every step for the
    backward pass). The corpus is one byte per character for K <= 256.
    """
    m, cell = settings.hidden, CELLS[settings.cell]
    parameters = cell.parameters(m, K)
    itemsize = np.dtype(settings.dtype).itemsize
    # The engine's buffers hold a few (tau, B, Gm + K) arrays for B streams.
    buffers = 8 * settings.seq_length * settings.batch * (cell.gates * m + K)
    return {"parameters": 10 * parameters * itemsize, "buffers": buffers * itemsize,
            "text": n_chars * np.min_scalar_type(K - 1).itemsize}


def physical_memory() -> int:
    """Bytes of physical memory this machine has.

    Raises
    ------
    OSError
        If the operating system does not say.
    """
    if hasattr(os, "sysconf"):                                   # POSIX
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    # Windows has no sysconf; the standard library's only way in is the Win32 call itself.
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    *((name, ctypes.c_ulonglong) for name in (
                        "ullTotalPhys", "ullAvailPhys", "ullTotalPageFile", "ullAvailPageFile",
                        "ullTotalVirtual", "ullAvailVirtual", "ullAvailExtendedVirtual"))]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        raise OSError("GlobalMemoryStatusEx failed: cannot tell how much memory this machine "
                      "has")
    return int(status.ullTotalPhys)
