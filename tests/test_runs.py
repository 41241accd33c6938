"""Run folders: one writer, atomic files, disk errors, options, corpora, streaming."""

import hashlib
import os
import signal
import subprocess
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from clirun import one_line_error, run

from charrnn_edu import checkpoint, runs
from charrnn_edu.cli import main
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import (
    Corpus,
    corpus_sha256,
    default_corpus,
    read_text,
    remove_temporaries,
    write_atomically,
)

SMALL = ["--hidden", "8", "--seq-length", "10", "--sample-every", "50", "--sample-length", "30",
         "--quiet"]


def train_a_run(folder, corpus):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(corpus), "--iterations", "60", "--checkpoint-every", "7",
              "--out", str(folder), *SMALL])
    assert exit_info.value.code == 0
    return folder


@pytest.fixture
def trained(tmp_path, corpus):
    """A run this test may change."""
    return train_a_run(tmp_path / "run", corpus)


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    """A run no test changes (the options tests only read it or are refused)."""
    folder = tmp_path_factory.mktemp("shared")
    corpus = folder / "text.txt"
    corpus.write_text(default_corpus().read_text("utf-8")[:3000], encoding="utf-8")
    return train_a_run(folder / "run", corpus)


# ------------------------------------------------------------------ one writer

def test_a_second_writer_is_refused_naming_the_folder_and_the_pid(tmp_path, corpus):
    folder = tmp_path / "run"
    with runs.RunFolder(folder):
        done = subprocess.run(
            [sys.executable, "-m", "charrnn_edu", "train", "--data", str(corpus),
             "--out", str(folder), *SMALL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    line = one_line_error(done.stderr)
    assert str(folder) in line and f"PID {os.getpid()}" in line
    assert not (folder / "checkpoint.npz").exists()


def test_the_lock_dies_with_its_holder(tmp_path):
    folder = tmp_path / "run"
    with runs.RunFolder(folder):
        pass
    with runs.RunFolder(folder):             # released on leaving: taken again at once
        pass


def test_stale_temporary_files_are_removed_on_the_next_start(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    stale = [folder / ".checkpoint.npz.x1y2z3.tmp", folder / ".settings.json.abc.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    (folder / "notes.tmp").write_text("not ours")           # not hidden: not a temporary
    with runs.RunFolder(folder):
        assert not any(path.exists() for path in stale)
    assert (folder / "notes.tmp").exists()
    assert remove_temporaries(folder, runs.OURS) == []


def test_a_run_stopped_before_its_first_save_leaves_no_folder(tmp_path):
    folder = tmp_path / "new"
    with pytest.raises(KeyboardInterrupt), runs.RunFolder(folder):
        raise KeyboardInterrupt
    assert not folder.exists()


# ------------------------------------------------------------------ files and disk errors

@contextmanager
def small_tmpfs(path, size="64k", read_only=False):
    """A tmpfs at ``path`` (root only); skips the test where mounting is not allowed."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True,
                           capture_output=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    with small_tmpfs(tmp_path / "tiny", size="64k") as tiny:
        target = tiny / "loss.svg"
        write_atomically(target, lambda f: f.write(b"<svg>old</svg>"))
        with pytest.raises(OSError):
            write_atomically(target, lambda f: f.write(b"x" * 200_000))
        assert target.read_bytes() == b"<svg>old</svg>"
        assert sorted(p.name for p in tiny.iterdir()) == ["loss.svg"]


def test_training_onto_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(capsys, tmp_path,
                                                                             corpus):
    with small_tmpfs(tmp_path / "tiny", size="160k") as tiny:
        out = tiny / "run"
        code, _, err = run(capsys, "train", "--data", corpus, "--iterations", 200_000,
                           "--checkpoint-every", 200, "--out", out, *SMALL)
        assert code == 1
        line = one_line_error(err)
        assert "cannot save the run" in line and "No space left" in line
        if "iteration" in line.split("the last good checkpoint")[-1]:
            _, _, meta = checkpoint.load_model(out / "checkpoint.npz")
            assert f"iteration {meta['iteration']:,}" in line


def test_a_read_only_folder_is_one_line(capsys, tmp_path, corpus, shared_run):
    with small_tmpfs(tmp_path / "ro", read_only=True) as ro:
        code, _, err = run(capsys, "train", "--data", corpus, "--out", ro / "run", *SMALL)
        assert code == 1 and "Read-only file system" in one_line_error(err)
        code, _, err = run(capsys, "plot", shared_run, "--out", ro / "loss.png")
        assert code == 1 and "Read-only file system" in one_line_error(err)


@pytest.mark.parametrize("case", ["out is a file", "figure is a directory", "pdf is fine"])
def test_output_paths_that_cannot_be_written(capsys, tmp_path, corpus, shared_run, case):
    if case == "out is a file":
        afile = tmp_path / "afile"
        afile.write_text("hi")
        code, _, err = run(capsys, "train", "--data", corpus, "--out", afile, *SMALL)
        assert code == 2 and "is a file" in one_line_error(err) and afile.read_text() == "hi"
    elif case == "figure is a directory":
        (tmp_path / "d.png").mkdir()
        code, _, err = run(capsys, "plot", shared_run, "--out", tmp_path / "d.png")
        assert code == 2 and "is a directory" in one_line_error(err)
    else:
        code, _, err = run(capsys, "plot", shared_run, "--out", tmp_path / "x.gif")
        assert code == 2 and ".pdf" in one_line_error(err)
        assert run(capsys, "plot", shared_run, "--out", tmp_path / "x.pdf")[0] == 0


# ------------------------------------------------------------------ corpora

@pytest.mark.parametrize("kind", ["directory", "device", "fifo", "all NUL", "mostly NUL"])
def test_a_corpus_that_is_not_text_says_what_it_is(capsys, tmp_path, kind):
    path = tmp_path / "data"
    expected = {"directory": "is a directory", "device": "character device",
                "fifo": "FIFO", "all NUL": "NUL", "mostly NUL": "NUL"}[kind]
    if kind == "directory":
        path.mkdir()
    elif kind == "device":
        path = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(path)                          # reading it would wait for a writer forever
    else:
        path.write_bytes(b"\0" * 5000 + (b"ab" if kind == "mostly NUL" else b""))
    code, _, err = run(capsys, "train", "--data", path, "--out", tmp_path / "r", *SMALL)
    assert code == 2
    line = one_line_error(err)
    assert expected in line and "not found" not in line


def test_corpus_sha256_is_the_hash_of_the_file_bytes(tmp_path):
    assert corpus_sha256("abc", "utf-8") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")   # FIPS 180-2
    text = "Café — naïve\n"
    for encoding in ("utf-8", "latin-1", "utf-16"):
        if encoding == "latin-1":
            text = text.replace("—", "-")           # latin-1 has no em dash
        (tmp_path / "corpus.txt").write_bytes(text.encode(encoding))
        assert corpus_sha256(text, encoding) == hashlib.sha256(
            (tmp_path / "corpus.txt").read_bytes()).hexdigest()


def test_a_corpus_record_names_the_file_its_encoding_hash_and_length(tmp_path):
    path = tmp_path / "plays.txt"
    path.write_bytes("Ærlig talt\n".encode("latin-1"))
    corpus = Corpus.of(path, read_text(path, "latin-1"), "latin-1")
    assert corpus.to_dict() == {"name": "plays.txt", "encoding": "latin-1", "characters": 11,
                                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_ids_take_the_smallest_integer_type():
    assert Vocabulary.from_text("hello").encode("hello").dtype == np.uint8
    wide = Vocabulary("".join(map(chr, range(32, 32 + 300))))
    assert wide.encode(wide.chars).dtype == np.uint16
    text = read_text(default_corpus())
    assert Vocabulary.from_text(text).encode(text).nbytes == len(text)


# ------------------------------------------------------------------ options

@pytest.mark.parametrize("args, flag", [
    (["train", "--eta", "inf"], "--eta"),
    (["train", "--eta", "nan"], "--eta"),
    (["train", "--epochs", "inf"], "--epochs"),
    (["train", "--epochs", "1e-9"], "--epochs"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--hidden", "100000"], "--hidden"),
    (["train", "--hidden", str(2**63)], "--hidden"),
    (["train", "--sample-length", "10000000"], "--sample-length"),
    (["train", "--checkpoint-every", "0"], "--checkpoint-every"),
    (["train", "--clip", "-1"], "--clip"),
    (["train", "--sigma", "inf"], "--sigma"),
    (["gradcheck", "--step", "inf"], "--step"),
    (["gradcheck", "--sigma", "inf"], "--sigma"),
    (["gradcheck", "--sigma", "nan"], "--sigma"),
    (["gradcheck", "--sigma", "1e200"], "--sigma"),
    (["gradcheck", "--hidden", "100000"], "--hidden"),
    (["gradcheck", "--seed", "-1"], "--seed"),
    (["report", "--epochs", "inf"], "--epochs"),
    (["report", "--final-length", "10000000"], "--final-length"),
    (["sample", "RUN", "--length", str(10**12)], "--length"),
    (["sample", "RUN", "--length", str(10**30)], "--length"),
    (["sample", "RUN", "--seed", "-1"], "--seed"),
    (["sample", "RUN", "--temperature", "nan"], "--temperature"),
])
def test_an_option_out_of_range_is_named(capsys, tmp_path, corpus, shared_run, args, flag):
    args = [str(shared_run) if a == "RUN" else a for a in args]
    if args[0] in ("train", "report"):
        args += ["--data", str(corpus), "--out", str(tmp_path / "new"), "--quiet"]
    code, _, err = run(capsys, *args)
    assert code == 2
    assert flag in one_line_error(err)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("option, value, field", [
    ("--hidden", "64", "hidden"), ("--dtype", "float32", "dtype"),
    ("--seq-length", "12", "seq_length"), ("--eta", "0.5", "eta"),
    ("--preset", "2026", "optimizer"),
])
def test_resume_refuses_an_option_that_contradicts_the_run(capsys, shared_run, option, value,
                                                           field):
    corpus = shared_run.parent / "text.txt"
    code, _, err = run(capsys, "train", "--resume", shared_run, "--data", corpus,
                       "--iterations", 80, option, value)
    assert code == 2
    line = one_line_error(err)
    assert option in line and value in line and field in line


def test_resume_keeps_the_run_options(capsys, corpus, trained):
    assert runs.read_record(trained)["checkpoint_every"] == 7
    code, _, err = run(capsys, "train", "--resume", trained, "--data", corpus,
                       "--iterations", 70, "--hidden", "8", "--quiet")
    assert code == 0, err                     # the same value as the run's is no conflict
    assert runs.read_record(trained)["checkpoint_every"] == 7
    code, out, _ = run(capsys, "train", "--resume", trained, "--data", corpus,
                       "--iterations", 50, "--quiet")
    assert code == 0 and "already at iteration 70" in out


# ------------------------------------------------------------------ streaming and warnings

def test_sample_streams_before_it_is_done(shared_run):
    process = subprocess.Popen([sys.executable, "-m", "charrnn_edu", "sample", str(shared_run),
                                "--length", str(10**8)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        first = process.stdout.read(2000)      # returns once 2,000 characters have come
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert len(first) == 2000
    assert process.returncode == 143 and b"Traceback" not in stderr


def test_a_flat_figure_raises_no_warning(tmp_path):
    from charrnn_edu.report import plot_loss

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_loss([0.0] * 20, [1], tmp_path / "flat.png", losses=[0.0] * 20)
        plot_loss([0.0] * 20, [1], tmp_path / "flat.svg")
    assert (tmp_path / "flat.png").stat().st_size > 0


def test_report_draws_without_pyplot_and_labels_the_mean_loss(tmp_path):
    script = ("import sys, charrnn_edu.report, charrnn_edu.cli\n"
              "print('matplotlib' in sys.modules)\n"
              "import matplotlib\n"
              "print(matplotlib.get_backend())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env={**os.environ, "MPLBACKEND": "svg"})
    assert done.stdout.split() == ["False", "svg"]
    from charrnn_edu.report import plot_loss

    plot_loss([3.0, 2.0, 1.0], [1], tmp_path / "mean.svg", loss="mean")
    assert "mean over the sequence" in (tmp_path / "mean.svg").read_text()
