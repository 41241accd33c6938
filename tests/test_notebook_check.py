"""``check("softmax", softmax)`` in a notebook: the notebook's functions, the same verdicts.

The functions below stand for a notebook's cells: defined in a module of their own, using
numpy, a helper of their own and a package function, as a learner's cells would.
"""

import numpy as np
import pytest

from charrnn_edu.encoding import one_hot
from charrnn_edu.exercises import check, notebook

SHIFT = 0.0


def shifted(o):
    return o - o.max(axis=0, keepdims=True) + SHIFT


def softmax(o):
    e = np.exp(shifted(o))
    return e / e.sum(axis=0, keepdims=True)


def naive_softmax(o):
    e = np.exp(o)
    return e / e.sum(axis=0)


def cross_entropy(P, y):
    return -np.sum(np.log(np.sum(P * one_hot(y, P.shape[0]), axis=0)))      # a package import


def test_a_right_function_passes_in_a_child_process():
    verdict = check("softmax", softmax, examples=10)
    assert verdict.passed and "checked in a child process" in repr(verdict)
    assert "All 3 checks pass." in repr(verdict)
    assert check("cross-entropy", cross_entropy, examples=10).passed


def test_a_wrong_function_gets_its_diagnosis():
    verdict = check("softmax", naive_softmax, examples=10)     # another name: by position
    text = repr(verdict)
    assert not verdict.passed and "FAIL  extreme logits" in text
    assert "diagnosis: softmax overflows on large logits, breaking (2.4)" in text


def test_without_a_child_process_it_checks_here_and_says_so(monkeypatch):
    monkeypatch.setattr(notebook, "_can_start_a_child", lambda: False)
    verdict = check("softmax", softmax, examples=10)
    assert verdict.passed and "checked in this process (no child process" in repr(verdict)


def test_the_source_carries_imports_helpers_and_constants():
    source = notebook.source_of({"softmax": softmax})
    assert "def shifted(o):" in source and "SHIFT = 0.0" in source
    assert "import numpy as np" in source
    assert "from charrnn_edu.encoding import one_hot" in notebook.source_of(
        {"cross_entropy": cross_entropy})
    compile(source, "notebook", "exec")


def test_a_missing_function_is_named():
    with pytest.raises(ValueError, match=r"needs vocabulary, encode, decode: call check\("):
        check("encoding", softmax)


def test_each_chapter_notebook_ends_with_cells_that_check_its_exercises():
    names = []
    for chapter in (*range(1, 9), 10, "10b"):
        for cell in notebook.exercise_cells(chapter):
            space = {}
            exec(compile(cell, f"chapter {chapter}", "exec"), space)
            verdict = eval(cell.splitlines()[-1], space)     # the cell's last line, its output
            assert {r.status for r in verdict.report.results} == {"todo"}, repr(verdict)
            names.append(verdict.report.exercise.name)
    assert "adam" in names and "train-loop" in names and len(names) == len(set(names))
    assert {"lstm-backward-step", "gru-step", "gru-backward-step"} <= set(names)
