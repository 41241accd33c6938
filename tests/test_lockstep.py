"""`charrnn exercises train`: the learner's step and the package's, from the same point.

A correct BPTT that adds in another order (the vectorised ``dV = G @ H.T``) passes, though its
numbers differ from the package's in the last bits; a wrong one fails at the iteration where
the mistake first shows, naming the array. The same for Adam with the 2026 edition's mean loss.
"""

import inspect
from dataclasses import replace

import numpy as np
import pytest
from clirun import run

from charrnn_edu import bptt
from charrnn_edu.encoding import one_hot
from charrnn_edu.exercises import references
from charrnn_edu.exercises.catalog import find_mistake, planted_source, wrong_functions
from charrnn_edu.exercises.sandbox import InProcess
from charrnn_edu.exercises.train import StepDisagrees, train_in_lockstep
from charrnn_edu.forward import RNN, softmax
from charrnn_edu.settings import PRESETS, Settings

TEXT = ("It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife. ") * 4
SMALL = Settings(hidden=12, seq_length=10)
ADAM = replace(PRESETS["2026"], hidden=12, seq_length=10)


def vectorised_gradients(rnn, x, y, h0):
    """BPTT the way many write it: whole-matrix products after the loops, not sums over t."""
    X, Y, tau = one_hot(x, rnn.K), one_hot(y, rnn.K), len(x)
    H = np.zeros((rnn.m, tau + 1))
    H[:, :1] = h0
    for t in range(tau):
        H[:, t + 1:t + 2] = np.tanh(rnn.W @ H[:, t:t + 1] + rnn.U @ X[:, t:t + 1] + rnn.b)
    P = softmax(rnn.V @ H[:, 1:] + rnn.c)
    loss = -np.sum(np.log(np.sum(P * Y, axis=0)))
    G = P - Y                                          # (K, tau)
    dH, dA = G.T @ rnn.V, np.zeros((tau, rnn.m))       # rows are time steps
    for t in reversed(range(tau)):
        upstream = dA[t + 1] @ rnn.W if t + 1 < tau else 0
        dA[t] = (dH[t] + upstream) * (1 - H[:, t + 1] ** 2)
    grads = RNN(b=dA.sum(0)[:, None], c=G.sum(1, keepdims=True), U=dA.T @ X.T,
                W=dA.T @ H[:, :-1].T, V=G @ H[:, 1:].T)
    return loss, grads, H[:, -1:]


def learner(**functions):
    return InProcess(functions).namespace(tuple(functions))


def test_a_correct_vectorised_bptt_keeps_step_with_the_package():
    f = learner(gradients=vectorised_gradients, adagrad_step=references.adagrad_step)
    moments = list(train_in_lockstep(f, TEXT, 60, 20, settings=SMALL))
    assert [m.iteration for m in moments] == [1, 20, 40, 60]
    # Its sums run in another order: not the same bits, but far inside the tolerance.
    assert 0 < moments[-1].largest < 1e-3, moments[-1].largest
    assert abs(moments[-1].yours - moments[-1].package) < 1e-9


def test_a_wrong_bptt_fails_at_the_first_iteration_it_is_wrong():
    # h0 dropped from dL/dW: right while h0 = 0, at iteration 1 and at each epoch's start.
    f = learner(gradients=wrong_functions("h0-dropped")["gradients"],
                adagrad_step=references.adagrad_step)
    with pytest.raises(StepDisagrees) as failed:
        list(train_in_lockstep(f, TEXT, 20, 10, settings=SMALL))
    assert failed.value.iteration == 2 and failed.value.array == "dL/dW"
    assert str(failed.value).startswith("iteration 2: dL/dW differs at")


def test_a_correct_adam_with_the_mean_loss_keeps_step_and_a_wrong_one_does_not():
    good = learner(gradients=vectorised_gradients, adam_step=references.adam_step)
    assert list(train_in_lockstep(good, TEXT, 30, 30, settings=ADAM))[-1].iteration == 30
    wrong = learner(gradients=bptt.gradients,
                    adam_step=wrong_functions("adam-moments-rebound")["adam_step"])
    with pytest.raises(StepDisagrees) as failed:
        list(train_in_lockstep(wrong, TEXT, 30, 30, settings=ADAM))
    # The first step is right (the moments start at 0 either way); the moments are not kept.
    assert failed.value.iteration == 1 and failed.value.array.startswith("Adam's first moment")


def test_the_command_names_the_iteration_and_the_array(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    # Wrong only for pieces longer than the checks' (tau <= 20): the checks pass, training
    # with tau = 25 does not.
    wrong = inspect.getsource(bptt).replace(
        "    return loss, grads, h_last",
        "    if len(x) > 20:\n        grads.W[0, 0] *= 1.01\n    return loss, grads, h_last")
    for folder, source in (("right", inspect.getsource(bptt)), ("wrong", wrong)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "bptt.py").write_text(source)
        (tmp_path / folder / "adam.py").write_text(inspect.getsource(references))
    code, out, err = run(capsys, "exercises", "train", "--folder", "right", "--optimizer", "adam",
                         "--iterations", "2", "--every", "2")
    assert code == 0 and "Every one of the 2 steps agrees" in out, out + err
    code, out, err = run(capsys, "exercises", "train", "--folder", "wrong", "--iterations", "2",
                         "--optimizer", "adam")
    assert code == 1 and "differs from the package's at iteration 1: dL/dW differs at [0, 0]" \
        in out, out + err
    code, _, err = run(capsys, "exercises", "train", "--optimizer", "sgd")
    assert code == 2 and "--optimizer must be adagrad or adam" in err


def test_every_mistake_of_the_adam_exercise_has_a_planted_file():
    for key in ("adam-no-bias-correction", "adam-eps-inside-sqrt", "adam-abs-not-square",
                "adam-moments-rebound"):
        assert planted_source(find_mistake(key)) != inspect.getsource(references)
