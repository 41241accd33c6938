"""The exercises: the package passes every check, every lab mutation is caught and diagnosed.

The second half is the suite testing itself: each classic mistake of the bug lab must fail
the check meant to catch it, with the diagnosis meant to name it. Then the commands, as a
learner meets them: start, an unimplemented function, a wrong one, a right one.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from charrnn_edu.bptt import gradients
from charrnn_edu.cli import main
from charrnn_edu.encoding import one_hot
from charrnn_edu.exercises.catalog import (
    EXERCISES,
    equation_lines,
    find_exercise,
    signature_text,
    starter_filename,
    starter_source,
)
from charrnn_edu.exercises.checks import CHECKS, DIAGNOSES
from charrnn_edu.exercises.lab import MUTATIONS, run_lab
from charrnn_edu.exercises.learner import LearnerFileError, load_functions
from charrnn_edu.exercises.progress import Progress, ProgressError, progress_file
from charrnn_edu.exercises.runner import run_checks
from charrnn_edu.forward import forward
from charrnn_edu.gradcheck import numerical_gradients
from charrnn_edu.sampling import next_distribution, nucleus

# The checks' own example count follows the Hypothesis profile: 25 (fast) or 120 (CI).
EXAMPLES = settings.default.max_examples
NAMES = [exercise.name for exercise in EXERCISES]


def summary(report):
    return [(r.check.name, r.status, r.error, r.example) for r in report.results
            if r.status != "pass"]


# ---------------------------------------------------------------- the package passes

@pytest.mark.parametrize("name", NAMES)
def test_the_package_passes_every_check_of_every_exercise(name):
    exercise = find_exercise(name)
    report = run_checks(exercise, exercise.references, EXAMPLES)
    assert report.passed, summary(report)
    assert report.diagnoses == ()


@pytest.mark.parametrize("name", NAMES)
def test_no_diagnosis_fires_on_the_package(name):
    # A diagnosis that fires on correct code would send a learner after a mistake they did
    # not make.
    from types import SimpleNamespace
    f = SimpleNamespace(**find_exercise(name).references)
    fired = [d.key for d in DIAGNOSES[name] if d.probe(f)]
    assert not fired, fired


# ---------------------------------------------------------------- the lab: mutations caught

@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_mutation_fails_its_check_with_the_intended_diagnosis(mutation):
    report = run_checks(find_exercise(mutation.exercise), mutation.functions(), EXAMPLES)
    assert mutation.caught_by in report.failed(), summary(report)
    found = [d.key for d in report.diagnoses]
    assert mutation.diagnosis in found, (found, summary(report))


def test_lab_covers_every_exercise_and_names_real_checks_and_diagnoses():
    assert {m.exercise for m in MUTATIONS} == set(NAMES)
    assert len({m.name for m in MUTATIONS}) == len(MUTATIONS)
    for m in MUTATIONS:
        assert m.caught_by in {c.name for c in CHECKS[m.exercise]}, m.name
        assert m.diagnosis in {d.key for d in DIAGNOSES[m.exercise]}, m.name


def test_the_issue_s_classic_mistakes_are_all_in_the_lab():
    diagnoses = {m.diagnosis for m in MUTATIONS}
    for key in ["dc-without-target", "softmax-overflow", "unsorted-vocabulary",
                "clipped-in-bptt", "one-sided-difference", "h0-ignored", "eps-outside-sqrt"]:
        assert key in diagnoses, key


def test_a_failure_shows_the_shrunk_example_and_is_repeatable():
    mutation = next(m for m in MUTATIONS if m.name == "dc-without-target")
    runs = [run_checks(find_exercise("bias-gradients"), mutation.functions(), EXAMPLES)
            for _ in range(2)]
    assert summary(runs[0]) == summary(runs[1])
    dc = next(r for r in runs[0].results if r.check.name == "dL/dc")
    # Hypothesis shrinks to the smallest problem: one hidden unit, two characters, one step.
    assert dc.example.startswith("m=1, K=2, x=[") and "tau=1" in dc.example, dc.example


def test_run_lab_for_one_exercise():
    rows = run_lab(find_exercise("softmax"), EXAMPLES)
    assert [row.mutation.name for row in rows] == ["softmax-overflow", "softmax-rows"]
    assert all(row.caught for row in rows)


# ---------------------------------------------------------------- starter files

@pytest.mark.parametrize("name", NAMES)
def test_starter_file_loads_and_every_check_waits_for_code(name, tmp_path):
    exercise = find_exercise(name)
    path = tmp_path / starter_filename(exercise)
    path.write_text(starter_source(exercise, path.name), encoding="utf-8")
    functions = load_functions(exercise, path)
    assert list(functions) == list(exercise.function_names)
    report = run_checks(exercise, functions, EXAMPLES)
    assert [r.status for r in report.results] == ["todo"] * len(report.results)
    assert not report.passed
    assert report.unimplemented, report
    source = path.read_text(encoding="utf-8")
    for function in exercise.functions:
        assert f"def {signature_text(function.reference)}:" in source
    for line in equation_lines(exercise.module, exercise.equations):
        assert line in source
    assert not (tmp_path / "__pycache__").exists(), "checking left a __pycache__ behind"


def test_equation_lines_are_the_statements_not_the_mentions():
    forward = find_exercise("forward")
    lines = equation_lines(forward.module, ("2.3",))
    assert len(lines) == 1 and lines[0].startswith("(2.3)  o_t = V h_t + c"), lines
    with pytest.raises(LookupError, match="9.9"):
        equation_lines(forward.module, ("9.9",))


# ---------------------------------------------------------------- the learner's file

SOFTMAX = find_exercise("softmax")

NAIVE_SOFTMAX = """
import numpy as np

def softmax(o):
    e = np.exp(o)
    return e / e.sum(axis=0, keepdims=True)
"""

RIGHT_SOFTMAX = """
import numpy as np

def softmax(o):
    e = np.exp(o - o.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
"""


@pytest.mark.parametrize(("source", "expected"), [
    ("def softmax(o):\n    return (o\n", "line 2: syntax error"),
    ("import numpy as np\nZERO = 1 / 0\n", "line 2: running the file raised ZeroDivisionError"),
    ("import no_such_module_here\n", "raised ModuleNotFoundError"),
    ("import sys\nsys.exit(4)\n", "raised SystemExit"),
    ("def soft_max(o):\n    return o\n", "defines no softmax: the exercise needs def softmax(o"),
    ("def softmax(o, axis):\n    return o\n", "softmax(o, axis) does not take the exercise's"),
    ("def softmax():\n    return 1\n", "write it as def softmax(o: np.ndarray)"),
    ("softmax = 3\n", "softmax is 3, not a function"),
    (b"def softmax(o):\n    return '\xff'\n", "not UTF-8"),
])
def test_a_learner_file_that_cannot_give_the_function_is_one_clear_line(tmp_path, source,
                                                                         expected):
    path = tmp_path / "mine.py"
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(source, encoding="utf-8")
    with pytest.raises(LearnerFileError) as info:
        load_functions(SOFTMAX, path)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message and str(path) in message


def test_a_missing_file_says_how_to_start_it(tmp_path):
    with pytest.raises(LearnerFileError, match="charrnn exercises start softmax --to"):
        load_functions(SOFTMAX, tmp_path / "nothing.py")


def test_a_learner_file_may_import_a_file_beside_it(tmp_path):
    (tmp_path / "helpers_for_softmax.py").write_text(RIGHT_SOFTMAX, encoding="utf-8")
    path = tmp_path / "mine.py"
    path.write_text("from helpers_for_softmax import softmax\n", encoding="utf-8")
    report = run_checks(SOFTMAX, load_functions(SOFTMAX, path), EXAMPLES)
    assert report.passed, summary(report)
    assert str(tmp_path) not in sys.path


def test_optional_parameters_must_keep_their_defaults(tmp_path):
    path = tmp_path / "clip.py"
    path.write_text("def clip(grads, bound):\n    return grads\n", encoding="utf-8")
    with pytest.raises(LearnerFileError, match="bound"):
        load_functions(find_exercise("clip"), path)


# ---------------------------------------------------------------- progress

def test_progress_lives_under_charrnn_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    assert progress_file() == tmp_path / "home" / "exercises.json"
    monkeypatch.delenv("CHARRNN_HOME")
    assert progress_file() == Path.home() / ".charrnn" / "exercises.json"


def test_progress_round_trip_and_corrupt_file(tmp_path):
    path = tmp_path / "exercises.json"
    progress = Progress.load(path)
    assert progress.status("softmax") == "not started"
    progress.record("softmax", tmp_path / "softmax.py", "failing", 2, 3)
    again = Progress.load(path)
    assert again.entries == progress.entries
    assert again.status("softmax").startswith("failing: ")
    assert again.status("softmax").endswith("softmax.py (2 of 3 checks pass)")
    assert json.loads(path.read_text())["exercises"]["softmax"]["status"] == "failing"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ProgressError, match="delete it"):
        Progress.load(path)


# ---------------------------------------------------------------- the commands

def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def assert_one_line_error(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("charrnn: error: ") and "Traceback" not in err


@pytest.fixture
def learner(tmp_path, monkeypatch):
    """A fresh learner: an empty working folder and an empty CHARRNN_HOME."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    return tmp_path


def status_of(capsys, name):
    code, out, _ = run(capsys, "exercises", "list")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith(name + " "))
    return line


def test_a_new_learner_start_unimplemented_wrong_right(capsys, learner):
    assert status_of(capsys, "softmax").endswith("not started")

    code, out, _ = run(capsys, "exercises", "start", "softmax")
    assert code == 0 and "charrnn exercises check softmax softmax.py" in out
    assert status_of(capsys, "softmax").endswith("started: softmax.py")

    # Unimplemented: a kind message, every check waiting, exit 1.
    code, out, _ = run(capsys, "exercises", "check", "softmax", "softmax.py",
                       "--examples", str(EXAMPLES))
    assert code == 1
    assert "softmax is not implemented yet" in out and "NotImplementedError" in out
    assert "0 of 3 checks pass; 3 wait for your code." in out

    # Wrong: the overflow check fails, with its example and the diagnosis.
    (learner / "softmax.py").write_text(NAIVE_SOFTMAX, encoding="utf-8")
    code, out, _ = run(capsys, "exercises", "check", "softmax", "softmax.py",
                       "--examples", str(EXAMPLES))
    assert code == 1
    assert "FAIL  extreme logits" in out and "overflow" in out
    assert "diagnosis: softmax overflow on large logits" in out
    assert "o.max(axis=0, keepdims=True)" in out
    assert status_of(capsys, "softmax").endswith("failing: softmax.py (2 of 3 checks pass)")

    # Right: exit 0, passed, and the next exercise suggested.
    (learner / "softmax.py").write_text(RIGHT_SOFTMAX, encoding="utf-8")
    code, out, _ = run(capsys, "exercises", "check", "softmax", "softmax.py",
                       "--examples", str(EXAMPLES))
    assert code == 0, out
    assert "All 3 checks pass." in out and "Next: charrnn exercises start forward" in out
    assert status_of(capsys, "softmax").endswith("passed: softmax.py")


def test_start_refuses_to_overwrite(capsys, learner):
    (learner / "softmax.py").write_text("# mine\n", encoding="utf-8")
    code, _, err = run(capsys, "exercises", "start", "softmax")
    assert code == 2
    assert_one_line_error(err)
    assert "already exists" in err
    assert (learner / "softmax.py").read_text(encoding="utf-8") == "# mine\n"


def test_start_to_another_file_in_a_new_folder(capsys, learner):
    code, _, _ = run(capsys, "exercises", "start", "bias-gradients", "--to", "ch4/bias.py")
    assert code == 0
    source = (learner / "ch4" / "bias.py").read_text(encoding="utf-8")
    assert "def bias_gradients(" in source and "(4.4)" in source
    assert "charrnn exercises check bias-gradients ch4/bias.py" in source
    code, _, err = run(capsys, "exercises", "start", "bias-gradients", "--to", "bias.txt")
    assert code == 2 and ".py" in err


@pytest.mark.parametrize("args", [
    ["exercises", "start", "sofmax"],
    ["exercises", "check", "sofmax", "softmax.py"],
    ["exercises", "check", "softmax", "missing.py"],
    ["exercises", "check", "softmax", "softmax.py", "--examples", "0"],
    ["exercises", "check", "softmax"],
    ["lab", "nonsense"],
])
def test_usage_errors_exit_2_with_one_line(capsys, learner, args):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert_one_line_error(err)


def test_check_of_a_broken_file_exits_2_with_one_line(capsys, learner):
    (learner / "softmax.py").write_text("def softmax(o):\n    return (o\n", encoding="utf-8")
    code, out, err = run(capsys, "exercises", "check", "softmax", "softmax.py")
    assert code == 2 and out == ""
    assert_one_line_error(err)
    assert "softmax.py, line 2: syntax error" in err


def test_a_corrupt_progress_file_is_one_line(capsys, learner):
    (learner / "home").mkdir()
    (learner / "home" / "exercises.json").write_text("[]", encoding="utf-8")
    code, _, err = run(capsys, "exercises", "list")
    assert code == 2
    assert_one_line_error(err)
    assert "exercises.json" in err


def test_progress_that_cannot_be_saved_only_warns(capsys, learner, monkeypatch):
    (learner / "not-a-folder").write_text("", encoding="utf-8")
    monkeypatch.setenv("CHARRNN_HOME", str(learner / "not-a-folder"))
    code, out, err = run(capsys, "exercises", "start", "clip")
    assert code == 0 and (learner / "clip.py").exists()
    assert err.startswith("charrnn: warning: cannot save your progress") and "CHARRNN_HOME" in err


def test_check_without_hypothesis_says_how_to_install_it(capsys, learner, monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)   # import hypothesis now fails
    code, _, err = run(capsys, "exercises", "check", "softmax", "softmax.py")
    assert code == 2
    assert_one_line_error(err)
    assert "pip install hypothesis" in err


def test_the_cli_does_not_need_hypothesis_to_start():
    # list and start must work where only the package's own dependencies are installed.
    script = "import sys, charrnn_edu.cli; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_lab_prints_the_table(capsys, learner):
    code, out, _ = run(capsys, "lab", "softmax", "--examples", str(EXAMPLES))
    assert code == 0, out
    header = out.splitlines()[0].split()
    assert header[:2] == ["mutation", "description"] and "diagnosis" in header
    row = next(line for line in out.splitlines() if "softmax-overflow" in line)
    assert "extreme logits" in row and "softmax overflow on large logits" in row
    assert "2 of 2 mutations caught" in out


def test_lab_without_an_argument_runs_every_mutation(capsys, learner):
    # Fewer examples: the thoroughness is tested above, here only that all of them run.
    code, out, _ = run(capsys, "lab", "--examples", "20")
    assert code == 0, out
    for mutation in MUTATIONS:
        assert mutation.name in out
    assert f"{len(MUTATIONS)} of {len(MUTATIONS)} mutations caught by the intended check" in out


def test_help_lists_the_commands(capsys):
    code, out, _ = run(capsys, "exercises", "--help")
    assert code == 0
    for command in ("list", "start", "check"):
        assert command in out
    code, out, _ = run(capsys, "--help")
    assert "exercises" in out and "lab" in out


def test_module_docstring_explains_the_commands():
    import charrnn_edu.exercises as exercises
    doc = textwrap.dedent(exercises.__doc__)
    for command in ("charrnn exercises list", "charrnn exercises start",
                    "charrnn exercises check", "charrnn lab", "CHARRNN_HOME"):
        assert command in doc


# ---------------------------------------------------------------- every diagnosis can fire

def _with(exercise, name, function):
    return {**find_exercise(exercise).references, name: function}


def _gradients_with(change):
    def mutated(rnn, x, y, h0):
        loss, grads, h = gradients(rnn, x, y, h0)
        change(grads, rnn, x, y, h0)
        return loss, grads, h
    return mutated


def _db_without_recurrence(grads, rnn, x, y, h0):
    H, P, _ = forward(rnn, x, h0)
    grads.b = ((rnn.V.T @ (P - one_hot(y, rnn.K))) * (1 - H * H)).sum(axis=1, keepdims=True)


def _transpose_dW(grads, *problem):
    grads.W = grads.W.T


def _adagrad_rebinding(rnn, grads, memory, eta=0.1, eps=1e-8):
    for theta, g, m in zip(rnn, grads, memory, strict=True):
        m = m + g * g
        theta = theta - eta * g / np.sqrt(m + eps)     # rebinds the name: the mistake


def _adagrad_without_sqrt(rnn, grads, memory, eta=0.1, eps=1e-8):
    for theta, g, m in zip(rnn, grads, memory, strict=True):
        m += g * g
        theta -= eta * g / (m + eps)


def _nucleus_ascending(p, top_p):
    order = np.argsort(p, kind="stable")
    kept = order[np.concatenate([[0.0], np.cumsum(p[order])[:-1]]) < top_p]
    q = np.zeros_like(p)
    q[kept] = p[kept]
    return q / q.sum()


def _nucleus_in_place(p, top_p):
    p[...] = nucleus(p.copy(), top_p)
    return p


# Mistakes beyond the lab's, one for each diagnosis the lab does not show.
MORE_MISTAKES = {
    "repeated-characters": ("encoding", "vocabulary", lambda text: "".join(sorted(text))),
    "ids-not-int64": ("encoding", "encode", lambda text, chars: [chars.index(c) for c in text]),
    "decode-not-str": ("encoding", "decode", lambda ids, chars: [chars[i] for i in ids]),
    "softmax-global-max": ("softmax", "softmax",
                           lambda o: np.exp(o - o.max()) / np.exp(o - o.max()).sum(axis=0)),
    "softmax-whole-matrix": ("softmax", "softmax",
                             lambda o: np.exp(o - o.max()) / np.exp(o - o.max()).sum()),
    "forward-transposed": ("forward", "forward",
                           lambda rnn, x, h0: (lambda r: (r.H.T, r.P.T, r.h))(forward(rnn, x, h0))),
    "first-hidden-state": ("forward", "forward",
                           lambda rnn, x, h0: (lambda r: (r.H, r.P, r.H[:, :1]))(
                               forward(rnn, x, h0))),
    "whole-rows": ("cross-entropy", "cross_entropy", lambda P, y: -np.log(P[y]).sum()),
    "loss-sign": ("cross-entropy", "cross_entropy",
                  lambda P, y: np.log(P[y, np.arange(len(y))]).sum()),
    "loss-not-summed": ("cross-entropy", "cross_entropy",
                        lambda P, y: -np.log(P[y, np.arange(len(y))])),
    "dW-transposed": ("bptt", "gradients", _gradients_with(_transpose_dW)),
    "db-without-recurrence": ("bptt", "gradients", _gradients_with(_db_without_recurrence)),
    "divided-by-h": ("numerical-gradients", "numerical_gradients",
                     lambda *problem: numerical_gradients(*problem).map(lambda g: 2 * g)),
    "max-not-sum": ("relative-error", "relative_error",
                    lambda a, n, eps=1e-6: np.abs(a - n)
                    / np.maximum(eps, np.maximum(np.abs(a), np.abs(n)))),
    "no-floor": ("relative-error", "relative_error",
                 lambda a, n, eps=1e-6: np.abs(a - n) / (np.abs(a) + np.abs(n))),
    "not-in-place": ("adagrad", "adagrad_step", _adagrad_rebinding),
    "no-sqrt": ("adagrad", "adagrad_step", _adagrad_without_sqrt),
    "temperature-ignored": ("temperature", "next_distribution",
                            lambda rnn, h, x, temperature=1.0: next_distribution(rnn, h, x)),
    "least-likely-kept": ("top-p", "nucleus", _nucleus_ascending),
    "nucleus-changed-p": ("top-p", "nucleus", _nucleus_in_place),
}


def test_every_diagnosis_is_shown_by_the_lab_or_by_a_mistake_here():
    keys = {d.key for ds in DIAGNOSES.values() for d in ds}
    assert keys == {m.diagnosis for m in MUTATIONS} | set(MORE_MISTAKES)


@pytest.mark.parametrize("key", list(MORE_MISTAKES))
def test_more_mistakes_fail_with_their_diagnosis(key):
    exercise, name, function = MORE_MISTAKES[key]
    report = run_checks(find_exercise(exercise), _with(exercise, name, function), EXAMPLES)
    assert report.failed(), summary(report)
    assert key in [d.key for d in report.diagnoses], ([d.key for d in report.diagnoses],
                                                      summary(report))
