"""The three cells behind one face (charrnn_edu.cells), proven equal to their chapters, and
trained, resumed, sampled and evaluated the same way."""

import json
import math

import numpy as np
import pytest
from clirun import one_line_error, run
from hypothesis import given
from hypothesis import strategies as st

from charrnn_edu import gru, lstm
from charrnn_edu.cells import CELLS, cell_of
from charrnn_edu.forward import RNN, forward
from charrnn_edu.loss import cross_entropy
from charrnn_edu.settings import Settings
from charrnn_edu.spec.strategies import seeds
from charrnn_edu.training import Trainer, held_out_loss

GATED = ("lstm", "gru")


def problem(cell_name, seed, m, K, B, tau, sigma=0.5):
    """A cell's random parameters, inputs, targets and state (B columns) from one seed."""
    cell, rng = CELLS[cell_name], np.random.default_rng(seed)
    model = cell.init(K, m, "classic", sigma, rng)
    X, Y = rng.integers(0, K, (B, tau)), rng.integers(0, K, (B, tau))
    state = rng.uniform(-1, 1, (cell.states * m, B))
    return cell, model, X, Y, state


def chapter_forward(cell_name, model, x, state):
    """P (K, tau) and the state after x, by the chapter's own forward pass, one stream."""
    m = model.m
    if cell_name == "lstm":
        run = lstm.forward(model, x, state[:m], state[m:])
        return run.P, np.vstack([run.h, run.c])
    if cell_name == "gru":
        _, P, h = gru.forward(model, x, state)
        return P, h
    run = forward(model, x, state)
    return run.P, run.h


sizes = dict(seed=seeds, m=st.integers(1, 6), K=st.integers(2, 8), B=st.integers(1, 4),
             tau=st.integers(1, 7))
same = dict(rtol=1e-12, atol=1e-13)


@given(name=st.sampled_from(tuple(CELLS)), **sizes)
def test_streams_are_the_chapter_forward_pass_column_by_column(name, seed, m, K, B, tau):
    cell, model, X, _, state = problem(name, seed, m, K, B, tau)
    P, after = cell.forward_streams(model, X, state)
    assert P.shape == (tau, K, B) and after.shape == state.shape
    for b in range(B):
        P_b, after_b = chapter_forward(name, model, X[b], state[:, [b]])
        np.testing.assert_allclose(P[:, :, b].T, P_b, **same)
        np.testing.assert_allclose(after[:, [b]], after_b, **same)


@given(name=st.sampled_from(tuple(CELLS)), **sizes)
def test_gradients_of_streams_are_the_mean_of_each_stream_by_the_chapter(name, seed, m, K, B,
                                                                       tau):
    cell, model, X, Y, state = problem(name, seed, m, K, B, tau)
    loss, grads, after = cell.gradients(model, X, Y, state)
    singles = [cell.gradients(model, X[b], Y[b], state[:, [b]]) for b in range(B)]
    assert math.isclose(loss, sum(s[0] for s in singles) / B, rel_tol=1e-12)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, sum(list(s[1])[k] for s in singles) / B, **same)
    np.testing.assert_allclose(after, np.hstack([s[2] for s in singles]), **same)
    P, _ = chapter_forward(name, model, X[0], state[:, [0]])
    assert math.isclose(singles[0][0], cross_entropy(P, Y[0]), rel_tol=1e-12)


@given(name=st.sampled_from(tuple(CELLS)), seed=seeds, m=st.integers(1, 6),
       K=st.integers(2, 8), x=st.integers(0, 7), temperature=st.floats(0.2, 5.0))
def test_next_distribution_is_one_step_of_the_forward_pass(name, seed, m, K, x, temperature):
    cell, model, _, _, state = problem(name, seed, m, K, 1, 1)
    x = x % K
    after, p = cell.next_distribution(model, state, x, temperature)
    P, expected = chapter_forward(name, model, np.array([x]), state)
    np.testing.assert_allclose(after, expected, **same)
    assert p.shape == (K,) and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    # T rescales the logits: p_T is proportional to p_1 ** (1 / T).
    tempered = P[:, 0] ** (1 / temperature)
    np.testing.assert_allclose(p, tempered / tempered.sum(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", tuple(CELLS))
@pytest.mark.parametrize("scheme", ["classic", "scaled"])
def test_init_gives_the_shapes_and_count_the_cell_names(name, scheme):
    cell = CELLS[name]
    model = cell.init(7, 5, scheme, 0.01, np.random.default_rng(0))
    assert cell_of(model) is cell
    assert [theta.shape for theta in model] == list(cell.shapes(5, 7).values())
    G = cell.gates
    assert cell.parameters(5, 7) == sum(t.size for t in model) == G * (25 + 35 + 5) + 35 + 7
    if name == "lstm":       # chapter 10's forget bias, whatever the weights' scheme
        np.testing.assert_array_equal(model.b[5:10], lstm.FORGET_BIAS)


def test_the_scaled_init_keeps_pre_activations_of_order_one():
    # Std of U is 1/sqrt(2K): with K = 400 the classic sigma would be far off either way.
    model = CELLS["lstm"].init(400, 300, "scaled", 0.01, np.random.default_rng(1))
    for theta, expected in ((model.U, 1 / math.sqrt(800)), (model.W, 1 / math.sqrt(600)),
                            (model.V, 1 / math.sqrt(300))):
        assert math.isclose(theta.std(), expected, rel_tol=0.02)


def test_cell_of_refuses_what_is_not_a_cell():
    with pytest.raises(TypeError, match="not a cell's parameters"):
        cell_of(object())


@given(name=st.sampled_from(GATED), seed=seeds, m=st.integers(1, 5), K=st.integers(2, 6),
       n=st.integers(2, 40))
def test_held_out_loss_of_a_gated_cell_is_its_chapter_loss_per_character(name, seed, m, K, n):
    cell, model, X, _, _ = problem(name, seed, m, K, 1, n)
    ids = X[0]
    P, _ = chapter_forward(name, model, ids[:-1], cell.zero_state(m))
    expected = cross_entropy(P, ids[1:]) / (n - 1)
    assert math.isclose(held_out_loss(model, ids, streams=1, piece=7), expected, rel_tol=1e-11)


TEXT = ("It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife. ") * 6


@pytest.mark.parametrize("name", GATED)
@pytest.mark.parametrize("changes", [{}, {"batch": 3, "optimizer": "adam", "eta": 0.01,
                                          "loss": "mean", "init": "scaled"}])
def test_the_fast_engine_trains_as_the_chapters_do(name, changes):
    settings = Settings(cell=name, hidden=6, seq_length=7, sample_every=10, sample_length=20,
                        **changes)
    fast, slow = (Trainer.start(TEXT, settings, engine=e) for e in ("fast", "chapters"))
    fast.run(40)
    slow.run(40)
    np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-9)
    for a, b in zip(fast.rnn, slow.rnn, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert fast.h.shape == (CELLS[name].states * 6, settings.batch)
    assert fast.samples[-1].text == slow.samples[-1].text


@pytest.mark.parametrize("name", GATED)
def test_a_gated_cell_learns_a_repeated_sentence(name):
    trainer = Trainer.start(TEXT, Settings(cell=name, hidden=16, seq_length=10,
                                           optimizer="adam", eta=0.02, loss="mean",
                                           init="scaled"))
    trainer.run(400)
    # About ln K nats per character at the start; a repeated sentence becomes predictable
    # (measured: 0.17 for the LSTM and 0.06 for the GRU after 400 iterations).
    assert np.mean(trainer.losses[-20:]) < 0.2 * trainer.losses[0]


@pytest.mark.parametrize("name", GATED)
def test_train_sample_eval_and_resume_from_the_command_line(capsys, tmp_path, corpus, name):
    out = tmp_path / "run"
    common = ["--data", corpus, "--hidden", "8", "--seq-length", "10", "--quiet"]
    code, _, err = run(capsys, "train", *common, "--cell", name, "--iterations", "30",
                       "--val-frac", "0.1", "--eval-every", "10", "--out", out)
    assert code == 0, err
    code, _, err = run(capsys, "train", *common, "--iterations", "40", "--resume", out)
    assert code == 0, err
    code, sampled, _ = run(capsys, "sample", out, "--length", "50", "--seed", "2")
    assert code == 0 and len(sampled) > 50
    assert run(capsys, "sample", out, "--length", "50", "--seed", "2")[1] == sampled
    code, evaluated, _ = run(capsys, "eval", out, "--data", corpus)
    assert code == 0 and "bits per character" in evaluated
    other = "gru" if name == "lstm" else "lstm"
    code, _, err = run(capsys, "train", *common, "--cell", other, "--iterations", "50",
                       "--resume", out)
    assert code == 2 and "--cell" in one_line_error(err)


def test_unknown_cell_is_a_usage_error(capsys, corpus):
    code, _, err = run(capsys, "train", "--data", corpus, "--cell", "transformer")
    assert code == 2 and "--cell" in err


def test_the_vanilla_cell_is_chapter_4_unchanged():
    # The default cell is the report's: same parameters, same numbers as before cells existed.
    settings = Settings(hidden=5, seq_length=6)
    trainer = Trainer.start(TEXT, settings)
    assert type(trainer.rnn) is RNN and trainer.cell is CELLS["vanilla"]
    assert trainer.h.shape == (5, 1)


def test_the_report_checks_and_trains_the_cell_it_is_given(capsys, tmp_path, corpus):
    out = tmp_path / "report"
    code, _, err = run(capsys, "report", "--quick", "--cell", "gru", "--quiet", "--data", corpus,
                       "--final-length", "50", "--out", out)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["settings"]["cell"] == "gru" and report["gradcheck"]["passed"]
    # The table is chapter 10b's: its parameters are b, d, U, W, V, with 3m rows in U.
    rows = report["gradcheck"]["tables"]["random"]
    assert [row["parameter"] for row in rows] == ["b", "d", "U", "W", "V"]
    assert rows[2]["shape"] == [3 * report["gradcheck"]["hidden"], len(set(corpus.read_text(
        encoding="utf-8")))]
    assert "with the GRU cell" in (out / "report.md").read_text(encoding="utf-8")


@given(name=st.sampled_from(tuple(CELLS)), m=st.integers(1, 300), K=st.integers(2, 300),
       tau=st.integers(1, 100), B=st.integers(1, 64))
def test_the_memory_estimate_counts_the_cells_parameters_and_buffers(name, m, K, tau, B):
    from charrnn_edu.evaluation import memory_parts

    settings = Settings(cell=name, hidden=m, seq_length=tau, batch=B, dtype="float32")
    parts = memory_parts(1000, K, settings)
    cell = CELLS[name]
    # Ten copies of the parameters, 4 bytes each in float32; the buffers grow with G m + K.
    assert parts["parameters"] == 40 * cell.parameters(m, K)
    assert parts["buffers"] == 4 * 8 * tau * B * (cell.gates * m + K)
    if name != "vanilla":
        vanilla = memory_parts(1000, K, Settings(hidden=m, seq_length=tau, batch=B,
                                                 dtype="float32"))
        assert parts["parameters"] > vanilla["parameters"]


@pytest.mark.parametrize("name", GATED)
@given(m=st.integers(1, 300), K=st.integers(2, 200))
def test_equal_parameters_is_the_nearest_count(name, m, K):
    from charrnn_edu.gated_experiments import equal_parameters

    size = equal_parameters(name, "vanilla", m, K)
    target = CELLS["vanilla"].parameters(m, K)

    def count(hidden):
        return CELLS[name].parameters(hidden, K)

    assert all(abs(count(size) - target) <= abs(count(other) - target)
               for other in (size - 1, size + 1) if other >= 1)
    assert size <= m                         # gates cost parameters: never a larger m


def test_the_cell_comparison_figure_is_drawn_from_measurements(tmp_path):
    from charrnn_edu.files import save_figure
    from charrnn_edu.gated_experiments import draw_cell_comparison

    runs = [{"cell": cell, "hidden": m, "parameters": CELLS[cell].parameters(m, 76),
             "per_epoch": 4, "points": [(2.0 * i, i, 4.0 - 0.1 * i - 0.05 * k)
                                         for i in range(1, 9)]}
            for k, (cell, m) in enumerate([("vanilla", 8), ("gru", 8), ("gru", 5)])]
    figure = draw_cell_comparison(runs, clock="cpu")
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels[1] == "gru, m = 8 (2,724 parameters)"
    assert "cpu clock" in axes.get_xlabel()
    save_figure(figure, tmp_path / "a.svg")
    save_figure(draw_cell_comparison(runs, clock="cpu"), tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
