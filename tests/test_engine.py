"""The training engine computes what the chapters compute.

One engine iteration against chapters 4 and 6 as written (gradients -> clip -> optimiser
step), over random sizes, data, hidden states, parameters and optimiser states; then whole
``Trainer`` runs with ``engine="fast"`` against ``engine="chapters"``.
"""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from charrnn_edu.adagrad import AdaGrad, clip, make_optimizer
from charrnn_edu.bptt import gradients
from charrnn_edu.engine import Engine
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.training import PRESETS, Trainer

TEXT = read_text(default_corpus())[:20_000]
RTOL = {np.float64: 1e-12, np.float32: 1e-3}


def problem(seed, K, m, tau, scale, dtype):
    """Random parameters, a random h0 and a random piece of text, from one seed.

    Weights have standard deviation scale / sqrt(m), so a_t is of order ``scale`` whatever m
    is. Far beyond that tanh saturates, 1 - h_t^2 is all cancellation, and no two ways of
    rounding agree on the gradient: not a property of the engine, so not tested.
    """
    rng = np.random.default_rng(seed)
    sigma = scale / np.sqrt(m)
    rnn = RNN.init(K, m, sigma, rng=rng)
    rnn.b[:], rnn.c[:] = rng.normal(0, sigma, (m, 1)), rng.normal(0, sigma, (K, 1))
    rnn = rnn.map(lambda a: a.astype(dtype))
    h0 = rng.uniform(-1, 1, (m, 1)).astype(dtype)
    x, y = rng.integers(0, K, tau), rng.integers(0, K, tau)
    return rng, rnn, h0, x, y


def warm(optimizer, rnn, rng):
    """An optimiser state that has seen earlier steps: non-zero moments, t > 0."""
    state = lambda: rnn.map(lambda a: rng.uniform(0.01, 2, a.shape).astype(a.dtype))  # noqa: E731
    if optimizer.state_names == ("memory",):
        optimizer.memory = state()
    else:
        assert optimizer.state_names == ("first", "second")
        optimizer.first = rnn.map(lambda a: rng.normal(0, 0.1, a.shape).astype(a.dtype))
        optimizer.second, optimizer.t = state(), int(rng.integers(1, 50))


def assert_close(actual, expected, dtype, what):
    """Equal to rtol: in float64 element by element, in float32 as a whole array.

    Both allow for the array's largest element: where tanh saturates, 1 - h^2 cancels, and a
    small element carries a relative rounding error far above machine precision in either
    computation. In float32 the sums of (4.2) and (4.6) cancel too: over 4,000 random problems
    the norm-relative difference had median 2e-7, 99.9th percentile 4e-5 and maximum 1.8e-4,
    hence 1e-3 there (any wrong equation is off by more than 1e-2).
    """
    rtol = RTOL[dtype]
    if dtype == np.float64:
        atol = rtol * float(np.abs(expected).max(initial=0.0))
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)
    else:
        error = np.linalg.norm(np.asarray(actual, np.float64) - expected)
        assert error <= rtol * np.linalg.norm(expected), f"{what}: norm-relative error too big"


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 12), m=st.integers(1, 10),
       tau=st.integers(1, 9), scale=st.sampled_from([0.01, 0.3, 1.0, 2.0]),
       optimizer=st.sampled_from(["adagrad", "adam"]), mean_loss=st.booleans(),
       bound=st.sampled_from([5.0, 0.05]), warm_state=st.booleans(),
       dtype=st.sampled_from([np.float64, np.float32]))
@example(seed=0, K=83, m=100, tau=25, scale=0.1, optimizer="adagrad", mean_loss=False,
         bound=5.0, warm_state=False, dtype=np.float64)     # the report's own sizes
def test_one_engine_iteration_equals_the_chapters(seed, K, m, tau, scale, optimizer, mean_loss,
                                                  bound, warm_state, dtype):
    rng, rnn, h0, x, y = problem(seed, K, m, tau, scale, dtype)
    opt = make_optimizer(optimizer, 0.1 if optimizer == "adagrad" else 0.01)
    if warm_state:
        warm(opt, rnn, rng)
    chapters, chapters_opt = rnn.copy(), replace(opt)
    if warm_state:   # a deep copy of the state, so the two runs share nothing
        for name in opt.state_names:
            setattr(chapters_opt, name, getattr(opt, name).copy())

    # Chapters 4 and 6 as written.
    loss, grads, h_last = gradients(chapters, x, y, h0)
    if mean_loss:
        loss, grads = loss / tau, grads.map(lambda g: g / tau)
    chapters_opt.step(chapters, clip(grads, bound))

    # The engine, on its own copies.
    fast, best = rnn.copy(), rnn.copy()
    engine = Engine(fast, opt, best, tau=tau, clip=bound, mean_loss=mean_loss)
    fast_loss = engine.loss_and_gradients(x, y, h0)
    assert fast_loss == pytest.approx(loss, rel=RTOL[dtype])
    for name in NAMES:
        assert_close(getattr(engine.grads, name), getattr(grads, name), dtype, f"dL/d{name}")
    assert_close(engine.h, h_last, dtype, "h_tau")
    engine.update()
    for name in NAMES:
        assert_close(getattr(fast, name), getattr(chapters, name), dtype, f"updated {name}")
    for state in opt.state_names:
        for name in NAMES:
            assert_close(getattr(getattr(opt, state), name),
                         getattr(getattr(chapters_opt, state), name), dtype, f"{state}.{name}")
    if optimizer == "adam":
        assert opt.t == chapters_opt.t


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(2, 10), m=st.integers(1, 8),
       tau=st.integers(1, 6), steps=st.integers(2, 12))
def test_engine_state_carries_over_iterations(seed, K, m, tau, steps):
    """Many iterations in a row, the hidden state carried: same as the chapters to 1e-9.

    AdaGrad's memory starts warm (above eps): from zero, its first steps multiply any rounding
    difference by eta / sqrt(eps) = 1,000 per iteration (docs/chapters/8b-fast.md shows it).
    """
    rng, rnn, h, x, y = problem(seed, K, m, tau, 0.3, np.float64)
    opt = AdaGrad()
    warm(opt, rnn, rng)
    chapters, chapters_opt = rnn.copy(), AdaGrad(memory=opt.memory.copy())
    fast, best = rnn.copy(), rnn.copy()
    engine = Engine(fast, opt, best, tau=tau, clip=5.0)
    h_chapters = h_fast = h
    for _ in range(steps):
        x, y = rng.integers(0, K, tau), rng.integers(0, K, tau)
        loss, grads, h_chapters = gradients(chapters, x, y, h_chapters)
        chapters_opt.step(chapters, clip(grads))
        assert engine.loss_and_gradients(x, y, h_fast) == pytest.approx(loss, rel=1e-9)
        engine.update()
        h_fast = engine.h
    for a, b in zip(fast, chapters, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h_fast, h_chapters, rtol=1e-9, atol=1e-12)


def test_the_engine_owns_the_trainers_arrays():
    """After binding, the trainer's parameters, best copy and state are live views."""
    trainer = Trainer.start(TEXT, replace(PRESETS["classic"], hidden=8, sample_every=10**9))
    trainer.run(3)
    engine = trainer._engine
    assert engine is not None and engine.bound_to(trainer.rnn, trainer.optimizer, trainer.best)
    before = trainer.rnn.W.copy()
    trainer.step()
    assert not np.array_equal(trainer.rnn.W, before)          # updated in place, as a view
    trainer.rnn = trainer.rnn.copy()                          # swapped by someone: rebinds
    trainer.step()
    assert trainer._engine is not engine


@pytest.mark.parametrize("preset", ["classic", "2026"])
def test_trainer_with_the_engine_follows_the_chapters_step_by_step(preset):
    """Along a real run of 120 iterations (an epoch boundary, samples, new bests included),
    every iteration of the fast trainer equals an iteration of the chapters from its state."""
    settings = replace(PRESETS[preset], hidden=16, sample_every=40, sample_length=20)
    text = TEXT[:1_000]                                # 39 pieces: epochs 1 to 4
    fast = Trainer.start(text, settings)
    for _ in range(120):
        slow = Trainer.start(text, settings, engine="chapters")
        for name in ("e", "iteration", "epoch", "smooth_loss", "best_loss", "best_iteration"):
            setattr(slow, name, getattr(fast, name))
        slow.h, slow.rnn, slow.best = fast.h.copy(), fast.rnn.copy(), fast.best.copy()
        slow.optimizer = replace(fast.optimizer)
        for name in fast.optimizer.state_names:
            if getattr(fast.optimizer, name) is not None:
                setattr(slow.optimizer, name, getattr(fast.optimizer, name).copy())
        slow.rng = np.random.default_rng()
        slow.rng.bit_generator.state = fast.rng.bit_generator.state
        assert fast.step() == pytest.approx(slow.step(), rel=1e-12)
        for a, b in zip([*fast.rnn, *fast.best, fast.h], [*slow.rnn, *slow.best, slow.h],
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
        assert (fast.epoch, fast.e, fast.best_iteration) == (slow.epoch, slow.e,
                                                              slow.best_iteration)
    assert fast.epoch == 4 and len(fast.samples) == 4


def test_the_2026_preset_runs_the_same_curve_with_either_engine():
    """Adam's steps do not amplify rounding, so whole runs agree to 1e-9 for 100 iterations."""
    settings = replace(PRESETS["2026"], hidden=24, sample_every=10**9)
    fast = Trainer.start(TEXT, settings)
    slow = Trainer.start(TEXT, settings, engine="chapters")
    fast.run(100)
    slow.run(100)
    np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-9)
    np.testing.assert_allclose(fast.smooth_losses, slow.smooth_losses, rtol=1e-9)


def test_engine_refuses_what_it_cannot_compute():
    rnn = RNN.init(5, 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="tau must be at least 1"):
        Engine(rnn.copy(), AdaGrad(), rnn.copy(), tau=0, clip=5.0)
    with pytest.raises(ValueError, match="float64 or float32"):
        complex_rnn = rnn.map(lambda a: a.astype(complex))
        Engine(complex_rnn, AdaGrad(), complex_rnn.copy(), tau=2, clip=5.0)
    engine = Engine(rnn.copy(), AdaGrad(), rnn.copy(), tau=4, clip=5.0)
    with pytest.raises(ValueError, match=r"pieces of shape \(4,\)"):
        engine.loss_and_gradients(np.arange(3), np.arange(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="engine must be one of"):
        Trainer.start(TEXT, engine="turbo")

    class Momentum(AdaGrad):                # an optimiser the engine has no fused update for
        name = "momentum"

    with pytest.raises(ValueError, match="no fused update for momentum"):
        Engine(rnn.copy(), Momentum(), rnn.copy(), tau=4, clip=5.0)


@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_the_engine_binds_the_state_the_optimiser_names(optimizer):
    rnn = RNN.init(5, 3, rng=np.random.default_rng(0))
    opt = make_optimizer(optimizer, 0.1)
    engine = Engine(rnn, opt, rnn.copy(), tau=4, clip=5.0)
    assert set(engine.state) == set(opt.state_names)
    for name in opt.state_names:
        for theta in getattr(opt, name):                 # zeros, views into the flat state
            assert not theta.any() and np.shares_memory(theta, engine.state[name])
    offsets = [theta.ctypes.data for theta in rnn]
    assert offsets == sorted(offsets), "the flat layout follows NAMES: b, c, U, W, V"
