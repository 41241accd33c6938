r"""Chapter 6 — Updating the parameters: gradient clipping and AdaGrad.

**Clipping.** In a long recurrence a gradient can explode: (4.4) multiplies by W^T once per
step. The report clips every gradient element to [-5, 5] before the update::

    (6.1)  g <- min(max(g, -bound), bound)

**AdaGrad** gives every parameter element its own learning rate, smaller for elements that
have had large gradients. For each parameter θ (b, c, U, W, V) with gradient g::

    (6.2)  m_θ <- m_θ + g^2
    (6.3)  θ   <- θ - eta * g / sqrt(m_θ + eps)

eps sits *inside* the square root here, as in the report and in min-char-rnn, the code it
follows. Many libraries put it outside, eta * g / (sqrt(m_θ) + eps); with eps = 1e-8 the
two differ only while m_θ is tiny. On the first step m_θ = g^2, so every element moves by
eta * |g| / sqrt(g^2 + eps) < eta: never more than eta.

**Adam**, the 2026 edition's optimiser (:class:`Adam`), keeps moving averages of g and g^2
instead, corrected for their start at zero, at step t = 1, 2, ...::

    (6.4)  s_θ <- beta1 s_θ + (1 - beta1) g
    (6.5)  r_θ <- beta2 r_θ + (1 - beta2) g^2
    (6.6)  θ   <- θ - eta * ŝ / (sqrt(r̂) + eps),  ŝ = s_θ / (1 - beta1^t), r̂ = r_θ / (1 - beta2^t)

Each optimiser names the attributes that hold its state (:attr:`AdaGrad.state_names`), and
:func:`make_optimizer` builds one from its name: the training engine and checkpoints read
those, whichever optimiser it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from charrnn_edu.forward import RNN

__all__ = ["clip", "AdaGrad", "Adam", "OPTIMIZERS", "make_optimizer"]


# --8<-- [start:clip]
def clip(grads: RNN, bound: float = 5.0) -> RNN:
    """Clip every gradient element to [-bound, bound], equation (6.1).

    Returns
    -------
    RNN
        New arrays; ``grads`` is left unchanged.
    """
    if not bound > 0:
        raise ValueError(f"the clipping bound must be positive, got {bound}")
    return grads.map(lambda g: np.clip(g, -bound, bound))
# --8<-- [end:clip]


@dataclass
class AdaGrad:
    """The AdaGrad optimiser, equations (6.2)–(6.3).

    Parameters
    ----------
    eta : float
        Learning rate; the report uses 0.1.
    eps : float
        Added inside the square root, so the first step never divides by zero.

    Attributes
    ----------
    memory : RNN or None
        The accumulators m_θ, one array per parameter with its shape; None until the first
        :meth:`step` makes them.
    name : str
        ``"adagrad"``, as ``Settings.optimizer`` names it.
    state_names : tuple of str
        ``("memory",)``: the attributes that hold the optimiser's state.
    """

    name: ClassVar[str] = "adagrad"
    state_names: ClassVar[tuple[str, ...]] = ("memory",)
    eta: float = 0.1
    eps: float = 1e-8
    memory: RNN | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.eta > 0:
            raise ValueError(f"the learning rate eta must be positive, got {self.eta}")
        if not self.eps > 0:
            raise ValueError(f"eps must be positive, got {self.eps}")

    # --8<-- [start:adagrad-step]
    def step(self, rnn: RNN, grads: RNN) -> None:
        """Update ``rnn`` in place with one AdaGrad step, equations (6.2)–(6.3)."""
        if self.memory is None:
            self.memory = rnn.map(np.zeros_like)
        for theta, g, m_theta in zip(rnn, grads, self.memory, strict=True):
            m_theta += g * g                                      # (6.2)
            theta -= self.eta * g / np.sqrt(m_theta + self.eps)   # (6.3)
    # --8<-- [end:adagrad-step]


@dataclass
class Adam:
    r"""The Adam optimiser, used by the course's 2026 edition instead of AdaGrad.

    AdaGrad's accumulator only grows, so its steps only shrink. Adam replaces it with
    exponential moving averages of the gradient and of its square, corrected for their start
    at zero. For each parameter θ with gradient g, at step t = 1, 2, ...::

        (6.4)  s_θ <- beta1 s_θ + (1 - beta1) g            first moment
        (6.5)  r_θ <- beta2 r_θ + (1 - beta2) g^2          second moment
        (6.6)  θ   <- θ - eta * ŝ / (sqrt(r̂) + eps),  ŝ = s_θ / (1 - beta1^t),
                                                       r̂ = r_θ / (1 - beta2^t)

    Here eps sits *outside* the square root, as in Kingma and Ba (2015), who call the two
    moments m and v; here m is the hidden size, so they are s and r.

    Parameters
    ----------
    eta : float
        Learning rate (0.001 in the 2026 edition).
    beta1, beta2 : float in [0, 1)
        Decay rates of the two moving averages.
    eps : float

    Attributes
    ----------
    first, second : RNN or None
        The moments s_θ and r_θ, one array per parameter; None until the first :meth:`step`.
    t : int
        Steps taken.
    name : str
        ``"adam"``, as ``Settings.optimizer`` names it.
    state_names : tuple of str
        ``("first", "second")``: the attributes that hold the optimiser's state (and ``t``).
    """

    name: ClassVar[str] = "adam"
    state_names: ClassVar[tuple[str, ...]] = ("first", "second")
    eta: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    first: RNN | None = field(default=None)
    second: RNN | None = field(default=None)
    t: int = 0

    def __post_init__(self) -> None:
        if not self.eta > 0:
            raise ValueError(f"the learning rate eta must be positive, got {self.eta}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {self.beta1}, "
                             f"{self.beta2}")
        if not self.eps > 0:
            raise ValueError(f"eps must be positive, got {self.eps}")

    # --8<-- [start:adam-step]
    def step(self, rnn: RNN, grads: RNN) -> None:
        """Update ``rnn`` in place with one Adam step, equations (6.4)–(6.6)."""
        if self.first is None or self.second is None:
            self.first, self.second = rnn.map(np.zeros_like), rnn.map(np.zeros_like)
        self.t += 1
        # s and r start at 0, so early averages are too small by these factors.
        correction1, correction2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        for theta, g, s, r in zip(rnn, grads, self.first, self.second, strict=True):
            # [...] = writes into the arrays the optimiser holds (the engine's views, too).
            s[...] = self.beta1 * s + (1 - self.beta1) * g                # (6.4)
            r[...] = self.beta2 * r + (1 - self.beta2) * g * g            # (6.5)
            theta -= self.eta * (s / correction1) / (np.sqrt(r / correction2) + self.eps)  # (6.6)
    # --8<-- [end:adam-step]


OPTIMIZERS: dict[str, type[AdaGrad] | type[Adam]] = {kind.name: kind for kind in (AdaGrad, Adam)}
"""The optimisers by name: the names ``Settings.optimizer`` takes."""


def make_optimizer(name: str, eta: float, **state: Any) -> AdaGrad | Adam:
    """The optimiser called ``name``, ``"adagrad"`` or ``"adam"``, with learning rate ``eta``.

    ``state`` passes on anything else it takes, as a checkpoint restores them: ``eps``, its
    state arrays (:attr:`~AdaGrad.state_names`), Adam's step count ``t``.

    Raises
    ------
    ValueError
        If there is no optimiser called ``name``, or a value is out of range.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"there is no optimiser {name!r}; use one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](eta=eta, **state)
