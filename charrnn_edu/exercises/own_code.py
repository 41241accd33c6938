r"""A learner's own code in lockstep training: their loss, gradients and step, in their layout.

The contract of ``charrnn exercises train --yours``: ``loss_and_gradients(params, x, y, h0)
-> (loss, grads)`` as for ``charrnn gradcheck --yours`` (:mod:`charrnn_edu.yours`), and an
optimiser step in the same layout, parallel to :mod:`~charrnn_edu.exercises.references`::

    adagrad_step(params, grads, memory, eta, eps)
    adam_step(params, grads, first, second, t, eta, beta1, beta2, eps)

``params``, ``grads`` and the state (AdaGrad's memory, Adam's moments s and r, zeros before
the first step) are dicts keyed b, c, U, W, V in the learner's layout; the step changes
``params`` and the state in place and returns nothing; ``t`` is 1 at the first step.
:class:`YourCode` calls them through the sandbox and converts every array to and from the
report's columns (:mod:`charrnn_edu.conventions`), so that
:func:`~charrnn_edu.exercises.train.train_in_lockstep` trains them as it trains the
exercises' functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from charrnn_edu.conventions import (
    Problem,
    ShapeProblem,
    expected_shapes,
    from_layout,
    other_layout,
    to_layout,
)
from charrnn_edu.exercises.sandbox import RAISED, Learner
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.training import Trainer
from charrnn_edu.yours import read_result

__all__ = ["YourCode", "contracts"]


@dataclass(frozen=True)
class YourCode:
    """A learner's own ``loss_and_gradients`` and optimiser step, in their layout.

    Attributes
    ----------
    learner : Learner
        Where the functions run: the sandbox, or :class:`~charrnn_edu.exercises.sandbox.InProcess`.
    layout : {"columns", "rows"}
    function : str
        The name of ``loss_and_gradients(params, x, y, h0) -> (loss, grads)``.
    step : str or None
        The name of the optimiser step; None for ``adagrad_step`` or ``adam_step``, as the
        settings' optimizer says.
    """

    learner: Learner
    layout: str = "columns"
    function: str = "loss_and_gradients"
    step: str | None = None

    def gradients(self, rnn: RNN, x: np.ndarray, y: np.ndarray, h: np.ndarray,
                  loss: str) -> tuple[float, RNN]:
        """The learner's loss and gradients at ``rnn``, the gradients back in columns.

        Raises
        ------
        ShapeProblem
            A result of the wrong kind, or a gradient in the other layout's shape.
        """
        problem = Problem(rnn, x, y, h, self.layout, loss)
        try:
            result = self.learner.call(self.function, *problem.arguments())
        except Exception as err:
            other = other_layout(self.layout)
            if self.learner.outcome(self.function, *problem.arguments(other)) is RAISED:
                raise
            raise ShapeProblem(f"your {self.function} fails on the {self.layout} layout's "
                               f"arrays ({err}) and runs on the {other} layout's: train it "
                               f"with --layout {other}") from None
        value, grads, transposed = read_result(result, problem)
        if transposed:
            name, mine = transposed[0], expected_shapes(self.layout, rnn.m, rnn.K)
            raise ShapeProblem(f"grads[{name!r}] has shape {grads[name].shape}, the other "
                               f"layout's; --layout {self.layout} wants {mine[name]}: transpose "
                               f"it, or train with --layout {other_layout(self.layout)}")
        return value, from_layout(grads, self.layout)

    def optimiser_step(self, trainer: Trainer, grads: RNN) -> None:
        """The learner's step on the trainer's parameters and optimiser state, in their layout.

        Raises
        ------
        ShapeProblem
            If the step leaves params or its state without an array of the layout's shape,
            or returns something and changes nothing (it must work in place).
        LearnerError
            If the step raises.
        """
        opt = trainer.optimizer
        name = self.step or f"{opt.name}_step"
        if opt.name == "adam":
            if opt.first is None or opt.second is None:
                opt.first = trainer.rnn.map(np.zeros_like)
                opt.second = trainer.rnn.map(np.zeros_like)
            opt.t += 1
            state, names = [opt.first, opt.second], ("first", "second")
            constants: tuple = (opt.t, opt.eta, opt.beta1, opt.beta2, opt.eps)
        else:
            if opt.memory is None:
                opt.memory = trainer.rnn.map(np.zeros_like)
            state, names, constants = [opt.memory], ("memory",), (opt.eta, opt.eps)
        before = [to_layout(a, self.layout) for a in (trainer.rnn, grads, *state)]
        outcome = self.learner.outcome(name, *before, *constants)
        if outcome is RAISED:
            self.learner.call(name, *before, *constants)     # again, for its error message
            raise ShapeProblem(f"{name} raised once and not again on the same arguments")
        result, after = outcome
        changed = [self._read(after[i], what, name, trainer.rnn)
                   for i, what in ((0, "params"), *((2 + k, n) for k, n in enumerate(names)))]
        if result is not None and all(np.array_equal(a, b) for new, old in
                                      zip(changed, (trainer.rnn, *state), strict=True)
                                      for a, b in zip(new, old, strict=True)):
            raise ShapeProblem(f"{name} returned {type(result).__name__} and changed nothing: "
                               f"change params and {', '.join(names)} in place (as "
                               f"charrnn_edu.exercises.references.{opt.name}_step does) and "
                               "return None")
        for new, old in zip(changed, (trainer.rnn, *state), strict=True):
            for a, b in zip(new, old, strict=True):
                np.copyto(b, a)

    def _read(self, value: object, what: str, step: str, rnn: RNN) -> RNN:
        """A dict the step changed, back in columns; ShapeProblem if an array went astray."""
        mine = expected_shapes(self.layout, rnn.m, rnn.K)
        if not isinstance(value, dict) or any(n not in value for n in NAMES):
            raise ShapeProblem(f"after {step}, {what} must still be a dict keyed b, c, U, W, V;"
                               f" it is {type(value).__name__}")
        for n in NAMES:
            shape = np.shape(value[n]) if isinstance(value[n], np.ndarray | list) else None
            if shape != mine[n]:
                raise ShapeProblem(f"after {step}, {what}[{n!r}] is "
                                   + (f"of shape {shape}" if shape is not None
                                      else type(value[n]).__name__)
                                   + f"; --layout {self.layout} wants {mine[n]}")
        return from_layout(value, self.layout)


def contracts(function: str = "loss_and_gradients", step: str | None = None,
              optimizer: str = "adagrad") -> tuple[Callable, Callable]:
    """The signatures a learner's file must define for :class:`YourCode`, under their names."""
    def loss_and_gradients(params, x, y, h0):      # its signature is all the sandbox reads
        raise NotImplementedError

    def adagrad_step(params, grads, memory, eta, eps):
        raise NotImplementedError

    def adam_step(params, grads, first, second, t, eta, beta1, beta2, eps):
        raise NotImplementedError

    pair = (loss_and_gradients, adam_step if optimizer == "adam" else adagrad_step)
    for f, name in zip(pair, (function, step or f"{optimizer}_step"), strict=True):
        f.__name__ = f.__qualname__ = name
    return pair
