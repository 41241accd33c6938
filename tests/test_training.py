"""The training loop: pieces, epochs, the carried hidden state, AdaGrad, samples and the best model.

Each ``check_*`` function takes ``start`` (a function like ``Trainer.start(text, settings)``)
as its first argument, so the same properties can grade a student's training loop. The
reference here is the loop written out the plain way, min-char-rnn style, from chapter 4's
``gradients`` (tested on its own) and its own clipping and AdaGrad.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charrnn_edu.bptt import gradients
from charrnn_edu.forward import NAMES, RNN, forward
from charrnn_edu.loss import sequence_loss
from charrnn_edu.sampling import greedy, prime, sample
from charrnn_edu.spec.strategies import seeds
from charrnn_edu.training import Settings, Trainer, TrainingDiverged, train_loop

RTOL, ATOL = 1e-12, 1e-14
ALPHABET = "\n abcdefghij"


@dataclass(frozen=True)
class Run:
    """A random text and the settings of a short run on it (Hypothesis prints these).

    The text has ``pieces`` * tau + 1 + ``extra`` characters: ``pieces`` iterations per epoch
    and ``extra`` < tau characters left over at the end of every epoch.
    """

    seed: int
    K: int
    hidden: int
    seq_length: int
    pieces: int
    extra: int
    steps: int
    sigma: float
    clip: float

    @property
    def text(self) -> str:
        rng = np.random.default_rng(self.seed)
        n = self.pieces * self.seq_length + 1 + self.extra
        return "".join(rng.choice(list(ALPHABET[:self.K]), n))

    @property
    def settings(self) -> Settings:
        return Settings(hidden=self.hidden, seq_length=self.seq_length, sigma=self.sigma,
                        clip=self.clip, seed=self.seed, sample_every=1000, sample_length=3)


@st.composite
def runs(draw: st.DrawFn, max_steps: int = 14) -> Run:
    """m in 1..8, K in 2..12, tau in 1..8, 1..4 pieces per epoch, up to ``max_steps`` steps."""
    tau = draw(st.integers(1, 8))
    pieces = draw(st.integers(1, 4))
    return Run(seed=draw(seeds), K=draw(st.integers(2, 12)), hidden=draw(st.integers(1, 8)),
               seq_length=tau, pieces=pieces, extra=draw(st.integers(0, tau - 1)),
               steps=draw(st.integers(1, max_steps)),
               # sigma large enough that h carries a clear signal from piece to piece
               sigma=draw(st.floats(0.1, 0.5)),
               # down to 0.05 so that clipping changes some gradients
               clip=draw(st.floats(0.05, 5.0)))


@dataclass
class Record:
    """What one call of ``step`` saw and left behind."""

    e_before: int
    h_before: np.ndarray
    epoch_before: int
    params_before: RNN
    loss: float
    e_after: int
    h_after: np.ndarray
    epoch_after: int
    params_after: RNN


def record_steps(trainer: Trainer, steps: int) -> list[Record]:
    """Call ``trainer.step()`` ``steps`` times, keeping copies of the state around each."""
    records = []
    for _ in range(steps):
        e, h, epoch, params = trainer.e, trainer.h.copy(), trainer.epoch, trainer.rnn.copy()
        loss = trainer.step()
        records.append(Record(e, h, epoch, params, loss, trainer.e, trainer.h.copy(),
                              trainer.epoch, trainer.rnn.copy()))
    return records


def reference_training(data: np.ndarray, settings: Settings, rnn: RNN,
                       steps: int) -> list[tuple[float, RNN, np.ndarray]]:
    """The report's loop written out: (loss, parameters after the update, h carried) per step."""
    tau, n = settings.seq_length, len(data)
    rnn = rnn.copy()
    memory = [np.zeros_like(theta) for theta in rnn]
    h, e = np.zeros((settings.hidden, 1)), 0
    history = []
    for _ in range(steps):
        if n - e < tau + 1:                        # not enough text left for a piece: new epoch
            h, e = np.zeros((settings.hidden, 1)), 0
        x, y = data[e:e + tau], data[e + 1:e + tau + 1]
        loss, grads, h = gradients(rnn, x, y, h)
        for theta, g, m_theta in zip(rnn, grads, memory, strict=True):
            g = np.minimum(np.maximum(g, -settings.clip), settings.clip)
            m_theta += g * g
            theta -= settings.eta * g / np.sqrt(m_theta + 1e-8)
        e += tau
        history.append((loss, rnn.copy(), h))
    return history


def assert_params_equal(a: RNN, b: RNN, what: str, rtol: float = RTOL,
                        atol: float = ATOL) -> None:
    for name, x, y in zip(NAMES, a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"{name} {what}")


# ---------------------------------------------------------------- properties

def check_hidden_state_reset_at_epochs(start: Callable, text: str, settings: Settings,
                                       steps: int) -> None:
    """h is zero for the first piece of every epoch, else the previous piece's last state.

    The state a step used is read from what it produced: its loss and its last hidden state
    must be those of the forward pass from that state.
    """
    trainer = start(text, settings)
    tau, n = settings.seq_length, len(trainer.data)
    records = record_steps(trainer, steps)
    for i, r in enumerate(records, start=1):
        new_epoch = i == 1 or r.e_before + tau + 1 > n
        assert (r.epoch_after == r.epoch_before + 1) == new_epoch, (
            f"step {i} at e = {r.e_before} of {n} characters: a new epoch "
            f"{'should' if new_epoch else 'should not'} begin")
        e = 0 if new_epoch else r.e_before
        h_used = np.zeros((settings.hidden, 1)) if new_epoch else r.h_before
        if i > 1 and not new_epoch:
            prev = records[i - 2]
            prev_e = prev.e_after - tau
            prev_h = (np.zeros((settings.hidden, 1)) if prev.epoch_after > prev.epoch_before
                      else prev.h_before)
            expected_h = forward(prev.params_before, trainer.data[prev_e:prev_e + tau],
                                 prev_h).h
            np.testing.assert_allclose(r.h_before, expected_h, rtol=RTOL, atol=ATOL,
                                       err_msg=f"h carried into step {i}")
        x, y = trainer.data[e:e + tau], trainer.data[e + 1:e + tau + 1]
        expected_loss = sequence_loss(r.params_before, x, y, h_used)
        assert np.isclose(r.loss, expected_loss, rtol=RTOL, atol=0), (
            f"step {i}: loss {r.loss}, but {expected_loss} from "
            f"{'a zero h' if new_epoch else 'the carried h'}")
        np.testing.assert_allclose(r.h_after, forward(r.params_before, x, h_used).h,
                                   rtol=RTOL, atol=ATOL, err_msg=f"h after step {i}")


def check_pieces_in_order(start: Callable, text: str, settings: Settings, steps: int) -> None:
    """Epoch after epoch, the pieces start at 0, tau, 2 tau, ... (ipe of them), in order."""
    trainer = start(text, settings)
    tau = settings.seq_length
    ipe = (len(text) - 1) // tau
    assert trainer.iterations_per_epoch == ipe, (trainer.iterations_per_epoch, ipe)
    records = record_steps(trainer, steps)
    positions = [r.e_after - tau for r in records]
    assert positions == [(i % ipe) * tau for i in range(steps)], positions
    assert trainer.epoch_starts == list(range(1, steps + 1, ipe)), trainer.epoch_starts
    assert trainer.epoch == len(trainer.epoch_starts) == (steps - 1) // ipe + 1
    assert trainer.iteration == steps


def check_matches_reference_loop(start: Callable, text: str, settings: Settings,
                                 steps: int) -> None:
    """Losses, parameters and h after every step equal the loop written out by hand."""
    trainer = start(text, settings)
    expected = reference_training(trainer.data, settings, trainer.rnn, steps)
    for i, (loss, params, h) in enumerate(expected, start=1):
        got = trainer.step()
        assert np.isclose(got, loss, rtol=RTOL, atol=0), (i, got, loss)
        assert_params_equal(trainer.rnn, params, f"after step {i}")
        np.testing.assert_allclose(trainer.h, h, rtol=RTOL, atol=ATOL,
                                   err_msg=f"h after step {i}")
    assert trainer.losses == [loss for loss, _, _ in expected]


def check_smooth_loss(start: Callable, text: str, settings: Settings, steps: int) -> None:
    """(8.1): smooth_1 = loss_1, smooth_i = 0.999 smooth_(i-1) + 0.001 loss_i."""
    trainer = start(text, settings)
    assert math.isnan(trainer.smooth_loss), "the smooth loss is NaN before the first iteration"
    trainer.run(steps)
    losses, smooth = trainer.losses, trainer.smooth_losses
    assert len(losses) == len(smooth) == steps
    expected = [losses[0]]
    for loss in losses[1:]:
        expected.append(0.999 * expected[-1] + 0.001 * loss)
    np.testing.assert_allclose(smooth, expected, rtol=RTOL, atol=0)
    assert trainer.smooth_loss == smooth[-1]


def check_best(start: Callable, text: str, settings: Settings, steps: int) -> None:
    """best_loss is the least smooth loss; best holds the parameters of that iteration."""
    trainer = start(text, settings)
    after = [r.params_after for r in record_steps(trainer, steps)]
    smooth = trainer.smooth_losses
    assert trainer.best_loss == min(smooth), (trainer.best_loss, min(smooth))
    assert trainer.best_iteration == int(np.argmin(smooth)) + 1, (trainer.best_iteration, smooth)
    assert_params_equal(trainer.best, after[trainer.best_iteration - 1],
                        f"of best (iteration {trainer.best_iteration})", rtol=0, atol=0)
    for name, kept, theta in zip(NAMES, trainer.best, trainer.rnn, strict=True):
        assert not np.shares_memory(kept, theta), f"best.{name} is the live parameter array"


def check_samples(start: Callable, text: str, settings: Settings, steps: int) -> None:
    """A sample at iteration 1 and every sample_every, sample_length characters of the text."""
    trainer = start(text, settings)
    trainer.run(steps)
    every = settings.sample_every
    expected = [i for i in range(1, steps + 1) if i == 1 or i % every == 0]
    assert [s.iteration for s in trainer.samples] == expected
    for s in trainer.samples:
        assert len(s.text) == settings.sample_length, (s.iteration, s.text)
        assert set(s.text) <= set(text), s.text
        assert s.smooth_loss == trainer.smooth_losses[s.iteration - 1]


def check_callback_calls(start: Callable, text: str, settings: Settings, first: int,
                         total: int, every: int) -> None:
    """run calls back every ``every`` iterations, after each new sample, and at the end."""
    trainer = start(text, settings)
    trainer.run(first)
    calls: list[int] = []
    samples_before = len(trainer.samples)
    trainer.run(total, lambda t: calls.append(t.iteration), every=every)
    sampled = {s.iteration for s in trainer.samples[samples_before:]}
    expected = [i for i in range(first + 1, total + 1) if i % every == 0 or i in sampled]
    assert calls == [*expected, max(first, total)], calls
    assert trainer.iteration == max(first, total)


def check_stop_requested(start: Callable, text: str, settings: Settings, stop_at: int,
                         total: int) -> None:
    """Setting stop_requested during iteration ``stop_at`` ends run after that iteration."""
    trainer = start(text, settings)
    calls: list[int] = []

    def callback(t: Trainer) -> None:
        calls.append(t.iteration)
        if t.iteration == stop_at:
            t.stop_requested = True

    trainer.run(total, callback, every=1)
    assert trainer.iteration == stop_at, (trainer.iteration, stop_at)
    assert calls == [*range(1, stop_at + 1), stop_at], calls


def check_divergence(start: Callable, text: str, settings: Settings, good_steps: int,
                     poison: Callable[[RNN], None]) -> None:
    """A non-finite loss raises TrainingDiverged naming the iteration, updating nothing."""
    trainer = start(text, settings)
    trainer.run(good_steps)
    poison(trainer.rnn)
    params, memory = trainer.rnn.copy(), trainer.optimizer.memory.copy()
    best, losses, smooth = trainer.best.copy(), list(trainer.losses), trainer.smooth_loss
    with pytest.raises(TrainingDiverged, match=f"iteration {good_steps + 1}\\b"):
        trainer.step()
    assert trainer.iteration == good_steps
    assert trainer.losses == losses and len(trainer.smooth_losses) == good_steps
    assert trainer.smooth_loss == smooth
    for what, now, kept in (("parameter", trainer.rnn, params),
                            ("AdaGrad memory", trainer.optimizer.memory, memory),
                            ("best parameter", trainer.best, best)):
        for name, a, b in zip(NAMES, now, kept, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{what} {name} changed")


# ---------------------------------------------------------------- the loop, step by step

@given(runs())
def test_hidden_state_is_reset_exactly_at_epoch_boundaries(run):
    check_hidden_state_reset_at_epochs(Trainer.start, run.text, run.settings, run.steps)


@given(runs())
def test_each_epoch_visits_every_piece_once_in_order(run):
    check_pieces_in_order(Trainer.start, run.text, run.settings, run.steps)


@given(runs())
def test_steps_match_the_loop_written_out(run):
    """The trainer on the chapters is the loop written out, to the last bit. (The fast engine
    equals the chapters to rounding, iteration by iteration: tests/test_engine.py.)"""
    check_matches_reference_loop(functools.partial(Trainer.start, engine="chapters"), run.text,
                                 run.settings, run.steps)


@given(runs())
def test_smooth_loss(run):
    check_smooth_loss(Trainer.start, run.text, run.settings, run.steps)


@given(runs(max_steps=30))
def test_best_is_the_model_of_the_least_smooth_loss(run):
    check_best(Trainer.start, run.text, run.settings, run.steps)


def test_best_can_lie_before_the_last_iteration():
    # A run that check_best must get right with best_iteration < iteration: ten pieces of
    # "aaaa" are learnt fast, then random letters cost more than the smooth loss, which rises.
    text = "a" * 40 + "".join(np.random.default_rng(0).choice(list("bcdefghij"), 41))
    settings = Settings(hidden=8, seq_length=4, sigma=0.1)
    check_best(Trainer.start, text, settings, 20)
    trainer = Trainer.start(text, settings)
    trainer.run(20)
    assert 1 < trainer.best_iteration < trainer.iteration, trainer.best_iteration


@given(runs(max_steps=20), st.integers(1, 7), st.integers(0, 5))
def test_samples_at_iteration_one_and_every_sample_every(run, every, length):
    settings = dataclasses.replace(run.settings, sample_every=every, sample_length=length)
    check_samples(Trainer.start, run.text, settings, run.steps)


@given(runs())
def test_first_sample_comes_from_the_updated_model_and_the_first_piece(run):
    # Settings.seed seeds one generator: first the weights, then every sample.
    settings = dataclasses.replace(run.settings, sample_length=6)
    trainer = Trainer.start(run.text, settings)
    rng = np.random.default_rng(settings.seed)
    RNN.init(len(trainer.vocab), settings.hidden, settings.sigma, rng=rng)
    trainer.step()
    ids, _ = sample(trainer.rnn, np.zeros((settings.hidden, 1)), int(trainer.data[0]), 6, rng)
    assert trainer.samples[0].text == trainer.vocab.decode(ids)


@given(runs())
def test_same_settings_same_run(run):
    a, b = Trainer.start(run.text, run.settings), Trainer.start(run.text, run.settings)
    a.run(run.steps)
    b.run(run.steps)
    assert a.losses == b.losses
    assert [s.text for s in a.samples] == [s.text for s in b.samples]
    assert_params_equal(a.rnn, b.rnn, "of two runs with the same seed", rtol=0, atol=0)


# ---------------------------------------------------------------- run, callback, stop

@given(runs(), st.integers(1, 5), st.integers(1, 6), st.integers(0, 6), st.integers(0, 12))
def test_callback_is_called_at_the_expected_iterations(run, every, sample_every, first, total):
    settings = dataclasses.replace(run.settings, sample_every=sample_every)
    check_callback_calls(Trainer.start, run.text, settings, first, total, every)


@given(runs(), st.data())
def test_stop_requested_stops_after_the_current_iteration(run, data):
    total = data.draw(st.integers(1, 12), label="total")
    stop_at = data.draw(st.integers(1, total), label="stop_at")
    check_stop_requested(Trainer.start, run.text, run.settings, stop_at, total)


# ---------------------------------------------------------------- bad input

@given(st.integers(1, 30), st.data())
def test_text_shorter_than_seq_length_plus_one_is_rejected(tau, data):
    text = data.draw(st.text(alphabet=ALPHABET, min_size=1, max_size=tau), label="text")
    with pytest.raises(ValueError, match="seq_length"):
        Trainer.start(text, Settings(hidden=3, seq_length=tau))


def test_empty_text_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        Trainer.start("", Settings(hidden=3, seq_length=1))


@given(st.integers(1, 30), seeds, st.integers(1, 4))
def test_text_of_seq_length_plus_one_is_one_piece_per_epoch(tau, seed, steps):
    text = "".join(np.random.default_rng(seed).choice(list(ALPHABET), tau + 1))
    check_pieces_in_order(Trainer.start, text, Settings(hidden=3, seq_length=tau), steps)


@pytest.mark.parametrize("field", ["hidden", "seq_length", "eta", "clip", "sample_every"])
def test_settings_reject_values_that_are_not_positive(field):
    with pytest.raises(ValueError, match=field):
        Settings(**{field: 0})


@pytest.mark.parametrize("field", ["sigma", "sample_length"])
def test_settings_reject_negative_values(field):
    with pytest.raises(ValueError, match=field):
        Settings(**{field: -1})


def _nan_b(rnn: RNN) -> None:
    rnn.b[0, 0] = np.nan


def _inf_c(rnn: RNN) -> None:
    rnn.c[0, 0] = np.inf


def _inf_V(rnn: RNN) -> None:
    rnn.V[...] = np.inf


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("poison", [_nan_b, _inf_c, _inf_V])
@pytest.mark.parametrize("good_steps", [1, 2, 3])
def test_non_finite_loss_raises_and_keeps_the_parameters(poison, good_steps):
    # 3 pieces per epoch: step good_steps + 1 is the middle or last piece, or a new epoch.
    text = "".join(np.random.default_rng(0).choice(list("abcdef"), 3 * 5 + 1))
    check_divergence(Trainer.start, text, Settings(hidden=4, seq_length=5, sigma=0.1),
                     good_steps, poison)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("good_steps", [0, 3])
def test_non_finite_loss_on_the_first_piece_of_an_epoch_changes_no_bookkeeping(good_steps):
    # "nothing is updated then" includes e, h and the epoch count, even where an epoch begins.
    text = "".join(np.random.default_rng(0).choice(list("abcdef"), 3 * 5 + 1))
    trainer = Trainer.start(text, Settings(hidden=4, seq_length=5, sigma=0.1))
    trainer.run(good_steps)
    _nan_b(trainer.rnn)
    state = (trainer.e, trainer.h.copy(), trainer.epoch, list(trainer.epoch_starts))
    with pytest.raises(TrainingDiverged):
        trainer.step()
    assert trainer.e == state[0]
    np.testing.assert_array_equal(trainer.h, state[1])
    assert (trainer.epoch, trainer.epoch_starts) == (state[2], state[3])
    # Repaired, the same step begins the epoch once (a regression: epoch_starts was [1, 1]).
    trainer.rnn.b[0, 0] = 0.0
    trainer.step()
    assert trainer.epoch_starts == [*state[3], good_steps + 1], trainer.epoch_starts


# ---------------------------------------------------------------- it learns

def test_learns_a_periodic_text():
    text = "abcde" * 40
    trainer = Trainer.start(text, Settings(hidden=16, seq_length=10, sample_every=10_000,
                                           sample_length=20))
    trainer.run(5000)
    first = 10 * math.log(5)            # tau ln K: the loss of a uniform guess
    assert np.isclose(trainer.losses[0], first, rtol=1e-3, atol=0), trainer.losses[0]
    assert trainer.losses[-1] < 0.5, trainer.losses[-1]
    # (8.1) forgets slowly: 0.999^5000 of the first loss (0.11) remains in the smooth loss.
    assert trainer.smooth_loss < 0.5, trainer.smooth_loss
    vocab = trainer.vocab
    h0 = np.zeros((16, 1))
    after_a, _ = greedy(trainer.rnn, h0, int(vocab.encode("a")[0]), 12)
    assert vocab.decode(after_a) == "bcdeabcdeabc"
    # Primed on "abcdeab", the model continues the cycle from the "c" after it.
    ids = vocab.encode("abcdeabc")
    after_prefix, _ = greedy(trainer.rnn, prime(trainer.rnn, h0, ids[:-1]), int(ids[-1]), 10)
    assert vocab.decode(after_prefix) == "deabcdeabc"


def test_the_trainer_takes_its_update_as_a_parameter():
    settings = Settings(hidden=6, seq_length=5, sample_every=7, sample_length=10)
    text = ALPHABET * 6                                          # 72 characters: 14 pieces
    by_name = Trainer.start(text, settings, engine="chapters")
    given_update = Trainer.start(text, settings, update=Trainer._update_by_chapters)
    by_name.run(40)
    given_update.run(40)
    assert given_update.losses == by_name.losses and given_update.samples == by_name.samples
    assert all(np.array_equal(a, b) for a, b in zip(given_update.rnn, by_name.rnn, strict=True))

    seen = []

    def record(trainer, X, Y, h):            # changes nothing; its loss is the call's number
        seen.append((trainer.iteration, X.copy(), Y.copy(), h.copy()))
        return float(len(seen)), np.full_like(h, len(seen))

    walk = Trainer.start(text, settings, update=record)
    walk.run(walk.iterations_per_epoch + 2)
    data, tau, n = walk.data, settings.seq_length, walk.iterations_per_epoch
    for i, (iteration, X, Y, h) in enumerate(seen):
        e = (i % n) * tau                    # the position, back at 0 when an epoch is over
        assert iteration == i and np.array_equal(X, data[e:e + tau])
        assert np.array_equal(Y, data[e + 1:e + tau + 1])
        assert np.all(h == (0 if i % n == 0 else i)), "h carried, zero at each epoch's start"
    assert walk.epoch_starts == [1, n + 1] and walk.losses == [float(i) for i in range(1, n + 3)]
    smooth = 1.0
    for loss in walk.losses[1:]:
        smooth = 0.999 * smooth + 0.001 * loss                  # (8.1)
    assert walk.smooth_loss == smooth


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(1, 6), tau=st.integers(1, 6),
       n=st.integers(12, 40), iterations=st.integers(1, 30), sample_every=st.integers(1, 12))
def test_the_plain_loop_is_the_trainer(seed, m, tau, n, iterations, sample_every):
    # train_loop is chapter 8 written plainly; the Trainer is the same loop, several epochs
    # included (n is short), to the last bit: smooth losses, the best copy, every sample.
    text = "".join(np.random.default_rng(seed).choice(list("abcde \n"), n))
    trainer = Trainer.start(text, Settings(hidden=m, seq_length=tau, sample_every=sample_every,
                                           sample_length=7, seed=seed), engine="chapters")
    rnn, trainer.rng = trainer.rnn.copy(), np.random.default_rng(seed + 1)
    trainer.run(iterations)
    smooth, best, samples = train_loop(rnn, trainer.data, iterations, tau, 0.1, sample_every, 7,
                                       seed + 1)
    assert smooth == trainer.smooth_losses
    assert all(np.array_equal(a, b) for a, b in zip(best, trainer.best, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(rnn, trainer.rnn, strict=True))
    assert [trainer.vocab.decode(ids) for ids in samples] == [s.text for s in trainer.samples]
