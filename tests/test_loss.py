"""Chapter 3: summed cross-entropy."""

import math

import numpy as np
from hypothesis import given

from charrnn_edu.forward import RNN, forward
from charrnn_edu.loss import cross_entropy, sequence_loss
from charrnn_edu.spec.properties import (
    SAME_ATOL,
    SAME_RTOL,
    check_cross_entropy_is_sum_of_steps,
    check_uniform_loss,
)
from charrnn_edu.spec.strategies import cases


@given(cases())
def test_blind_model_loss_is_tau_ln_K(case):
    check_uniform_loss(sequence_loss, *case.build())


def test_report_first_loss_is_25_ln_83():
    # The report: K = 83, tau = 25; a model that knows nothing starts at 25 ln 83 = 110.47.
    rng = np.random.default_rng(0)
    rnn = RNN.init(83, 5, 0.01, rng=rng)
    rnn.V[...] = 0.0
    x, y = rng.integers(0, 83, 25), rng.integers(0, 83, 25)
    loss = sequence_loss(rnn, x, y, np.zeros((5, 1)))
    assert np.isclose(loss, 25 * math.log(83), rtol=1e-12, atol=0)
    assert round(loss, 2) == 110.47


@given(cases())
def test_cross_entropy_is_sum_of_per_step_losses(case):
    rnn, x, y, h0 = case.build()
    check_cross_entropy_is_sum_of_steps(cross_entropy, forward(rnn, x, h0).P, y)


@given(cases())
def test_sequence_loss_is_cross_entropy_of_forward(case):
    rnn, x, y, h0 = case.build()
    loss = sequence_loss(rnn, x, y, h0)
    assert isinstance(loss, float)
    assert loss > 0
    assert np.isclose(loss, cross_entropy(forward(rnn, x, h0).P, y), rtol=SAME_RTOL,
                      atol=SAME_ATOL)


def test_cross_entropy_known_values():
    P = np.array([[0.5, 0.1, 1.0],
                  [0.5, 0.9, 0.0]])
    assert np.isclose(cross_entropy(P, np.array([0, 1, 0])), -math.log(0.5) - math.log(0.9),
                      rtol=1e-12, atol=1e-15)
    # A certain, correct prediction costs nothing.
    assert np.isclose(cross_entropy(P[:, 2:], np.array([0])), 0.0, rtol=0, atol=1e-15)
