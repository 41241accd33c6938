"""The 2026 edition (Adam, mean loss, scaled initialisation) and the float32 option."""

import math
from dataclasses import fields, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charrnn_edu.adagrad import Adam
from charrnn_edu.bptt import gradients
from charrnn_edu.checkpoint import load, save
from charrnn_edu.files import corpus_sha256, default_corpus, read_text
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.spec.strategies import seeds
from charrnn_edu.training import PRESETS, Settings, Trainer, init_scaled

TEXT = read_text(default_corpus())[:600]
SMALL = dict(hidden=8, seq_length=6, sample_every=9, sample_length=12, seed=5)


def random_rnn(seed, m=4, K=6):
    return RNN.init(K, m, 0.5, rng=np.random.default_rng(seed))


def test_names_are_the_dataclass_fields_in_order():
    assert NAMES == tuple(f.name for f in fields(RNN)) == ("b", "c", "U", "W", "V")
    rnn = random_rnn(0)
    assert all(a is getattr(rnn, name) for a, name in zip(rnn, NAMES, strict=True))


@given(seeds, st.integers(1, 6))
def test_adam_matches_the_textbook_formula(seed, steps):
    rng = np.random.default_rng(seed)
    rnn = random_rnn(seed)
    reference = rnn.copy()
    adam = Adam(eta=0.01)
    m = [np.zeros_like(p) for p in rnn]
    v = [np.zeros_like(p) for p in rnn]
    for t in range(1, steps + 1):
        grads = rnn.map(lambda p: rng.standard_normal(p.shape))
        adam.step(rnn, grads)
        for i, (theta, g) in enumerate(zip(reference, grads, strict=True)):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g**2
            theta -= 0.01 * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    assert adam.t == steps
    for a, b in zip(rnn, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@given(seeds)
def test_adam_first_step_moves_by_eta_against_the_gradient(seed):
    rng = np.random.default_rng(seed)
    rnn = random_rnn(seed)
    before = rnn.copy()
    grads = rnn.map(lambda p: rng.uniform(0.1, 2.0, p.shape) * rng.choice([-1, 1], p.shape))
    Adam(eta=0.05).step(rnn, grads)
    for new, old, g in zip(rnn, before, grads, strict=True):
        np.testing.assert_allclose(new - old, -0.05 * np.sign(g), rtol=1e-6)


def test_adam_zero_gradient_changes_nothing():
    rnn = random_rnn(1)
    before = rnn.copy()
    Adam().step(rnn, rnn.map(np.zeros_like))
    for a, b in zip(rnn, before, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("kwargs", [dict(eta=0), dict(beta1=1.0), dict(beta2=-0.1),
                                    dict(eps=0)])
def test_adam_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        Adam(**kwargs)


def test_scaled_init_has_the_2026_variances():
    K, m = 400, 300
    rnn = init_scaled(K, m, rng=np.random.default_rng(0))
    assert not rnn.b.any() and not rnn.c.any()
    for theta, variance in ((rnn.U, 1 / (2 * K)), (rnn.W, 1 / (2 * m)), (rnn.V, 1 / m)):
        assert theta.var() == pytest.approx(variance, rel=0.05)


@pytest.mark.parametrize("field,value", [("optimizer", "sgd"), ("loss", "max"),
                                         ("init", "zeros"), ("dtype", "float16")])
def test_settings_reject_unknown_choices(field, value):
    with pytest.raises(ValueError, match=field):
        Settings(**{field: value})


def test_mean_loss_divides_loss_and_gradients_by_tau():
    settings = replace(PRESETS["2026"], **SMALL)
    trainer = Trainer.start(TEXT, settings)
    before = trainer.rnn.copy()
    loss = trainer.step()
    tau = settings.seq_length
    x, y = trainer.data[:tau], trainer.data[1:tau + 1]
    summed, grads, _ = gradients(before, x, y, np.zeros((settings.hidden, 1)))
    assert loss == pytest.approx(summed / tau, rel=1e-12)
    assert loss == pytest.approx(math.log(len(trainer.vocab)), rel=0.05)
    expected = before.copy()
    Adam(eta=settings.eta).step(expected, grads.map(lambda g: np.clip(g / tau, -5, 5)))
    for a, b in zip(trainer.rnn, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_the_2026_preset_learns():
    trainer = Trainer.start(TEXT, replace(PRESETS["2026"], **SMALL, eta=0.01))
    trainer.run(400)
    assert trainer.smooth_loss < trainer.losses[0] - 0.1


@pytest.mark.parametrize("preset", ["classic", "2026"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_resume_is_bit_exact_for_every_preset_and_dtype(tmp_path, preset, dtype):
    settings = replace(PRESETS[preset], **SMALL, dtype=dtype)
    straight = Trainer.start(TEXT, settings)
    straight.run(140)
    first = Trainer.start(TEXT, settings)
    first.run(70)
    path = tmp_path / "checkpoint.npz"
    save(path, first, corpus_sha256=corpus_sha256(TEXT, "utf-8"), encoding="utf-8",
         corpus_name="text")
    resumed = load(path, TEXT)
    resumed.run(140)
    assert resumed.losses == straight.losses
    assert resumed.samples == straight.samples
    for a, b in zip([*resumed.rnn, *resumed.best, resumed.h], [*straight.rnn, *straight.best,
                                                              straight.h], strict=True):
        assert a.dtype == np.dtype(dtype) and np.array_equal(a, b)


def test_float32_training_stays_float32_and_tracks_float64():
    runs = {dtype: Trainer.start(TEXT, Settings(**SMALL, dtype=dtype))
            for dtype in ("float64", "float32")}
    for trainer in runs.values():
        trainer.run(20)
    for theta in [*runs["float32"].rnn, runs["float32"].h]:
        assert theta.dtype == np.float32
    np.testing.assert_allclose(runs["float32"].losses[:5], runs["float64"].losses[:5],
                               rtol=1e-4)
