"""The gated cells' engines compute what chapters 10 and 10b compute.

One engine iteration against the chapter as written (``gradients`` per stream, the mean over
the streams, ``clip``, the optimiser's ``step``) over random sizes, data, states (c_0 too),
parameters and optimiser states; then iterations in a row with the state carried, float32
against float64, the binding of the arrays, and the shapes the engines refuse.
"""

from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from charrnn_edu import gru as gru_chapter
from charrnn_edu import lstm as lstm_chapter
from charrnn_edu.adagrad import AdaGrad, Adam, clip, make_optimizer
from charrnn_edu.forward import RNN
from charrnn_edu.gated_engine import GRUEngine, LSTMEngine

RTOL = 1e-10
"""float64: the engine and the chapter differ by rounding only (observed: about 1e-15)."""
FLOAT32_RTOL = 1e-3
FLOAT32_ATOL = 1e-5
"""float32 against float64, norm-relative and absolute (test_float32_agrees_with_float64)."""
CELLS = {"lstm": (lstm_chapter, LSTMEngine, 2), "gru": (gru_chapter, GRUEngine, 1)}
"""By name: the chapter, its engine, and the state's rows per hidden unit (h and c, or h)."""


@dataclass(frozen=True)
class Problem:
    """One random problem: a model, B pieces and the states before them, from one seed."""

    cell: str
    seed: int
    K: int
    m: int
    tau: int
    B: int
    scale: float

    def build(self, dtype=np.float64):
        """Weights of standard deviation scale / sqrt(m), so each a_t is of order ``scale``
        (far beyond that the gates saturate and no two roundings agree on 1 - s); random
        biases; h_0 in (-1, 1) and, for the LSTM, a c_0 of order 1."""
        chapter, _, rows = CELLS[self.cell]
        rng = np.random.default_rng(self.seed)
        sigma = self.scale / np.sqrt(self.m)
        kind = chapter.LSTM if self.cell == "lstm" else chapter.GRU
        model = kind.init(self.K, self.m, sigma, rng=rng)
        model.b = model.b + rng.normal(0, sigma, model.b.shape)
        model.d = rng.normal(0, sigma, model.d.shape)
        state = rng.uniform(-1, 1, (rows * self.m, self.B))
        if self.cell == "lstm":
            state[self.m:] *= 2                                  # c_0 is not bounded by 1
        X, Y = rng.integers(0, self.K, (self.B, self.tau)), rng.integers(0, self.K,
                                                                         (self.B, self.tau))
        return rng, model.map(lambda a: a.astype(dtype)), state.astype(dtype), X, Y

    def piece(self, X, Y):
        """The piece as the engine takes it: (tau,) arrays for one stream."""
        return (X[0], Y[0]) if self.B == 1 else (X, Y)


def problems(cell=None):
    cells = st.sampled_from(sorted(CELLS)) if cell is None else st.just(cell)
    return st.builds(Problem, cell=cells, seed=st.integers(0, 2**32 - 1), K=st.integers(1, 10),
                     m=st.integers(1, 8), tau=st.integers(1, 8), B=st.integers(1, 4),
                     scale=st.sampled_from([0.01, 0.5, 1.0, 2.0]))


def chapter_gradients(problem, model, state, X, Y, mean_loss):
    """The chapter's loss, gradients and final states: the mean over the B streams, each by
    the chapter's ``gradients``; with the mean loss, divided by tau too."""
    chapter = CELLS[problem.cell][0]
    m, scale = problem.m, problem.B * (problem.tau if mean_loss else 1)
    total, grads, finals = 0.0, model.map(np.zeros_like), []
    for b in range(problem.B):
        if problem.cell == "lstm":
            loss, g, h, c = chapter.gradients(model, X[b], Y[b], state[:m, [b]],
                                              state[m:, [b]])
            finals.append(np.vstack([h, c]))                     # (2m, 1): h over c
        else:
            loss, g, h = chapter.gradients(model, X[b], Y[b], state[:, [b]])
            finals.append(h)
        total += loss
        grads = grads.map(np.add, g)
    return total / scale, grads.map(lambda a: a / scale), np.hstack(finals)


def warm(optimizer, model, rng):
    """An optimiser state that has seen earlier steps: non-zero moments, t > 0."""
    if optimizer.name == "adagrad":
        optimizer.memory = model.map(lambda a: rng.uniform(0.01, 2, a.shape))
    else:
        optimizer.first = model.map(lambda a: rng.normal(0, 0.1, a.shape))
        optimizer.second = model.map(lambda a: rng.uniform(0.01, 2, a.shape))
        optimizer.t = int(rng.integers(1, 50))


def copy_optimizer(optimizer):
    """A deep copy: the two share no array."""
    twin = replace(optimizer)
    for name in optimizer.state_names:
        if getattr(optimizer, name) is not None:
            setattr(twin, name, getattr(optimizer, name).copy())
    return twin


def assert_close(actual, expected, what, rtol=RTOL):
    """Equal to rtol element by element, allowing for the array's largest element: where a
    gate saturates, 1 - s cancels and a small element carries a large relative rounding."""
    atol = rtol * float(np.abs(expected).max(initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


@given(problem=problems(), optimizer=st.sampled_from(["adagrad", "adam"]),
       mean_loss=st.booleans(), bound=st.sampled_from([5.0, 0.05]), warm_state=st.booleans())
@example(problem=Problem("lstm", 0, K=60, m=64, tau=25, B=1, scale=0.5), optimizer="adagrad",
         mean_loss=False, bound=5.0, warm_state=False)       # sizes near the report's
@example(problem=Problem("gru", 0, K=60, m=64, tau=25, B=1, scale=0.5), optimizer="adam",
         mean_loss=True, bound=5.0, warm_state=False)
def test_one_engine_iteration_equals_the_chapter(problem, optimizer, mean_loss, bound,
                                                 warm_state):
    chapter, Engine, _ = CELLS[problem.cell]
    rng, model, state, X, Y = problem.build()
    opt = make_optimizer(optimizer, 0.1 if optimizer == "adagrad" else 0.01)
    if warm_state:
        warm(opt, model, rng)
    lesson, lesson_opt = model.copy(), copy_optimizer(opt)

    loss, grads, final = chapter_gradients(problem, lesson, state, X, Y, mean_loss)
    lesson_opt.step(lesson, clip(grads, bound))

    fast = model.copy()
    engine = Engine(fast, opt, model.copy(), tau=problem.tau, clip=bound, mean_loss=mean_loss,
                    batch=problem.B)
    assert engine.loss_and_gradients(*problem.piece(X, Y), state) == pytest.approx(
        loss, rel=RTOL)
    for name in chapter.NAMES:
        assert_close(getattr(engine.grads, name), getattr(grads, name), f"dL/d{name}")
    assert engine.h.shape == state.shape
    assert_close(engine.h, final, "the final state")
    engine.update()
    for name in chapter.NAMES:
        assert_close(getattr(fast, name), getattr(lesson, name), f"updated {name}")
        for moment in opt.state_names:
            assert_close(getattr(getattr(opt, moment), name),
                         getattr(getattr(lesson_opt, moment), name), f"{moment}.{name}")
    assert getattr(opt, "t", 0) == getattr(lesson_opt, "t", 0)


@given(problem=problems(), steps=st.integers(2, 6), mean_loss=st.booleans())
def test_iterations_in_a_row_with_the_state_carried(problem, steps, mean_loss):
    """Nothing of one pass leaks into the next: buffers that must start at zero do (Adam,
    which does not amplify rounding, so the runs stay together to 1e-9)."""
    chapter, Engine, _ = CELLS[problem.cell]
    rng, model, state, X, Y = problem.build()
    lesson, lesson_opt, fast, opt = model.copy(), Adam(eta=0.01), model.copy(), Adam(eta=0.01)
    engine = Engine(fast, opt, model.copy(), tau=problem.tau, clip=5.0, mean_loss=mean_loss,
                    batch=problem.B)
    lesson_state = fast_state = state
    for _ in range(steps):
        X, Y = rng.integers(0, problem.K, (2, problem.B, problem.tau))
        loss, grads, lesson_state = chapter_gradients(problem, lesson, lesson_state, X, Y,
                                                      mean_loss)
        lesson_opt.step(lesson, clip(grads))
        assert engine.loss_and_gradients(*problem.piece(X, Y), fast_state) == pytest.approx(
            loss, rel=1e-9)
        engine.update()
        fast_state = engine.h
    for name in chapter.NAMES:
        assert_close(getattr(fast, name), getattr(lesson, name), name, rtol=1e-9)
    assert_close(fast_state, lesson_state, "the carried state", rtol=1e-9)


@given(problem=problems(), mean_loss=st.booleans())
def test_float32_agrees_with_float64(problem, mean_loss):
    """The engine in float32 against the chapter in float64 on the same (float32) numbers,
    to FLOAT32_RTOL of each array's norm plus FLOAT32_ATOL (for the arrays near zero): over
    4,000 random problems the largest difference was under 2% of that allowance."""
    chapter, Engine, _ = CELLS[problem.cell]
    _, model, state, X, Y = problem.build(np.float32)
    loss, grads, final = chapter_gradients(problem, model.map(lambda a: a.astype(np.float64)),
                                           state.astype(np.float64), X, Y, mean_loss)
    engine = Engine(model.copy(), AdaGrad(), model.copy(), tau=problem.tau, clip=5.0,
                    mean_loss=mean_loss, batch=problem.B)
    fast_loss = engine.loss_and_gradients(*problem.piece(X, Y), state)
    assert engine.grad.dtype == np.float32 and engine.h.dtype == np.float32
    assert fast_loss == pytest.approx(loss, rel=FLOAT32_RTOL, abs=FLOAT32_ATOL)
    for name, fast, exact in [*zip(chapter.NAMES, engine.grads, grads, strict=True),
                              ("state", engine.h, final)]:
        error = np.linalg.norm(np.asarray(fast, np.float64) - exact)
        assert error <= FLOAT32_RTOL * np.linalg.norm(exact) + FLOAT32_ATOL, f"{name}: {error:.2e}"


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_the_engine_owns_the_arrays_in_the_order_of_names(cell, optimizer):
    chapter, Engine, _ = CELLS[cell]
    _, model, _, _, _ = Problem(cell, 3, K=5, m=3, tau=4, B=2, scale=0.5).build()
    best, opt = model.copy(), make_optimizer(optimizer, 0.1)
    engine = Engine(model, opt, best, tau=4, clip=5.0, batch=2)
    assert engine.bound_to(model, opt, best)
    offsets = [theta.ctypes.data for theta in model]
    assert offsets == sorted(offsets), "the flat layout follows NAMES: b, d, U, W, V"
    for name in chapter.NAMES:
        assert np.shares_memory(getattr(model, name), engine.theta)
        assert np.shares_memory(getattr(best, name), engine.best_theta)
        for moment in opt.state_names:                      # zeros, views into the state
            theta = getattr(getattr(opt, moment), name)
            assert not theta.any() and np.shares_memory(theta, engine.state[moment])
    model.W[0, 0] += 1
    assert best.W[0, 0] != model.W[0, 0]
    engine.keep_best()
    assert np.array_equal(best.W, model.W)
    model.W = model.W.copy()                                # swapped by someone
    assert not engine.bound_to(model, opt, best)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_engine_refuses_what_it_cannot_compute(cell):
    _, Engine, rows = CELLS[cell]
    _, model, _, _, _ = Problem(cell, 0, K=5, m=3, tau=4, B=1, scale=0.5).build()
    with pytest.raises(ValueError, match="tau must be at least 1"):
        Engine(model.copy(), AdaGrad(), model.copy(), tau=0, clip=5.0)
    with pytest.raises(ValueError, match="float64 or float32"):
        complex_model = model.map(lambda a: a.astype(complex))
        Engine(complex_model, AdaGrad(), complex_model.copy(), tau=2, clip=5.0)
    rnn = RNN.init(5, 3, rng=np.random.default_rng(0))     # the vanilla cell's shapes
    wrong = type(model)(*rnn)
    with pytest.raises(ValueError, match=r"the model's arrays have shapes \{'b': \(3, 1\)"):
        Engine(wrong, AdaGrad(), wrong.copy(), tau=4, clip=5.0)
    engine = Engine(model.copy(), AdaGrad(), model.copy(), tau=4, clip=5.0)
    with pytest.raises(ValueError, match=r"pieces of shape \(4,\), got \(3,\) inputs"):
        engine.loss_and_gradients(np.arange(3), np.arange(3), np.zeros((rows * 3, 1)))
    with pytest.raises(ValueError, match=rf"states of shape \({rows * 3}, 1\), got \(3, 2\)"):
        engine.loss_and_gradients(np.arange(4), np.arange(4), np.zeros((3, 2)))
    streams = Engine(model.copy(), AdaGrad(), model.copy(), tau=4, clip=5.0, batch=2)
    with pytest.raises(ValueError, match=r"pieces of shape \(2, 4\), got \(4,\) inputs"):
        streams.loss_and_gradients(np.arange(4), np.arange(4), np.zeros((rows * 3, 2)))
    with pytest.raises(ValueError, match=rf"states of shape \({rows * 3}, 2\)"):
        streams.loss_and_gradients(np.zeros((2, 4), int), np.zeros((2, 4), int),
                                   np.zeros((rows * 3, 1)))
