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
from functools import partial
from types import SimpleNamespace

import numpy as np

from charrnn_edu.adagrad import clip
from charrnn_edu.bptt import Cache
from charrnn_edu.forward import RNN
from charrnn_edu.sampling import sample
from charrnn_edu.settings import Settings
from charrnn_edu.training import Trainer

__all__ = ["ROUTES", "Moment", "gradients_from_steps", "one_number", "train_side_by_side"]

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


def one_number(value: object, what: str) -> float:
    """``value`` as a float: a numpy scalar or 0-d array is one (cross_entropy returns one).

    Raises
    ------
    ValueError
        If ``value`` is not a single real number; the message shows its type and shape.
    """
    array = np.asarray(value) if not isinstance(value, str) else None
    if array is None or array.size != 1 or array.dtype.kind not in "biuf":
        shape = "" if array is None else f" of shape {array.shape}, dtype {array.dtype}"
        raise ValueError(f"{what} must be one real number, got {type(value).__name__}{shape}")
    return float(array.reshape(()))


def train_side_by_side(f: SimpleNamespace, text: str, iterations: int, every: int, *,
                       hidden: int = 100, seq_length: int = 25, seed: int = 0,
                       before_call: Callable[[], None] = lambda: None) -> Iterator[Moment]:
    """Train both networks; yield a :class:`Moment` at iteration 1 and every ``every``.

    ``f`` holds the learner's functions: ``gradients`` or ``step`` and ``backward_step``,
    and ``adagrad_step``. ``before_call`` runs before each iteration (the sandbox's clock).
    Both are chapter 8's :class:`~charrnn_edu.training.Trainer` with the report's settings:
    the package's computes its update by chapters 4 and 6, the learner's by their functions.

    Raises
    ------
    FloatingPointError
        If the learner's loss stops being a finite number.
    """
    learner_gradients = f.gradients if hasattr(f, "gradients") else partial(gradients_from_steps, f)

    def by_the_learner(trainer: Trainer, x: np.ndarray, y: np.ndarray,
                       h: np.ndarray) -> tuple[float, np.ndarray]:
        before_call()
        loss, grads, h_next = learner_gradients(trainer.rnn, x, y, h)
        loss = one_number(loss, "your loss")
        if not np.isfinite(loss):
            raise FloatingPointError(f"your loss is {loss} at iteration {trainer.iteration + 1}")
        adagrad = trainer.optimizer       # the learner's step keeps its memory in AdaGrad's
        f.adagrad_step(trainer.rnn, clip(grads), adagrad.memory, adagrad.eta, adagrad.eps)
        return loss, h_next

    # No samples of the trainers' own (sample_length 0): a Moment draws both of its samples
    # with the same random numbers, so that equal networks write equal text.
    settings = Settings(hidden=hidden, seq_length=seq_length, seed=seed, sample_length=0)
    yours = Trainer.start(text, settings, update=by_the_learner)
    yours.optimizer.memory = yours.rnn.map(np.zeros_like)
    package = Trainer.start(text, settings, engine="chapters")
    for i in range(1, iterations + 1):
        yours.step()
        package.step()
        if i == 1 or i % every == 0 or i == iterations:
            x0 = int(yours.data[yours.e - seq_length])        # the first input of this piece
            texts = [yours.vocab.decode(sample(trainer.rnn, trainer.h, x0, 70,
                                               np.random.default_rng(i))[0])
                     for trainer in (yours, package)]
            yield Moment(i, yours.smooth_loss, package.smooth_loss, *texts)
