"""The charrnn command: outputs, exit codes (0 ok, 1 failed run, 2 usage) and one-line errors."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from clirun import run

import charrnn_edu.gradcheck
from charrnn_edu import checkpoint
from charrnn_edu.bptt import gradients

SMALL = ["--hidden", "8", "--seq-length", "10", "--sample-every", "50", "--sample-length", "30",
         "--checkpoint-every", "40", "--quiet"]


def assert_one_line_error(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("charrnn: error: ")
    assert "Traceback" not in err


def test_gradcheck_on_the_bundled_corpus_passes(capsys):
    code, out, err = run(capsys, "gradcheck")
    assert code == 0, out + err
    rows = [line.split() for line in out.splitlines() if line[:2] in {"b ", "c ", "U ", "W ", "V "}]
    assert [r[0] for r in rows] == ["b", "c", "U", "W", "V"]
    for r in rows:
        assert float(r[2]) <= 1e-5 and float(r[5]) <= 1e-12 and r[6] == "ok"
    assert "K = 76" in out and out.rstrip().splitlines()[-1].startswith("passed")


def test_gradcheck_fails_with_exit_1_on_a_wrong_gradient(capsys, monkeypatch):
    def wrong(rnn, x, y, h0):
        loss, grads, h = gradients(rnn, x, y, h0)
        grads.W *= 1.001                        # a bug of a tenth of a percent in (4.6)
        return loss, grads, h

    monkeypatch.setattr(charrnn_edu.gradcheck, "gradients", wrong)
    code, out, _ = run(capsys, "gradcheck", "--h0", "random")
    assert code == 1
    assert out.rstrip().splitlines()[-1].startswith("FAILED")
    assert next(line for line in out.splitlines() if line.startswith("W ")).split()[6] == "FAILED"


def test_gradcheck_same_seed_same_numbers(capsys):
    first = run(capsys, "gradcheck", "--seed", "3", "--hidden", "3")[1]
    second = run(capsys, "gradcheck", "--seed", "3", "--hidden", "3")[1]
    assert first == second


@pytest.mark.parametrize("args", [
    ["gradcheck", "--bogus"],
    ["gradcheck", "--hidden", "x"],
    ["gradcheck", "--hidden", "0"],
    ["gradcheck", "--h0", "sometimes"],
    ["gradcheck", "--data", "/no/such/file.txt"],
    ["train", "--iterations", "5", "--epochs", "1"],
    ["train", "--iterations", "0", "--out", "unused"],
    ["sample", "/no/such/run"],
    ["plot", "/no/such/run"],
    ["nonsense-command"],
])
def test_usage_errors_exit_2_with_one_line(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert_one_line_error(err)


def test_bad_encoding_and_empty_file(capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc\xff" * 20)
    code, _, err = run(capsys, "gradcheck", "--data", str(bad), "--seq-length", "5")
    assert code == 2 and "offset 3" in err and "latin-1" in err
    assert_one_line_error(err)
    assert run(capsys, "gradcheck", "--data", str(bad), "--seq-length", "5",
               "--encoding", "latin-1")[0] == 0
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, _, err = run(capsys, "gradcheck", "--data", str(empty))
    assert code == 2 and "empty" in err


def test_text_shorter_than_a_sequence_is_a_usage_error(capsys, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("hello")
    code, _, err = run(capsys, "train", "--data", str(short), "--out", str(tmp_path / "r"))
    assert code == 2 and "seq_length + 1" in err
    assert_one_line_error(err)


def test_train_sample_plot_resume(capsys, tmp_path, corpus):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--data", str(corpus), "--iterations", "120",
                            "--out", str(out), *SMALL)
    assert code == 0, err
    assert "done at iteration 120" in stdout
    for name in ("checkpoint.npz", "settings.json", "history.csv", "samples.md"):
        assert (out / name).is_file()
    history = (out / "history.csv").read_text().splitlines()
    assert history[0] == "iteration,epoch,loss,smooth_loss" and len(history) == 121
    assert "## Iteration 100" in (out / "samples.md").read_text()

    # Starting again in the same folder would overwrite the run: refused.
    code, _, err = run(capsys, "train", "--data", str(corpus), "--out", str(out), *SMALL)
    assert code == 2 and "--resume" in err

    code, stdout, _ = run(capsys, "sample", str(out), "--length", "40", "--prime", "The")
    assert code == 0 and stdout.startswith("The") and len(stdout.rstrip("\n")) >= 43
    assert run(capsys, "sample", str(out), "--length", "40", "--seed", "1")[1] == \
        run(capsys, "sample", str(out), "--length", "40", "--seed", "1")[1]
    code, _, err = run(capsys, "sample", str(out), "--prime", "\u00e9")
    assert code == 2 and "'\u00e9'" in err

    code, stdout, _ = run(capsys, "plot", str(out))
    assert code == 0 and (out / "loss.png").stat().st_size > 0

    # Resume to 200 equals training 200 in one go, bit for bit.
    code, _, err = run(capsys, "train", "--resume", str(out), "--data", str(corpus),
                       "--iterations", "200", "--quiet")
    assert code == 0, err
    straight = tmp_path / "straight"
    assert run(capsys, "train", "--data", str(corpus), "--iterations", "200",
               "--out", str(straight), *SMALL)[0] == 0
    resumed, _, _ = checkpoint.load_model(out / "checkpoint.npz")
    direct, _, _ = checkpoint.load_model(straight / "checkpoint.npz")
    for a, b in zip(resumed, direct, strict=True):
        assert np.array_equal(a, b)


def test_resume_with_another_corpus_is_refused(capsys, tmp_path, corpus):
    out = tmp_path / "run"
    assert run(capsys, "train", "--data", str(corpus), "--iterations", "20", "--out", str(out),
               *SMALL)[0] == 0
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text()[::-1])
    code, _, err = run(capsys, "train", "--resume", str(out), "--data", str(other),
                       "--iterations", "40")
    assert code == 2
    assert_one_line_error(err)


def test_corrupt_checkpoint_is_a_clear_error(capsys, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.npz").write_bytes(b"not a checkpoint at all")
    code, _, err = run(capsys, "sample", str(run_dir))
    assert code == 1 and "corrupt" in err      # the file failed, not the command (exit 1)
    assert_one_line_error(err)


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "charrnn_edu", "--version"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("charrnn-edu ")


def test_diverging_training_stops_with_a_diagnosis(capsys, tmp_path, corpus):
    code, _, err = run(capsys, "train", "--data", str(corpus), "--iterations", "50",
                       "--eta", "1e6", "--sigma", "100", "--out", str(tmp_path / "run"), *SMALL)
    assert code == 1
    assert_one_line_error(err)
    assert "iteration 1 " in err and "largest gradient" in err and "learning rate" in err
    assert "nothing was saved" in err and not (tmp_path / "run").exists()


def test_parameters_that_overflow_are_a_diagnosis_not_a_crash(capsys, tmp_path, corpus):
    # --eta 1e308: the first update makes the parameters infinite; the sample at iteration 1
    # then draws from NaN. One line, exit 1, and no claim that a checkpoint holds NaN.
    fresh = tmp_path / "fresh"
    code, _, err = run(capsys, "train", "--data", str(corpus), "--iterations", "200",
                       "--eta", "1e308", "--out", str(fresh), *SMALL)
    assert code == 1
    assert_one_line_error(err)
    assert "NaN" in err and "nothing was saved" in err and not fresh.exists()


def _first_line(stream, deadline: float) -> bytes:
    """The first line of a child's output, waiting at most until ``deadline``."""
    import select
    import time

    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.5)
        if ready:
            return stream.readline()
    raise AssertionError("the child printed nothing in time")


@pytest.mark.parametrize("signum", [2, 15, 1], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_saves_and_exits_with_128_plus_its_number(tmp_path, corpus, signum):
    import time

    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "charrnn_edu", "train", "--data", str(corpus), "--out", str(out),
         "--iterations", "100000000", "--hidden", "8", "--seq-length", "10",
         "--checkpoint-every", "100000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The line says the handlers are installed and training is about to begin.
        line = _first_line(process.stderr, time.monotonic() + 120)
        assert line.startswith(b"training in "), line
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    stdout, stderr = stdout.decode(), stderr.decode()
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert "stopped at iteration" in stdout and "--resume" in stdout
    iteration = int(stdout.split("stopped at iteration ")[1].split()[0].replace(",", ""))
    _, _, meta = checkpoint.load_model(out / "checkpoint.npz")
    assert meta["iteration"] == iteration
    assert len((out / "history.csv").read_text().splitlines()) == iteration + 1


def test_train_with_streams_a_held_out_part_and_either_engine(capsys, tmp_path, corpus):
    """--batch, --val-frac and --engine reach the trainer; eval reads the held-out part."""
    for engine in ("fast", "chapters"):
        out = tmp_path / engine
        code, stdout, err = run(capsys, "train", "--data", str(corpus), "--iterations", "30",
                                "--batch", "2", "--val-frac", "0.2", "--eval-every", "10",
                                "--engine", engine, "--out", str(out), *SMALL)
        assert code == 0, stdout + err
        trainer = checkpoint.load(out / "checkpoint.npz")
        assert trainer.settings.batch == 2 and trainer.h.shape == (8, 2)
        assert [i for i, _ in trainer.evaluations] == [10, 20, 30]
        rows = (out / "held_out.csv").read_text("utf-8").splitlines()
        assert rows[0] == "iteration,nats,bits"
        for row, (iteration, nats) in zip(rows[1:], trainer.evaluations, strict=True):
            i, n, b = row.split(",")
            assert (int(i), float(n)) == (iteration, nats)
            assert float(b) == pytest.approx(nats / math.log(2), rel=1e-15)
    fast = checkpoint.load(tmp_path / "fast" / "checkpoint.npz").losses
    lesson = checkpoint.load(tmp_path / "chapters" / "checkpoint.npz").losses
    np.testing.assert_allclose(fast[:3], lesson[:3], rtol=1e-9)
    code, stdout, err = run(capsys, "eval", str(tmp_path / "fast"), "--data", str(corpus))
    assert code == 0, err
    assert "held-out 0.2 of text.txt (600 characters)" in stdout and "bits per character" in stdout
    code, _, err = run(capsys, "train", "--resume", str(tmp_path / "fast"), "--data",
                       str(corpus), "--iterations", "40", "--batch", "4")
    assert code == 2 and "--batch 4 contradicts" in err
    assert_one_line_error(err)


def test_eval_refuses_a_run_that_saw_all_of_its_text(capsys, tmp_path, corpus):
    out = tmp_path / "run"
    assert run(capsys, "train", "--data", str(corpus), "--iterations", "5", "--out", str(out),
               *SMALL)[0] == 0
    code, _, err = run(capsys, "eval", str(out), "--data", str(corpus))
    assert code == 2 and "no --val-frac" in err
    assert_one_line_error(err)
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text("utf-8")[::-1], encoding="utf-8")
    code, stdout, _ = run(capsys, "eval", str(out), "--data", str(other), "--latest")
    assert code == 0 and "all of other.txt (3,000 characters)" in stdout
    code, _, err = run(capsys, "eval", str(out))
    assert code == 2 and "trained on text.txt, not on the bundled corpus" in err
    assert_one_line_error(err)


def test_study_writes_its_band_and_resumes(capsys, tmp_path, corpus):
    out = tmp_path / "study"
    args = ["study", "--data", str(corpus), "--seeds", "2", "--iterations", "30",
            "--out", str(out)]
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} >= {"study.json", "study.md", "study.png",
                                                "seed-0", "seed-1"}
    assert "| 30 |" in stdout and "original report" in stdout
    before = (out / "study.json").read_text("utf-8")
    code, _, _ = run(capsys, *args)                 # everything is there: nothing retrains
    assert code == 0 and (out / "study.json").read_text("utf-8") == before


def test_resume_refuses_a_preset_that_contradicts_the_run(capsys, tmp_path, corpus):
    """--preset on --resume means what it means on a new run: its settings, less what an
    option overrides; any of them unlike the run's is refused, naming it."""
    out = tmp_path / "tuned"
    small = ["--hidden", "8", "--seq-length", "10", "--quiet"]
    assert run(capsys, "train", "--data", str(corpus), "--preset", "tuned", "--iterations",
               "5", "--out", str(out), *small)[0] == 0
    code, _, err = run(capsys, "train", "--resume", str(out), "--data", str(corpus),
                       "--preset", "2026", "--iterations", "10", *small)
    # The first setting that differs is named: the tuned run's network, chapter 10b's GRU.
    assert code == 2 and "--preset 2026 contradicts" in err and "cell = gru" in err, err
    assert_one_line_error(err)
    code, _, err = run(capsys, "train", "--resume", str(out), "--data", str(corpus),
                       "--preset", "tuned", "--iterations", "10", *small)
    assert code == 0, err


def test_a_study_counts_epochs_of_the_part_it_trains_on(capsys, tmp_path, corpus):
    """--epochs in a study means what it means in train: passes over the trained part, which
    the tuned preset's held-out 5% makes shorter than the text."""
    out = tmp_path / "study"
    code, _, err = run(capsys, "study", "--data", str(corpus), "--preset", "tuned", "--seeds",
                       "1", "--epochs", "1", "--out", str(out))
    assert code == 0, err
    study = json.loads((out / "study.json").read_text("utf-8"))
    trainer = checkpoint.load(out / "seed-0" / "checkpoint.npz", corpus.read_text("utf-8"))
    assert study["iterations"] == trainer.iteration == trainer.iterations_per_epoch
    assert len(trainer.data) == 3000 - round(0.05 * 3000)


# ------------------------------------------------------------------ the command layer's parts

def test_the_command_s_choices_are_the_library_s():
    from charrnn_edu.cells import CELLS
    from charrnn_edu.commands.options import Cell, Dtype, EngineChoice, Preset
    from charrnn_edu.settings import PRESETS, Settings
    from charrnn_edu.training import ENGINES

    assert [p.value for p in Preset] == list(PRESETS)
    assert [c.value for c in Cell] == list(CELLS)
    assert tuple(e.value for e in EngineChoice) == ENGINES
    for dtype in Dtype:                          # Settings accepts each, and nothing else
        Settings(dtype=dtype.value)
    with pytest.raises(ValueError):
        Settings(dtype="float16")


def test_help_defaults_are_read_from_the_presets(monkeypatch):
    from dataclasses import replace

    from charrnn_edu.commands.options import preset_default
    from charrnn_edu.settings import PRESETS

    assert preset_default("hidden") == "[default: 100; 256 tuned-vanilla, 143 tuned]"
    assert preset_default("eta") == (
        "[default: 0.1; 0.001 2026, 0.0005 tuned-vanilla, 0.0005 tuned]")
    assert preset_default("clip") == "[default: 5]"
    assert preset_default("cell") == "[default: vanilla; gru tuned]"
    assert preset_default("val_frac", ", the report's way") == (
        "[default: 0, the report's way; 0.05 tuned-vanilla, 0.05 tuned]")
    monkeypatch.setitem(PRESETS, "tuned", replace(PRESETS["tuned"], hidden=512, clip=1.0))
    assert preset_default("hidden") == "[default: 100; 256 tuned-vanilla, 512 tuned]"
    assert preset_default("clip") == "[default: 5; 1 tuned]"


def test_provenance_is_the_options_typed_in_their_declared_order():
    from typing import Annotated

    import typer

    from charrnn_edu.commands.common import command_line

    app, seen = typer.Typer(), []

    @app.command()
    def report(ctx: typer.Context, epochs: Annotated[float, typer.Option("--epochs")] = 5,
               seed: Annotated[int, typer.Option("--seed")] = 0,
               quick: Annotated[bool, typer.Option("--quick")] = False,
               quiet: Annotated[bool, typer.Option("--quiet")] = False) -> None:
        seen.append(command_line(ctx, leave_out={"quiet"}))

    command = typer.main.get_command(app)
    for args, expected in [([], "charrnn"), (["--quick", "--quiet", "--seed", "3"],
                                              "charrnn --seed 3 --quick"),
                           (["--epochs", "5"], "charrnn --epochs 5.0")]:   # typed, not default
        command.main(args=args, prog_name="charrnn", standalone_mode=False)
        assert seen.pop() == expected


def test_a_bound_is_checked_where_the_option_is_declared(capsys):
    """--batch has one bound for train, study and report, stated in its option alias."""
    for command in ("train", "study", "report"):
        code, _, err = run(capsys, command, "--batch", "5000")
        assert code == 2 and "--batch must be an integer from 1 to 4,096, got 5000" in err
        assert_one_line_error(err)
