"""Chapter 8's exercise: the training loop, checked iteration by iteration against the Trainer.

The learner writes :func:`~charrnn_edu.training.train_loop`: the pointer e, h carried from
piece to piece and reset at an epoch, the smooth loss (8.1), a *copy* of the best model,
samples from the current h. Their loop calls the package's own gradients, clipping, AdaGrad
and sampling, so a right loop gives :class:`~charrnn_edu.training.Trainer`'s numbers to the
last bit at every iteration; the first iteration where the two part is where the loop is
wrong. The text is short, so the run crosses two epoch boundaries.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from charrnn_edu import training
from charrnn_edu.exercises.model import Check, Exercise, Mistake
from charrnn_edu.forward import NAMES
from charrnn_edu.settings import Settings
from charrnn_edu.spec.properties import assert_close

__all__ = ["EXERCISES", "MISTAKES"]

# 65 characters, tau = 5: 12 iterations an epoch ((65 - 1) // 5), 30 iterations in all; 65
# is a multiple of tau, so counting an epoch as len // tau = 13 iterations shows.
TEXT = "It is a truth universally acknowledged, that a single man in poss"
LOOP = Settings(hidden=6, seq_length=5, eta=0.1, sample_every=4, sample_length=12, seed=3)
ITERATIONS, SAMPLE_SEED = 30, 11
FIXED = (f"the first {len(TEXT)} characters of Pride and Prejudice, m = {LOOP.hidden}, "
         f"tau = {LOOP.seq_length}, {ITERATIONS} iterations (two new epochs), a sample every "
         f"{LOOP.sample_every}")


def _problem() -> tuple[tuple, training.Trainer]:
    """The arguments of the learner's loop, and the Trainer after the same run."""
    trainer = training.Trainer.start(TEXT, LOOP, engine="chapters")
    rnn, trainer.rng = trainer.rnn.copy(), np.random.default_rng(SAMPLE_SEED)
    trainer.run(ITERATIONS)
    return (rnn, trainer.data, ITERATIONS, LOOP.seq_length, LOOP.eta, LOOP.sample_every,
            LOOP.sample_length, SAMPLE_SEED), trainer


def _run(f: SimpleNamespace) -> tuple[tuple, training.Trainer]:
    args, trainer = _problem()
    smooth, best, samples = f.train_loop(*args)
    return (list(np.asarray(smooth, dtype=float).ravel()), best, samples), trainer


def _losses(f: SimpleNamespace) -> None:
    (smooth, _, _), trainer = _run(f)
    assert len(smooth) == ITERATIONS, f"{len(smooth)} smooth losses, expected one an iteration"
    epochs = set(trainer.epoch_starts)
    for i, (got, expected) in enumerate(zip(smooth, trainer.smooth_losses, strict=True), 1):
        if not np.isclose(got, expected, rtol=1e-12, atol=0):
            where = " (a new epoch starts here)" if i in epochs else ""
            raise AssertionError(f"iteration {i}{where}: smooth loss {got:.12g}, expected "
                                 f"{expected:.12g} (8.1); the iterations before it agree")


def _best(f: SimpleNamespace) -> None:
    (_, best, _), trainer = _run(f)
    for name, got, expected in zip(NAMES, best, trainer.best, strict=True):
        assert_close(got, expected, 1e-12, 0, what=f"the best model's {name} (iteration "
                     f"{trainer.best_iteration}'s parameters)")


def _samples(f: SimpleNamespace) -> None:
    (_, _, samples), trainer = _run(f)
    wanted = [s.iteration for s in trainer.samples]
    assert len(samples) == len(wanted), (f"{len(samples)} samples, expected "
                                         f"{len(wanted)}, at iterations {wanted}")
    for got, expected in zip(samples, trainer.samples, strict=True):
        text = trainer.vocab.decode(np.asarray(got))
        assert text == expected.text, (f"the sample of iteration {expected.iteration} is "
                                       f"{text!r}, expected {expected.text!r}")


def _probe(outcome: Callable) -> list:
    return [outcome("train_loop", *_problem()[0])]


TRAIN_LOOP = Exercise(
    name="train-loop", chapter=8, module=training, title="the training loop, (8.1)",
    functions=(training.train_loop,), equations=("8.1",),
    imports="import math\nfrom charrnn_edu.adagrad import AdaGrad, clip\n"
            "from charrnn_edu.bptt import gradients\nfrom charrnn_edu.forward import RNN\n"
            "from charrnn_edu.sampling import sample",
    checks=(
        Check("losses", "the smooth loss (8.1) of every iteration equals the Trainer's: "
              "pieces, h carried, reset at each epoch", _losses, fixed=FIXED),
        Check("best", "the best model is a copy of the parameters at the lowest smooth loss",
              _best, fixed=FIXED),
        Check("samples", "a sample at iteration 1 and every sample_every, from the piece's h",
              _samples, fixed=FIXED),
    ),
    probe=_probe,
)


def _mistake(key: str, check: str, equation: str, title: str, advice: str,
             edits: tuple[tuple[str, str], ...]) -> Mistake:
    return Mistake(key=key, exercise="train-loop", check=check, equation=equation, title=title,
                   advice=advice, edits=edits, module=training)


MISTAKES = (
    _mistake("best-by-reference", "best", "(8.1)", "best model kept by reference, not copied",
             "best = rnn names the same arrays, which every later step changes in place: "
             "what you return is the last model. Keep a copy: best = rnn.copy().",
             (("best, best_loss = rnn.copy(), smooth", "best, best_loss = rnn, smooth"),)),
    _mistake("h-not-carried", "losses", "(2.1)", "h not carried from piece to piece",
             "Each piece must start from the h the last one ended with (h = h_next): starting "
             "from zeros forgets everything before the piece.",
             (("e, h = e + tau, h_next", "e, h = e + tau, np.zeros((rnn.m, 1))"),)),
    _mistake("h-not-reset-at-epoch", "losses", "(2.1)", "h not reset at a new epoch",
             "When the pointer goes back to the start of the text, h goes back to zeros too: "
             "the end of the text does not lead into its beginning.",
             (("e, h = 0, np.zeros((rnn.m, 1))", "e = 0"),)),
    _mistake("sample-from-zero-h", "samples", "(7.1)", "sampled from h = 0",
             "Sample from the h of the current piece, sample(rnn, h, x[0], ...): starting from "
             "zeros throws away the context the network has read.",
             (("sample(rnn, h, int(x[0])", "sample(rnn, np.zeros_like(h), int(x[0])"),)),
    _mistake("epochs-by-count", "losses", "(8.1)", "epochs counted as a fixed number of "
             "iterations", "A new epoch starts when fewer than tau + 1 characters remain "
             "(e + tau + 1 > len(data)), not every len(data) // tau iterations: the last "
             "piece then has fewer targets than inputs.",
             (("if i == 1 or e + tau + 1 > len(data):", "if (i - 1) % (len(data) // tau) == 0:"),)),
    _mistake("smooth-from-zero", "losses", "(8.1)", "smooth loss started at 0",
             "(8.1) starts the smooth loss at the first loss: smooth_1 = loss_1. From 0 it "
             "takes thousands of iterations to climb to the real loss, and looks like progress.",
             (("smooth, best, best_loss = math.nan,", "smooth, best, best_loss = 0.0,"),
              ("smooth = loss if i == 1 else 0.999", "smooth = 0.999"))),
    _mistake("float16-parameters", "losses", "(6.3)", "parameters in float16",
             "float16 keeps 3 significant digits: AdaGrad's steps of 1e-4 vanish in the "
             "rounding. Train in float64 (or float32, as the engine does).",
             (("rng, optimizer = np.random.default_rng(seed), AdaGrad(eta)",
               "rng, optimizer, rnn = np.random.default_rng(seed), AdaGrad(eta), "
               "rnn.map(lambda theta: theta.astype(np.float16))"),)),
)

EXERCISES = (TRAIN_LOOP,)
