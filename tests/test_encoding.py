"""Chapter 1: vocabulary, encoding, one-hot columns and reading the corpus."""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import charrnn_edu
from charrnn_edu.encoding import Vocabulary, one_hot
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.spec.properties import check_one_hot_properties, check_roundtrip
from charrnn_edu.spec.strategies import corpus_and_text, seeds


@given(corpus_and_text())
def test_decode_inverts_encode(corpus_text):
    corpus, s = corpus_text
    vocab = Vocabulary.from_text(corpus)
    ids = vocab.encode(s)
    assert ids.dtype == vocab.dtype and ids.shape == (len(s),)
    # The exercise's property, on int64 ids as the exercise asks of a learner.
    check_roundtrip(lambda t: vocab.encode(t).astype(np.int64), vocab.decode, vocab.chars, s)


@given(st.integers(1, 70_000))
def test_ids_take_the_smallest_unsigned_type_that_holds_k(K):
    vocab = Vocabulary("".join(map(chr, range(K))))
    assert vocab.dtype == (np.uint8 if K <= 256 else np.uint16 if K <= 65536 else np.uint32)
    assert np.iinfo(vocab.dtype).max >= K - 1


@given(st.text(min_size=1))
def test_vocabulary_is_sorted_unique_and_covers_the_text(text):
    vocab = Vocabulary.from_text(text)
    assert list(vocab.chars) == sorted(set(text))
    assert len(vocab) == len(set(text))
    assert all(ch in vocab for ch in text)


def test_vocabulary_is_the_same_in_every_process():
    # Set iteration order of strings depends on PYTHONHASHSEED; the vocabulary must not.
    text = "The quick brown fox — jumps over the lazy dog! 0123456789 åéîõü ∑∫ QXZ\n\t"
    script = ("import json, sys\n"
              "from charrnn_edu.encoding import Vocabulary\n"
              "text = sys.stdin.read()\n"
              "print(json.dumps([Vocabulary.from_text(text).chars, ''.join(set(text))]))\n")
    root = str(Path(charrnn_edu.__file__).resolve().parent.parent)
    results = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": root,
               "PYTHONIOENCODING": "utf-8"}
        out = subprocess.run([sys.executable, "-c", script], input=text, env=env,
                             capture_output=True, text=True, encoding="utf-8", check=True)
        results.append(json.loads(out.stdout))
    (chars1, set_order1), (chars2, set_order2) = results
    assert set_order1 != set_order2, "premise: set order should differ between hash seeds"
    assert chars1 == chars2 == Vocabulary.from_text(text).chars


def test_vocabulary_rejects_unsorted_or_repeated_characters():
    with pytest.raises(ValueError, match="from_text"):
        Vocabulary("ba")
    with pytest.raises(ValueError, match="from_text"):
        Vocabulary("aab")
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.from_text("")


@st.composite
def text_with_unknown_character(draw):
    corpus = draw(st.text(min_size=1))
    alphabet = sorted(set(corpus))
    prefix = draw(st.text(alphabet=alphabet))
    bad = draw(st.characters().filter(lambda ch: ch not in corpus))
    return corpus, prefix + bad + draw(st.text()), bad, len(prefix)


@given(text_with_unknown_character())
def test_unknown_character_is_named_with_its_position(example):
    corpus, s, bad, position = example
    with pytest.raises(ValueError) as info:
        Vocabulary.from_text(corpus).encode(s)
    message = str(info.value)
    assert repr(bad) in message
    assert f"position {position}" in message


@given(st.integers(1, 12), st.integers(0, 12), seeds)
def test_one_hot_columns(K, tau, seed):
    ids = np.random.default_rng(seed).integers(0, K, tau)
    check_one_hot_properties(one_hot, ids, K)


def test_one_hot_rejects_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match="0..2"):
        one_hot([0, 3], 3)


def test_decode_rejects_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match="id 5"):
        Vocabulary.from_text("abc").decode([0, 5])


def test_read_text_missing_file(tmp_path):
    path = tmp_path / "no_such_corpus.txt"
    with pytest.raises(FileNotFoundError, match="no_such_corpus.txt"):
        read_text(path)


def test_read_text_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_text(path)


def test_read_text_unknown_encoding(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("abc", encoding="utf-8")
    with pytest.raises(ValueError, match="no-such-codec"):
        read_text(path, encoding="no-such-codec")


# A NUL makes a file binary, not text; surrogates cannot be written as UTF-8.
NO_NUL = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


@given(st.text(NO_NUL), st.integers(0x80, 0xFF),
       st.text(alphabet=st.characters(max_codepoint=0x7F, exclude_characters="\x00")))
def test_read_text_invalid_utf8_names_offset_and_suggests_latin1(prefix, byte, suffix):
    # No UTF-8 sequence starts with 0x80..0xBF, and 0xC0..0xFF followed by ASCII or by
    # nothing is never complete, so decoding fails exactly at the byte after the prefix.
    head = prefix.encode("utf-8")
    data = head + bytes([byte]) + suffix.encode("ascii")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_bytes(data)
        with pytest.raises(ValueError) as info:
            read_text(path)
        message = str(info.value)
        assert re.search(rf"\boffset {len(head)}\b", message), message
        assert f"0x{byte:02x}" in message
        assert "--encoding latin-1" in message
        # latin-1 maps every byte to a character, so the suggested fix always works.
        assert read_text(path, encoding="latin-1") == data.decode("latin-1")


def test_read_text_decodes_utf8(tmp_path):
    text = "Line one\nline two\ttabbed — ünïcödé ∑\n"
    path = tmp_path / "corpus.txt"
    path.write_bytes(text.encode("utf-8"))
    assert read_text(path) == text


def test_default_corpus_size_and_vocabulary():
    path = default_corpus()
    assert path.is_file(), path
    text = read_text(path)
    assert len(text) == 1_091_710
    assert len(Vocabulary.from_text(text)) == 76
