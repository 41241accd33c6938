"""The exercises: the package passes, every mistake of the table is caught and named.

First the suite testing itself, in this process (fast): the package's own functions pass
every exercise, and each mistake of the one table fails the check meant to catch it with its
own diagnosis. Then the learner's side, through the real child process: starter files,
a wrong file then a right one, the lab, training, and code that loops, exits or cheats.
"""

import inspect
import json
import os
import subprocess
import sys
import typing

import numpy as np
import pytest
from clirun import run

from charrnn_edu import bptt, forward, gru, lstm
from charrnn_edu.exercises.catalog import (
    EXERCISES,
    MISTAKES,
    equation_lines,
    find_exercise,
    planted_source,
    starter_filename,
    starter_source,
    wrong_functions,
)
from charrnn_edu.exercises.feedback import format_report
from charrnn_edu.exercises.model import Check
from charrnn_edu.exercises.progress import Progress, ProgressError, progress_file
from charrnn_edu.exercises.runner import diagnose, run_checks
from charrnn_edu.exercises.sandbox import InProcess
from charrnn_edu.exercises.wire import Opaque, pack, unpack
from charrnn_edu.forward import RNN
from charrnn_edu.spec.properties import Case

EXAMPLES = 10        # per check: the thoroughness of the properties is the chapters' tests' job
NAMES = [exercise.name for exercise in EXERCISES]


def failures(report):
    return [(r.check.name, r.status, r.error, r.example) for r in report.results
            if r.status != "pass"]


def mistaken(mistake):
    exercise = find_exercise(mistake.exercise)
    return exercise, InProcess({n: wrong_functions(mistake.key)[n]
                                for n in exercise.function_names})


# ---------------------------------------------------------------- the table, in this process

@pytest.mark.parametrize("name", NAMES)
def test_the_package_passes_every_check_and_shows_no_mistake(name):
    exercise = find_exercise(name)
    report = run_checks(exercise, InProcess(exercise.references), EXAMPLES)
    assert report.passed, failures(report)
    assert diagnose(exercise, InProcess(exercise.references)) == []


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.key for m in MISTAKES])
def test_each_mistake_fails_its_check_with_its_own_diagnosis(mistake):
    exercise, learner = mistaken(mistake)
    report = run_checks(exercise, learner, EXAMPLES, only=mistake.check, shrink=False)
    assert report.failed() == [mistake.check], failures(report)
    assert mistake.key in [m.key for m in report.diagnoses], [m.key for m in report.diagnoses]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.key for m in MISTAKES])
def test_each_mistake_fails_on_an_example_its_check_pins(mistake):
    # examples=0: the check's pinned examples only, so catching the mistake does not depend
    # on which examples this version of Hypothesis draws (6.100-6.124.3 drew others).
    exercise, learner = mistaken(mistake)
    report = run_checks(exercise, learner, 0, only=mistake.check, shrink=False)
    assert report.failed() == [mistake.check], failures(report)


@pytest.mark.parametrize("key, shown", [("clip-one-side", "grads = RNN("),
                                        ("temperature-after-softmax", "case = m="),
                                        ("not-renormalised", "p = [")])
def test_a_failing_example_is_shown_with_its_labels_not_as_them(key, shown):
    mistake = next(m for m in MISTAKES if m.key == key)
    exercise, learner = mistaken(mistake)
    result = run_checks(exercise, learner, EXAMPLES, only=mistake.check).results[0]
    assert result.status == "fail" and result.example.startswith(shown), result.example


def test_a_check_refuses_labels_given_in_place_of_its_description():
    with pytest.raises(TypeError, match="labels=... by name"):
        Check("c", "what", lambda f, e: None, None, ("case", "T"))


def test_the_table_covers_the_classic_mistakes_and_names_real_checks():
    keys = {m.key for m in MISTAKES}
    assert len(keys) == len(MISTAKES) >= 40
    for key in ["state-not-carried", "tanh-derivative-missing", "W-not-transposed",
                "V-not-transposed", "h_t-in-dW", "h0-dropped", "next-step-term-dropped",
                "g-sign", "g-index", "one-hot-rows", "softmax-rows", "clipped-in-bptt",
                "accumulated-after-update", "temperature-after-softmax"]:
        assert key in keys, key
    for m in MISTAKES:
        assert m.check in {c.name for c in find_exercise(m.exercise).checks}, m.key
        assert m.equation and m.title and m.advice.endswith("."), m.key


@pytest.mark.parametrize("cell, keys", [
    ("lstm", ["lstm-gates-swapped", "lstm-forget-without-c", "lstm-c_t-for-c_prev",
              "lstm-tanh-prime-of-c", "lstm-cell-gradient-not-carried", "lstm-output-gate-with-c"]),
    ("gru", ["gru-update-gate-swapped", "gru-reset-after-product", "gru-gates-swapped",
             "gru-z-derivative-sign", "gru-tanh-prime-of-h", "gru-reset-without-h",
             "gru-additive-path-dropped"])])
def test_each_gated_cell_has_its_step_pair_and_classic_mistakes(cell, keys):
    # Each mistake is caught and named by the parametrized tests above; here, that they exist.
    names = {e.name for e in EXERCISES}
    assert {f"{cell}-step", f"{cell}-backward-step"} <= names
    planted = [m for m in MISTAKES if m.module.__name__ == f"charrnn_edu.{cell}"]
    assert len(planted) >= 6 and set(keys) <= {m.key for m in planted}
    assert {m.exercise for m in planted} == {f"{cell}-step", f"{cell}-backward-step"}


@pytest.mark.parametrize("name", [n for n in NAMES if n in ("backward-step", "lstm-step",
                                                           "lstm-backward-step", "gru-step",
                                                           "gru-backward-step")])
def test_the_rerun_hint_builds_the_arguments_of_the_call_it_stands_for(name):
    # The hint once showed the vanilla network's Case(...).build() for the LSTM's steps.
    exercise, case = find_exercise(name), Case(seed=3, m=2, K=3, tau=2, sigma=0.5,
                                               random_h0=True)
    space = {"Case": Case}
    exec("\n".join(exercise.rerun).replace("Case(...)", repr(case)), space)
    function = exercise.functions[0]
    parameters = list(inspect.signature(function).parameters)
    assert "Case(...).build()" not in "\n".join(exercise.rerun)
    function(*(space[p] for p in parameters))          # the names are the call's own


@pytest.mark.parametrize("key, shown, rerun", [
    ("lstm-forget-without-c", "m=1, K=2, x_t=", "backward_step_args(Case(...))"),
    ("lstm-gates-swapped", ", c_prev=[", "lstm, h_prev, c_prev, x_t = step_args(Case(...))"),
    ("gru-reset-without-h", ", h_prev=[", "gru, cache, y_t, dh_next = backward_step_args("),
    ("gru-update-gate-swapped", "y_t=", "from charrnn_edu.exercises.ch10b_gru import step_args"),
    ("h_t-in-dW", ", h0=", "rnn, cache, y_t, da_next = step_problem(Case(...))"),
    ("h0-dropped", ", h0=", "rnn, x, y, h0 = Case(...).build()")])
def test_a_failing_gated_step_is_shown_and_rerun_as_that_cell(key, shown, rerun):
    exercise, learner = mistaken(next(m for m in MISTAKES if m.key == key))
    report = run_checks(exercise, learner, EXAMPLES, shrink=False)
    text = "\n".join(format_report(report))
    example = next(r.example for r in report.results if r.status == "fail")
    assert shown in example and "[Case(" in example
    assert rerun in text and ("build()" in text) == rerun.endswith("build()"), text


def test_the_gated_cells_travel_as_themselves_a_lab_files_by_name():
    rng = np.random.default_rng(0)
    model = gru.GRU.init(3, 2, rng=rng)
    s = gru.step(model, np.zeros((2, 1)), 1)
    cache = gru.Cache(h_prev=np.zeros((2, 1)), x_t=1, step=s)
    back = unpack(pack((model, cache, s, lstm.LSTM.init(3, 2, rng=rng))))
    assert isinstance(back[0], gru.GRU) and isinstance(back[3], lstm.LSTM)
    assert all(np.array_equal(a, b) for a, b in zip(back[0], model, strict=True))
    assert isinstance(back[1], gru.Cache) and isinstance(back[1].step, gru.Step)
    assert back[1].x_t == 1 and isinstance(back[2], gru.Step) and back[2].z.shape == (2, 1)
    lab = wrong_functions("gru-additive-path-dropped")
    terms = lab["backward_step"](model, cache, 0, np.ones((2, 1)))[1]
    assert type(terms) is not gru.GRU and isinstance(unpack(pack(terms)), gru.GRU)


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m.exercise == "backward-step"],
                         ids=lambda m: m.key)
def test_a_slip_in_one_step_is_named_in_the_whole_of_bptt_too(mistake):
    learner = InProcess({"gradients": wrong_functions(mistake.key)["gradients"]})
    assert mistake.key in [m.key for m in diagnose(find_exercise("bptt"), learner)]


def test_a_mistake_is_one_edit_of_its_chapter_and_the_lab_file_runs():
    for mistake in MISTAKES:
        chapter, planted = inspect.getsource(mistake.module), planted_source(mistake)
        assert planted != chapter and len(planted.splitlines()) <= len(chapter.splitlines())
        compile(planted, mistake.key, "exec")
    tanh = next(m for m in MISTAKES if m.key == "tanh-derivative-missing")
    # The comment of the changed line stays where it was: nothing points at the bug.
    assert "    da = dh                                        # (4.5)" in planted_source(tanh)


def test_a_step_bug_is_pinned_to_its_equation():
    exercise, learner = mistaken(next(m for m in MISTAKES if m.key == "h_t-in-dW"))
    result = run_checks(exercise, learner, EXAMPLES, only="complex step").results[0]
    assert result.error.startswith("dL/dW (4.6) differs at"), result.error
    assert "right: dL/dV, dL/dc, dL/da_t, dL/dU, dL/db" in result.error


# ---------------------------------------------------------------- messages and starters

def test_messages_carry_data_only():
    rnn = RNN.init(3, 2, rng=np.random.default_rng(0))
    cache = bptt.Cache(h_prev=np.zeros((2, 1)), x_t=1, h_t=np.ones((2, 1)), p_t=np.ones((3, 1)))
    value = (rnn, [1, 2.5, None, "x", 1j, True], {"a": np.arange(3, dtype=np.int32)},
             np.array(2.0 + 1j), cache)
    back = unpack(pack(value))
    assert isinstance(back[0], RNN)
    assert all(np.array_equal(a, b) for a, b in zip(back[0], rnn, strict=True))
    assert isinstance(back[4], bptt.Cache) and back[4].x_t == 1    # read by name in the child
    assert np.array_equal(back[4].h_prev, cache.h_prev) and back[4].h_t.shape == (2, 1)
    assert back[1] == [1, 2.5, None, "x", 1j, True] and back[2]["a"].dtype == np.int32
    assert back[3] == 2.0 + 1j
    opaque = unpack(pack((object(), np.array(["s"], dtype=object))))
    assert all(isinstance(o, Opaque) for o in opaque)
    with pytest.raises(ValueError):
        unpack(pack(np.zeros(3))[:-5])


@pytest.mark.parametrize("name", NAMES)
def test_a_starter_has_its_imports_equations_and_waits_for_code(name, tmp_path):
    exercise = find_exercise(name)
    source = starter_source(exercise, starter_filename(exercise))
    namespace = {}
    exec(compile(source, name, "exec"), namespace)
    for function in exercise.function_names:
        typing.get_type_hints(namespace[function])      # every annotation's name is imported
    for line in equation_lines(exercise.module, exercise.equations):
        assert line.startswith("(") and line in source
    report = run_checks(exercise, InProcess({n: namespace[n] for n in exercise.function_names}),
                        EXAMPLES)
    assert [r.status for r in report.results] == ["todo"] * len(report.results)


def test_equation_lines_take_the_equation_blocks_never_the_prose():
    lines = equation_lines(bptt, ("4.1",))
    assert lines == ["(4.1)  g_t     = p_t - y_t                                 g_t : (K, 1)"]
    assert equation_lines(find_exercise("one-hot").module, ("1.1",))[0].startswith("(1.1)  X[k")
    with pytest.raises(LookupError, match="9.9"):
        equation_lines(bptt, ("9.9",))


def test_progress_round_trip_and_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    assert progress_file() == tmp_path / "home" / "exercises.json"
    progress = Progress.load()
    progress.record("softmax", tmp_path / "softmax.py", "failing", 2, 3)
    assert Progress.load().status("softmax").endswith("softmax.py (2 of 3 checks pass)")
    progress_file().write_text("{not json", encoding="utf-8")
    with pytest.raises(ProgressError, match="delete it"):
        Progress.load()


# ---------------------------------------------------------------- the commands, a child each


@pytest.fixture
def learner(tmp_path, monkeypatch):
    """A fresh learner: an empty working folder and an empty CHARRNN_HOME."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    return tmp_path


NAIVE_SOFTMAX = "import numpy as np\ndef softmax(o):\n    e = np.exp(o)\n    return e / e.sum(0)\n"
RIGHT_SOFTMAX = ("import numpy as np\ndef softmax(o):\n    e = np.exp(o - o.max(0))\n"
                 "    return e / e.sum(0)\n")


def test_a_new_learner_start_unwritten_wrong_right(capsys, learner):
    assert run(capsys, "exercises", "start", "softmax")[0] == 0
    code, out, _ = run(capsys, "exercises", "check", "softmax", "softmax.py")
    assert code == 1 and "softmax is not written yet" in out and "3 wait for your code" in out
    (learner / "softmax.py").write_text(NAIVE_SOFTMAX, encoding="utf-8")
    code, out, _ = run(capsys, "exercises", "check", "softmax", "softmax.py")
    assert code == 1 and "FAIL  extreme logits" in out
    assert "diagnosis: softmax overflows on large logits, breaking (2.4)" in out
    (learner / "softmax.py").write_text(RIGHT_SOFTMAX, encoding="utf-8")
    code, out, _ = run(capsys, "exercises", "check", "softmax", "softmax.py")
    assert code == 0 and "All 3 checks pass." in out and "Next: charrnn exercises start" in out
    saved = json.loads((learner / "home" / "exercises.json").read_text())
    assert saved["exercises"]["softmax"]["status"] == "passed"
    code, out, _ = run(capsys, "exercises", "list")
    assert "passed: softmax.py" in out


# Each learner file does something a check must survive; (exit code, words of the output).
HOSTILE = {
    "loop.py": ("def softmax(o):\n    while True:\n        pass\n", 1, "did not finish within 1 s"),
    "importloop.py": ("while True:\n    pass\n", 1, "(importing your file)"),
    "osexit.py": ("import os\ndef softmax(o):\n    os._exit(0)\n", 1, "ended the checking process"),
    "sysexit.py": ("import sys\nsys.exit(4)\n", 1, "running the file raised SystemExit: 4"),
    "kbint.py": ("def softmax(o):\n    raise KeyboardInterrupt\n", 1,
                 "softmax raised KeyboardInterrupt (kbint.py, line 2: raise KeyboardInterrupt)"),
    "genexit.py": ("def softmax(o):\n    raise GeneratorExit()\n", 1, "raised GeneratorExit"),
    "closed.py": ("import sys\ndef softmax(o):\n    sys.stdout.close()\n    return o\n", 1,
                  "FAIL  extreme logits"),
    "printer.py": ("def softmax(o):\n    while True:\n        print('x' * 1000)\n", 1,
                   "printed more than 100,000 bytes"),
    "crash.py": ("import numpy as np\nX = 1 / 0\n", 1, "crash.py, line 2: X = 1 / 0: running"),
    "syntax.py": ("def softmax(o):\n    return (o\n", 1, "line 2: syntax error"),
    "nan.py": ("import numpy as np\ndef softmax(o):\n    return np.full(o.shape, np.nan)\n", 1,
               "note: softmax returned nan or inf"),
    "wrongargs.py": ("def softmax(o, axis):\n    return o\n", 1, "write it as def softmax(o:"),
    "cheat.py": ("import numpy as np, numpy.testing\n"
                 "np.testing.assert_allclose = np.testing.assert_array_equal = print\n"
                 "np.allclose = lambda *a, **k: True\n"
                 "def softmax(o):\n    return np.full(o.shape, 1.0 / o.shape[0])\n", 1,
                 "FAIL  extreme logits"),
    "dataclass.py": ("from dataclasses import dataclass\n@dataclass\nclass A:\n    x: int\n"
                     + RIGHT_SOFTMAX, 0, "All 3 checks pass."),
    "adir": (None, 2, "adir is a directory"),
    "missing.py": (None, 2, "does not exist: create it with 'charrnn exercises start softmax"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_code_that_loops_exits_prints_or_cheats_ends_cleanly(capsys, learner, name):
    source, expected_code, words = HOSTILE[name]
    if name == "adir":
        (learner / name).mkdir()
    elif source is not None:
        (learner / name).write_text(source, encoding="utf-8")
    timeout = "1" if "loop" in name else "30"
    code, out, err = run(capsys, "exercises", "check", "softmax", name, "--timeout", timeout)
    assert code == expected_code and words in out + err, out + err
    assert not err or (len(err.strip().splitlines()) == 1 and err.startswith("charrnn: error:"))


# As on Windows, in every Python started with this on PYTHONPATH, the grader's child too:
# neither module can be imported and signal has no SIGHUP.
WINDOWS_SITE = """\
import signal, sys
sys.modules.update(resource=None, fcntl=None)
del signal.SIGHUP
"""

# The grader's side of Windows besides: selectors wait on sockets only, Popen refuses
# pass_fds, and msvcrt stands in for fcntl (runs.py's locks: a check takes only the progress
# file's, waiting for it). Then `charrnn exercises check` through the CLI's main; each run's
# (code, out, err) as JSON.
CHECK_ON_WINDOWS = r"""
import contextlib, io, json, selectors, signal, subprocess, sys, types
assert sys.modules["fcntl"] is None and not hasattr(signal, "SIGHUP")

class SocketsOnly(selectors.DefaultSelector):
    def register(self, fileobj, events, data=None):
        raise OSError(10038, "An operation was attempted on something that is not a socket")

def popen(self, args, *rest, pass_fds=(), _popen=subprocess.Popen.__init__, **kwargs):
    assert not pass_fds, "pass_fds is not supported on Windows"
    if "-c" in args:    # the sandbox's child reads no PYTHONPATH (-I): it gets the site here
        i = args.index("-c") + 1
        with open(sys.modules["sitecustomize"].__file__, encoding="utf-8") as site:
            args = [*args[:i], site.read() + args[i], *args[i + 1:]]
    _popen(self, args, *rest, **kwargs)

def locking(fd, mode, nbytes):
    assert mode in (LK_UNLCK, LK_LOCK) and nbytes == 1, "only the progress file's lock"

selectors.DefaultSelector, subprocess.Popen.__init__ = SocketsOnly, popen
sys.modules["msvcrt"] = types.ModuleType("msvcrt")
sys.modules["msvcrt"].locking = locking
LK_UNLCK, LK_LOCK, LK_NBLCK = 0, 1, 2
sys.modules["msvcrt"].LK_UNLCK, sys.modules["msvcrt"].LK_LOCK = LK_UNLCK, LK_LOCK
sys.modules["msvcrt"].LK_NBLCK = LK_NBLCK

import charrnn_edu.exercises.child, charrnn_edu.exercises.progress
import charrnn_edu.exercises.runner, charrnn_edu.exercises.train
from charrnn_edu.cli import main

runs = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as done:
            runs.append((done.code, out.getvalue(), err.getvalue()))
print(json.dumps(runs))
"""


def test_the_grader_checks_without_resource_fcntl_or_sighup(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(WINDOWS_SITE, encoding="utf-8")
    source = RIGHT_SOFTMAX.replace("    e =", "    print('hi')\n    e =")
    (tmp_path / "right.py").write_text("import signal, sys\nassert sys.modules['fcntl'] is None "
                                       "and not hasattr(signal, 'SIGHUP')\n" + source)
    (tmp_path / "naive.py").write_text(NAIVE_SOFTMAX, encoding="utf-8")
    (tmp_path / "loop.py").write_text(HOSTILE["loop.py"][0], encoding="utf-8")
    checks = [["exercises", "check", "softmax", name, "--timeout", "1" if name == "loop.py"
               else "30"] for name in ("right.py", "naive.py", "loop.py")]
    env = {**os.environ, "CHARRNN_HOME": str(tmp_path / "home"), "PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "site"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", CHECK_ON_WINDOWS, json.dumps(checks)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    (right, out, err), (naive, naive_out, _), (loop, _, loop_err) = json.loads(done.stdout)
    assert right == 0 and "All 3 checks pass." in out and "  | hi" in out, out + err
    assert naive == 1 and "FAIL  extreme logits" in naive_out
    assert "diagnosis: softmax overflows on large logits, breaking (2.4)" in naive_out
    assert loop == 1 and "did not finish within 1 s" in loop_err, loop_err


def test_help_tells_where_progress_is_kept(capsys):
    code, out, _ = run(capsys, "exercises", "--help")
    assert code == 0 and "CHARRNN_HOME" in out and "exercises.json" in out
    for command in ("list", "start", "check", "train"):
        assert command in out


def test_the_lab_plants_a_bug_the_gradient_check_finds_and_a_repair_passes(capsys, learner):
    code, out, _ = run(capsys, "lab", "list")
    assert code == 0 and all(m.key in out for m in MISTAKES)
    assert run(capsys, "lab", "start", "h_t-in-dW", "--to", "mine.py")[0] == 0
    code, out, _ = run(capsys, "lab", "check", "h_t-in-dW", "mine.py", "--hint")
    assert code == 1 and "gradient check of your gradients" in out
    assert [line.split()[0] for line in out.splitlines() if "FAILED (" in line] == ["W"]
    assert "hint: h_t instead of h_{t-1}, breaking (4.6)" in out
    repaired = (learner / "mine.py").read_text().replace("da @ cache.h_t.T", "da @ cache.h_prev.T")
    (learner / "mine.py").write_text(repaired)
    code, out, _ = run(capsys, "lab", "check", "h_t-in-dW", "mine.py")
    assert code == 0 and "Fixed" in out and "FAILED" not in out
    assert sum(line.rstrip().endswith(" ok") for line in out.splitlines()) == 5


def test_the_lab_plants_a_gru_mistake_its_checks_name_and_a_repair_passes(capsys, learner):
    code, out, _ = run(capsys, "lab", "list", "gru-backward-step")
    assert code == 0 and "gru-additive-path-dropped  gru.py" in out
    assert run(capsys, "lab", "start", "gru-additive-path-dropped", "--to", "mine.py")[0] == 0
    code, out, _ = run(capsys, "lab", "check", "gru-additive-path-dropped", "mine.py", "--hint")
    assert code == 1 and "pass  matches package" in out and "FAIL  complex step" in out
    assert "error: dh_prev (10b.16) differs" in out
    assert "hint: z_t * dL/dh_t not carried back to h_{t-1}, breaking (10b.16)" in out
    assert "backward_step_args(Case(...))" in out and "build()" not in out
    mine = learner / "mine.py"
    repaired = "dh_prev = (s.z * dh + s.r * drh"
    mine.write_text(mine.read_text().replace("dh_prev = (s.r * drh   ", repaired))
    code, out, _ = run(capsys, "lab", "check", "gru-additive-path-dropped", "mine.py")
    assert code == 0 and "Fixed" in out and "FAIL" not in out, out


def test_training_on_the_learners_own_code(capsys, learner):
    for folder, chapter in (("good", bptt), ("bad", None)):
        (learner / folder).mkdir()
        source = (inspect.getsource(chapter) if chapter else
                  planted_source(next(m for m in MISTAKES if m.key == "h0-dropped")))
        (learner / folder / "bptt.py").write_text(source)
        adagrad = next(m for m in MISTAKES if m.key == "eps-outside-sqrt").module
        (learner / folder / "adagrad.py").write_text(inspect.getsource(adagrad))
    code, out, _ = run(capsys, "exercises", "train", "--folder", "good", "--iterations", "3",
                       "--every", "3")
    lines = [line for line in out.splitlines() if line.startswith("iteration 3:")]
    assert code == 0 and len(lines) == 1, out
    yours, theirs = lines[0].split("smooth loss ")[1].split(" yours, ")
    assert yours == theirs.split()[0]
    code, out, err = run(capsys, "exercises", "train", "--folder", "bad", "--iterations", "3")
    assert code == 1 and "diagnosis: the h_0 term of dL/dW dropped" in out and err


def test_a_loss_returned_as_a_numpy_scalar_trains(capsys, learner):
    # cross_entropy returns np.float64; without float() it once crashed the formatting.
    (learner / "np").mkdir()
    source = inspect.getsource(bptt).replace("loss = float(cross_entropy(P, y))",
                                             "loss = cross_entropy(P, y)")
    assert source != inspect.getsource(bptt)
    (learner / "np" / "bptt.py").write_text(source)
    (learner / "np" / "adagrad.py").write_text(
        inspect.getsource(next(m for m in MISTAKES if m.key == "eps-outside-sqrt").module))
    code, out, err = run(capsys, "exercises", "train", "--folder", "np", "--iterations", "2",
                         "--every", "2")
    assert code == 0 and "iteration 2:" in out, out + err


def test_training_on_the_learners_own_steps(capsys, learner):
    # The other route: the learner's forward and backward steps, looped as chapter 4 loops
    # them, each Cache sent to their backward_step and its terms added up here.
    (learner / "steps").mkdir()
    adagrad = next(m for m in MISTAKES if m.key == "eps-outside-sqrt").module
    for name, chapter in (("forward_step", forward), ("backward_step", bptt),
                          ("adagrad", adagrad)):
        (learner / "steps" / f"{name}.py").write_text(inspect.getsource(chapter))
    code, out, err = run(capsys, "exercises", "train", "--folder", "steps", "--iterations", "3",
                       "--every", "3")
    assert code == 0 and "backward_step.py" in out, out + err
    line = next(line for line in out.splitlines() if line.startswith("iteration 3:"))
    yours, theirs = line.split("smooth loss ")[1].split(" yours, ")
    assert yours == theirs.split()[0]
