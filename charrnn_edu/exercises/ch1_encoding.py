"""Chapter 1's exercises: the vocabulary with encode and decode, and one-hot columns (1.1).

The exercise asks for plain functions where the chapter keeps the vocabulary in a class:
their versions are in :mod:`~charrnn_edu.exercises.references`, which the checks compare
with :class:`~charrnn_edu.encoding.Vocabulary` and where the bug lab plants their mistakes.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st

from charrnn_edu import encoding
from charrnn_edu.encoding import Vocabulary, one_hot
from charrnn_edu.exercises import references
from charrnn_edu.exercises.model import Check, Exercise, Mistake
from charrnn_edu.spec import properties as prop
from charrnn_edu.spec.properties import assert_close
from charrnn_edu.spec.strategies import corpus_and_text, seeds

__all__ = ["EXERCISES", "MISTAKES"]


# ---------------------------------------------------------------- encoding

def _encoding_reference(f: SimpleNamespace, corpus_text: tuple[str, str]) -> None:
    corpus, s = corpus_text
    ref = Vocabulary.from_text(corpus)
    chars = f.vocabulary(corpus)
    assert chars == ref.chars, f"vocabulary({corpus!r}) = {chars!r}, expected {ref.chars!r}"
    assert_close(f.encode(s, ref.chars), ref.encode(s), what=f"encode({s!r})")
    text = f.decode(ref.encode(s), ref.chars)
    assert text == s, f"decode gave {text!r}, expected {s!r}"


ENCODING = Exercise(
    name="encoding", chapter=1, module=encoding, title="vocabulary, encode and decode",
    functions=(references.vocabulary, references.encode, references.decode),
    checks=(
        Check("vocabulary", "vocabulary(text) holds each character of text once, sorted",
              lambda f, text: prop.check_vocabulary(f.vocabulary, text), st.text(min_size=1),
              examples=("the quick brown fox",)),
        Check("round trip", "decode(encode(s)) == s, ids int64 positions in the vocabulary",
              lambda f, cs: prop.check_roundtrip(
                  lambda t: f.encode(t, Vocabulary.from_text(cs[0]).chars),
                  lambda ids: f.decode(ids, Vocabulary.from_text(cs[0]).chars),
                  Vocabulary.from_text(cs[0]).chars, cs[1]),
              corpus_and_text(), labels=("corpus", "s")),
        Check("matches package", "agrees with charrnn_edu.encoding.Vocabulary",
              _encoding_reference, corpus_and_text(), labels=("corpus", "s")),
    ),
    probe=lambda outcome: [outcome("vocabulary", "the quick brown fox, jumping"),
                           outcome("encode", "abca", "abc"), outcome("encode", "", "abc"),
                           outcome("decode", np.array([0, 2, 1]), "abc")],
)

ENCODING_MISTAKES = (
    Mistake(key="unsorted-vocabulary", exercise="encoding", check="vocabulary", equation="(1.1)",
            title="vocabulary not sorted",
            advice="The order of set(text) depends on string hashing, which Python salts "
                   "differently in every process: the same text would get other ids next run, "
                   "and a saved model would decode to gibberish. "
                   "Return ''.join(sorted(set(text))).",
            edits=(("sorted(set(text))", "set(text)"),), module=references),
)


# ---------------------------------------------------------------- one-hot, (1.1)

@st.composite
def id_sequences(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Ids (tau,) in 0..K-1 from a drawn seed, and K; tau may be 0."""
    K, tau, seed = draw(st.integers(1, 12)), draw(st.integers(0, 12)), draw(seeds)
    return np.random.default_rng(seed).integers(0, K, tau), K


ONE_HOT = Exercise(
    name="one-hot", chapter=1, module=encoding, title="one-hot columns of a sequence of ids, (1.1)",
    functions=(encoding.one_hot,), equations=("1.1",),
    imports="from collections.abc import Iterable",
    checks=(
        Check("one-hot columns", "shape (K, tau), one 1 per column, at row x_t",
              lambda f, ids_K: prop.check_one_hot_properties(f.one_hot, *ids_K), id_sequences(),
              labels=("ids", "K")),
        Check("matches package", "agrees with charrnn_edu.encoding.one_hot",
              lambda f, ids_K: assert_close(f.one_hot(*ids_K), one_hot(*ids_K), what="X"),
              id_sequences(), labels=("ids", "K")),
    ),
    probe=lambda outcome: [outcome("one_hot", np.array([0, 2, 2]), 4)],
)

ONE_HOT_MISTAKES = (
    Mistake(key="one-hot-rows", exercise="one-hot", check="one-hot columns", equation="(1.1)",
            title="one-hot built on the wrong axis",
            advice="X has shape (tau, K), one row per time step. Columns are time steps here: "
                   "X is (K, tau) and X[k, t] = 1 when x_t = k.",
            edits=(("np.zeros((K, ids.size))", "np.zeros((ids.size, K))"),
                   ("X[ids, np.arange(ids.size)]", "X[np.arange(ids.size), ids]")),
            module=encoding),
)


EXERCISES = (ENCODING, ONE_HOT)
MISTAKES = (*ENCODING_MISTAKES, *ONE_HOT_MISTAKES)
