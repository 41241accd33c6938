"""Your own code, your conventions: the layouts, the reference in each, the check and its diagnoses.

The learner-style implementations are tests/data/yours/rows.py and columns.py (vectorised
numpy, as a student writes it); each slip is planted into them by a textual replacement.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from clirun import run
from hypothesis import given, settings
from hypothesis import strategies as st

from charrnn_edu.bptt import gradients
from charrnn_edu.conventions import (
    Problem,
    ShapeProblem,
    expected_shapes,
    export_case,
    from_layout,
    reference,
    to_layout,
)
from charrnn_edu.forward import NAMES
from charrnn_edu.spec.properties import Case
from charrnn_edu.spec.strategies import cases
from charrnn_edu.yours import check_yours

FIXTURES = Path(__file__).parent / "data" / "yours"


def learner(layout: str, *replacements: tuple[str, str]):
    """The learner's loss_and_gradients of ``layout``, with ``replacements`` planted in it."""
    source = (FIXTURES / f"{layout}.py").read_text("utf-8")
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    namespace: dict = {}
    exec(compile(source, f"{layout}.py", "exec"), namespace)
    return namespace["loss_and_gradients"]


def planted(tmp_path: Path, layout: str, *replacements: tuple[str, str]) -> Path:
    source = (FIXTURES / f"{layout}.py").read_text("utf-8")
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    path = tmp_path / f"mine_{layout}.py"
    path.write_text(source, encoding="utf-8")
    return path


def problem(layout: str, loss: str, m: int = 4, K: int = 6, tau: int = 7) -> Problem:
    rnn, x, y, h0 = Case(seed=5, m=m, K=K, tau=tau, sigma=0.5, random_h0=True).build()
    return Problem(rnn, x, y, h0, layout, loss)


# ------------------------------------------------------------------ layouts and the reference

@settings(max_examples=30, deadline=None)
@given(case=cases(), layout=st.sampled_from(["columns", "rows"]))
def test_a_layout_round_trip_gives_the_parameters_back(case, layout):
    rnn = case.build().rnn
    params = to_layout(rnn, layout)
    shapes = expected_shapes(layout, rnn.m, rnn.K)
    assert all(params[n].shape == shapes[n] for n in NAMES)
    back = from_layout(params, layout)
    assert all(np.array_equal(a, b) for a, b in zip(back, rnn, strict=True))
    if layout == "rows":
        assert all(np.array_equal(params[n], getattr(rnn, n).T) for n in NAMES)


@settings(max_examples=30, deadline=None)
@given(case=cases(random_h0=st.just(True)), layout=st.sampled_from(["columns", "rows"]),
       loss=st.sampled_from(["sum", "mean"]))
def test_the_reference_is_chapter_4s_gradients_transposed_and_scaled(case, layout, loss):
    rnn, x, y, h0 = case.build()
    value, grads = reference(Problem(rnn, x, y, h0, layout, loss))
    L, package, _ = gradients(rnn, x, y, h0)
    scale = 1 / len(x) if loss == "mean" else 1
    assert np.isclose(value, L * scale, rtol=1e-12, atol=0)
    for name, g in zip(NAMES, package, strict=True):
        expected = g * scale if layout == "columns" else g.T * scale
        assert np.allclose(grads[name], expected, rtol=1e-12, atol=1e-15)


def test_a_bad_layout_or_loss_is_refused_with_the_choices():
    rnn, x, y, h0 = Case(seed=0, m=2, K=3, tau=2, sigma=0.1, random_h0=False).build()
    with pytest.raises(ValueError, match="columns, rows"):
        Problem(rnn, x, y, h0, "diagonal", "sum")
    with pytest.raises(ValueError, match="sum, mean"):
        Problem(rnn, x, y, h0, "rows", "median")


# ------------------------------------------------------------------ right code passes

@pytest.mark.parametrize("layout", ["columns", "rows"])
@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_right_code_in_either_layout_and_either_loss_passes(layout, loss):
    default = "sum" if layout == "columns" else "mean"
    function = learner(layout, (f'LOSS = "{default}"', f'LOSS = "{loss}"'))
    result = check_yours(function, problem(layout, loss))
    assert result.passed and result.diagnosis is None
    assert all(r.failures == 0 and r.own_failures == 0 for r in result.rows)
    assert all(r.reference < 1e-10 for r in result.rows)


# ------------------------------------------------------------------ each slip, named

SLIPS = {
    "W untransposed": {"rows": [("da @ W.T", "da @ W")],
                       "columns": [("W.T @ da", "W @ da")]},
    "V untransposed": {"rows": [("G[t] @ V.T", "G[t] @ V")],
                       "columns": [("V.T @ G[:, t]", "V @ G[:, t]")]},
    "h0 ignored": {"rows": [("H[0] = h0[0]", "H[0] = 0")],
                   "columns": [("H[:, 0] = h0[:, 0]", "H[:, 0] = 0")]},
    "h0 missing from dW": {"rows": [("dW = H[:-1].T @ dA", "dW = H[1:-1].T @ dA[1:]")],
                           "columns": [("dW = dA @ H[:, :-1].T", "dW = dA[:, 1:] @ H[:, 1:-1].T")]},
    "clipped at": {"rows": [("CLIP = None", "CLIP = 0.02")],
                   "columns": [("CLIP = None", "CLIP = 0.5")]},
    "float32 arithmetic": {"rows": [("DTYPE = np.float64", "DTYPE = np.float32")],
                           "columns": [("DTYPE = np.float64", "DTYPE = np.float32")]},
    "db, dc, dU, dV right, dW (4.6) wrong": {
        "rows": [("dW = H[:-1].T @ dA", "dW = H[1:].T @ dA")],
        "columns": [("dW = dA @ H[:, :-1].T", "dW = dA @ H[:, 1:].T")]},
    "your loss is another function": {
        "rows": [("np.eye(K, dtype=DTYPE)[y]", "np.eye(K, dtype=DTYPE)[x]"),
                 ("P[np.arange(tau), y]", "P[np.arange(tau), x]")],
        "columns": [("np.eye(K, dtype=DTYPE)[:, y]", "np.eye(K, dtype=DTYPE)[:, x]"),
                    ("P[y, np.arange(tau)]", "P[x, np.arange(tau)]")]},
    "the other layout: dV (6, 4) have the columns layout's shapes": {
        "rows": [("dV = H[1:].T @ G", "dV = G.T @ H[1:]")]},
    "the other layout: dV (4, 6) have the rows layout's shapes": {
        "columns": [("dV = G @ H[:, 1:].T", "dV = H[:, 1:] @ G.T")]},
    "dV transposed": {"rows": [("dV = H[1:].T @ G", "dV = G.T @ H[1:]")],
                      "columns": [("dV = G @ H[:, 1:].T", "dV = H[:, 1:] @ G.T")]},
    "dW transposed": {"rows": [("dW = H[:-1].T @ dA", "dW = dA.T @ H[:-1]")],
                      "columns": [("dW = dA @ H[:, :-1].T", "dW = H[:, :-1] @ dA.T")]},
}
SQUARE = {"V untransposed", "dV transposed"}       # they compute only when K = m


@pytest.mark.parametrize("named, layout", [(n, layout) for n, by in SLIPS.items()
                                           for layout in by])
def test_each_slip_is_named(named, layout):
    loss = "sum" if layout == "columns" else "mean"
    size = {"m": 5, "K": 5} if named in SQUARE else {}
    result = check_yours(learner(layout, *SLIPS[named][layout]), problem(layout, loss, **size))
    assert not result.passed
    assert named in result.diagnosis, result.diagnosis


@pytest.mark.parametrize("layout, declared", [("rows", "sum"), ("columns", "mean")])
def test_the_other_loss_is_named_as_a_factor_tau(layout, declared):
    result = check_yours(learner(layout), problem(layout, declared))
    written = "mean" if declared == "sum" else "sum"
    assert not result.passed
    assert result.diagnosis.startswith(f"the {written} where --loss {declared} was declared")
    assert f"Check with --loss {written}" in result.diagnosis
    assert ("1/tau = 1/7 of" if written == "mean" else "tau = 7 times") in result.diagnosis


@pytest.mark.parametrize("layout", ["columns", "rows"])
@pytest.mark.parametrize("planted, said", [
    ("G = G / tau", "your gradients are right but your loss 13.7306 is the sum (the mean is "
                    "1.96152)"),
    ("loss = loss / tau", "your loss is the mean (1.96152, right), but your gradients are "
                          "those of the sum loss, tau = 7 times the reference's: divide them "
                          "by tau = 7"),
])
def test_a_mean_of_the_loss_alone_or_of_the_gradients_alone_is_named(layout, planted, said):
    mean = [('LOSS = "sum"', 'LOSS = "mean"')] if layout == "columns" else []
    function = learner(layout, *mean, ("loss, G = loss / tau, G / tau", planted))
    result = check_yours(function, problem(layout, "mean"))
    assert not result.passed and result.diagnosis == said


def test_another_loss_function_shows_both_values():
    result = check_yours(learner("rows", *SLIPS["your loss is another function"]["rows"]),
                         problem("rows", "mean"))
    assert f"{result.loss:.6g}" in result.diagnosis
    assert f"{result.reference_loss:.6g}" in result.diagnosis
    assert all(r.own_failures == 0 for r in result.rows)


@pytest.mark.parametrize("layout", ["columns", "rows"])
def test_code_of_the_other_layout_is_told_to_declare_it(layout):
    other = "rows" if layout == "columns" else "columns"
    with pytest.raises(ShapeProblem, match=f"check it with --layout {layout}$"):
        check_yours(learner(layout), problem(other, "sum"))


def test_a_shape_of_neither_layout_is_one_line_naming_the_array_and_the_shapes():
    function = learner("rows", ("dV = H[1:].T @ G", "dV = (H[1:].T @ G)[:, :2]"))
    with pytest.raises(ShapeProblem) as info:
        check_yours(function, problem("rows", "mean"))
    assert str(info.value) == ("grads['V'] has shape (4, 2); expected (4, 6) (--layout rows) "
                               "or (6, 4) (--layout columns)")


@pytest.mark.parametrize("returned, message", [
    ("return loss", r"must return \(loss, grads\); it returned float64 1\.96"),
    ("return loss, list(grads.values())", "grads must be a dict"),
    ('return loss, {k: v for k, v in grads.items() if k != "c"}', "grads has no c"),
    ('return "low", grads', "the loss must be a number"),
])
def test_a_result_of_the_wrong_kind_is_one_line(returned, message):
    function = learner("rows", ("return loss, grads", returned))
    with pytest.raises(ShapeProblem, match=message):
        check_yours(function, problem("rows", "mean"))


# ------------------------------------------------------------------ the command


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("the cat sat on the mat, then the rat sat.\n" * 3, encoding="utf-8")
    return path


SMALL = ["--m", "3", "--seq-length", "8"]


def test_gradcheck_yours_passes_right_rows_code_with_exit_0(capsys, tmp_path, text):
    code, out, err = run(capsys, "gradcheck", "--yours", str(FIXTURES / "rows.py"),
                         "--layout", "rows", "--loss", "mean", "--data", str(text), *SMALL)
    assert code == 0, out + err
    assert "vs reference" in out and "vs your own loss" in out and "h0 = random" in out
    assert out.rstrip().splitlines()[-1].startswith("passed:")


def test_gradcheck_yours_names_w_untransposed_with_exit_1(capsys, tmp_path, text):
    path = planted(tmp_path, "rows", *SLIPS["W untransposed"]["rows"])
    code, out, _ = run(capsys, "gradcheck", "--yours", str(path), "--layout", "rows",
                       "--loss", "mean", "--data", str(text), *SMALL)
    assert code == 1
    assert out.rstrip().splitlines()[-1].startswith("FAILED: W untransposed in the backward")


def test_gradcheck_yours_names_the_wrong_loss(capsys, text):
    code, out, _ = run(capsys, "gradcheck", "--yours", str(FIXTURES / "rows.py"),
                       "--layout", "rows", "--loss", "sum", "--data", str(text), *SMALL)
    assert code == 1
    assert "FAILED: the mean where --loss sum was declared" in out


def test_gradcheck_yours_with_another_function_name(capsys, tmp_path, text):
    path = planted(tmp_path, "columns", ("def loss_and_gradients", "def mine"))
    code, out, _ = run(capsys, "gradcheck", "--yours", str(path), "--function", "mine",
                       "--data", str(text), *SMALL)
    assert code == 0, out
    code, _, err = run(capsys, "gradcheck", "--yours", str(path), "--data", str(text), *SMALL)
    assert code == 1 and "defines no loss_and_gradients" in err and len(err.splitlines()) == 1


def test_gradcheck_yours_wrong_shape_is_one_line_with_exit_1(capsys, tmp_path, text):
    path = planted(tmp_path, "rows", ("dV = H[1:].T @ G", "dV = (H[1:].T @ G)[:, :2]"))
    code, out, err = run(capsys, "gradcheck", "--yours", str(path), "--layout", "rows",
                         "--data", str(text), *SMALL)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [f"charrnn: error: {path}: grads['V'] has shape (3, 2); "
                                        "expected (3, 14) (--layout rows) or (14, 3) "
                                        "(--layout columns)"]


@pytest.mark.parametrize("args, message", [
    (["--layout", "rows"], "--layout go with --yours FILE or --export FILE"),
    (["--yours", "no_such_file.py"], "does not exist"),
    (["--yours", ".", "--function", "not a name"], "is a directory"),
    (["--layout", "diagonal"], "diagonal"),
    (["--export", "case.json", "--tolerance", "1e-3"], "--tolerance belong to chapter 5's"),
])
def test_gradcheck_yours_usage_errors_exit_2(capsys, text, args, message):
    code, _, err = run(capsys, "gradcheck", "--data", str(text), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_reference_torch_without_torch_says_how_to_install_it(capsys, text):
    try:
        import torch  # noqa: F401
        pytest.skip("torch is installed")
    except ModuleNotFoundError:
        pass
    code, _, err = run(capsys, "gradcheck", "--yours", str(FIXTURES / "rows.py"), "--layout",
                       "rows", "--loss", "mean", "--reference", "torch", "--data", str(text))
    assert code == 2
    assert err.strip() == ("charrnn: error: --reference torch needs PyTorch, which is not "
                           "installed: pip install 'charrnn-edu[torch]' (or pip install torch)")


@pytest.mark.parametrize("layout", ["columns", "rows"])
@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_torch_computes_the_same_reference(layout, loss):
    pytest.importorskip("torch")
    from charrnn_edu.conventions import torch_reference
    case = problem(layout, loss)
    value, grads = torch_reference(case)
    ref_value, ref = reference(case)
    assert np.isclose(value, ref_value, rtol=1e-12, atol=0)
    assert all(np.allclose(grads[n], ref[n], rtol=1e-10, atol=1e-13) for n in NAMES)


def test_gradcheck_yours_with_torch_shows_its_column(capsys, text):
    pytest.importorskip("torch")
    code, out, _ = run(capsys, "gradcheck", "--yours", str(FIXTURES / "rows.py"), "--layout",
                       "rows", "--loss", "mean", "--reference", "torch", "--data", str(text),
                       *SMALL)
    assert code == 0 and "vs torch" in out and "torch's" in out


# ------------------------------------------------------------------ the export

@pytest.mark.parametrize("layout", ["columns", "rows"])
def test_export_writes_the_case_and_its_reference_as_json(capsys, tmp_path, text, layout):
    out_path = tmp_path / "case.json"
    code, out, _ = run(capsys, "gradcheck", "--export", str(out_path), "--layout", layout,
                       "--loss", "mean", "--data", str(text), *SMALL)
    assert code == 0 and out.startswith(f"wrote {out_path}:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.json", "text.txt"]
    case = json.loads(out_path.read_text("utf-8"))
    shapes = expected_shapes(layout, 3, case["K"])
    params = {n: np.array(a["data"]).reshape(a["shape"]) for n, a in case["params"].items()}
    assert all(params[n].shape == shapes[n] for n in NAMES)
    h0 = np.array(case["h0"]["data"])
    assert h0.shape == shapes["h0"] and np.abs(h0).max() > 0        # random h0 by default
    # The reference of the exported case, recomputed from the file alone, is the file's.
    back = Problem(from_layout(params, layout), np.array(case["x"]), np.array(case["y"]),
                   h0 if layout == "columns" else h0.T, layout, case["loss"])
    value, grads = reference(back)
    assert np.isclose(value, case["reference_loss"], rtol=1e-12, atol=0)
    assert all(np.allclose(grads[n], case["grads"][n]["data"], rtol=1e-12, atol=1e-15)
               for n in NAMES)
    again = export_case(back)
    assert again["params"] == case["params"] and again["x"] == case["x"]
