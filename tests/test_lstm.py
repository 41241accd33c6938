"""Chapter 10: the LSTM, checked against references it did not write (complex steps, centred
differences, and the identity of a cell whose gates are held open and shut)."""

from dataclasses import dataclass

import numpy as np
import pytest
from clirun import run
from hypothesis import given
from hypothesis import strategies as st

import charrnn_edu.lstm
from charrnn_edu import gated_experiments
from charrnn_edu.files import save_figure
from charrnn_edu.gradcheck import elementwise, passes
from charrnn_edu.lstm import (
    FORGET_BIAS,
    GATES,
    LSTM,
    NAMES,
    Cache,
    backward_step,
    check,
    complex_step_gradients,
    forward,
    gradients,
    numerical_gradients,
    sequence_loss,
    state_gradients,
    step,
)
from charrnn_edu.spec.properties import (
    CENTRED_ATOL,
    CENTRED_RTOL,
    COMPLEX_ATOL,
    COMPLEX_RTOL,
    NUMERICAL_STEP,
    SAME_RTOL,
    norm_relative_error,
)


@dataclass(frozen=True)
class LSTMCase:
    """The scalars that determine one LSTM problem (Hypothesis prints these, not arrays)."""

    seed: int
    m: int
    K: int
    tau: int
    sigma: float
    random_states: bool

    def build(self):
        rng = np.random.default_rng(self.seed)
        lstm = LSTM.init(self.K, self.m, self.sigma, rng=rng)
        # Random biases, so that every gate sits somewhere other than its initial value.
        lstm.b = lstm.b + self.sigma * rng.standard_normal((4 * self.m, 1))   # (4m, 1)
        lstm.d = self.sigma * rng.standard_normal((self.K, 1))                # (K, 1)
        x = rng.integers(0, self.K, self.tau)
        y = rng.integers(0, self.K, self.tau)
        h0, c0 = np.zeros((self.m, 1)), np.zeros((self.m, 1))
        if self.random_states:   # every unit clearly nonzero, so h0's and c0's terms count
            h0 = rng.choice([-1.0, 1.0], (self.m, 1)) * rng.uniform(0.1, 0.9, (self.m, 1))
            c0 = rng.choice([-1.0, 1.0], (self.m, 1)) * rng.uniform(0.1, 2.0, (self.m, 1))
        return lstm, x, y, h0, c0


@st.composite
def lstm_cases(draw, random_states=None):
    random_states = st.booleans() if random_states is None else random_states
    return LSTMCase(seed=draw(st.integers(0, 2**32 - 1)), m=draw(st.integers(1, 4)),
                    K=draw(st.integers(2, 6)), tau=draw(st.integers(1, 6)),
                    sigma=draw(st.floats(0.01, 1.0)), random_states=draw(random_states))


def assert_close_by_name(g_a, g_ref, rtol, atol, what):
    bad = {}
    for name, a, r in zip(NAMES, g_a, g_ref, strict=True):
        rel, err = norm_relative_error(a, r), float(np.linalg.norm(a - r))
        if not (rel < rtol or err < atol):
            bad[name] = f"relative {rel:.2e}, absolute {err:.2e}"
    assert not bad, f"LSTM gradients differ from {what}: {bad}"


def test_init_sets_the_forget_bias_and_nothing_else():
    lstm = LSTM.init(5, 3, rng=np.random.default_rng(0))
    blocks = dict(zip(GATES, np.split(lstm.b, 4), strict=True))
    assert np.all(blocks["f"] == FORGET_BIAS)
    assert all(np.all(blocks[gate] == 0) for gate in "iqg") and np.all(lstm.d == 0)
    assert [theta.shape for theta in lstm] == [(12, 1), (5, 1), (12, 5), (12, 3), (5, 3)]
    with pytest.raises(ValueError, match="K and m"):
        LSTM.init(0, 3, rng=np.random.default_rng(0))


@given(lstm_cases())
def test_forward_shapes_and_carried_states(case):
    lstm, x, y, h0, c0 = case.build()
    H, C, P, h, c = forward(lstm, x, h0, c0)
    assert H.shape == C.shape == (case.m, case.tau) and P.shape == (case.K, case.tau)
    np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=SAME_RTOL, atol=0)
    assert np.array_equal(h, H[:, -1:]) and np.array_equal(c, C[:, -1:])
    # |h_t| = q_t |tanh c_t| < 1, and the gates are in (0, 1).
    assert np.all(np.abs(H) < 1)
    first = step(lstm, h0, c0, int(x[0]))
    assert all(np.all((0 <= gate) & (gate <= 1)) for gate in (first.i, first.f, first.q))
    # Reading the sequence in two parts gives the same states as reading it at once.
    if case.tau > 1:
        one = forward(lstm, x[:1], h0, c0)
        rest = forward(lstm, x[1:], one.h, one.c)
        assert np.array_equal(np.hstack([one.H, rest.H]), H)
        assert np.array_equal(np.hstack([one.C, rest.C]), C)


@given(lstm_cases(), st.integers(0, 2**32 - 1))
def test_a_cell_with_its_forget_gate_at_1_and_input_gate_at_0_carries_its_state(case, seed):
    lstm, x, _, _, _ = case.build()
    rng = np.random.default_rng(seed)
    h0, c0 = rng.uniform(-1, 1, (case.m, 1)), rng.uniform(-3, 3, (case.m, 1))
    blocks = {gate: slice(k * case.m, (k + 1) * case.m) for k, gate in enumerate(GATES)}
    for gate, bias in (("f", 40.0), ("i", -40.0)):      # sigma(40) = 1 in float64
        lstm.W[blocks[gate]] = 0
        lstm.U[blocks[gate]] = 0
        lstm.b[blocks[gate]] = bias
    H, C, _, _, c = forward(lstm, x, h0, c0)
    # c_t = 1 * c_{t-1} + ~4e-18 * g_t: the cell state is carried unchanged.
    np.testing.assert_allclose(C, np.repeat(c0, case.tau, axis=1), rtol=1e-15, atol=1e-16)
    # And a gradient on the cell state goes back along it unchanged, step after step, once
    # nothing reaches the loss through h (V = 0): (10.14) adds f_t * dL/dc_t with f_t = 1.
    lstm.V[:] = 0
    dc = dc_start = rng.standard_normal((case.m, 1))
    dh, h, c = np.zeros((case.m, 1)), h0, c0
    caches = []
    for x_t in x:
        s = step(lstm, h, c, int(x_t))
        caches.append(Cache(h_prev=h, c_prev=c, x_t=int(x_t), step=s))
        h, c = s.h, s.c
    for cache in reversed(caches):
        dh, dc, _ = backward_step(lstm, cache, cache.x_t, dh, dc)
    np.testing.assert_allclose(dc, dc_start, rtol=1e-15, atol=1e-15)


@given(lstm_cases())
def test_gradient_shapes_loss_and_last_states(case):
    lstm, x, y, h0, c0 = case.build()
    before = lstm.copy()
    loss, grads, h, c = gradients(lstm, x, y, h0, c0)
    assert [g.shape for g in grads] == [theta.shape for theta in lstm]
    assert np.isclose(loss, sequence_loss(lstm, x, y, h0, c0), rtol=SAME_RTOL, atol=0)
    last = forward(lstm, x, h0, c0)
    assert np.array_equal(h, last.h) and np.array_equal(c, last.c)
    assert all(np.array_equal(a, b) for a, b in zip(lstm, before, strict=True))
    # (10.12): dL/dd is the sum of p_t - y_t, whose entries add up to 0 at every step.
    assert abs(float(grads.d.sum())) < 1e-12 * case.tau


@given(lstm_cases(random_states=st.just(True)))
def test_a_backward_step_returns_its_terms_and_changes_nothing_it_is_given(case):
    lstm, x, y, h0, c0 = case.build()
    cache = Cache(h_prev=h0, c_prev=c0, x_t=int(x[0]), step=step(lstm, h0, c0, int(x[0])))
    rng = np.random.default_rng(case.seed)
    dh_next, dc_next = rng.standard_normal((case.m, 1)), rng.standard_normal((case.m, 1))
    before = [a.copy() for a in (*lstm, h0, c0, *cache.step, dh_next, dc_next)]
    dh, dc, terms = backward_step(lstm, cache, int(y[0]), dh_next, dc_next)
    after = [*lstm, h0, c0, *cache.step, dh_next, dc_next]
    assert all(np.array_equal(a, b) for a, b in zip(after, before, strict=True))
    assert dh.shape == dc.shape == (case.m, 1)
    assert [t.shape for t in terms] == [theta.shape for theta in lstm]
    # (10.20): the term of dL/dU is dL/da_t in column x_t and 0 elsewhere; (10.21) dL/db.
    assert np.array_equal(terms.U[:, [int(x[0])]], terms.b)
    assert not np.delete(terms.U, int(x[0]), axis=1).any()
    np.testing.assert_allclose(dh, lstm.W.T @ terms.b, rtol=SAME_RTOL, atol=1e-15)


@pytest.mark.parametrize("random_states", [False, True], ids=["zero states", "random states"])
@given(case=lstm_cases())
def test_gradients_match_complex_step(random_states, case):
    problem = LSTMCase(**{**case.__dict__, "random_states": random_states}).build()
    _, grads, _, _ = gradients(*problem)
    assert_close_by_name(grads, complex_step_gradients(*problem), COMPLEX_RTOL, COMPLEX_ATOL,
                         "the complex step")


@given(lstm_cases(random_states=st.just(True)))
def test_gradients_match_centred_differences(case):
    problem = case.build()
    _, grads, _, _ = gradients(*problem)
    numerical = numerical_gradients(*problem, step=NUMERICAL_STEP)
    assert_close_by_name(grads, numerical, CENTRED_RTOL, CENTRED_ATOL, "centred differences")


@given(lstm_cases(random_states=st.just(True)))
def test_state_gradients_are_each_steps_derivative_by_complex_step(case):
    lstm, x, y, h0, c0 = case.build()
    dh0, dc0 = state_gradients(lstm, x, y, h0, c0)

    def step_loss(t, h_start, c_start):     # l_t alone, complex-capable
        return -np.log(forward(lstm, x[:t + 1], h_start, c_start).P[y[t], t])

    for t in range(case.tau):
        by_h = elementwise(lambda h, t=t: step_loss(t, h, c0), h0.astype(complex),
                           method="complex")
        by_c = elementwise(lambda c, t=t: step_loss(t, h0, c), c0.astype(complex),
                           method="complex")
        assert np.isclose(dh0[t], np.linalg.norm(by_h), rtol=1e-9, atol=1e-14)
        assert np.isclose(dc0[t], np.linalg.norm(by_c), rtol=1e-9, atol=1e-14)


@given(lstm_cases(random_states=st.just(True)))
def test_a_wrong_forget_gate_derivative_fails_the_check(case):
    # The classic mistake: c_t where c_{t-1} belongs in (10.17). The check must see it.
    lstm, x, y, h0, c0 = case.build()
    assert passes(check(lstm, x, y, h0, c0))

    def wrong(lstm, cache, y_t, dh_next, dc_next):
        return backward_step(lstm, cache._replace(c_prev=cache.step.c), y_t, dh_next, dc_next)

    caches, h, c = [], h0, c0
    for x_t in x:
        s = step(lstm, h, c, int(x_t))
        caches.append(Cache(h, c, int(x_t), s))
        h, c = s.h, s.c
    dh, dc, total = np.zeros_like(h0), np.zeros_like(c0), lstm.map(np.zeros_like)
    for t in reversed(range(case.tau)):
        dh, dc, terms = wrong(lstm, caches[t], int(y[t]), dh, dc)
        total = total.map(np.add, terms)
    exact = complex_step_gradients(lstm, x, y, h0, c0)
    wrong_by = max(norm_relative_error(a, r) for a, r in zip(total, exact, strict=True))
    differs = any(not np.allclose(cache.c_prev, cache.step.c) for cache in caches)
    assert wrong_by > 1e-6 or not differs


# ------------------------------------------------------------------ charrnn gradcheck --cell lstm


@pytest.mark.parametrize("h0", ["zero", "random"])
def test_charrnn_gradcheck_cell_lstm_passes_with_exit_0(capsys, h0):
    code, out, err = run(capsys, "gradcheck", "--cell", "lstm", "--hidden", "3",
                         "--seq-length", "12", "--h0", h0)
    assert code == 0, out + err
    rows = [line.split() for line in out.splitlines() if line[:2] in {"b ", "d ", "U ", "W ", "V "}]
    assert [(r[0], r[1]) for r in rows] == [("b", "12×1"), ("d", "76×1"), ("U", "12×76"),
                                            ("W", "12×3"), ("V", "76×3")]
    assert all(float(r[5]) <= 1e-12 and r[6] == "ok" for r in rows)
    assert "cell = lstm" in out and out.rstrip().splitlines()[-1].startswith("passed")


def test_charrnn_gradcheck_cell_lstm_fails_with_exit_1_on_a_wrong_gradient(capsys, monkeypatch):
    def wrong(lstm, x, y, h0, c0):
        loss, grads, h, c = gradients(lstm, x, y, h0, c0)
        grads.W *= 1.001                        # a bug of a tenth of a percent in (10.19)
        return loss, grads, h, c

    monkeypatch.setattr(charrnn_edu.lstm, "gradients", wrong)
    code, out, _ = run(capsys, "gradcheck", "--cell", "lstm", "--hidden", "3", "--h0", "random")
    assert code == 1 and out.rstrip().splitlines()[-1].startswith("FAILED")
    assert next(line for line in out.splitlines() if line.startswith("W ")).split()[6] == "FAILED"


def test_charrnn_gradcheck_cell_lstm_refuses_yours(capsys, tmp_path):
    code, _, err = run(capsys, "gradcheck", "--cell", "lstm", "--yours", str(tmp_path / "a.py"))
    assert code == 2 and "--cell lstm" in err and len(err.strip().splitlines()) == 1


def test_the_state_gradient_figure_shows_the_cell_path_alive_and_is_reproducible(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 6, 30), rng.integers(0, 6, 30)
    curves = gated_experiments.state_gradient_curves(x, y, K=6, m=8)
    vanilla, by_h, by_c, unbiased = curves.values()
    assert all(len(curve) == 30 for curve in curves.values())
    # 29 steps back: the cell path keeps far more than the vanilla network's h path, and a
    # forget bias of 1 keeps more than a forget bias of 0.
    assert by_c[-1] / by_c[0] > 1e10 * vanilla[-1] / vanilla[0]
    assert by_c[-1] / by_c[0] > 100 * unbiased[-1] / unbiased[0]
    out = tmp_path / "state-gradients.svg"
    save_figure(gated_experiments.draw_state_gradients(curves), out)
    first = out.read_bytes()
    save_figure(gated_experiments.draw_state_gradients(curves), out)
    assert first.lstrip().startswith(b"<?xml") and out.read_bytes() == first


def test_trained_networks_add_their_curves():
    from charrnn_edu.forward import RNN

    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 6, 20), rng.integers(0, 6, 20)
    # Stand-ins for trained networks: other sizes and weights than the fresh ones.
    trained = (RNN.init(6, 5, 0.3, rng=rng), LSTM.init(6, 4, 0.3, rng=rng))
    curves = gated_experiments.state_gradient_curves(x, y, K=6, m=8, trained=trained)
    fresh = gated_experiments.state_gradient_curves(x, y, K=6, m=8)
    assert list(curves)[:4] == list(fresh) and len(curves) == 6
    from charrnn_edu.experiments import h0_gradients
    np.testing.assert_allclose(curves["trained vanilla RNN: d l_t / d h_0"],
                               h0_gradients(trained[0], x, y, np.zeros((5, 1))))
    np.testing.assert_allclose(curves["trained LSTM: d l_t / d c_0"],
                               state_gradients(trained[1], x, y, np.zeros((4, 1)),
                                               np.zeros((4, 1)))[1])
