r"""Training the network with the learner's own functions, side by side with the package's.

Both networks start from the same parameters and read the same pieces of the same text; one
takes its gradients and AdaGrad steps from the learner's functions, the other from chapters
4 and 6. If the learner's functions are right, the two smooth losses agree and the two
samples, drawn with the same random numbers, are the same text.

The learner's gradients come from their ``bptt`` exercise, or, without it, from their
``forward-step`` and ``backward-step`` exercises looped over the sequence as chapter 4 does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from charrnn_edu.adagrad import AdaGrad, clip
from charrnn_edu.bptt import Cache, gradients
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.forward import RNN
from charrnn_edu.sampling import sample

__all__ = ["ROUTES", "Moment", "gradients_from_steps", "train_side_by_side"]

# The exercises whose functions give the gradients and the update, in order of preference.
ROUTES = (("bptt", "adagrad"), ("forward-step", "backward-step", "adagrad"))


@dataclass(frozen=True)
class Moment:
    """Both networks at one iteration: smooth losses (8.1) and a sample of each."""

    iteration: int
    yours: float
    package: float
    your_sample: str
    package_sample: str


def gradients_from_steps(f: SimpleNamespace, rnn: RNN, x: np.ndarray, y: np.ndarray,
                         h0: np.ndarray) -> tuple[float, RNN, np.ndarray]:
    """Chapter 4's ``gradients``, with the learner's ``step`` and ``backward_step``."""
    hs, ps = [h0], []
    for x_t in x:
        _, h, _, p = f.step(rnn, hs[-1], int(x_t))     # (2.1)-(2.4)
        hs.append(h)
        ps.append(p)
    loss = -sum(float(np.log(p[y_t, 0])) for p, y_t in zip(ps, y, strict=True))   # (3.1)
    grads, da = rnn.map(np.zeros_like), np.zeros_like(h0)
    for t in reversed(range(len(x))):
        da, terms = f.backward_step(rnn, Cache(h_prev=hs[t], x_t=int(x[t]), h_t=hs[t + 1],
                                               p_t=ps[t]), int(y[t]), da)
        grads = grads.map(np.add, terms)
    return loss, grads, hs[-1]


def train_side_by_side(f: SimpleNamespace, text: str, iterations: int, every: int, *,
                       hidden: int = 100, seq_length: int = 25, seed: int = 0,
                       before_call: Callable[[], None] = lambda: None) -> Iterator[Moment]:
    """Train both networks; yield a :class:`Moment` at iteration 1 and every ``every``.

    ``f`` holds the learner's functions: ``gradients`` or ``step`` and ``backward_step``,
    and ``adagrad_step``. ``before_call`` runs before each iteration (the sandbox's clock).

    Raises
    ------
    FloatingPointError
        If the learner's loss stops being a finite number.
    """
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    start = RNN.init(len(vocab), hidden, 0.01, rng=np.random.default_rng(seed))
    mine, theirs, memory, adagrad = start.copy(), start.copy(), start.map(np.zeros_like), AdaGrad()
    h_mine = h_theirs = np.zeros((hidden, 1))
    smooth_mine = smooth_theirs = 0.0
    e = 0
    learner_gradients = (f.gradients if hasattr(f, "gradients")
                         else lambda *problem: gradients_from_steps(f, *problem))
    for i in range(1, iterations + 1):
        if e + seq_length + 1 > len(ids):
            e, h_mine, h_theirs = 0, np.zeros((hidden, 1)), np.zeros((hidden, 1))
        x, y = ids[e:e + seq_length], ids[e + 1:e + seq_length + 1]
        before_call()
        loss_mine, grads, h_mine = learner_gradients(mine, x, y, h_mine)
        if not np.isfinite(loss_mine):
            raise FloatingPointError(f"your loss is {loss_mine} at iteration {i}")
        f.adagrad_step(mine, clip(grads), memory, adagrad.eta, adagrad.eps)
        loss_theirs, grads, h_theirs = gradients(theirs, x, y, h_theirs)
        adagrad.step(theirs, clip(grads))
        smooth_mine = loss_mine if i == 1 else 0.999 * smooth_mine + 0.001 * loss_mine  # (8.1)
        smooth_theirs = loss_theirs if i == 1 else 0.999 * smooth_theirs + 0.001 * loss_theirs
        if i == 1 or i % every == 0 or i == iterations:
            texts = [vocab.decode(sample(rnn, h, int(x[0]), 70, np.random.default_rng(i))[0])
                     for rnn, h in ((mine, h_mine), (theirs, h_theirs))]
            yield Moment(i, smooth_mine, smooth_theirs, *texts)
        e += seq_length
