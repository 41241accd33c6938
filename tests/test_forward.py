"""Chapter 2: softmax and the forward pass."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from charrnn_edu.forward import NAMES, RNN, forward, softmax
from charrnn_edu.spec.properties import (
    check_forward_chaining,
    check_forward_complex,
    check_forward_properties,
    check_softmax_extreme_logits,
    check_softmax_properties,
)
from charrnn_edu.spec.strategies import cases, logits_and_shifts, seeds


@given(logits_and_shifts())
def test_softmax_properties(o_and_shift):
    check_softmax_properties(softmax, *o_and_shift)


def test_softmax_does_not_overflow_for_extreme_logits():
    check_softmax_extreme_logits(softmax)


def test_softmax_known_values():
    p = softmax(np.array([[0.0, np.log(3.0)], [0.0, 0.0]]))
    np.testing.assert_allclose(p, [[0.5, 0.75], [0.5, 0.25]], rtol=1e-12, atol=1e-15)


@given(cases())
def test_forward_properties(case):
    rnn, x, _, h0 = case.build()
    check_forward_properties(forward, rnn, x, h0)


@given(cases(min_tau=2), st.data())
def test_forward_in_two_halves_equals_one_pass(case, data):
    rnn, x, _, h0 = case.build()
    split = data.draw(st.integers(1, len(x) - 1), label="split")
    check_forward_chaining(forward, rnn, x, h0, split)


@given(cases())
def test_forward_on_complex_parameters_with_zero_imaginary_parts(case):
    rnn, x, _, h0 = case.build()
    check_forward_complex(forward, rnn, x, h0)


@given(cases())
def test_forward_leaves_its_inputs_unchanged(case):
    rnn, x, _, h0 = case.build()
    before, x_before, h0_before = rnn.copy(), x.copy(), h0.copy()
    forward(rnn, x, h0)
    for name, a, b in zip(NAMES, rnn, before, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(h0, h0_before)


def test_forward_one_step_by_hand():
    # m = 1, K = 2: every quantity can be written down.
    rnn = RNN(b=np.array([[0.1]]), c=np.array([[0.0], [0.5]]), U=np.array([[0.2, -0.3]]),
              W=np.array([[0.7]]), V=np.array([[1.0], [-1.0]]))
    h0 = np.array([[0.4]])
    H, P, h = forward(rnn, np.array([1]), h0)
    h1 = np.tanh(0.7 * 0.4 - 0.3 + 0.1)
    o = np.array([h1, -h1 + 0.5])
    np.testing.assert_allclose(H, [[h1]], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(P[:, 0], np.exp(o) / np.exp(o).sum(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, [[h1]], rtol=1e-12, atol=1e-15)


@given(seeds, st.integers(1, 12), st.integers(1, 8),
       st.floats(0.0, 1.0))
def test_init_shapes_zero_biases_and_reproducible(seed, K, m, sigma):
    rnn = RNN.init(K, m, sigma, rng=np.random.default_rng(seed))
    again = RNN.init(K, m, sigma, rng=np.random.default_rng(seed))
    shapes = {"b": (m, 1), "c": (K, 1), "U": (m, K), "W": (m, m), "V": (K, m)}
    assert NAMES == ("b", "c", "U", "W", "V")
    for name, a, b in zip(NAMES, rnn, again, strict=True):
        assert a.shape == shapes[name], (name, a.shape)
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(rnn.b, 0.0)
    np.testing.assert_array_equal(rnn.c, 0.0)
    assert (rnn.m, rnn.K) == (m, K)


@given(cases())
def test_copy_is_deep_and_map_keeps_the_order(case):
    rnn = case.build().rnn
    copy = rnn.copy()
    copy.W[...] += 1.0
    assert not np.allclose(copy.W, rnn.W)
    names = rnn.map(lambda a: np.full((1,), a.size))
    assert [int(a[0]) for a in names] == [a.size for a in rnn]
