"""Chapter 7: drawing characters, temperature, nucleus sampling, priming and generation.

Each ``check_*`` function takes the function(s) under test as its first arguments, so the same
properties can grade a student's ``sample``, ``greedy``, ``nucleus``, ``draw``, ``generate`` or
``generate_chunks``.
References are written here the plain way (one-hot products, ``@``, Python loops), not with the
package's gathers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from charrnn_edu.encoding import Vocabulary
from charrnn_edu.forward import NAMES, RNN, step
from charrnn_edu.sampling import draw, generate, generate_chunks, greedy, nucleus, prime, sample
from charrnn_edu.spec.properties import check_nucleus_properties
from charrnn_edu.spec.strategies import distributions, seeds

RTOL, ATOL = 1e-12, 1e-14
# The largest float64 that numpy's Generator.uniform() can return: 1 - 2^-53.
LARGEST_UNIFORM = float(np.nextafter(1.0, 0.0))
# Characters a vocabulary is built from besides a tab and a newline (which sort before them).
LETTERS = " !,.abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Model:
    """The scalars that determine a model and a start state (Hypothesis prints these)."""

    seed: int
    m: int
    K: int
    sigma: float

    def build(self) -> tuple[RNN, np.ndarray]:
        """Parameters with random biases, and a random h0 in (-1, 1)^m."""
        rng = np.random.default_rng(self.seed)
        rnn = RNN.init(self.K, self.m, self.sigma, rng=rng)
        rnn.b = self.sigma * rng.standard_normal((self.m, 1))   # (m, 1)
        rnn.c = self.sigma * rng.standard_normal((self.K, 1))   # (K, 1)
        h0 = rng.uniform(-0.9, 0.9, (self.m, 1))                # (m, 1)
        return rnn, h0


def models(min_sigma: float = 0.1, max_sigma: float = 2.0) -> st.SearchStrategy[Model]:
    """m in 1..8, K in 2..12; sigma large enough that p is far from uniform."""
    return st.builds(Model, seed=seeds, m=st.integers(1, 8), K=st.integers(2, 12),
                     sigma=st.floats(min_sigma, max_sigma))


def greedy_margins(rnn: RNN, h0: np.ndarray, x0: int, n: int) -> tuple[list[int], float]:
    """The greedy ids by the reference step, and the smallest gap between the two top logits."""
    h, x, ids, margin = h0, x0, [], math.inf
    for _ in range(n):
        _, h, o, _ = step(rnn, h, x)
        o = o[:, 0]
        top2 = np.sort(o)[-2:]
        margin = min(margin, float(top2[1] - top2[0]))
        x = int(np.argmax(o))
        ids.append(x)
    return ids, margin


class FixedUniform:
    """A stand-in for a Generator whose every uniform number is ``u``."""

    def __init__(self, u: float) -> None:
        self.u = u

    def uniform(self, low: float = 0.0, high: float = 1.0, size: None = None) -> float:
        return low + (high - low) * self.u

    def random(self, size: None = None) -> float:
        return self.u


def vocabulary(K: int, with_newline: bool, with_tab: bool) -> Vocabulary:
    """K characters, with or without a newline and a tab; a tab sorts before the newline."""
    specials = ("\t" if with_tab else "") + ("\n" if with_newline else "")
    return Vocabulary(specials + LETTERS[:K - len(specials)])


# ---------------------------------------------------------------- properties

def check_sample_ids(sample: Callable, rnn: RNN, h0: np.ndarray, x0: int, n: int, seed: int,
                     temperature: float = 1.0, top_p: float = 1.0) -> None:
    """n integer ids in 0..K-1 and the last state; the model and h0 are left unchanged.

    The state is the one after reading x0 and every id but the last (the reference step).
    """
    rnn_before, h0_before = rnn.copy(), h0.copy()
    ids, h = sample(rnn, h0, x0, n, np.random.default_rng(seed), temperature, top_p)
    assert isinstance(ids, np.ndarray), type(ids)
    assert np.issubdtype(ids.dtype, np.integer), f"ids have dtype {ids.dtype}, not an integer"
    assert ids.shape == (n,), ids.shape
    assert np.all((ids >= 0) & (ids < rnn.K)), f"ids outside 0..{rnn.K - 1}: {ids}"
    assert h.shape == (rnn.m, 1), h.shape
    expected = h0
    for x in [x0, *ids.tolist()][:n]:                  # every input: x0, then all but the last id
        expected = step(rnn, expected, int(x)).h
    np.testing.assert_allclose(h, expected, rtol=RTOL, atol=ATOL,
                               err_msg="the state returned is not the one after the last step")
    np.testing.assert_array_equal(h0, h0_before, err_msg="sampling changed h0")
    for name, a, b in zip(NAMES, rnn, rnn_before, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"sampling changed {name}")


def check_sample_depends_only_on_seed(sample: Callable, rnn: RNN, h0: np.ndarray, x0: int,
                                      n: int, seed: int, temperature: float = 1.0,
                                      top_p: float = 1.0) -> None:
    """Same seed, same ids: whatever the global numpy state or other generators do meanwhile."""
    # The legacy global state is set on purpose, to show it plays no part; restored after.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(seed % 1000)  # noqa: NPY002
        first, _ = sample(rnn, h0, x0, n, np.random.default_rng(seed), temperature, top_p)
        np.random.seed(seed % 1000 + 1)  # noqa: NPY002
        np.random.uniform(size=7)  # noqa: NPY002
        other = np.random.default_rng(seed)
        other.uniform(size=3)                          # a generator with the same seed, used
        second, _ = sample(rnn, h0, x0, n, np.random.default_rng(seed), temperature, top_p)
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    np.testing.assert_array_equal(first, second)


def check_cold_sample_is_greedy(sample: Callable, greedy: Callable, rnn: RNN, h0: np.ndarray,
                                x0: int, n: int, seed: int, temperature: float = 1e-6) -> None:
    """As T -> 0, p_T = softmax(o / T) puts all its mass on the argmax: sampling is greedy.

    The caller makes sure the top two logits differ by a margin at every step.
    """
    cold, _ = sample(rnn, h0, x0, n, np.random.default_rng(seed), temperature=temperature)
    np.testing.assert_array_equal(cold, greedy(rnn, h0, x0, n)[0])


def check_tiny_top_p_is_greedy(sample: Callable, greedy: Callable, rnn: RNN, h0: np.ndarray,
                               x0: int, n: int, seed: int, top_p: float = 1e-9) -> None:
    """A nucleus of mass 1e-9 holds only the most likely character: sampling is greedy."""
    narrow, _ = sample(rnn, h0, x0, n, np.random.default_rng(seed), top_p=top_p)
    np.testing.assert_array_equal(narrow, greedy(rnn, h0, x0, n)[0])


def check_sample_stays_in_nucleus(sample: Callable, rnn: RNN, h0: np.ndarray, x0: int, n: int,
                                  seed: int, temperature: float, top_p: float) -> None:
    """Every sampled character is in the nucleus of its p_T = softmax(o / T).

    p_T is recomputed here along the sampled path; a character whose preceding mass is
    within 1e-9 of top_p counts as inside (rounding may decide either way).
    """
    ids, _ = sample(rnn, h0, x0, n, np.random.default_rng(seed), temperature, top_p)
    h, x = h0, x0
    for t, k in enumerate(ids.tolist()):
        _, h, o, _ = step(rnn, h, x)
        o = o[:, 0]
        p = np.exp((o - o.max()) / temperature)
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        mass_before = np.concatenate([[0.0], np.cumsum(p[order])[:-1]])
        allowed = order[mass_before < top_p + 1e-9]
        assert k in allowed, (f"step {t}: drew {k} (p = {p[k]:.3g}), outside the nucleus "
                              f"{sorted(allowed.tolist())} of top_p = {top_p}")
        x = k


def check_greedy_is_argmax(greedy: Callable, rnn: RNN, h0: np.ndarray, x0: int, n: int) -> None:
    """Greedy decoding feeds back the argmax of p, and returns the last state (no near-ties)."""
    expected, _ = greedy_margins(rnn, h0, x0, n)
    ids, h = greedy(rnn, h0, x0, n)
    np.testing.assert_array_equal(ids, expected)
    last = h0
    for x in [x0, *expected][:n]:
        last = step(rnn, last, int(x)).h
    np.testing.assert_allclose(h, last, rtol=RTOL, atol=ATOL)


def check_draw_frequencies(draw: Callable, p: np.ndarray, seed: int, n: int = 20_000,
                           z: float = 4.0) -> None:
    """Counts of n draws within z standard errors of n p_k; zero where p_k = 0."""
    rng = np.random.default_rng(seed)
    counts = np.bincount([draw(p, rng) for _ in range(n)], minlength=len(p))
    assert len(counts) == len(p), f"draw returned ids up to {len(counts) - 1}, K = {len(p)}"
    expected = n * p
    standard_error = np.sqrt(n * p * (1.0 - p))
    off = np.abs(counts - expected) > z * standard_error
    assert not off.any(), (f"counts {counts.tolist()} differ from n p = {expected.tolist()} by "
                           f"more than {z} standard errors in bins {np.flatnonzero(off)}")


def check_draw_inverts_the_cdf(draw: Callable, p: np.ndarray, u: float) -> None:
    """With uniform number u, draw picks k with c_{k-1} <= u c_K <= c_k and p_k > 0.

    c are the cumulative sums; scaling u by their total c_K keeps k in 0..K-1 even when the
    sums end below 1.
    """
    k = draw(p, FixedUniform(u))
    assert isinstance(k, int | np.integer), type(k)
    assert 0 <= k < len(p), f"draw returned {k} for K = {len(p)} (u = {u})"
    assert p[k] > 0, f"draw returned {k}, which has probability 0 (u = {u})"
    c = np.concatenate([[0.0], np.cumsum(p)])
    target = u * c[-1]
    assert c[k] <= target * (1 + 1e-12) and target <= c[k + 1] * (1 + 1e-12), (
        f"u c_K = {target} is not in [c_(k-1), c_k] = [{c[k]}, {c[k + 1]}] for k = {k}")


def check_generate_prefix(generate: Callable, rnn: RNN, vocab: Vocabulary, prefix: str, n: int,
                          seed: int) -> None:
    """The text is the prefix followed by n characters of the vocabulary."""
    text = generate(rnn, vocab, n, np.random.default_rng(seed), prefix=prefix)
    assert text.startswith(prefix), f"{text!r} does not start with {prefix!r}"
    assert len(text) == len(prefix) + n, (len(text), len(prefix), n)
    assert set(text[len(prefix):]) <= set(vocab.chars), text


def check_unknown_prefix_character(generate: Callable, rnn: RNN, vocab: Vocabulary,
                                   prefix: str, bad: str) -> None:
    """A prefix character outside the vocabulary raises ValueError naming it."""
    with pytest.raises(ValueError) as info:
        generate(rnn, vocab, 5, np.random.default_rng(0), prefix=prefix)
    assert bad in str(info.value), f"the message {str(info.value)!r} does not name {bad!r}"


def check_priming(generate: Callable, sample: Callable, rnn: RNN, vocab: Vocabulary,
                  prefix: str, n: int, seed: int, h0: np.ndarray, temperature: float = 1.0,
                  top_p: float = 1.0) -> None:
    """generate(prefix) = prefix + samples from the state after reading all but its last char.

    The state is computed here with the reference step; the last prefix character is the
    first input of :func:`sample`. Without a prefix, generation starts from a newline if the
    vocabulary has one, else from its first character, with h0 as it is.
    """
    ids = vocab.encode(prefix) if prefix else vocab.encode("\n" if "\n" in vocab
                                                          else vocab.chars[0])
    h = h0
    for x in ids[:-1]:
        h = step(rnn, h, int(x)).h
    expected, _ = sample(rnn, h, int(ids[-1]), n, np.random.default_rng(seed), temperature,
                         top_p)
    text = generate(rnn, vocab, n, np.random.default_rng(seed), prefix=prefix,
                    temperature=temperature, top_p=top_p, h0=h0)
    assert text == prefix + vocab.decode(expected), (text, prefix + vocab.decode(expected))


# ---------------------------------------------------------------- sample and greedy

temperatures = st.floats(0.05, 5.0)
top_ps = st.floats(1e-3, 1.0)


@given(models(), st.integers(0, 30), seeds, temperatures, top_ps, st.data())
def test_sample_returns_n_ids_in_range(model, n, seed, temperature, top_p, data):
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    check_sample_ids(sample, rnn, h0, x0, n, seed, temperature, top_p)


@given(models(), st.integers(0, 30), seeds, temperatures, top_ps, st.data())
def test_sample_depends_only_on_the_seed(model, n, seed, temperature, top_p, data):
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    check_sample_depends_only_on_seed(sample, rnn, h0, x0, n, seed, temperature, top_p)


@given(models(), st.integers(1, 30), seeds, temperatures, st.floats(0.3, 0.99), st.data())
def test_sample_draws_only_from_the_nucleus(model, n, seed, temperature, top_p, data):
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    check_sample_stays_in_nucleus(sample, rnn, h0, x0, n, seed, temperature, top_p)


@given(models(), st.integers(0, 20), seeds, st.data())
def test_sample_draws_one_uniform_number_per_character(model, n, seed, data):
    # The docstring's promise: the training loop's generator advances by exactly n numbers.
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    rng, reference = np.random.default_rng(seed), np.random.default_rng(seed)
    sample(rnn, h0, x0, n, rng)
    reference.uniform(size=n)
    assert rng.uniform() == reference.uniform()


@given(models(min_sigma=0.5), st.integers(1, 20), seeds, st.data())
def test_cold_sampling_is_greedy(model, n, seed, data):
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    _, margin = greedy_margins(rnn, h0, x0, n)
    # With T = 1e-6 a gap of 1e-3 in the logits is a factor exp(-1000) = 0 in p.
    assume(margin > 1e-3)
    check_cold_sample_is_greedy(sample, greedy, rnn, h0, x0, n, seed)


@given(models(), st.integers(1, 20), seeds, st.data())
def test_tiny_top_p_is_greedy(model, n, seed, data):
    # No margin needed: on a tie both keep the first of the most likely characters.
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    check_tiny_top_p_is_greedy(sample, greedy, rnn, h0, x0, n, seed)


@given(models(), st.integers(0, 20), st.data())
def test_greedy_is_the_argmax(model, n, data):
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    _, margin = greedy_margins(rnn, h0, x0, n)
    assume(margin > 1e-9)   # a closer tie may round either way
    check_greedy_is_argmax(greedy, rnn, h0, x0, n)


def test_hot_sampling_is_nearly_uniform():
    # T -> infinity flattens p towards uniform: 20,000 draws hit every character about equally.
    rnn, h0 = Model(seed=3, m=4, K=5, sigma=1.0).build()
    ids, _ = sample(rnn, h0, 0, 20_000, np.random.default_rng(7), temperature=1e6)
    counts = np.bincount(ids, minlength=5)
    assert np.all(np.abs(counts - 4000) < 4 * math.sqrt(20_000 * 0.2 * 0.8)), counts


@pytest.mark.parametrize(("options", "match"), [
    ({"n": -1}, "-1"),
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"temperature": math.nan}, "temperature"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_p": -0.5}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_p": math.nan}, "top_p"),
])
def test_bad_options_raise(options, match):
    rnn, h0 = Model(seed=0, m=3, K=4, sigma=0.5).build()
    kwargs = {"n": 5, **options}
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        sample(rnn, h0, 0, n, np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match=match):
        generate(rnn, Vocabulary("abcd"), n, np.random.default_rng(0), **kwargs)
    if n < 0:
        with pytest.raises(ValueError, match=match):
            greedy(rnn, h0, 0, n)


# ---------------------------------------------------------------- nucleus

@given(distributions(), st.floats(1e-9, 1.0))
@example(np.array([0.5, 0.5]), 0.5)
@example(np.array([0.25, 0.25, 0.25, 0.25]), 0.5)
@example(np.array([0.1, 0.6, 0.3]), 0.9)
def test_nucleus_properties(p, top_p):
    check_nucleus_properties(nucleus, p, top_p)


@given(distributions(zeros=True), st.floats(1e-9, 1.0))
def test_nucleus_properties_with_impossible_characters(p, top_p):
    check_nucleus_properties(nucleus, p, top_p)


@given(distributions())
def test_nucleus_with_top_p_one_is_p(p):
    np.testing.assert_allclose(nucleus(p, 1.0), p, rtol=1e-12, atol=1e-15)


def test_nucleus_known_values():
    p = np.array([0.1, 0.6, 0.3])
    np.testing.assert_allclose(nucleus(p, 0.5), [0.0, 1.0, 0.0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(nucleus(p, 0.7), [0.0, 2 / 3, 1 / 3], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(nucleus(p, 0.95), p, rtol=RTOL, atol=ATOL)
    # top_p exactly the mass of the first one or two (sums exact in binary): no more is kept.
    np.testing.assert_allclose(nucleus(np.array([0.5, 0.5]), 0.5), [1.0, 0.0],
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(nucleus(np.full(4, 0.25), 0.5), [0.5, 0.5, 0.0, 0.0],
                               rtol=RTOL, atol=ATOL)
    # Ties go to the lower id, like argmax.
    np.testing.assert_allclose(nucleus(np.array([0.25, 0.5, 0.25]), 0.6), [1 / 3, 2 / 3, 0.0],
                               rtol=RTOL, atol=ATOL)


def test_nucleus_when_the_most_likely_character_alone_has_mass_top_p():
    # A regression: computing the mass before each character as cumsum - p rounded
    # 0.8999999999999999 - 0.3 to 0.5999999999999999 < 0.6 and kept the second character too.
    p = np.array([0.1, 0.6, 0.3])
    np.testing.assert_allclose(nucleus(p, 0.6), [0.0, 1.0, 0.0], rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- draw

@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("p", [
    [0.05, 0.1, 0.15, 0.2, 0.5],
    [0.3, 0.0, 0.2, 0.0, 0.5],
    [0.0, 0.0, 1.0],
    [0.01] * 10 + [0.9],
])
def test_draw_follows_p(p, seed):
    check_draw_frequencies(draw, np.array(p), seed)


@given(distributions(zeros=True), st.floats(0.0, 1e-6),
       st.one_of(st.just(0.0), st.just(LARGEST_UNIFORM), st.floats(0.0, 1.0, exclude_max=True)))
@example(np.array([0.2, 0.3, 0.5]) * (1 - 1e-7), 0.0, LARGEST_UNIFORM)
@example(np.array([0.5, 0.5, 0.0]), 1e-7, LARGEST_UNIFORM)
@example(np.array([0.0, 0.5, 0.5]), 0.0, 0.0)
def test_draw_inverts_the_cdf_and_never_returns_K(p, shortfall, u):
    # shortfall: the cumulative sums end at 1 - shortfall, as rounding can leave them.
    check_draw_inverts_the_cdf(draw, p * (1.0 - shortfall), u)


@given(distributions(zeros=True), seeds)
def test_draw_with_a_generator_stays_in_range_and_avoids_zeros(p, seed):
    rng = np.random.default_rng(seed)
    ids = [draw(p * (1.0 - 1e-7), rng) for _ in range(50)]
    assert all(0 <= k < len(p) and p[k] > 0 for k in ids), (ids, p)


# ---------------------------------------------------------------- prime and generate

@given(models(), st.lists(st.integers(0, 11), max_size=12))
def test_prime_is_the_state_after_reading_the_ids(model, ids):
    rnn, h0 = model.build()
    ids = np.array([x % rnn.K for x in ids], dtype=np.int64)
    h = h0
    for x in ids:
        h = step(rnn, h, int(x)).h
    np.testing.assert_allclose(prime(rnn, h0, ids), h, rtol=RTOL, atol=ATOL)


@given(models(), st.booleans(), st.booleans(), st.integers(0, 20), seeds, st.data())
def test_generate_starts_with_the_prefix(model, with_newline, with_tab, n, seed, data):
    rnn, _ = model.build()
    vocab = vocabulary(rnn.K, with_newline, with_tab)
    prefix = data.draw(st.text(alphabet=vocab.chars, max_size=10), label="prefix")
    check_generate_prefix(generate, rnn, vocab, prefix, n, seed)


@given(models(), st.booleans(), st.booleans(), st.data())
def test_unknown_prefix_character_is_named(model, with_newline, with_tab, data):
    rnn, _ = model.build()
    vocab = vocabulary(rnn.K, with_newline, with_tab)
    bad = data.draw(st.sampled_from("ABCXYZ#é"), label="bad")
    before = data.draw(st.text(alphabet=vocab.chars, max_size=5), label="before")
    after = data.draw(st.text(alphabet=vocab.chars, max_size=5), label="after")
    check_unknown_prefix_character(generate, rnn, vocab, before + bad + after, bad)


@given(models(), st.booleans(), st.booleans(), st.integers(0, 20), seeds, temperatures, top_ps,
       st.data())
def test_generate_with_prefix_samples_from_the_primed_state(model, with_newline, with_tab, n,
                                                            seed, temperature, top_p, data):
    rnn, h0 = model.build()
    vocab = vocabulary(rnn.K, with_newline, with_tab)
    # The empty prefix (start from a newline, else the first character) comes up often.
    prefix = data.draw(st.text(alphabet=vocab.chars, max_size=10), label="prefix")
    h0 = data.draw(st.sampled_from([h0, np.zeros_like(h0)]), label="h0")
    check_priming(generate, sample, rnn, vocab, prefix, n, seed, h0, temperature, top_p)


def shift_model(K: int) -> RNN:
    """A model that, whatever h was, predicts id x + 1 (mod K) after x with p > 1 - 1e-8."""
    shift = np.roll(np.eye(K), 1, axis=0)                  # (K, K), column x has its 1 at x+1
    return RNN(b=np.zeros((K, 1)), c=np.zeros((K, 1)), U=20.0 * np.eye(K),
               W=np.zeros((K, K)), V=20.0 * shift)


@pytest.mark.parametrize(("chars", "prefix", "expected"), [
    ("\t\n !", "", " !\t\n "),      # no prefix: start from the newline
    ("\t !,", "", " !,\t "),          # no newline: start from the first character
    ("\t\n !", "!", "!\t\n !\t\n"),   # a prefix: continue from its last character
    ("\t\n !", " \t", " \t\n !\t\n"),
])
def test_generate_continues_from_the_right_character(chars, prefix, expected):
    rnn = shift_model(len(chars))
    n = len(expected) - len(prefix)
    text = generate(rnn, Vocabulary(chars), n, np.random.default_rng(0), prefix=prefix)
    assert text == expected, (text, expected)


def test_generate_rejects_a_vocabulary_of_the_wrong_size():
    rnn, _ = Model(seed=0, m=3, K=4, sigma=0.5).build()
    with pytest.raises(ValueError, match="K = 4"):
        generate(rnn, Vocabulary("abc"), 5, np.random.default_rng(0))


# ---------------------------------------------------------------- generate in pieces

@given(models(), st.integers(1, 20), st.integers(0, 20), seeds, temperatures, top_ps,
       st.booleans(), st.data())
def test_sampling_continues_where_it_stopped(model, first, then, seed, temperature, top_p,
                                             greedy_decoding, data):
    # The state sample returns, with its last id as the next input, carries on the same text.
    rnn, h0 = model.build()
    x0 = data.draw(st.integers(0, rnn.K - 1), label="x0")
    if greedy_decoding:
        def pick(h, x, n, rng):
            return greedy(rnn, h, x, n)
    else:
        def pick(h, x, n, rng):
            return sample(rnn, h, x, n, rng, temperature, top_p)
    whole, h_whole = pick(h0, x0, first + then, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    head, h = pick(h0, x0, first, rng)
    tail, h_end = pick(h, int(head[-1]), then, rng)
    np.testing.assert_array_equal(np.concatenate([head, tail]), whole)
    np.testing.assert_allclose(h_end, h_whole, rtol=RTOL, atol=ATOL)


@given(n=st.integers(0, 60), chunk=st.integers(1, 25), seed=st.integers(0, 2**32 - 1),
       prefix=st.sampled_from(["", "a", "ba"]), greedy_decoding=st.booleans())
def test_generate_chunks_join_into_generate(n, chunk, seed, prefix, greedy_decoding):
    vocab = Vocabulary("\nabc")
    rnn = RNN.init(len(vocab), 6, 0.5, rng=np.random.default_rng(seed))
    pieces = list(generate_chunks(rnn, vocab, n, np.random.default_rng(seed + 1), prefix=prefix,
                                  greedy_decoding=greedy_decoding, chunk=chunk))
    assert pieces[0] == prefix
    assert [len(piece) for piece in pieces[1:]] == [min(chunk, n - done)
                                                    for done in range(0, n, chunk)]
    assert "".join(pieces) == generate(rnn, vocab, n, np.random.default_rng(seed + 1),
                                       prefix=prefix, greedy_decoding=greedy_decoding)


def test_generate_chunks_primes_once(monkeypatch):
    # Each piece continues from the state the last one returned: the prefix is the only
    # text the forward pass reads.
    import charrnn_edu.sampling as sampling

    read = []

    def counted(rnn, h0, ids, **step):
        read.append(len(ids))
        return prime(rnn, h0, ids, **step)

    monkeypatch.setattr(sampling, "prime", counted)
    vocab = Vocabulary("\nabc")
    rnn = RNN.init(len(vocab), 6, 0.5, rng=np.random.default_rng(0))
    pieces = list(sampling.generate_chunks(rnn, vocab, 50, np.random.default_rng(1),
                                           prefix="abca", chunk=7))
    assert len(pieces) == 1 + 8 and read == [3]


@pytest.mark.parametrize(("options", "match"), [
    ({"temperature": 0.0}, "temperature"),
    ({"top_p": 1.5}, "top_p"),
    ({"chunk": 0}, "chunk"),
    ({"n": -1}, "-1"),
])
def test_generate_chunks_checks_its_options_before_the_first_piece(options, match):
    rnn, _ = Model(seed=0, m=3, K=4, sigma=0.5).build()
    kwargs = {"n": 0, **options}
    n = kwargs.pop("n")
    pieces = generate_chunks(rnn, Vocabulary("abcd"), n, np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match=match):
        next(pieces)
