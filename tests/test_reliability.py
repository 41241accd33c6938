"""The second reliability sweep's findings, one test per row (reliability-sweep-2.md).

Each test names its row and asserts the clean behaviour: one line, the exit code, nothing
lost, nothing written outside the folder, no hang (every subprocess has a timeout).
"""

import json
import os
import select
import signal
import stat
import subprocess
import sys
import time

import pytest
from clirun import one_line_error, run

from charrnn_edu import checkpoint, runs
from charrnn_edu.exercises.progress import Progress
from charrnn_edu.files import default_corpus

SMALL = ["--hidden", "8", "--seq-length", "10", "--sample-every", "50", "--sample-length", "30",
         "--quiet"]
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file kinds")


def train(capsys, corpus, *args):
    return run(capsys, "train", "--data", corpus, "--iterations", "20", *SMALL, *args)


@pytest.fixture
def trained(tmp_path, corpus, capsys):
    code, _, _ = train(capsys, corpus, "--out", tmp_path / "run")
    assert code == 0
    return tmp_path / "run"


# ------------------------------------------------------------------ 1. links and deletions

@POSIX
@pytest.mark.parametrize("resume", [False, True], ids=["NK02-new-run", "NK01-resume"])
def test_a_lock_that_links_outside_is_refused_and_its_target_untouched(
        capsys, tmp_path, corpus, trained, resume):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data")
    folder = trained if resume else tmp_path / "new"
    folder.mkdir(exist_ok=True)
    (folder / ".lock").unlink(missing_ok=True)
    (folder / ".lock").symlink_to(victim)
    flag = "--resume" if resume else "--out"
    code, _, err = train(capsys, corpus, flag, folder)
    assert code == 1
    assert "symbolic link" in one_line_error(err) and str(folder / ".lock") in err
    assert victim.read_text() == "precious data"


@POSIX
def test_a_dangling_lock_link_creates_nothing_outside(capsys, tmp_path, corpus):     # NK03
    folder, outside = tmp_path / "lk3", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / ".lock").symlink_to(outside / "created_by_charrnn")
    code, _, err = train(capsys, corpus, "--out", folder)
    assert code == 1 and "symbolic link" in one_line_error(err)
    assert list(outside.iterdir()) == []


@POSIX
def test_a_nested_lock_link_is_refused_too(tmp_path):                               # NK04
    victim = tmp_path / "victim4.txt"
    victim.write_text("precious data")
    (tmp_path / "rep" / "run").mkdir(parents=True)
    (tmp_path / "rep" / "run" / ".lock").symlink_to(victim)
    with runs.RunFolder(tmp_path / "rep"), pytest.raises(runs.FolderRefused, match="link"):
        with runs.RunFolder(tmp_path / "rep" / "run"):
            pass
    assert victim.read_text() == "precious data"


@POSIX
def test_a_fifo_as_lock_is_named_in_one_line(capsys, tmp_path, corpus):             # NK36
    folder = tmp_path / "lf"
    folder.mkdir()
    os.mkfifo(folder / ".lock")
    code, _, err = train(capsys, corpus, "--out", folder)
    assert code == 1
    assert "FIFO" in one_line_error(err) and str(folder / ".lock") in err


def test_a_directory_as_lock_is_named_in_one_line(capsys, tmp_path, corpus):        # NK37
    (tmp_path / "lf2" / ".lock").mkdir(parents=True)
    code, _, err = train(capsys, corpus, "--out", tmp_path / "lf2")
    assert code == 1 and str(tmp_path / "lf2" / ".lock") in one_line_error(err)


@POSIX
def test_a_lock_linked_to_a_device_is_refused(capsys, tmp_path, corpus):            # NK38
    folder = tmp_path / "ld"
    folder.mkdir()
    (folder / ".lock").symlink_to(os.devnull)
    code, _, err = train(capsys, corpus, "--out", folder)
    assert code == 1 and "symbolic link" in one_line_error(err)


def test_a_user_s_own_temporary_files_survive(capsys, tmp_path, corpus):            # NW12
    folder = tmp_path / "mywork"
    folder.mkdir()
    mine = {".notes.tmp": "notes", ".draft.v2.tmp": "draft", ".x.abcdefgh.tmp": "mine too"}
    for name, text in mine.items():
        (folder / name).write_text(text)
    code, _, _ = train(capsys, corpus, "--out", folder)
    assert code == 0
    assert {name: (folder / name).read_text() for name in mine} == mine


def test_a_finished_run_leaves_no_pid_in_its_lock(trained):
    assert (trained / ".lock").read_bytes() == b""


def test_an_empty_out_is_refused_not_taken_for_the_current_folder(                  # NO16
        capsys, tmp_path, corpus, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    for command in (["train", "--data", corpus, *SMALL], ["study", "--data", corpus],
                    ["report", "--data", corpus]):
        code, _, err = run(capsys, *command, "--out", "")
        assert code == 2 and "--out is empty" in one_line_error(err)
    code, _, err = run(capsys, "train", "--data", corpus, "--resume", "")
    assert code == 2 and "--resume is empty" in one_line_error(err)
    assert sorted(tmp_path.iterdir()) == before


@POSIX
def test_files_are_created_with_the_user_s_umask(capsys, tmp_path, corpus):         # NV17
    folder = tmp_path / "private"
    folder.mkdir(mode=0o755)
    old = os.umask(0o077)
    try:
        code, _, _ = train(capsys, corpus, "--out", folder)
    finally:
        os.umask(old)
    assert code == 0
    for name in (runs.CHECKPOINT, runs.RECORD, runs.HISTORY, runs.SAMPLES):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name


# ------------------------------------------------------------------ 2. files read back

def _edit_record(folder, part, field, value):
    record = json.loads((folder / runs.RECORD).read_text())
    record[part][field] = value
    (folder / runs.RECORD).write_text(json.dumps(record))


@pytest.mark.parametrize(("part", "field", "value"), [
    ("run", "checkpoint_every", 0),                # NK10: was ZeroDivisionError
    ("run", "checkpoint_every", -5),               # NK11: was an endless save loop
    ("run", "checkpoint_every", "x"),              # NK12: was TypeError
    ("run", "checkpoint_every", 0.5),              # NK16: a save every iteration
    ("run", "train_seconds", "x"),                 # NK13: named neither file nor field
    ("run", "train_seconds", [1]),                 # NK14: was TypeError
    ("corpus", "encoding", 5),                     # NK15: was TypeError
], ids=["NK10", "NK11", "NK12", "NK16", "NK13", "NK14", "NK15"])
def test_a_bad_field_in_settings_json_is_named_in_one_line(
        capsys, corpus, trained, part, field, value):
    _edit_record(trained, part, field, value)
    before = (trained / runs.CHECKPOINT).read_bytes()
    code, _, err = train(capsys, corpus, "--resume", trained, "--iterations", "40")
    assert code == 2
    line = one_line_error(err)
    assert str(trained / runs.RECORD) in line and f"{part}.{field}" in line, line
    assert (trained / runs.CHECKPOINT).read_bytes() == before


def test_a_settings_json_that_is_not_an_object_is_named(capsys, corpus, trained):
    (trained / runs.RECORD).write_text("[1, 2]")
    code, _, err = train(capsys, corpus, "--resume", trained, "--iterations", "40")
    assert code == 2 and str(trained / runs.RECORD) in one_line_error(err)


@POSIX
def test_a_fifo_as_settings_json_does_not_hang(tmp_path, corpus, trained):           # NK09
    (trained / runs.RECORD).unlink()
    os.mkfifo(trained / runs.RECORD)
    done = subprocess.run(
        [sys.executable, "-m", "charrnn_edu", "train", "--data", str(corpus), "--resume",
         str(trained), "--iterations", "40", "--quiet"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "FIFO" in one_line_error(done.stderr) and runs.RECORD in done.stderr


@pytest.mark.parametrize(("text", "words"), [
    ('{"version": 1, "exercises": []}', "not a JSON object"),                # NW11b
    ('{"version": 1, "exercises": {"softmax": {"file": 5, "status": "passed"}}}',
     "exercises.\"softmax\" has file 5"),                                      # NW11c
    ('{"version": 1, "exercises": {"softmax": {"file": null, "status": "passed"}}}',
     "has file null"),                                                         # NW11d
    ('{"version": 1, "exercises": {"softmax": {"file": "a.py", "status": "passed", '
     '"passed": "many", "checks": []}}}', "has passed \"many\""),              # NW11e
    ('[]', "not a JSON object"),
    ('{"exercises": {"softmax": "passed"}}', "is not an entry"),
], ids=["NW11b", "NW11c", "NW11d", "NW11e", "list", "entry-not-object"])
def test_a_bad_progress_file_is_named_in_one_line(capsys, tmp_path, monkeypatch, text, words):
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path))
    (tmp_path / "exercises.json").write_text(text)
    code, _, err = run(capsys, "exercises", "list")
    assert code == 2
    line = one_line_error(err)
    assert str(tmp_path / "exercises.json") in line and words in line, line


@POSIX
def test_a_fifo_as_the_progress_file_does_not_hang(tmp_path):                       # NW11f
    os.mkfifo(tmp_path / "exercises.json")
    done = subprocess.run([sys.executable, "-m", "charrnn_edu", "exercises", "list"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CHARRNN_HOME": str(tmp_path)})
    assert done.returncode == 2 and "FIFO" in one_line_error(done.stderr)


def test_two_checks_at_once_both_keep_their_verdicts(tmp_path):                     # NC01
    # Both commands load the file before either saves: the second save must merge.
    first, second = Progress.load(tmp_path / "p.json"), Progress.load(tmp_path / "p.json")
    first.record("softmax", tmp_path / "a.py", "passed", 3, 3)
    second.record("clip", tmp_path / "b.py", "passed", 3, 3)
    kept = Progress.load(tmp_path / "p.json").entries
    assert {name: e.status for name, e in kept.items()} == {"softmax": "passed",
                                                           "clip": "passed"}


# ------------------------------------------------------------------ 3. text is data

def test_control_characters_of_a_run_reach_a_terminal_escaped(                     # NK31
        capsys, tmp_path, monkeypatch):
    text = tmp_path / "esc.txt"
    text.write_text(("ab\x1bc\x07 \x9b2J\tz\n" * 400), encoding="utf-8")
    code, _, _ = run(capsys, "train", "--data", text, "--iterations", "30", "--out",
                     tmp_path / "r", *SMALL)
    assert code == 0
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(capsys, "sample", tmp_path / "r", "--length", "400", "--temperature",
                       "3")
    assert code == 0
    assert not set(out) & {"\x1b", "\x07", "\x9b"}, repr(out)
    assert "\\x1b" in out or "\\x07" in out or "\\x9b" in out


def test_a_piped_sample_keeps_its_characters(capsys, tmp_path):
    text = tmp_path / "esc.txt"
    text.write_text("ab\x1bc\n" * 400, encoding="utf-8")
    run(capsys, "train", "--data", text, "--iterations", "30", "--out", tmp_path / "r", *SMALL)
    code, out, _ = run(capsys, "sample", tmp_path / "r", "--length", "400", "--temperature", "3")
    assert code == 0 and "\x1b" in out


@POSIX
def test_a_name_read_from_a_checkpoint_cannot_add_lines_to_an_error(                # NK32
        capsys, tmp_path):
    text = tmp_path / "x\n\x1b[2J\x1b[31mFAKE: all good\x1b[0m.txt"
    text.write_text(default_corpus().read_text("utf-8")[:3000], encoding="utf-8")
    code, _, _ = run(capsys, "train", "--data", text, "--iterations", "20", "--out",
                     tmp_path / "nm", *SMALL)
    assert code == 0
    code, _, err = run(capsys, "eval", tmp_path / "nm")
    assert code == 2
    line = one_line_error(err)
    assert "\x1b" not in line and "\\n\\x1b[2J" in line


# ------------------------------------------------------------------ 4. one writer, stops

def test_study_locks_each_seed_s_folder(capsys, tmp_path, corpus):                   # NC05
    seed = tmp_path / "st" / "seed-0"
    with runs.RunFolder(seed):                   # a `train --resume st/seed-0` writing it
        code, _, err = run(capsys, "study", "--data", corpus, "--seeds", "1", "--iterations",
                           "20", "--out", tmp_path / "st")
    assert code == 1
    line = one_line_error(err)
    assert str(seed) in line and f"PID {os.getpid()}" in line
    assert not (seed / runs.CHECKPOINT).exists()


def _first_line(stream, deadline):
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.5)
        if ready:
            return stream.readline()
    raise AssertionError("the child printed nothing in time")


@POSIX
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["NS04", "NS04b"])
def test_a_stopped_study_saves_its_seed_and_says_so(tmp_path, corpus, signum):
    out = tmp_path / "st"
    process = subprocess.Popen(
        [sys.executable, "-m", "charrnn_edu", "study", "--data", str(corpus), "--seeds", "2",
         "--iterations", "100000000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = _first_line(process.stderr, time.monotonic() + 120)    # a progress line
        assert line.startswith(b"seed 0: iteration 10,000 "), line
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    stderr = stderr.decode()
    assert process.returncode == 128 + signum, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"charrnn: stopped by {signal.Signals(signum).name}: seed 0 is "
                           "saved at iteration "), stderr
    iteration = int(last.split("saved at iteration ")[1].split()[0].replace(",", ""))
    _, _, meta = checkpoint.load_model(out / "seed-0" / runs.CHECKPOINT)
    assert meta["iteration"] == iteration >= 10_000
    assert not (out / "seed-1").exists()


def _ctrl_c(*args, **kwargs):
    signal.raise_signal(signal.SIGINT)     # as the terminal does: the handler runs at once


@pytest.mark.parametrize(("where", "command"), [
    ("charrnn_edu.commands.gradcheck.check", ["gradcheck"]),                   # NS07
    ("charrnn_edu.commands.common.read_text", ["train", "--out", "r"]),        # NS08
    ("charrnn_edu.commands.study.call", ["study", "--out", "s"]),               # NS04b
    ("charrnn_edu.commands.exercises.run_checks", ["exercises", "check", "softmax",
                                                    "mine.py"]),
], ids=["NS07-gradcheck", "NS08-corpus", "study-setup", "exercises-check"])
def test_ctrl_c_in_any_command_says_it_stopped(capsys, tmp_path, monkeypatch, where, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    (tmp_path / "mine.py").write_text("def softmax(o):\n    return o\n")
    monkeypatch.setattr(where, _ctrl_c)
    # A fresh process starts with Python's own SIGINT handler; so does this test, whatever
    # handler an earlier test in this process left behind.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, _, err = run(capsys, *command)
    finally:
        signal.signal(signal.SIGINT, before)
    assert code == 130
    assert err.strip().splitlines() == ["charrnn: interrupted"], err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()
    assert not (tmp_path / "home" / "exercises.json").exists()


# ------------------------------------------------------------------ 5. environments

def charrnn(*args, timeout=120, **kwargs):         # `python -m charrnn_edu ARGS`, as text
    return subprocess.run([sys.executable, "-m", "charrnn_edu", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def test_a_closed_stdout_is_no_traceback(trained):                                  # NV07
    done = subprocess.run([sys.executable, "-m", "charrnn_edu", "sample", str(trained),
                           "--length", "10"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=120,
                          preexec_fn=None if sys.platform == "win32" else lambda: os.close(1))
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["train", "sample"], ids=["NV12c-train", "NV12-sample"])
def test_a_full_stdout_is_named_as_stdout_not_as_a_failed_save(tmp_path, corpus, trained,
                                                               command):
    args = (["train", "--data", corpus, "--iterations", "20", "--out", tmp_path / "f", *SMALL]
            if command == "train" else ["sample", trained, "--length", "100"])
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "charrnn_edu", *map(str, args)],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert one_line_error(done.stderr) == ("charrnn: error: cannot write to the standard output: "
                                           "No space left on device")
    if command == "train":
        assert (tmp_path / "f" / runs.CHECKPOINT).exists()


def test_a_sample_the_terminal_cannot_encode_gets_the_fix(tmp_path):               # NV02d, NV03
    text = tmp_path / "u.txt"
    text.write_text("Ça va, très bien — merci.\n" * 300, encoding="utf-8")
    assert charrnn("train", "--data", text, "--iterations", "20", "--out", tmp_path / "u",
                   *SMALL).returncode == 0
    done = charrnn("sample", tmp_path / "u", "--length", "300", "--temperature", "5",
                   env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert done.returncode == 1
    line = one_line_error(done.stderr)
    assert "the output's encoding, ascii, cannot show" in line and "PYTHONIOENCODING=utf-8" in line


@POSIX
def test_a_deleted_working_folder_still_runs_a_command(tmp_path, corpus):           # NV11
    gone = tmp_path / "gone"
    gone.mkdir()
    env = {**os.environ, "CHARRNN_HOME": str(tmp_path / "home")}
    # The child enters the folder, which is then deleted before charrnn starts.
    script = ("import os, runpy, sys\nos.chdir(sys.argv[1]); os.rmdir(sys.argv[1])\n"
              "sys.argv = ['charrnn', *sys.argv[2:]]\n"
              "runpy.run_module('charrnn_edu', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", script, str(gone), "train", "--data",
                           str(corpus), "--iterations", "20", "--out", str(tmp_path / "abs"),
                           *SMALL], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "abs" / runs.CHECKPOINT).exists()
    gone.mkdir()
    done = subprocess.run([sys.executable, "-c", script, str(gone), "exercises", "list"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_an_invalid_mplbackend_is_ignored(tmp_path, trained):                       # NV14
    done = charrnn("plot", trained, "--out", tmp_path / "l.png",
                   env={**os.environ, "MPLBACKEND": "bogus"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (tmp_path / "l.png").stat().st_size > 0


def test_an_unwritable_matplotlib_folder_brings_no_raw_warnings(tmp_path, trained):  # NV04
    (tmp_path / "afile").write_text("")
    done = charrnn("plot", trained, env={**os.environ,
                                         "MPLCONFIGDIR": str(tmp_path / "afile" / "sub")})
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_an_encoding_that_cannot_encode_back_is_one_line(capsys, tmp_path, corpus):  # ND16
    for command in ("train", "study", "report"):
        code, _, err = run(capsys, command, "--data", corpus, "--encoding", "idna", "--out",
                           tmp_path / command)
        assert code == 2
        assert "idna cannot encode the text back" in one_line_error(err)
        assert not (tmp_path / command).exists()


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"], ids=["ND06", "ND06b"])
def test_a_utf16_text_gets_the_advice_to_say_so(capsys, tmp_path, encoding):
    text = tmp_path / "utf16.txt"
    text.write_text("hello, world\n" * 100, encoding="utf-16")
    code, _, err = run(capsys, "train", "--data", text, "--encoding", encoding, "--out",
                       tmp_path / "r", *SMALL)
    assert code == 2 and "try --encoding utf-16" in one_line_error(err)


# ------------------------------------------------------------------ 6. bounds

@pytest.mark.parametrize(("option", "value", "words"), [
    ("--timeout", "1e308", "--timeout must be at most 86,400 seconds"),        # NO49
    ("--timeout", "1e9", "--timeout must be at most 86,400 seconds"),          # NO49
    ("--examples", str(10**20), "--examples must be at most 10,000"),          # NO54
    ("--examples", "100000", "--examples must be at most 10,000"),             # NO54
], ids=["NO49-1e308", "NO49-1e9", "NO54-1e20", "NO54-1e5"])
def test_exercises_check_options_are_bounded(capsys, tmp_path, monkeypatch, option, value,
                                             words):
    monkeypatch.setenv("CHARRNN_HOME", str(tmp_path / "home"))
    (tmp_path / "mine.py").write_text("def softmax(o):\n    return o\n")
    code, _, err = run(capsys, "exercises", "check", "softmax", tmp_path / "mine.py", option,
                       value)
    assert code == 2 and words in one_line_error(err)


def test_a_long_gradient_check_says_so_before_it_starts(capsys, monkeypatch):       # NO32
    import charrnn_edu.commands.gradcheck as command

    def stopped(*args, **kwargs):          # the line must come before the check begins
        raise KeyboardInterrupt
    monkeypatch.setattr(command, "check", stopped)
    code, _, err = run(capsys, "gradcheck", "--hidden", "50", "--seq-length", "1000")
    assert code == 130
    assert err.splitlines()[0] == ("checking 10,226 parameters, each by three forward passes "
                                   "of 1,000 steps: this can take minutes (Ctrl-C stops it)")
    code, _, err = run(capsys, "gradcheck")                        # the default: seconds
    assert code == 130 and "checking" not in err


@pytest.mark.parametrize(("args", "blamed"), [
    (["--hidden", "8", "--seq-length", "100000000"], "--seq-length 100,000,000 needs"),  # NO08
    (["--hidden", "1000000"], "--hidden 1,000,000 needs"),
], ids=["NO08", "hidden"])
def test_the_memory_refusal_names_the_option_that_costs_it(capsys, tmp_path, corpus, args,
                                                           blamed):
    code, _, err = run(capsys, "train", "--data", corpus, "--quiet", "--out", tmp_path / "m",
                       *args)
    assert code == 2
    line = one_line_error(err)
    assert blamed in line and f"choose a smaller {blamed.split()[0]}" in line
    assert not (tmp_path / "m").exists()
