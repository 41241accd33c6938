"""Chapter 10b: the GRU, checked against complex steps and centred differences."""

from dataclasses import dataclass

import numpy as np
import pytest
from clirun import run
from hypothesis import given
from hypothesis import strategies as st

from charrnn_edu.gradcheck import passes
from charrnn_edu.gru import (
    GATES,
    GRU,
    NAMES,
    Cache,
    backward_step,
    check,
    complex_step_gradients,
    forward,
    gradients,
    numerical_gradients,
    sequence_loss,
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
class GRUCase:
    """The scalars that determine one GRU problem."""

    seed: int
    m: int
    K: int
    tau: int
    sigma: float
    random_h0: bool

    def build(self):
        rng = np.random.default_rng(self.seed)
        gru = GRU.init(self.K, self.m, self.sigma, rng=rng)
        gru.b = self.sigma * rng.standard_normal((3 * self.m, 1))     # (3m, 1)
        gru.d = self.sigma * rng.standard_normal((self.K, 1))         # (K, 1)
        x, y = rng.integers(0, self.K, self.tau), rng.integers(0, self.K, self.tau)
        h0 = np.zeros((self.m, 1))
        if self.random_h0:
            h0 = rng.choice([-1.0, 1.0], (self.m, 1)) * rng.uniform(0.1, 0.9, (self.m, 1))
        return gru, x, y, h0


@st.composite
def gru_cases(draw, random_h0=None):
    random_h0 = st.booleans() if random_h0 is None else random_h0
    return GRUCase(seed=draw(st.integers(0, 2**32 - 1)), m=draw(st.integers(1, 4)),
                   K=draw(st.integers(2, 6)), tau=draw(st.integers(1, 6)),
                   sigma=draw(st.floats(0.01, 1.0)), random_h0=draw(random_h0))


def assert_close_by_name(g_a, g_ref, rtol, atol, what):
    bad = {}
    for name, a, r in zip(NAMES, g_a, g_ref, strict=True):
        rel, err = norm_relative_error(a, r), float(np.linalg.norm(a - r))
        if not (rel < rtol or err < atol):
            bad[name] = f"relative {rel:.2e}, absolute {err:.2e}"
    assert not bad, f"GRU gradients differ from {what}: {bad}"


@given(gru_cases())
def test_shapes_loss_and_carried_state(case):
    gru, x, y, h0 = case.build()
    H, P, h = forward(gru, x, h0)
    assert H.shape == (case.m, case.tau) and P.shape == (case.K, case.tau)
    np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=SAME_RTOL, atol=0)
    loss, grads, h_last = gradients(gru, x, y, h0)
    assert [g.shape for g in grads] == [theta.shape for theta in gru]
    assert np.isclose(loss, sequence_loss(gru, x, y, h0), rtol=SAME_RTOL, atol=0)
    assert np.array_equal(h, h_last) and np.array_equal(h, H[:, -1:])
    # h_t is a convex mix of h_{t-1} and n_t in (-1, 1): it stays in (-1, 1) from h0 there.
    assert np.all(np.abs(H) < 1)


@given(gru_cases(), st.integers(0, 2**32 - 1))
def test_an_update_gate_held_at_1_carries_the_state_unchanged(case, seed):
    gru, x, _, _ = case.build()
    h0 = np.random.default_rng(seed).uniform(-1, 1, (case.m, 1))
    rows = slice(0, case.m)                            # the z block
    gru.W[rows], gru.U[rows], gru.b[rows] = 0, 0, 40.0
    H = forward(gru, x, h0)[0]
    np.testing.assert_allclose(H, np.repeat(h0, case.tau, axis=1), rtol=1e-15, atol=1e-16)
    assert GATES[0] == "z"


@given(gru_cases(random_h0=st.just(True)))
def test_a_backward_step_changes_nothing_it_is_given(case):
    gru, x, y, h0 = case.build()
    cache = Cache(h_prev=h0, x_t=int(x[0]), step=step(gru, h0, int(x[0])))
    dh_next = np.random.default_rng(case.seed).standard_normal((case.m, 1))
    before = [a.copy() for a in (*gru, h0, *cache.step, dh_next)]
    dh, terms = backward_step(gru, cache, int(y[0]), dh_next)
    assert all(np.array_equal(a, b) for a, b in
               zip([*gru, h0, *cache.step, dh_next], before, strict=True))
    assert dh.shape == (case.m, 1)
    assert np.array_equal(terms.U[:, [int(x[0])]], terms.b)
    assert not np.delete(terms.U, int(x[0]), axis=1).any()


@pytest.mark.parametrize("random_h0", [False, True], ids=["h0=0", "random h0"])
@given(case=gru_cases())
def test_gradients_match_complex_step(random_h0, case):
    problem = GRUCase(**{**case.__dict__, "random_h0": random_h0}).build()
    _, grads, _ = gradients(*problem)
    assert_close_by_name(grads, complex_step_gradients(*problem), COMPLEX_RTOL, COMPLEX_ATOL,
                         "the complex step")


@given(gru_cases(random_h0=st.just(True)))
def test_gradients_match_centred_differences_and_the_check_passes(case):
    problem = case.build()
    _, grads, _ = gradients(*problem)
    numerical = numerical_gradients(*problem, step=NUMERICAL_STEP)
    assert_close_by_name(grads, numerical, CENTRED_RTOL, CENTRED_ATOL, "centred differences")
    assert passes(check(*problem))


def test_charrnn_gradcheck_cell_gru_passes_with_exit_0(capsys):
    code, out, err = run(capsys, "gradcheck", "--cell", "gru", "--hidden", "3",
                         "--seq-length", "12", "--h0", "random")
    assert code == 0, out + err
    rows = [line.split() for line in out.splitlines() if line[:2] in {"b ", "d ", "U ", "W ", "V "}]
    assert [(r[0], r[1]) for r in rows] == [("b", "9×1"), ("d", "76×1"), ("U", "9×76"),
                                            ("W", "9×3"), ("V", "76×3")]
    assert all(float(r[5]) <= 1e-12 and r[6] == "ok" for r in rows)
    assert "cell = gru" in out and out.rstrip().splitlines()[-1].startswith("passed")


def test_charrnn_gradcheck_cell_gru_fails_with_exit_1_on_a_wrong_gradient(capsys, monkeypatch):
    import charrnn_edu.gru

    def wrong(gru, x, y, h0):
        loss, grads, h = gradients(gru, x, y, h0)
        grads.W *= 1.001
        return loss, grads, h

    monkeypatch.setattr(charrnn_edu.gru, "gradients", wrong)
    code, out, _ = run(capsys, "gradcheck", "--cell", "gru", "--hidden", "3", "--h0", "random")
    assert code == 1 and out.rstrip().splitlines()[-1].startswith("FAILED")
