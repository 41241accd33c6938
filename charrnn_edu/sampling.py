r"""Chapter 7 — Synthesising text.

A trained network turns into a text generator by feeding it its own output. From a hidden
state h and a character x, one step of (2.1)–(2.4) gives the distribution p of the next
character; we draw one character from p, and it becomes the next input::

    (7.1)  h <- tanh(W h + U x + b),   p = softmax((V h + c) / T),   x ~ p

**Drawing from p**, the report's way: with the cumulative sums c_k = p_1 + ... + p_k and one
uniform number u in [0, 1), pick the first k with c_k > u. Each k is chosen with probability
c_k - c_{k-1} = p_k.

**Temperature** T rescales the logits before the softmax: T < 1 sharpens p towards the most
likely character (T -> 0 is greedy decoding, always the argmax), T > 1 flattens it towards
uniform. **Nucleus (top-p) sampling** keeps only the smallest set of most likely characters
whose probability reaches top_p, renormalised, so rare junk characters are never drawn.

**Priming** runs a given prefix through the network first, one step (7.1) per character with
its p unused, so the generated text continues that prefix from the state it leaves. Sampling
returns the state it ends in as well, so a long text can come in pieces, each continuing
where the last stopped.

**Any cell.** Nothing here but :func:`next_distribution` knows what the network is. Every
function that steps the network takes that step as an argument, ``next_distribution``, so
the gated cells of chapter 10 sample through the same code by passing their own step
(``charrnn_edu.cells``); the default is chapter 2's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from charrnn_edu.encoding import Vocabulary
from charrnn_edu.forward import RNN, softmax, step

__all__ = ["next_distribution", "Step", "nucleus", "draw", "sample", "greedy", "prime",
           "generate_chunks", "generate"]


# --8<-- [start:next-distribution]
def next_distribution(rnn: RNN, h: np.ndarray, x: int,
                      temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One step of (7.1): the new hidden state and the distribution of the next character.

    Parameters
    ----------
    rnn : RNN
    h : ndarray of shape (m, 1)
        The hidden state before this step.
    x : int
        Id of the current character.
    temperature : float
        T > 0; the logits o are divided by T before the softmax.

    Returns
    -------
    h : ndarray of shape (m, 1)
        The new hidden state.
    p : ndarray of shape (K,)
        softmax(o / T), flattened to a vector for drawing.
    """
    now = step(rnn, h, x)                               # chapter 2: (2.1)-(2.4)
    return now.h, softmax(now.o / temperature)[:, 0]    # (K,); T = 1 gives now.p
# --8<-- [end:next-distribution]


Step = Callable[[Any, np.ndarray, int, float], tuple[np.ndarray, np.ndarray]]
"""What :func:`next_distribution` is: (network, state, x, T) to (new state, p of shape (K,))."""


# --8<-- [start:nucleus]
def nucleus(p: np.ndarray, top_p: float) -> np.ndarray:
    """Keep the smallest set of most likely characters whose probability reaches ``top_p``.

    Parameters
    ----------
    p : ndarray of shape (K,)
    top_p : float in (0, 1]

    Returns
    -------
    ndarray of shape (K,)
        p with every other character set to 0, renormalised to sum to 1.
    """
    order = np.argsort(-p, kind="stable")                     # most likely first
    # The mass of the characters before each one; cumsum - p would round (0.9 - 0.3 is
    # 0.5999...), so shift the cumulative sum instead.
    mass_before = np.concatenate([[0.0], np.cumsum(p[order])[:-1]])
    kept = order[mass_before < top_p]                         # always keeps the argmax
    q = np.zeros_like(p)
    q[kept] = p[kept]
    return q / q.sum()
# --8<-- [end:nucleus]


# --8<-- [start:draw]
def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """Draw an id from ``p`` with one uniform number and the cumulative sums (the report's way).

    Scaling u by the total keeps rounding (cumsum ending at 0.9999999) from running off the end.
    """
    cumulative = np.cumsum(p)
    u = rng.uniform() * cumulative[-1]
    return int(np.searchsorted(cumulative, u, side="right"))
# --8<-- [end:draw]


def _check_options(n: int, temperature: float, top_p: float) -> None:
    if n < 0:
        raise ValueError(f"the number of characters to sample must be at least 0, got {n}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature} "
                         "(for temperature 0 use greedy decoding: --greedy)")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must lie in (0, 1], got {top_p}")


# --8<-- [start:sample]
def sample(rnn: RNN, h0: np.ndarray, x0: int, n: int, rng: np.random.Generator,
           temperature: float = 1.0, top_p: float = 1.0, *,
           next_distribution: Step = next_distribution) -> tuple[np.ndarray, np.ndarray]:
    """Synthesise ``n`` characters, equation (7.1), drawing each from p.

    Parameters
    ----------
    rnn : RNN
    h0 : ndarray of shape (m, 1)
        Hidden state before the first step.
    x0 : int
        Id of the first input character (not part of the output).
    n : int
        Number of characters to generate.
    rng : numpy.random.Generator
        The only source of randomness: one uniform draw per character.
    temperature : float
        T > 0 in (7.1).
    top_p : float in (0, 1]
        Nucleus sampling; 1 keeps every character.
    next_distribution : callable
        One step (7.1) of the network: chapter 2's unless another cell's is given.

    Returns
    -------
    ids : ndarray of shape (n,), dtype int64
        x_1, ..., x_n: the characters drawn.
    h : ndarray of shape (m, 1)
        The hidden state after the last step (``h0`` if n = 0). With ``ids[-1]`` as the next
        input, ``sample`` continues the same text where it stopped.
    """
    _check_options(n, temperature, top_p)
    ids, h, x = np.zeros(n, dtype=np.int64), h0, x0              # (n,)
    for t in range(n):
        h, p = next_distribution(rnn, h, x, temperature)         # (7.1): h and p
        if top_p < 1:
            p = nucleus(p, top_p)
        x = draw(p, rng)                 # (7.1): x ~ p, the character drawn is the next input
        ids[t] = x
    return ids, h
# --8<-- [end:sample]


def greedy(rnn: RNN, h0: np.ndarray, x0: int, n: int, *,
           next_distribution: Step = next_distribution) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`sample`, but always take the most likely character (no randomness)."""
    _check_options(n, 1.0, 1.0)
    ids, h, x = np.zeros(n, dtype=np.int64), h0, x0              # (n,)
    for t in range(n):
        h, p = next_distribution(rnn, h, x)
        x = int(np.argmax(p))
        ids[t] = x
    return ids, h


# --8<-- [start:prime]
def prime(rnn: RNN, h0: np.ndarray, ids: np.ndarray, *,
          next_distribution: Step = next_distribution) -> np.ndarray:
    """The hidden state after reading ``ids``, shape (m, 1): chapter 2's forward pass, step by step.

    Reading nothing leaves the state as it was: ``h0``.
    """
    h = h0
    for x in ids:
        h, _ = next_distribution(rnn, h, int(x))     # p is not needed: the prefix is given
    return h
# --8<-- [end:prime]


# --8<-- [start:generate]
def generate_chunks(rnn: RNN, vocab: Vocabulary, n: int, rng: np.random.Generator, *,
                    prefix: str = "", temperature: float = 1.0, top_p: float = 1.0,
                    h0: np.ndarray | None = None, greedy_decoding: bool = False,
                    chunk: int = 1000,
                    next_distribution: Step = next_distribution) -> Iterator[str]:
    """Text continuing ``prefix``, as it comes: the prefix, then n characters, chunk at a time.

    The prefix's last character is the first input; the ones before it are read by
    :func:`prime`. With no prefix, generation starts from a newline (the start of a line) if
    the vocabulary has one, else from its first character. Each piece continues from the
    hidden state and the last character of the one before, so the pieces join into the text
    one call of :func:`sample` would give. With ``greedy_decoding`` the characters come from
    :func:`greedy` (no randomness; temperature and top_p are ignored). ``h0`` is zeros of
    shape (m, 1) unless given; a cell with another state passes its own with its
    ``next_distribution``.

    Raises
    ------
    ValueError
        When the first piece is asked for: if a prefix character is not in the vocabulary
        (the message names it), the vocabulary's size is not the model's K, or an option is
        out of range.
    """
    if len(vocab) != rnn.K:
        raise ValueError(f"the vocabulary has {len(vocab)} characters but the model has "
                         f"K = {rnn.K}: use the vocabulary the model was trained with")
    ids = vocab.encode(prefix or ("\n" if "\n" in vocab else vocab.chars[0]))
    if greedy_decoding:
        temperature, top_p = 1.0, 1.0                         # not used: nothing to check
    _check_options(n, temperature, top_p)                     # now, even if n = 0
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 character, got {chunk}")
    h = prime(rnn, np.zeros((rnn.m, 1)) if h0 is None else h0, ids[:-1],
              next_distribution=next_distribution)
    x = int(ids[-1])
    yield prefix
    for done in range(0, n, chunk):
        k = min(chunk, n - done)
        new, h = (greedy(rnn, h, x, k, next_distribution=next_distribution)
                  if greedy_decoding else
                  sample(rnn, h, x, k, rng, temperature, top_p,
                         next_distribution=next_distribution))             # (k,), (m, 1)
        x = int(new[-1])
        yield vocab.decode(new)


def generate(rnn: RNN, vocab: Vocabulary, n: int, rng: np.random.Generator, *,
             prefix: str = "", temperature: float = 1.0, top_p: float = 1.0,
             h0: np.ndarray | None = None, greedy_decoding: bool = False,
             next_distribution: Step = next_distribution) -> str:
    """Text continuing ``prefix``: the prefix itself followed by ``n`` sampled characters.

    All the pieces of :func:`generate_chunks` (same arguments), joined.

    Raises
    ------
    ValueError
        If a prefix character is not in the vocabulary (the message names it).
    """
    return "".join(generate_chunks(rnn, vocab, n, rng, prefix=prefix, temperature=temperature,
                                   top_p=top_p, h0=h0, greedy_decoding=greedy_decoding,
                                   next_distribution=next_distribution))
# --8<-- [end:generate]
