r"""Chapter 1 — Encoding: from text to integer ids and one-hot columns.

The network never sees characters. It sees the integer id of each character in a fixed
vocabulary of :math:`K` symbols, and as input the one-hot column :math:`x_t \in \{0, 1\}^K`
that has a single 1 at that id. Everything later in the package works with ids; the one-hot
form appears only in equations, because :math:`U x_t` is just column ``x_t`` of U.

Equation (1.1), one-hot encoding of a sequence of tau ids::

    X[k, t] = 1 if x_t == k else 0        X has shape (K, tau)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Vocabulary", "one_hot"]


# --8<-- [start:vocabulary]
@dataclass(frozen=True)
class Vocabulary:
    """The K distinct characters of a corpus, in sorted order, and their ids.

    Parameters
    ----------
    chars : str
        The characters, each once, sorted. Character ``chars[k]`` has id ``k``.

    Notes
    -----
    Sorting makes the ids a function of the *set* of characters only, so the same text gives
    the same ids in every process. ``list(set(text))`` would not: string hashing is salted
    per process, so set order changes from run to run and a saved model would decode to
    gibberish.
    """

    chars: str
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.chars:
            raise ValueError("the vocabulary is empty: build it from a non-empty text")
        if list(self.chars) != sorted(set(self.chars)):
            raise ValueError("vocabulary characters must be unique and sorted: "
                             "use Vocabulary.from_text(text)")
        object.__setattr__(self, "_ids", {ch: k for k, ch in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """Build the vocabulary of ``text``: its sorted unique characters."""
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        """K, the number of characters."""
        return len(self.chars)

    def __contains__(self, ch: object) -> bool:
        return ch in self._ids

    @property
    def dtype(self) -> np.dtype:
        """The smallest integer type that holds every id: uint8 for K <= 256, else uint16...

        A corpus of n characters then takes n bytes as ids, not the 8n of int64: a 50 MB
        text stays 50 MB.
        """
        return np.min_scalar_type(len(self) - 1)

    def encode(self, text: str) -> np.ndarray:
        """Map each character to its id.

        Returns
        -------
        ids : ndarray of shape (len(text),)
            The ids, of dtype :attr:`dtype`.

        Raises
        ------
        ValueError
            If a character is not in the vocabulary; the message names it and its position.
        """
        try:
            return np.fromiter((self._ids[ch] for ch in text), dtype=self.dtype,
                               count=len(text))
        except KeyError:
            pos, ch = next((i, ch) for i, ch in enumerate(text) if ch not in self._ids)
            raise ValueError(f"character {ch!r} at position {pos} is not in the vocabulary "
                             f"of {len(self)} characters: use text from the training corpus"
                             ) from None

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Map ids back to characters: ``decode(encode(s)) == s``."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        bad = (ids < 0) | (ids >= len(self))
        if bad.any():
            raise ValueError(f"id {ids[bad][0]} is outside the vocabulary's range "
                             f"0..{len(self) - 1}")
        return "".join([self.chars[i] for i in ids.tolist()])
# --8<-- [end:vocabulary]


# --8<-- [start:one-hot]
def one_hot(ids: Iterable[int] | np.ndarray, K: int) -> np.ndarray:
    """One-hot columns of a sequence of ids, equation (1.1).

    Parameters
    ----------
    ids : array_like of shape (tau,)
        Character ids in ``0..K-1``.
    K : int
        Vocabulary size.

    Returns
    -------
    X : ndarray of shape (K, tau)
        ``X[:, t]`` is the one-hot column of ``ids[t]``; columns are time steps.
    """
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if ids.size and (ids.min() < 0 or ids.max() >= K):
        raise ValueError(f"ids must lie in 0..{K - 1}; got values from {ids.min()} to {ids.max()}")
    X = np.zeros((K, ids.size))  # (K, tau)
    X[ids, np.arange(ids.size)] = 1.0
    return X
# --8<-- [end:one-hot]
