"""Grading a class: every planted submission gets its row, and none reaches past its copy."""

import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import charrnn_edu
from charrnn_edu.cli import main
from charrnn_edu.exercises.autograder import ROOT_VARIABLE
from charrnn_edu.exercises.confine import descendants, landlock_abi, missing_protections
from charrnn_edu.exercises.wire import answer, pack, unpack

POSIX = os.name == "posix"
RIGHT = ("import numpy as np\n\ndef softmax(o):\n    e = np.exp(o - o.max(0))\n"
         "    return e / e.sum(0)\n")
RIGHT_LOOP = """\
import math
import numpy as np

def softmax(o):
    out = np.empty_like(o, dtype=float)
    for j in range(o.shape[1]):
        top = max(o[:, j])
        column = [math.exp(v - top) for v in o[:, j]]
        out[:, j] = [v / sum(column) for v in column]
    return out
"""
REPORT = """
import os, socket
def attempt(what, do):
    try:
        do()
        print(what, "done")
    except Exception as err:
        print(what, type(err).__name__)
"""
# Each planted submission: its source, and the status it must get.
PLANTED = {
    "right_vectorised": (RIGHT, "passed"),
    "right_loop": (RIGHT_LOOP, "passed"),
    "naive": ("import numpy as np\ndef softmax(o):\n    e = np.exp(o)\n    return e / e.sum(0)\n",
              "failed"),
    "rows": ("import numpy as np\ndef softmax(o):\n    e = np.exp(o - o.max(1, keepdims=True))\n"
             "    return e / e.sum(1, keepdims=True)\n", "failed"),
    "endless": (RIGHT + "while True:\n    pass\n", "timeout"),
    "hungry": (RIGHT + "keep = []\nwhile True:\n    keep.append(np.zeros(2**24))\n", "memory"),
    "forks": (RIGHT + """
import os, time
for leave in ("child", "grandchild"):
    pid = os.fork()
    if pid == 0:
        if leave == "grandchild":
            os.setsid()
            if os.fork():
                os._exit(0)
        os.write(1, f"left pid {os.getpid()}\\n".encode())
        time.sleep(300)
        os._exit(0)
    if leave == "grandchild":
        os.waitpid(pid, 0)
""", "passed"),
    "vandal": (RIGHT + REPORT + """
attempt("delete outside", lambda: os.remove(VICTIM))
attempt("write outside", lambda: open(PLANTED, "w").write("was here"))
attempt("delete teacher", lambda: os.remove(TEACHER))
attempt("write grader home", lambda: open(HOME, "w").write("was here"))
attempt("change package", lambda: open(RUNNER, "a"))
attempt("write own home", lambda: open(os.path.expanduser("~/mine.txt"), "w").write("ok"))
attempt("write own copy", lambda: open("mine.txt", "w").write("ok"))
""", "passed"),
    "network": (RIGHT + REPORT + """
attempt("connect", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2))
""", "passed"),
    "borrower": ("from charrnn_edu.forward import softmax\n", "refused"),
    "exits": ("import os\ndef softmax(o):\n    os._exit(3)\n", "crashed"),
    "shouts": (RIGHT + "print('x' * 3_000_000)\n", "crashed"),
}


def _tree(*folders):
    """Every file under ``folders`` with the hash of its bytes."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not POSIX, reason="the planted class forks")
def test_a_planted_class_gets_a_row_each_and_touches_nothing(tmp_path, monkeypatch, capsys):
    outside, home, group = tmp_path / "outside", tmp_path / "home", tmp_path / "class"
    for folder in (outside, home, group):
        folder.mkdir()
    (outside / "victim.txt").write_text("keep me")
    (home / ".profile").write_text("the grader's")
    (group / "GRADES_KEEP.txt").write_text("grades")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CHARRNN_HOME", str(home / ".charrnn"))
    monkeypatch.chdir(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    runner = Path(charrnn_edu.__file__).parent / "exercises" / "runner.py"
    names = {"VICTIM": outside / "victim.txt", "PLANTED": outside / "planted.txt",
             "TEACHER": group / "GRADES_KEEP.txt", "HOME": home / ".profile", "RUNNER": runner}
    header = "".join(f"{k} = {str(v)!r}\n" for k, v in names.items())
    header += f"PORT = {listener.getsockname()[1]}\n"
    for name, (source, _) in PLANTED.items():
        (group / name).mkdir()
        (group / name / "softmax.py").write_text(header + source)
    before = _tree(outside, home, group, runner.parent)
    with pytest.raises(SystemExit) as done:
        main(["exercises", "grade", "softmax", str(group), "--out", "out", "--timeout", "4",
              "--memory", "1G", "--jobs", "2", "--examples", "20"])
    out, err = capsys.readouterr()
    assert done.value.code in (0, None), out + err
    missing = missing_protections()
    first = out.splitlines()[0]
    assert first == ("sandbox: every protection is in force" if not missing else
                     f"sandbox: not in force here: {'; '.join(missing)}")
    assert f"graded {len(PLANTED)} submissions" in out and "Traceback" not in out + err
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "out" / "results.csv")
                                                        .open(encoding="utf-8"))}
    print((tmp_path / "out" / "results.csv").read_text())     # the closing note's CSV
    assert {n: r["status"] for n, r in rows.items()} == {n: s for n, (_, s) in PLANTED.items()}
    assert "softmax overflows on large logits" in rows["naive"]["diagnosis"]
    assert "softmax over the wrong axis" in rows["rows"]["diagnosis"]
    assert "did not finish within 4 s" in rows["endless"]["diagnosis"]
    assert "out of memory" in rows["hungry"]["diagnosis"]
    assert "charrnn_edu.forward.softmax" in rows["borrower"]["diagnosis"]
    assert "os._exit" in rows["exits"]["diagnosis"]
    assert "printed more" in rows["shouts"]["diagnosis"]
    assert rows["right_loop"]["checks_passed"] == rows["right_loop"]["checks_total"] == "3"
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [s["submission"] for s in results["submissions"]] == sorted(PLANTED)
    feedback = {n: (tmp_path / "out" / "feedback" / f"{n}.md").read_text() for n in PLANTED}
    assert "All 3 checks pass." in feedback["right_loop"]
    assert "diagnosis: softmax overflows on large logits, breaking (2.4)" in feedback["naive"]

    # Nothing outside the copies changed; the vandal was refused everywhere but at home.
    assert _tree(outside, home, group, runner.parent) == before
    vandal = feedback["vandal"]
    if landlock_abi() >= 1:
        for what in ("delete outside", "write outside", "delete teacher", "write grader home"):
            assert f"| {what} PermissionError" in vandal, vandal
    assert "| change package PermissionError" in vandal
    assert "| write own home done" in vandal and "| write own copy done" in vandal
    with pytest.raises(BlockingIOError):
        listener.accept()
    if landlock_abi() >= 4:
        assert "| connect PermissionError" in feedback["network"], feedback["network"]
    else:                               # the connection is refused by nothing: said so first
        assert "no network confinement" in first
    listener.close()

    # No process is left: not the submission's child, not the grandchild that left its session.
    left = [int(line.split()[-1]) for line in feedback["forks"].splitlines()
            if "left pid" in line]
    assert len(left) == 2, feedback["forks"]
    time.sleep(0.2)
    assert not [pid for pid in left if _alive(pid)]
    assert not [pid for pid in descendants(os.getpid()) if _alive(pid)]
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("charrnn-sandbox-*/work/mine.txt"))


GRADER = [sys.executable, "-m", "charrnn_edu", "exercises", "grade", "softmax"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_grader_stops_every_child(tmp_path, signum):
    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text(RIGHT + "import os\nif os.fork() == 0:\n    "
                                             "os.setsid()\nwhile True:\n    pass\n")
    grader = subprocess.Popen([*GRADER, str(tmp_path), "--out", str(tmp_path / "out"),
                               "--jobs", "2", "--timeout", "60"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, seen = time.monotonic() + 60, set()
    while len(seen) < 4 and time.monotonic() < deadline:      # two children, two forks
        seen |= descendants(grader.pid)
        time.sleep(0.1)
    assert len(seen) >= 4, seen
    grader.send_signal(signum)
    grader.communicate(timeout=30)
    time.sleep(0.3)
    assert grader.returncode != 0
    assert not [pid for pid in seen if _alive(pid)]


def test_the_protections_not_in_force_are_named():
    assert missing_protections(abi=7) == ([] if sys.platform.startswith("linux") else
                                          missing_protections(abi=7))
    old = missing_protections(abi=0)
    assert any("no write confinement" in m for m in old)
    assert any("no network confinement" in m for m in old)
    three = missing_protections(abi=3)
    assert not any("write confinement" in m for m in three)
    assert any("ABI 4, Linux 6.7" in m for m in three)
    five = missing_protections(abi=5)
    assert [m for m in five if "confinement" in m] == [
        m for m in five if "signal confinement" in m] and len(five) >= 1


@pytest.mark.parametrize("forged", [
    b'{"dict": [1]}', b'{"raised": {"kind": 3}}', b'[' * 100_000 + b']' * 100_000,
    b'{"array": ["<f8", [1000], -8]}', b'{"result": 1, "sneaky": 2}', b'not json',
    b'{"dict": {"result": 1, "sneaky": 2}}', b'{"dict": {"raised": {"dict": {"kind": 1}}}}'])
def test_a_forged_message_is_one_clear_error(forged):
    message = (len(forged) + 8).to_bytes(8, "big") + len(forged).to_bytes(8, "big") + forged
    with pytest.raises(ValueError, match="malformed|not an answer"):
        answer(unpack(message))


def test_a_genuine_answer_passes():
    assert answer(unpack(pack({"result": [1.5, "x"], "args": []}))) == {"result": [1.5, "x"],
                                                                       "args": []}


NAIVE = PLANTED["naive"][0]


def test_gradescope_results_for_one_submission(tmp_path, capsys):
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "softmax.py").write_text(NAIVE)
    with pytest.raises(SystemExit) as done:
        main(["exercises", "grade", "softmax", str(tmp_path / "upload"), "--out",
              str(tmp_path / "out"), "--gradescope", str(tmp_path / "gs.json"), "--examples", "20"])
    out, err = capsys.readouterr()
    assert done.value.code in (0, None), out + err
    assert "[1/1] upload: failed, 2 of 3 checks (softmax overflows on large logits" in out
    results = json.loads((tmp_path / "gs.json").read_text())
    assert (results["score"], results["max_score"]) == (2, 3)
    assert [t["status"] for t in results["tests"]] == ["passed", "failed", "passed"]
    assert "smallest failing example" in results["tests"][1]["output"]
    assert "diagnosis: softmax overflows on large logits, breaking (2.4)" in results["output"]
    (tmp_path / "upload" / "softmax.py").rename(tmp_path / "upload" / "mine.py")
    (tmp_path / "upload" / "other.py").write_text(NAIVE)     # two files, neither softmax.py
    with pytest.raises(SystemExit) as done:
        main(["exercises", "grade", "softmax", str(tmp_path / "upload"), "--out",
              str(tmp_path / "out"), "--gradescope", str(tmp_path / "gs.json")])
    assert done.value.code == 2 and "--gradescope grades one submission" in capsys.readouterr().err


def test_the_autograder_bundle_grades_a_stand_in_for_autograder(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["exercises", "autograder", "softmax", "--out", str(tmp_path / "ag.zip"),
              "--timeout", "10"])
    assert done.value.code in (0, None) and "wrote" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "ag.zip") as bundle:
        names = bundle.namelist()
        wheel = next(n for n in names if n.endswith("-py3-none-any.whl"))
        assert sorted(names) == sorted(["setup.sh", "run_autograder", wheel])
        assert all(bundle.getinfo(n).external_attr >> 16 & 0o111 for n in names[:2])
        assert f"./{wheel}" in bundle.read("setup.sh").decode()
        bundle.extractall(tmp_path / "source")
    with zipfile.ZipFile(tmp_path / "source" / wheel) as built:
        inside = built.namelist()
        info = next(n for n in inside if n.endswith(".dist-info/METADATA"))
        assert "charrnn_edu/exercises/grade.py" in inside and "charrnn_edu/cli.py" in inside
        assert "Requires-Dist: numpy" in built.read(info).decode()
        assert not [n for n in inside if "__pycache__" in n]
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "softmax.py").write_text(RIGHT)
    env = {**os.environ, ROOT_VARIABLE: str(root), "CHARRNN_PYTHON": sys.executable}
    script = tmp_path / "source" / "run_autograder"
    subprocess.run(["bash", str(script)], env=env, check=True, timeout=300, capture_output=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert (results["score"], results["max_score"]) == (3, 3)
    (root / "results" / "results.json").unlink()
    (root / "submission" / "softmax.py").rename(root / "submission" / "first.py")
    (root / "submission" / "second.py").write_text(RIGHT)
    subprocess.run(["bash", str(script)], env=env, check=True, timeout=300, capture_output=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "upload one file, softmax.py" in results["output"]


def test_every_starter_file_imports_what_it_needs_and_no_answer(tmp_path):
    # What a starter imports from earlier chapters stays importable (Cache for backward-step,
    # RNN and softmax for forward); the function under test does not.
    from charrnn_edu.exercises.catalog import EXERCISES, starter_filename, starter_source
    from charrnn_edu.exercises.child import CHAPTERS
    from charrnn_edu.exercises.sandbox import Sandbox, Stopped
    for exercise in EXERCISES:
        path = tmp_path / starter_filename(exercise)
        path.write_text(starter_source(exercise, path.name))
        with Sandbox([(path, exercise.functions)], 30) as box:
            assert box.unconfined == [] or missing_protections(), box.unconfined
        module, name = exercise.functions[0].__module__, exercise.functions[0].__name__
        path.write_text(f"from {module} import {name}\n")
        with pytest.raises(Stopped) as refused:
            Sandbox([(path, exercise.functions)], 30)
        assert refused.value.kind == "refused", (exercise.name, refused.value)
        # The chapters' answers are refused by name; the checks' own versions and the
        # machinery after the chapters (chapter 8's training loop) as a module.
        expected = (f"{module}.{name}" if module in CHAPTERS
                    else "charrnn_edu.exercises" if "exercises" in module else module)
        assert expected in str(refused.value), (exercise.name, refused.value)
