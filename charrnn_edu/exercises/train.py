r"""Training with the learner's own functions, in lockstep with the package's.

At every iteration both networks take one step from the same parameters, the same optimiser
state, the same hidden state and the same piece of text: the package's by chapters 4 and 6,
the learner's by their gradients and their AdaGrad (or Adam) step. Then the learner's
network is set back to the package's, so the next iteration starts level again. What is
compared is one step, never a trajectory: the loss, the last hidden state, the five
gradients, the step each parameter takes and the optimiser's state, each within
:data:`STEP_RTOL` and :data:`STEP_ATOL` of the package's.

Why the tolerance, and why lockstep. Correct code may add the same numbers in another order
(the vectorised ``dV = G @ H.T`` instead of chapter 4's loop over t): one step then differs
by rounding, about 1e-16 relative, which the tolerance leaves ten million times over. Left to
run free, those roundings do not stay small: AdaGrad divides each step by the square root of
its memory, which stays tiny for characters seen rarely, so a difference in the last digit of
a gradient becomes a visible difference of the step, and after a thousand iterations two
correct programs have different parameters, losses (85.8 and 87.0 in one learner's run) and
samples. A real mistake differs by far more than rounding in the very step it is made.

The learner's gradients come from their ``bptt`` exercise, or, without it, from their
``forward-step`` and ``backward-step`` exercises looped over the sequence as chapter 4 does.
Or from their own code, as they wrote it, in their layout and loss, with their own
optimiser step (:class:`~charrnn_edu.exercises.own_code.YourCode`). Their function does not
return the last hidden state, so the next piece starts from the package's h (the same
parameters give the same h; a wrong forward pass shows in the loss and gradients).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from charrnn_edu.adagrad import clip
from charrnn_edu.bptt import Cache, gradients
from charrnn_edu.exercises.own_code import YourCode
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.sampling import sample
from charrnn_edu.settings import Settings
from charrnn_edu.spec.properties import assert_close
from charrnn_edu.training import Trainer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ROUTES", "STEP_RTOL", "STEP_ATOL", "Moment", "StepDisagrees", "routes",
           "gradients_from_steps", "one_number", "train_in_lockstep", "draw_free_running"]

# The exercises whose functions give the gradients, in order of preference; the optimiser's
# exercise (adagrad or adam) comes after them.
ROUTES = (("bptt",), ("forward-step", "backward-step"))

STEP_RTOL, STEP_ATOL = 1e-7, 1e-9
"""How far one step of the learner's may be from the package's: rounding, not a mistake."""


def routes(optimizer: str) -> tuple[tuple[str, ...], ...]:
    """The exercises each way of training needs, with ``optimizer`` ("adagrad" or "adam")."""
    return tuple((*route, optimizer) for route in ROUTES)


@dataclass(frozen=True)
class Moment:
    """One iteration: each side's smooth loss (8.1), the largest difference so far, a sample.

    ``largest`` is the largest difference of any array at any step so far, as a fraction of
    what the tolerance allows there (1 would be the limit).
    """

    iteration: int
    yours: float
    package: float
    largest: float
    your_sample: str


class StepDisagrees(Exception):
    """One step of the learner's differs from the package's from the same starting point."""

    def __init__(self, iteration: int, array: str, detail: str) -> None:
        super().__init__(f"iteration {iteration:,}: {detail}; both steps started from the "
                         "same parameters, so this is more than rounding")
        self.iteration, self.array = iteration, array


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


def _gradients(bptt: Callable, rnn: RNN, x: np.ndarray, y: np.ndarray, h: np.ndarray,
               mean: bool) -> tuple[float, RNN, np.ndarray]:
    """(loss, grads, h) of ``bptt``, divided by tau for the 2026 edition's mean loss."""
    loss, grads, h_next = bptt(rnn, x, y, h)
    loss = one_number(loss, "your loss")
    if mean:
        loss, grads = loss / len(x), grads.map(lambda g: g / len(x))
    return loss, grads, h_next


def _optimiser_step(f: SimpleNamespace, trainer: Trainer, grads: RNN) -> None:
    """The learner's AdaGrad or Adam step, on the state of the trainer's optimiser."""
    opt = trainer.optimizer
    if opt.name == "adam":
        if opt.first is None or opt.second is None:
            opt.first, opt.second = trainer.rnn.map(np.zeros_like), trainer.rnn.map(np.zeros_like)
        opt.t += 1
        f.adam_step(trainer.rnn, grads, opt.first, opt.second, opt.t, opt.eta, opt.beta1,
                    opt.beta2, opt.eps)
    else:
        if opt.memory is None:
            opt.memory = trainer.rnn.map(np.zeros_like)
        f.adagrad_step(trainer.rnn, grads, opt.memory, opt.eta, opt.eps)


def _state(trainer: Trainer) -> list[tuple[str, np.ndarray]]:
    """The optimiser's state arrays, named: AdaGrad's memory of b, or Adam's s and r of b."""
    opt = trainer.optimizer
    return [(f"{label} {name}", array)
            for attribute, label in (("memory", "AdaGrad's memory of"),
                                     ("first", "Adam's first moment s of"),
                                     ("second", "Adam's second moment r of"))
            if getattr(opt, attribute, None) is not None
            for name, array in zip(NAMES, getattr(opt, attribute), strict=True)]


def _level(yours: Trainer, package: Trainer) -> None:
    """Set the learner's trainer to the package's: the next step starts from the same point."""
    yours.rnn, yours.optimizer = package.rnn.copy(), copy.deepcopy(package.optimizer)
    yours.h, yours.e = package.h.copy(), package.e
    yours.iteration, yours.epoch, yours.smooth_loss = (package.iteration, package.epoch,
                                                       package.smooth_loss)


def _compare(iteration: int, pairs: list[tuple[str, object, object]]) -> float:
    """The largest difference as a fraction of the tolerance; StepDisagrees past it."""
    largest = 0.0
    for what, got, expected in pairs:
        got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
        try:
            assert_close(got, expected, STEP_RTOL, STEP_ATOL, what=what)
        except AssertionError as err:
            detail = (f"{what} differs: got {float(got):.9g}, expected {float(expected):.9g}"
                      if got.ndim == expected.ndim == 0 else str(err))
            raise StepDisagrees(iteration, what, detail) from None
        if got.size:
            allowed = STEP_ATOL + STEP_RTOL * np.abs(expected)
            largest = max(largest, float(np.max(np.abs(got - expected) / allowed)))
    return largest


def _other_loss(iteration: int, loss: float, expected: float, settings: Settings) -> None:
    """StepDisagrees naming the other loss if the learner's is the package's times tau or 1/tau."""
    tau, declared = settings.seq_length, settings.loss
    other, factor = ("mean", 1 / tau) if declared == "sum" else ("sum", tau)
    if tau > 1 and abs(loss - expected * factor) <= STEP_RTOL * abs(expected * factor):
        raise StepDisagrees(iteration, "the loss",
                            f"the loss differs: got {loss:.9g}, expected {expected:.9g}, the "
                            f"{other} where --loss {declared} was declared (a factor "
                            f"{'1/' if declared == 'sum' else ''}tau = "
                            f"{'1/' if declared == 'sum' else ''}{tau}): train with --loss "
                            f"{other}")


def train_in_lockstep(f: SimpleNamespace | YourCode, text: str, iterations: int, every: int, *,
                      settings: Settings = Settings(),
                      before_call: Callable[[], None] = lambda: None,
                      free: list[tuple[float, float]] | None = None) -> Iterator[Moment]:
    """Take every step both ways from the same point; yield a Moment at 1, every ``every``.

    ``f`` holds the learner's functions: ``gradients`` or ``step`` and ``backward_step``,
    and ``adagrad_step`` or ``adam_step`` (``settings.optimizer``); or it is
    :class:`YourCode`, the learner's own in their layout and ``settings.loss``, whose arrays
    are compared (and named, element by element) in that layout. ``before_call`` runs
    before each iteration (the sandbox's clock). Both sides are chapter 8's
    :class:`~charrnn_edu.training.Trainer`: the package's computes its update by chapters 4
    and 6, the learner's by their functions. Given a list ``free``, a third trainer runs
    the learner's functions free, never set back to the package's, and each iteration
    appends its smooth loss and the package's to ``free`` (:func:`draw_free_running`).

    Raises
    ------
    StepDisagrees
        At the first iteration where an array of the learner's step is off the package's.
    FloatingPointError
        If the learner's loss stops being a finite number.
    ShapeProblem
        If :class:`YourCode` returns arrays of the wrong kind or shape (one line).
    """
    mean = settings.loss == "mean"
    yours_own = isinstance(f, YourCode)
    bptt = (None if yours_own else f.gradients if hasattr(f, "gradients")
            else partial(gradients_from_steps, f))
    view = (lambda a: np.asarray(a).T) if yours_own and f.layout == "rows" else np.asarray

    def by_the_learner(seen: dict) -> Callable[[Trainer, np.ndarray, np.ndarray, np.ndarray],
                                               tuple[float, np.ndarray]]:
        """The learner's update, noting in ``seen`` both sides' loss, gradients and h."""
        def update(trainer: Trainer, x: np.ndarray, y: np.ndarray,
                   h: np.ndarray) -> tuple[float, np.ndarray]:
            before_call()
            seen["start"] = trainer.rnn.copy()
            seen["package"] = _gradients(gradients, seen["start"], x, y, h, mean)
            if yours_own:   # their h is not returned: the package's, from the same parameters
                loss, grads = f.gradients(trainer.rnn, x, y, h, settings.loss)
                h_next = seen["package"][2]
                seen["yours"] = loss, grads, h_next
            else:
                loss, grads, h_next = seen["yours"] = _gradients(bptt, trainer.rnn, x, y, h,
                                                                 mean)
            if not math.isfinite(loss):
                raise FloatingPointError(f"your loss is {loss} at iteration "
                                         f"{trainer.iteration + 1}")
            clipped = clip(grads, trainer.settings.clip)
            if yours_own:
                f.optimiser_step(trainer, clipped)
            else:
                _optimiser_step(f, trainer, clipped)
            return loss, h_next
        return update

    # The learner's trainer writes no samples of its own (sample_length 0): a Moment draws one.
    quiet = replace(settings, sample_length=0)
    seen: dict = {}
    yours = Trainer.start(text, quiet, update=by_the_learner(seen))
    package = Trainer.start(text, quiet, engine="chapters")
    alone = None if free is None else Trainer.start(text, quiet, update=by_the_learner({}))
    largest = 0.0
    for i in range(1, iterations + 1):
        yours.step()
        package.step()
        if alone is not None and free is not None:
            alone.step()
            free.append((alone.smooth_loss, package.smooth_loss))
        (loss, grads, h), (ref_loss, ref_grads, ref_h) = seen["yours"], seen["package"]
        pairs = [
            ("the loss", loss, ref_loss),
            *([] if yours_own else [("the last hidden state h", h, ref_h)]),
            *((f"dL/d{n}", g, r) for n, g, r in zip(NAMES, grads, ref_grads, strict=True)),
            *((f"the step of {n}", a - s, b - s) for n, a, b, s in
              zip(NAMES, yours.rnn, package.rnn, seen["start"], strict=True)),
            *((what, a, b) for (what, a), (_, b) in zip(_state(yours), _state(package),
                                                        strict=True))]
        if yours_own:
            _other_loss(i, loss, ref_loss, settings)
        largest = max(largest, _compare(i, [(w, view(a), view(b)) for w, a, b in pairs]))
        if i == 1 or i % every == 0 or i == iterations:
            x0 = int(yours.data[yours.e - settings.seq_length])   # this piece's first input
            text_ids, _ = sample(yours.rnn, yours.h, x0, 70, np.random.default_rng(i))
            yield Moment(i, yours.smooth_loss, package.smooth_loss, largest,
                         yours.vocab.decode(text_ids))
        _level(yours, package)


def draw_free_running(free: list[tuple[float, float]]) -> Figure:
    """The learner's smooth loss run free beside the package's, and how far they part.

    Left, the two smooth losses (8.1); right, their difference on a log scale. Correct code
    that adds in another order starts a rounding (1e-16) apart, and the optimiser's division
    by the root of small sums magnifies it step by step: the gap grows though every step,
    taken from the same point, agrees.
    """
    from matplotlib.figure import Figure

    curves = np.array(free, dtype=float).reshape(-1, 2)                 # (iterations, 2)
    iterations = np.arange(1, len(curves) + 1)
    fig = Figure(figsize=(10, 4), dpi=110, layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(iterations, curves[:, 1], color="tab:blue", linewidth=2.4, label="the package's")
    left.plot(iterations, curves[:, 0], color="tab:orange", linewidth=1.0, label="yours, run free")
    left.set_xlabel("iteration")
    left.set_ylabel("smooth loss (8.1)")
    left.legend(fontsize=8)
    gap = np.abs(curves[:, 0] - curves[:, 1])
    if (gap > 0).any():
        right.semilogy(iterations, np.where(gap > 0, gap, np.nan), color="tab:red",
                       linewidth=1.0)
    else:
        right.text(0.5, 0.5, "no difference: the two agree to the last bit", ha="center",
                   transform=right.transAxes)
    right.set_xlabel("iteration")
    right.set_ylabel("|yours - the package's|")
    right.set_title("rounding, magnified by the optimiser", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle("Run free, two programs part; in lockstep every step is compared",
                 fontsize=11)
    return fig
