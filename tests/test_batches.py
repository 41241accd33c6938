"""Mini-batches: B = 1 is chapter 4, a batch is the mean of its streams, the gradients pass
the gradient check, the engine equals the chapter, and a batched run trains."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charrnn_edu import batches, bptt
from charrnn_edu.adagrad import AdaGrad, Adam, clip
from charrnn_edu.engine import Engine
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.gradcheck import elementwise
from charrnn_edu.training import PRESETS, Trainer, iterations_per_epoch

TEXT = read_text(default_corpus())[:6_000]


def problem(seed, K, m, tau, B, scale=0.5):
    rng = np.random.default_rng(seed)
    sigma = scale / np.sqrt(m)
    rnn = RNN.init(K, m, sigma, rng=rng)
    rnn.b[:], rnn.c[:] = rng.normal(0, sigma, (m, 1)), rng.normal(0, sigma, (K, 1))
    X, Y = rng.integers(0, K, (B, tau)), rng.integers(0, K, (B, tau))
    return rng, rnn, X, Y, rng.uniform(-1, 1, (m, B))


def close(a, b, rtol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max(initial=0)))


sizes = dict(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 10), m=st.integers(1, 8),
             tau=st.integers(1, 7))


@given(**sizes)
def test_one_stream_is_chapter_4_to_the_last_bit(seed, K, m, tau):
    _, rnn, X, Y, H0 = problem(seed, K, m, tau, 1)
    loss, grads, h = batches.gradients(rnn, X, Y, H0)
    loss1, grads1, h1 = bptt.gradients(rnn, X[0], Y[0], H0)
    assert loss == loss1
    for a, b in zip(grads, grads1, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(h, h1)


@given(**sizes, B=st.integers(2, 6))
def test_a_batch_is_the_mean_of_its_streams(seed, K, m, tau, B):
    _, rnn, X, Y, H0 = problem(seed, K, m, tau, B)
    loss, grads, H = batches.gradients(rnn, X, Y, H0)
    singles = [bptt.gradients(rnn, X[b], Y[b], H0[:, [b]]) for b in range(B)]
    assert loss == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-12)
    for name in NAMES:
        close(getattr(grads, name), np.mean([getattr(s[1], name) for s in singles], axis=0))
    close(H, np.hstack([s[2] for s in singles]))


def loss_of(rnn, X, Y, H0):
    return batches.batch_loss(batches.forward(rnn, X, H0).P, Y)


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(2, 6), m=st.integers(1, 5),
       tau=st.integers(1, 5), B=st.integers(2, 4))
def test_batch_gradients_pass_the_gradient_check(seed, K, m, tau, B):
    """Against complex-step derivatives (exact to rounding) and centred differences."""
    _, rnn, X, Y, H0 = problem(seed, K, m, tau, B)
    _, grads, _ = batches.gradients(rnn, X, Y, H0)
    model, real = rnn.map(lambda a: a.astype(complex)), rnn.copy()
    for name, g, theta, theta_real in zip(NAMES, grads, model, real, strict=True):
        complex_step = elementwise(lambda _: loss_of(model, X, Y, H0.astype(complex)), theta,
                                   method="complex")
        assert g == pytest.approx(complex_step, rel=1e-10, abs=1e-13), name
        centred = elementwise(lambda _: loss_of(real, X, Y, H0), theta_real, step=1e-5)
        assert g == pytest.approx(centred, rel=1e-5, abs=1e-8), name


def test_streams_are_contiguous_parts_of_the_text():
    data = np.arange(103)
    S = batches.streams(data, 4)
    assert S.shape == (4, 25)
    assert [row[0] for row in S] == [0, 25, 50, 75] and S[3, -1] == 99
    assert np.shares_memory(S, data)
    with pytest.raises(ValueError, match="at least 1"):
        batches.streams(data, 0)
    with pytest.raises(ValueError, match="at least 2"):
        batches.streams(data[:5], 4)


@given(**sizes, B=st.integers(2, 6), optimizer=st.sampled_from(["adagrad", "adam"]),
       mean_loss=st.booleans(), dtype=st.sampled_from([np.float64, np.float32]))
def test_the_batched_engine_equals_the_chapter(seed, K, m, tau, B, optimizer, mean_loss, dtype):
    rng, rnn, X, Y, H0 = problem(seed, K, m, tau, B)
    rnn, H0 = rnn.map(lambda a: a.astype(dtype)), H0.astype(dtype)
    memory = rnn.map(lambda a: rng.uniform(0.5, 2, a.shape).astype(dtype))
    make = ((lambda: AdaGrad(memory=memory.copy())) if optimizer == "adagrad"
            else (lambda: Adam(eta=0.01)))
    chapter, chapter_opt = rnn.copy(), make()
    loss, grads, H = batches.gradients(chapter, X, Y, H0)
    tau_scale = tau if mean_loss else 1
    grads = grads.map(lambda g: g / tau_scale)
    chapter_opt.step(chapter, clip(grads))

    fast, opt = rnn.copy(), make()
    engine = Engine(fast, opt, rnn.copy(), tau=tau, clip=5.0, mean_loss=mean_loss, batch=B)
    rtol = 1e-12 if dtype == np.float64 else 1e-3
    assert engine.loss_and_gradients(X, Y, H0) == pytest.approx(loss / tau_scale, rel=rtol)
    for a, b in zip(engine.grads, grads, strict=True):
        close(a, b, rtol)
    close(engine.h, H, rtol)
    engine.update()
    for a, b in zip(fast, chapter, strict=True):
        close(a, b, rtol)


@pytest.mark.parametrize("engine", ["fast", "chapters"])
def test_a_batched_run_walks_the_streams_and_resets_them_each_epoch(engine):
    settings = replace(PRESETS["classic"], hidden=12, batch=4, sample_every=30,
                       sample_length=15)
    trainer = Trainer.start(TEXT, settings, engine=engine)
    per_epoch = iterations_per_epoch(len(TEXT), 25, 4)
    assert trainer.iterations_per_epoch == per_epoch == (6_000 // 4 - 1) // 25
    trainer.run(per_epoch + 3)
    assert trainer.epoch_starts == [1, per_epoch + 1]
    assert trainer.e == 3 * 25 and trainer.h.shape == (12, 4)
    assert len(trainer.samples) == 1 + (per_epoch + 3) // 30
    assert all(len(s.text) == 15 for s in trainer.samples)
    assert trainer.losses[0] == pytest.approx(25 * np.log(trainer.rnn.K), rel=1e-3)


def test_batched_fast_trainer_follows_the_chapters_step_by_step():
    settings = replace(PRESETS["classic"], hidden=10, batch=3, sample_every=10**9)
    fast = Trainer.start(TEXT[:1_000], settings)
    for _ in range(30):
        slow = Trainer.start(TEXT[:1_000], settings, engine="chapters")
        for name in ("e", "iteration", "epoch", "smooth_loss", "best_loss", "best_iteration"):
            setattr(slow, name, getattr(fast, name))
        slow.h, slow.rnn = fast.h.copy(), fast.rnn.copy()
        memory = fast.optimizer.memory
        slow.optimizer = AdaGrad(memory=memory.copy() if memory is not None else None)
        assert fast.step() == pytest.approx(slow.step(), rel=1e-12)
        for a, b in zip([*fast.rnn, fast.h], [*slow.rnn, slow.h], strict=True):
            close(a, b)


def test_a_batch_that_does_not_fit_the_text_is_refused():
    with pytest.raises(ValueError, match=r"batch \* \(seq_length \+ 1\)"):
        Trainer.start(TEXT[:100], replace(PRESETS["classic"], batch=8))
    with pytest.raises(ValueError, match="batch must be positive"):
        replace(PRESETS["classic"], batch=0)


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 8), m=st.integers(1, 6),
       n=st.integers(2, 400), streams=st.integers(1, 9), piece=st.integers(1, 60))
def test_held_out_loss_is_the_mean_loss_of_its_streams_read_by_chapter_2(seed, K, m, n,
                                                                          streams, piece):
    from charrnn_edu.loss import sequence_loss
    from charrnn_edu.training import held_out_loss
    rng = np.random.default_rng(seed)
    rnn = RNN.init(K, m, 0.5, rng=rng)
    ids = rng.integers(0, K, n)
    got = held_out_loss(rnn, ids, streams=streams, piece=piece)
    B = max(1, min(streams, n // (piece + 1)))
    S = batches.streams(ids, B)
    total = sum(sequence_loss(rnn, row[:-1], row[1:], np.zeros((m, 1))) for row in S)
    assert got == pytest.approx(total / (B * (S.shape[1] - 1)), rel=1e-12)


def test_a_model_that_knows_nothing_scores_ln_k_held_out():
    from charrnn_edu.training import held_out_loss
    rnn = RNN.init(30, 7, 0.0, rng=np.random.default_rng(0))
    ids = np.random.default_rng(1).integers(0, 30, 5_000)
    assert held_out_loss(rnn, ids) == pytest.approx(np.log(30), rel=1e-14)


def test_the_held_out_part_is_the_end_of_the_text_and_never_trained_on():
    from charrnn_edu.training import split_text
    settings = replace(PRESETS["classic"], hidden=8, val_frac=0.2, eval_every=20,
                       sample_every=10**9)
    trainer = Trainer.start(TEXT, settings)
    data, held_out = split_text(TEXT, settings, trainer.vocab)
    assert trainer.vocab.decode(held_out) == TEXT[4_800:]
    assert np.array_equal(trainer.data, data) and len(data) == 4_800
    trainer.run(60)
    assert [i for i, _ in trainer.evaluations] == [20, 40, 60]
    assert all(0 < loss < np.log(trainer.rnn.K) + 1 for _, loss in trainer.evaluations)
    with pytest.raises(ValueError, match="val_frac must lie"):
        replace(settings, val_frac=0.9)
