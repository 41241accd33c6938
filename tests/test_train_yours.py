"""`charrnn exercises train --yours`: a learner's own code, in their layout and loss, in lockstep.

The learner-style implementations are tests/data/yours/columns.py (the report's layout, the
summed loss, AdaGrad) and rows.py (the 2026 edition's: rows, the mean loss, Adam); each
mistake is planted into them by a textual replacement.
"""

from dataclasses import replace
from pathlib import Path

import pytest
from clirun import run

from charrnn_edu.conventions import ShapeProblem
from charrnn_edu.exercises.own_code import YourCode, contracts
from charrnn_edu.exercises.sandbox import InProcess
from charrnn_edu.exercises.train import StepDisagrees, draw_free_running, train_in_lockstep
from charrnn_edu.settings import PRESETS, Settings

FIXTURES = Path(__file__).parent / "data" / "yours"
TEXT = ("It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife. ") * 4
SMALL = Settings(hidden=12, seq_length=10)
ADAM = replace(PRESETS["2026"], hidden=12, seq_length=10)
STEP = {"columns": "adagrad_step", "rows": "adam_step"}

# h0 left out of dL/dW (the t = 1 term of (4.6)): right while h0 = 0, at iteration 1 only.
H0_MISSING = {"columns": ("    dW = dA @ H[:, :-1].T", "    dW = dA[:, 1:] @ H[:, 1:-1].T"),
              "rows": ("    dW = H[:-1].T @ dA", "    dW = H[1:-1].T @ dA[1:]")}
# Adam's moments computed but never kept: the first step is right, the moments are not.
MOMENTS_LOCAL = ("        first[k] = beta1 * first[k] + (1 - beta1) * grads[k]\n",
                 "        s = beta1 * first[k] + (1 - beta1) * grads[k]\n")
MOMENTS_USED = ("        s_hat = first[k] / (1 - beta1 ** t)",
                "        s_hat = s / (1 - beta1 ** t)")


def source(layout: str, *replacements: tuple[str, str]) -> str:
    text = (FIXTURES / f"{layout}.py").read_text("utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def yours(layout: str, *replacements: tuple[str, str], step: str | None = None) -> YourCode:
    """The learner's fixture of ``layout``, with ``replacements`` planted, run in-process."""
    namespace: dict = {}
    exec(compile(source(layout, *replacements), f"{layout}.py", "exec"), namespace)
    names = ("loss_and_gradients", step or STEP[layout])
    return YourCode(InProcess({n: namespace[n] for n in names}), layout, step=step)


def test_a_correct_vectorised_bptt_in_columns_keeps_step_with_the_package():
    moments = list(train_in_lockstep(yours("columns"), TEXT, 60, 20, settings=SMALL))
    assert [m.iteration for m in moments] == [1, 20, 40, 60]
    # G @ H.T adds in another order than chapter 4's loop: not the same bits, well inside.
    assert 0 < moments[-1].largest < 1e-2, moments[-1].largest
    assert abs(moments[-1].yours - moments[-1].package) < 1e-9


def test_a_correct_row_layout_adam_with_the_mean_loss_keeps_step_with_the_package():
    moments = list(train_in_lockstep(yours("rows"), TEXT, 60, 30, settings=ADAM))
    assert [m.iteration for m in moments] == [1, 30, 60]
    assert moments[-1].largest < 1e-2, moments[-1].largest


@pytest.mark.parametrize("layout", ["columns", "rows"])
def test_h0_missing_from_dw_fails_at_iteration_2_naming_dw(layout):
    settings = SMALL if layout == "columns" else ADAM
    with pytest.raises(StepDisagrees) as failed:
        list(train_in_lockstep(yours(layout, H0_MISSING[layout]), TEXT, 20, 10,
                               settings=settings))
    assert failed.value.iteration == 2 and failed.value.array == "dL/dW"


def test_adam_moments_not_kept_fail_at_iteration_1_naming_the_first_moment():
    with pytest.raises(StepDisagrees) as failed:
        list(train_in_lockstep(yours("rows", MOMENTS_LOCAL, MOMENTS_USED), TEXT, 20, 10,
                               settings=ADAM))
    assert failed.value.iteration == 1
    assert failed.value.array == "Adam's first moment s of b", failed.value.array


def test_a_wrong_element_is_named_by_its_index_in_the_learners_layout():
    # dU is (K, m) in rows: element [3, 0] there is [0, 3] in the report's columns.
    wrong = yours("rows", ("    dU = X.T @ dA\n", "    dU = X.T @ dA\n    dU[3, 0] += 1e-3\n"))
    with pytest.raises(StepDisagrees) as failed:
        list(train_in_lockstep(wrong, TEXT, 5, 5, settings=ADAM))
    assert failed.value.array == "dL/dU"
    assert "dL/dU differs at [3, 0]" in str(failed.value), str(failed.value)


def test_the_other_layouts_shape_is_one_line_naming_the_array():
    wrong = yours("rows", ("    return loss, grads",
                           "    grads['V'] = dV.T\n    return loss, grads"))
    with pytest.raises(ShapeProblem, match=r"^grads\['V'\] has shape \(26, 12\), the other "
                                           r"layout's; --layout rows wants \(12, 26\): "
                                           r"transpose it, or train with --layout columns$"):
        list(train_in_lockstep(wrong, TEXT, 3, 3, settings=ADAM))


def test_a_step_that_returns_new_arrays_and_changes_nothing_is_told_to_work_in_place():
    functional = ("def adagrad_step(params, grads, memory, eta, eps):\n",
                  "def adagrad_step(params, grads, memory, eta, eps):\n"
                  "    params, memory = dict(params), dict(memory)\n")
    returned = ("        params[k] -= eta * grads[k] / np.sqrt(memory[k] + eps)\n",
                "        params[k] = params[k] - eta * grads[k] / np.sqrt(memory[k] + eps)\n"
                "    return params, memory\n")
    memory = ("        memory[k] += grads[k] ** 2\n",
              "        memory[k] = memory[k] + grads[k] ** 2\n")
    with pytest.raises(ShapeProblem, match="adagrad_step returned tuple and changed nothing: "
                                           "change params and memory in place"):
        list(train_in_lockstep(yours("columns", functional, returned, memory), TEXT, 3, 3,
                               settings=SMALL))


def test_a_state_array_left_in_another_shape_is_one_line_naming_it():
    last = "        params[k] -= eta * grads[k] / np.sqrt(memory[k] + eps)\n"
    flat = (last, last + "    memory['b'] = memory['b'].ravel()\n")
    with pytest.raises(ShapeProblem, match=r"^after adagrad_step, memory\['b'\] is of shape "
                                           r"\(12,\); --layout columns wants \(12, 1\)$"):
        list(train_in_lockstep(yours("columns", flat), TEXT, 3, 3, settings=SMALL))


def test_a_step_that_raises_is_named_with_its_line():
    broken = ("        memory[k] += grads[k] ** 2\n", "        memory[k] += grads[k] @ grads[k]\n")
    # In the sandbox the message ends with the file and line (the next test's command).
    with pytest.raises(ValueError, match=r"^adagrad_step raised ValueError: matmul"):
        list(train_in_lockstep(yours("columns", broken), TEXT, 3, 3, settings=SMALL))


@pytest.mark.parametrize(("layout", "settings", "said"), [
    ("rows", replace(ADAM, loss="sum"),
     "the mean where --loss sum was declared (a factor 1/tau = 1/10): train with --loss mean"),
    ("columns", replace(SMALL, loss="mean"),
     "the sum where --loss mean was declared (a factor tau = 10): train with --loss sum")])
def test_code_of_the_other_loss_is_named_at_iteration_1(layout, settings, said):
    with pytest.raises(StepDisagrees) as failed:
        list(train_in_lockstep(yours(layout), TEXT, 3, 3, settings=settings))
    assert failed.value.iteration == 1 and failed.value.array == "the loss"
    assert said in str(failed.value), str(failed.value)


def test_free_running_curves_are_kept_and_drawn():
    free: list = []
    list(train_in_lockstep(yours("columns"), TEXT, 30, 30, settings=SMALL, free=free))
    assert len(free) == 30
    # The first step starts from the same parameters: the two losses agree to rounding.
    assert abs(free[0][0] - free[0][1]) < 1e-9 * free[0][1]
    assert len(draw_free_running(free).axes) == 2


def test_the_contracts_are_the_references_signatures_in_dicts_under_the_learners_names():
    loss, step = contracts("mine", "my_adam", "adam")
    assert (loss.__name__, step.__name__) == ("mine", "my_adam")
    assert step.__code__.co_varnames[:9] == ("params", "grads", "first", "second", "t", "eta",
                                             "beta1", "beta2", "eps")
    assert contracts()[1].__code__.co_varnames[:5] == ("params", "grads", "memory", "eta", "eps")


# ---------------------------------------------------------------- the command


SIZE = ("--m", "12", "--seq-length", "10")


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    return tmp_path


def test_the_command_passes_right_rows_adam_and_fails_a_wrong_one_at_its_iteration(capsys, here):
    (here / "mine.py").write_text(source("rows"), encoding="utf-8")
    (here / "wrong.py").write_text(source("rows", H0_MISSING["rows"]), encoding="utf-8")
    code, out, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--layout", "rows",
                         "--optimizer", "adam", "--iterations", "20", "--every", "10", *SIZE)
    assert code == 0, out + err
    assert "(--layout rows, --loss mean, adam)" in out
    assert "Every one of the 20 steps agrees with the package's" in out
    code, out, err = run(capsys, "exercises", "train", "--yours", "wrong.py", "--layout", "rows",
                         "--optimizer", "adam", "--iterations", "20", *SIZE)
    assert code == 1, out + err
    assert "your step differs from the package's at iteration 2: dL/dW differs at" in out


def test_the_command_draws_the_free_running_curves(capsys, here):
    (here / "mine.py").write_text(source("columns"), encoding="utf-8")
    code, out, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--iterations",
                         "5", "--plot", "drift.png", *SIZE)
    assert code == 0, out + err
    assert (here / "drift.png").stat().st_size > 0
    assert "\nwrote drift.png: run free, your smooth loss " in out
    code, _, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--plot", "drift.txt")
    assert code == 2 and "--plot drift.txt: cannot draw a .txt file" in err, err


def test_the_command_names_the_line_of_a_step_that_raises(capsys, here):
    (here / "mine.py").write_text(source("columns", ("        memory[k] += grads[k] ** 2\n",
                                                     "        memory[k] += grads[k] @ grads[k]\n")),
                                  encoding="utf-8")
    code, _, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--iterations", "3",
                       *SIZE)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("charrnn: error: adagrad_step raised ValueError: matmul"), err
    assert "(mine.py, line 50: memory[k] += grads[k] @ grads[k])" in err, err


def test_the_command_with_the_learners_names_and_the_summed_loss(capsys, here):
    text = source("columns").replace("def loss_and_gradients(", "def my_loss(").replace(
        "def adagrad_step(", "def my_step(")
    (here / "mine.py").write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--function",
                         "my_loss", "--step", "my_step", "--iterations", "5", *SIZE)
    assert code == 0, out + err
    assert "training my_loss and my_step of mine.py (--layout columns, --loss sum, adagrad)" in out


def test_the_command_says_which_layout_code_of_the_other_runs_in(capsys, here):
    (here / "mine.py").write_text(source("rows"), encoding="utf-8")
    code, _, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--optimizer", "adam",
                       "--iterations", "3", *SIZE)
    assert code == 1 and "fails on the columns layout's arrays" in err
    assert err.strip().endswith("train it with --layout rows") and err.count("\n") == 1, err


def test_the_command_gives_a_wrong_shape_one_line(capsys, here):
    (here / "mine.py").write_text(source("rows", ("    return loss, grads",
                                                  "    return loss, {**grads, 'b': db[0]}")),
                                  encoding="utf-8")
    code, _, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--layout", "rows",
                       "--optimizer", "adam", "--iterations", "3", *SIZE)
    assert code == 1 and err.count("\n") == 1, err
    assert "mine.py: grads['b'] has shape (12,); expected (1, 12) (--layout rows)" in err


@pytest.mark.parametrize(("args", "message"), [
    (("--layout", "rows"), "--layout go with --yours FILE"),
    (("--loss", "mean", "--step", "s"), "--step, --loss go with --yours FILE"),
    (("--yours", "nope.py"), "--yours nope.py does not exist"),
    (("--yours", "nope.py", "--folder", "."), "--folder takes your exercise files"),
    (("--yours", "nope.py", "--function", "1x"), "does not exist"),
    (("--m", "0"), "--hidden must be an integer from 1"),
])
def test_the_commands_usage_errors_exit_2(capsys, here, args, message):
    code, _, err = run(capsys, "exercises", "train", *args)
    assert code == 2 and message in err, err


def test_a_function_name_that_is_not_python_is_a_usage_error(capsys, here):
    (here / "mine.py").write_text(source("columns"), encoding="utf-8")
    code, _, err = run(capsys, "exercises", "train", "--yours", "mine.py", "--function", "1x")
    assert code == 2 and "--function '1x' is not a Python name" in err, err
