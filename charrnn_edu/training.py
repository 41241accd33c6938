r"""Training: the report's loop, built from chapters 1–7.

The text is read in consecutive pieces of tau = seq_length characters. A position pointer e
walks the text; at every iteration::

    X = text[e : e + tau]            the inputs
    Y = text[e + 1 : e + tau + 1]    the targets: the same text one character later

    loss, grads, h = gradients(rnn, X, Y, h)     (chapter 4), h carried over
    rnn <- AdaGrad step with clip(grads)         (chapter 6)
    e <- e + tau

Carrying h from one piece to the next lets the network remember across piece boundaries,
although BPTT only reaches back tau steps (truncated BPTT). When fewer than tau + 1
characters remain, an epoch is over: e goes back to 0 and h to zero.

The raw loss jumps with the difficulty of each piece, so progress is read from the smooth loss::

    (8.1)  smooth_1 = loss_1,   smooth_i = 0.999 smooth_{i-1} + 0.001 loss_i

Every ``sample_every`` iterations (and at iteration 1) the trainer writes ``sample_length``
characters (chapter 7), starting from the hidden state of the current piece and its first
character, and it keeps a copy of the parameters with the lowest smooth loss so far.

:func:`train_loop` is that loop written plainly, the report's way, one line per step of it;
:class:`Trainer` is the same loop with everything a long run needs around it (resuming,
streams, a held-out part, the fast engine), and a test proves the two give the same numbers.

Who computes an iteration is a choice (:attr:`Trainer.engine`): by default the training
engine (``charrnn_edu.engine``), the same numbers as chapters 4 and 6 to rounding, faster;
or the chapters themselves. With ``settings.batch = B`` the text is read as B streams at once
(``charrnn_edu.batches``), and with ``settings.val_frac`` its end is held out and its loss
measured every ``eval_every`` iterations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from charrnn_edu import batches
from charrnn_edu.adagrad import AdaGrad, Adam, clip, make_optimizer
from charrnn_edu.batches import streams
from charrnn_edu.bptt import gradients
from charrnn_edu.cells import CELLS, Cell, cell_of
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.engine import Engine
from charrnn_edu.forward import RNN
from charrnn_edu.sampling import sample

# Settings and PRESETS live in charrnn_edu.settings; importing them here keeps
# `from charrnn_edu.training import Settings, PRESETS` working.
from charrnn_edu.settings import PRESETS, Settings  # noqa: F401
from charrnn_edu.threads import one_blas_thread

__all__ = ["init_scaled", "initial_parameters", "Sample", "TrainingDiverged", "Trainer",
           "train_loop", "iterations_per_epoch", "trained_length", "too_short", "split_text",
           "held_out_loss"]


def init_scaled(K: int, m: int = 100, *, rng: np.random.Generator) -> RNN:
    r"""The 2026 edition's initialisation: variances scaled by the number of inputs.

    U ~ N(0, 1/(2K)), W ~ N(0, 1/(2m)), V ~ N(0, 1/m), biases zero. Each unit's
    pre-activation sums its inputs, so dividing the variance by their number keeps
    a_t and o_t of order 1 whatever K and m are; U and W share a_t, hence the halves.
    """
    if K < 1 or m < 1:
        raise ValueError(f"K and m must be at least 1, got K={K}, m={m}")
    return RNN(b=np.zeros((m, 1)), c=np.zeros((K, 1)),
               U=rng.normal(0.0, np.sqrt(1 / (2 * K)), (m, K)),
               W=rng.normal(0.0, np.sqrt(1 / (2 * m)), (m, m)),
               V=rng.normal(0.0, np.sqrt(1 / m), (K, m)))


def initial_parameters(K: int, settings: Settings, rng: np.random.Generator) -> RNN:
    """The parameters a run starts from: ``settings.init``, drawn in float64, then cast.

    Drawing in float64 and casting means a float32 run starts from the same numbers, rounded.
    A gated ``settings.cell`` starts from its chapter's initialisation
    (:meth:`charrnn_edu.cells.Cell.init`).
    """
    if settings.cell != "vanilla":
        rnn = CELLS[settings.cell].init(K, settings.hidden, settings.init, settings.sigma, rng)
    elif settings.init == "scaled":
        rnn = init_scaled(K, settings.hidden, rng=rng)
    else:
        rnn = RNN.init(K, settings.hidden, settings.sigma, rng=rng)
    return rnn.map(lambda theta: theta.astype(settings.dtype))


@dataclass(frozen=True)
class Sample:
    """Text synthesised during training, with when it was written."""

    iteration: int
    smooth_loss: float
    text: str


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the parameters are those of the last good iteration."""


def trained_length(n_chars: int, settings: Settings) -> int:
    """How many of a text's ``n_chars`` characters a run trains on: all but the last val_frac."""
    return n_chars - round(settings.val_frac * n_chars)


def too_short(n_chars: int, settings: Settings) -> tuple[int, int] | None:
    """(characters trained on, characters needed) if a text is too short to train on, or None.

    Each of the B streams needs one piece of tau characters and the character after it, out
    of the part trained on (all but the held-out ``val_frac``).
    """
    trained_on = trained_length(n_chars, settings)
    need = settings.batch * (settings.seq_length + 1)
    return (trained_on, need) if trained_on < need else None


def split_text(text: str, settings: Settings, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """The training ids and the held-out ids: the last ``settings.val_frac`` of the text.

    The vocabulary is the whole text's, so every held-out character has an id.
    """
    cut = trained_length(len(text), settings)
    return vocab.encode(text[:cut]), vocab.encode(text[cut:])


def held_out_loss(rnn: RNN, ids: np.ndarray, streams: int = 64, piece: int = 100) -> float:
    """Mean loss per character, in nats, of predicting ``ids[1:]`` from ``ids[:-1]``.

    The text is read as up to ``streams`` contiguous streams (chapter 8c's forward pass, in
    float64), ``piece`` characters at a time with the hidden states carried, so memory stays
    small for any length. Divide by ln 2 for bits per character; a network that knows
    nothing scores ln K. ``rnn`` may be any cell's parameters (``charrnn_edu.cells``).
    """
    if len(ids) < 2:
        raise ValueError(f"the held-out text has {len(ids)} characters; it needs at least 2")
    B = max(1, min(streams, len(ids) // (piece + 1)))      # each stream holds a piece or more
    S = batches.streams(np.asarray(ids), B)                       # (B, n)
    cell = cell_of(rnn)
    rnn = rnn.map(lambda theta: theta.astype(np.float64))
    H, total = cell.zero_state(rnn.m, B), 0.0
    for start in range(0, S.shape[1] - 1, piece):
        X, Y = S[:, start:start + piece], S[:, start + 1:start + piece + 1]
        X = X[:, :Y.shape[1]]
        P, H = cell.forward_streams(rnn, X, H)
        total += batches.batch_loss(P, Y) * B                   # summed over all characters
    return total / (B * (S.shape[1] - 1))


# --8<-- [start:loop]
def train_loop(rnn: RNN, data: np.ndarray, iterations: int, seq_length: int = 25,
               eta: float = 0.1, sample_every: int = 100, sample_length: int = 200,
               seed: int = 0) -> tuple[list[float], RNN, list[np.ndarray]]:
    r"""Train ``rnn`` in place on the ids ``data``: the report's loop, chapters 4, 6 and 7.

    Parameters
    ----------
    rnn : RNN
        The initial parameters; they change in place, one AdaGrad step per iteration.
    data : ndarray of shape (n,)
        The text as character ids, read tau = ``seq_length`` at a time from a pointer e.
    iterations : int
    seq_length : int
    eta : float
        AdaGrad's learning rate; gradients are clipped to [-5, 5] first.
    sample_every, sample_length : int
        At iteration 1 and every ``sample_every``, ``sample_length`` characters are drawn,
        starting from the h and the first character of the current piece.
    seed : int
        Seeds the random numbers of the samples.

    Returns
    -------
    smooth_losses : list of float
        Equation (8.1) after every iteration.
    best : RNN
        A copy of the parameters at the lowest smooth loss.
    samples : list of ndarray
        The ids of each sample.
    """
    rng, optimizer = np.random.default_rng(seed), AdaGrad(eta)
    tau, e, h = seq_length, 0, np.zeros((rnn.m, 1))
    smooth, best, best_loss = math.nan, rnn.copy(), math.inf
    smooth_losses, samples = [], []
    for i in range(1, iterations + 1):
        if i == 1 or e + tau + 1 > len(data):           # a new epoch: back to the start
            e, h = 0, np.zeros((rnn.m, 1))
        x, y = data[e:e + tau], data[e + 1:e + tau + 1]  # (tau,): y is x one character on
        loss, grads, h_next = gradients(rnn, x, y, h)   # chapter 4
        optimizer.step(rnn, clip(grads))                # chapter 6: (6.1)-(6.3)
        smooth = loss if i == 1 else 0.999 * smooth + 0.001 * loss   # (8.1)
        if smooth < best_loss:
            best, best_loss = rnn.copy(), smooth        # a copy: rnn changes in place
        if i == 1 or i % sample_every == 0:             # chapter 7, from this piece's h
            samples.append(sample(rnn, h, int(x[0]), sample_length, rng)[0])
        e, h = e + tau, h_next                          # h carried to the next piece
        smooth_losses.append(smooth)
    return smooth_losses, best, samples
# --8<-- [end:loop]


ENGINES = ("fast", "chapters")
"""Who computes each update: ``charrnn_edu.engine``, or chapters 4 and 6 as written."""


def iterations_per_epoch(n_chars: int, seq_length: int, batch: int = 1) -> int:
    """Pieces of tau characters (plus one target) that fit in each of the B streams: one epoch."""
    return (n_chars // batch - 1) // seq_length


@dataclass
class Trainer:
    """The state of a training run and the loop that advances it.

    Create one with :meth:`start`; advance it with :meth:`step` or :meth:`run`. Everything
    a bit-exact resume needs is an attribute here (see ``charrnn_edu.checkpoint``).

    Attributes
    ----------
    data : ndarray of shape (n,)
        The corpus as character ids.
    vocab : Vocabulary
    settings : Settings
    rnn : RNN, LSTM or GRU
        The current parameters, updated in place: the cell ``settings.cell`` names.
    optimizer : AdaGrad or Adam
    rng : numpy.random.Generator
    h : ndarray of shape (m, B)
        The state carried to the next piece, a column per stream; for the LSTM h with c
        under it, (2m, B) (``charrnn_edu.cells``).
    e : int
        Position of the next piece in ``data``.
    iteration, epoch : int
        Iterations done so far; the current epoch, from 1.
    smooth_loss : float
        Equation (8.1); NaN before the first iteration.
    best : RNN
        A copy of the parameters with the lowest smooth loss so far.
    best_loss : float
    best_iteration : int
    losses, smooth_losses : list of float
        The loss and the smooth loss of every iteration.
    epoch_starts : list of int
        The iteration (1-based) at which each epoch began.
    engine : {"fast", "chapters"}
        Who computes each update: ``charrnn_edu.engine`` (fast, the default) or chapters 4
        and 6 themselves (slow, but every line is the lesson). Both give the same numbers to
        rounding (``tests/test_engine.py``); a resume is bit-exact with the same engine.
    update : callable or None
        Another update instead of either: ``update(trainer, X, Y, h)`` must change
        ``trainer.rnn`` (and its optimiser) in place, raise if the loss is not finite, and
        return the loss and the next hidden state, as the chapters' own update
        (``Trainer._update_by_chapters``) does. The trainer keeps the rest: the pointer, the
        epochs, the smooth loss, the samples.
    samples : list of Sample
    held_out : ndarray of shape (n_held_out,)
        The held-out ids (``settings.val_frac`` of the text), never trained on.
    evaluations : list of (int, float)
        (iteration, held-out loss in nats per character), every ``settings.eval_every``
        iterations when there is a held-out part.
    """

    data: np.ndarray
    vocab: Vocabulary
    settings: Settings
    rnn: RNN
    optimizer: AdaGrad | Adam
    rng: np.random.Generator
    h: np.ndarray
    best: RNN
    e: int = 0
    iteration: int = 0
    epoch: int = 0
    smooth_loss: float = math.nan
    best_loss: float = math.inf
    best_iteration: int = 0
    losses: list[float] = field(default_factory=list)
    smooth_losses: list[float] = field(default_factory=list)
    epoch_starts: list[int] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    held_out: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    stop_requested: bool = False
    engine: str = "fast"
    update: Callable[[Trainer, np.ndarray, np.ndarray, np.ndarray],
                     tuple[float, np.ndarray]] | None = field(default=None, repr=False,
                                                               compare=False)
    _engine: Engine | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")

    @classmethod
    def start(cls, text: str, settings: Settings = Settings(),
              vocab: Vocabulary | None = None, *, engine: str = "fast",
              update: Callable[[Trainer, np.ndarray, np.ndarray, np.ndarray],
                               tuple[float, np.ndarray]] | None = None) -> Trainer:
        """A fresh run on ``text``: parameters drawn from ``settings.seed``, the optimiser at zero.

        Raises
        ------
        ValueError
            If the text has fewer than seq_length + 1 characters, or ``engine`` is unknown.
        """
        vocab = vocab or Vocabulary.from_text(text)
        data, held_out = split_text(text, settings, vocab)
        short = too_short(len(text), settings)
        if short is not None:
            have, need = short
            raise ValueError(f"the text has {have} characters to train on; training needs "
                             f"at least batch * (seq_length + 1) = {need} (use a longer text, "
                             "a smaller seq_length, fewer streams or a smaller val_frac)")
        if settings.val_frac > 0 and len(held_out) < 2:
            raise ValueError(f"val_frac = {settings.val_frac} holds out {len(held_out)} "
                             "characters; it needs at least 2 (use a larger val_frac)")
        rng = np.random.default_rng(settings.seed)
        rnn = initial_parameters(len(vocab), settings, rng)
        h = CELLS[settings.cell].zero_state(settings.hidden, settings.batch, settings.dtype)
        return cls(data=data, held_out=held_out, vocab=vocab, settings=settings, rnn=rnn,
                   optimizer=make_optimizer(settings.optimizer, settings.eta), rng=rng, h=h,
                   best=rnn.copy(),
                   engine=engine, update=update)

    @property
    def cell(self) -> Cell:
        """The cell being trained, ``settings.cell``."""
        return CELLS[self.settings.cell]

    @property
    def iterations_per_epoch(self) -> int:
        """Iterations in one pass over the text."""
        return iterations_per_epoch(len(self.data), self.settings.seq_length,
                                    self.settings.batch)

    # --8<-- [start:step]
    def step(self) -> float:
        """One iteration: the next piece, BPTT, clipping, the optimiser. Returns the loss.

        Raises
        ------
        TrainingDiverged
            If the loss is NaN or infinite; nothing is updated then.
        """
        tau = self.settings.seq_length
        text = self.data if self.settings.batch == 1 else streams(self.data, self.settings.batch)
        new_epoch = self.iteration == 0 or self.e + tau + 1 > text.shape[-1]
        e, h = (0, np.zeros_like(self.h)) if new_epoch else (self.e, self.h)
        X, Y = text[..., e:e + tau], text[..., e + 1:e + tau + 1]   # (tau,), or (B, tau)
        update = self.update or (Trainer._update_by_chapters if self.engine == "chapters"
                                 else Trainer._update_fast)
        loss, h_next = update(self, X, Y, h)
        if new_epoch:
            self.epoch += 1
            self.epoch_starts.append(self.iteration + 1)
        h_prev, self.h, self.e = h, h_next, e + tau
        self.iteration += 1

        self.smooth_loss = loss if self.iteration == 1 else 0.999 * self.smooth_loss + 0.001 * loss
        self.losses.append(loss)
        self.smooth_losses.append(self.smooth_loss)
        if self.smooth_loss < self.best_loss:
            self.best_loss, self.best_iteration = self.smooth_loss, self.iteration
            self._keep_best()
        if self.iteration == 1 or self.iteration % self.settings.sample_every == 0:
            # One stream writes the sample: the first, from its state and character.
            ids, _ = sample(self.rnn, h_prev[:, :1], int(X.flat[0]),
                            self.settings.sample_length, self.rng,
                            next_distribution=self.cell.next_distribution)
            self.samples.append(Sample(self.iteration, self.smooth_loss, self.vocab.decode(ids)))
        if len(self.held_out) and self.iteration % self.settings.eval_every == 0:
            self.evaluations.append((self.iteration,
                                     float(held_out_loss(self.rnn, self.held_out))))
        return loss

    def _update_by_chapters(self, X: np.ndarray, Y: np.ndarray,
                            h: np.ndarray) -> tuple[float, np.ndarray]:
        """The cell's chapter and chapter 6 as written: BPTT, clipping, the optimiser's step."""
        loss, grads, h_next = self.cell.gradients(self.rnn, X, Y, h)   # chapter 4, 8c or 10
        if self.settings.loss == "mean":
            tau = self.settings.seq_length
            loss, grads = loss / tau, grads.map(lambda g: g / tau)
        self._check_finite(loss, lambda: max(float(np.abs(g).max()) for g in grads))
        self.optimizer.step(self.rnn, clip(grads, self.settings.clip))
        return loss, h_next
    # --8<-- [end:step]

    def _update_fast(self, X: np.ndarray, Y: np.ndarray,
                     h: np.ndarray) -> tuple[float, np.ndarray]:
        """The same update by the cell's engine (``charrnn_edu.engine``, ``gated_engine``)."""
        engine = self._engine
        if engine is None or not engine.bound_to(self.rnn, self.optimizer, self.best):
            engine = self._engine = self.cell.engine(
                self.rnn, self.optimizer, self.best, tau=self.settings.seq_length,
                clip=self.settings.clip, mean_loss=self.settings.loss == "mean",
                batch=self.settings.batch)
        loss = engine.loss_and_gradients(X, Y, h)
        self._check_finite(loss, lambda: float(np.abs(engine.grad).max()))
        engine.update()
        return loss, engine.h

    def _check_finite(self, loss: float, largest_gradient: Callable[[], float]) -> None:
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {loss} at iteration {self.iteration + 1} (largest gradient "
                f"element {largest_gradient():.3g}, learning rate {self.settings.eta:g}); "
                "try a smaller --eta or --clip")

    def _keep_best(self) -> None:
        if self._engine is not None and self.engine == "fast":
            self._engine.keep_best()
        else:
            for kept, theta in zip(self.best, self.rnn, strict=True):
                np.copyto(kept, theta)

    def run(self, iterations: int, callback: Callable[[Trainer], None] | None = None,
            every: int = 100) -> None:
        """Train until ``iterations`` iterations are done in all, or :attr:`stop_requested`.

        ``callback(trainer)`` is called every ``every`` iterations, after each new sample, and
        at the end; the CLI draws its progress bar there. Setting ``stop_requested`` (as the
        CLI's Ctrl-C handler does) stops after the current iteration. The BLAS runs one
        thread meanwhile (:func:`charrnn_edu.threads.one_blas_thread`).
        """
        with one_blas_thread():
            while self.iteration < iterations and not self.stop_requested:
                samples = len(self.samples)
                self.step()
                if callback is not None and (self.iteration % every == 0
                                             or len(self.samples) > samples):
                    callback(self)
            if callback is not None:
                callback(self)
