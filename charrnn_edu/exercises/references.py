"""The functions of the exercises that the chapters hold in another shape, written plainly.

Chapter 1 keeps the vocabulary in a class and chapter 6 keeps AdaGrad's memory (and Adam's
moments) in one; the
exercises ask for plain functions, and these are the package's versions of them. The checks
compare them with the chapters' own classes, and the bug lab plants its mistakes in them.
"""

from __future__ import annotations

import numpy as np

from charrnn_edu.forward import RNN

__all__ = ["vocabulary", "encode", "decode", "adagrad_step", "adam_step"]


def vocabulary(text: str) -> str:
    """The vocabulary of ``text``: its distinct characters, each once, in sorted order.

    Parameters
    ----------
    text : str
        A non-empty corpus.

    Returns
    -------
    chars : str
        Character ``chars[k]`` has id ``k``. Sorted, so that the ids depend only on the set
        of characters: the order of ``set(text)`` changes from process to process.
    """
    return "".join(sorted(set(text)))


def encode(text: str, chars: str) -> np.ndarray:
    """The id of each character of ``text``: its position in the vocabulary ``chars``.

    Returns
    -------
    ids : ndarray of shape (len(text),), dtype int64
    """
    ids = {ch: k for k, ch in enumerate(chars)}
    return np.array([ids[ch] for ch in text], dtype=np.int64)


def decode(ids: np.ndarray, chars: str) -> str:
    """The text of a sequence of ids: ``decode(encode(s, chars), chars) == s``.

    Returns
    -------
    str
        The characters ``chars[ids[0]], chars[ids[1]], ...`` joined into one string.
    """
    return "".join(chars[i] for i in np.asarray(ids).tolist())


def adagrad_step(rnn: RNN, grads: RNN, memory: RNN, eta: float = 0.1,
                 eps: float = 1e-8) -> None:
    """One AdaGrad step, equations (6.2)-(6.3), updating ``memory`` and ``rnn`` in place.

    Parameters
    ----------
    rnn : RNN
        The parameters theta (b, c, U, W, V): their arrays change in place.
    grads : RNN
        The gradients g, one array per parameter; left unchanged.
    memory : RNN
        The accumulators m_theta (zeros before the first step); they change in place.
    eta : float
        Learning rate.
    eps : float
        Added *inside* the square root.
    """
    for theta, g, m_theta in zip(rnn, grads, memory, strict=True):
        m_theta += g * g                                  # (6.2)
        theta -= eta * g / np.sqrt(m_theta + eps)         # (6.3)


def adam_step(rnn: RNN, grads: RNN, first: RNN, second: RNN, t: int, eta: float = 0.001,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam step, equations (6.4)-(6.6), updating ``first``, ``second`` and ``rnn`` in place.

    Parameters
    ----------
    rnn : RNN
        The parameters theta (b, c, U, W, V): their arrays change in place.
    grads : RNN
        The gradients g, one array per parameter; left unchanged.
    first, second : RNN
        The moments s_theta and r_theta (zeros before the first step); they change in place.
    t : int
        The number of this step: 1 for the first.
    eta : float
        Learning rate.
    beta1, beta2 : float
        Decay rates of the two moving averages.
    eps : float
        Added *outside* the square root.
    """
    for theta, g, s, r in zip(rnn, grads, first, second, strict=True):
        s[...] = beta1 * s + (1 - beta1) * g                       # (6.4)
        r[...] = beta2 * r + (1 - beta2) * g * g                   # (6.5)
        s_hat, r_hat = s / (1 - beta1 ** t), r / (1 - beta2 ** t)  # started at 0: corrected
        theta -= eta * s_hat / (np.sqrt(r_hat) + eps)              # (6.6)
