"""`charrnn report --quick`: every output exists, and report.json agrees with report.md."""

import json
import math

import pytest

from charrnn_edu.cli import main
from charrnn_edu.files import default_corpus
from charrnn_edu.report import EPS, STEP


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    corpus = folder / "plays.txt"
    corpus.write_text(default_corpus().read_text("utf-8")[:20_000], encoding="utf-8")
    out = folder / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--quick", "--quiet", "--data", str(corpus), "--out", str(out)])
    assert exit_info.value.code == 0
    return out


def test_every_output_exists(quick_report):
    for name in ("report.md", "report.json", "loss.png", "loss.svg", "run/checkpoint.npz",
                 "run/history.csv", "run/samples.md", "run/settings.json"):
        assert (quick_report / name).is_file(), name
        assert (quick_report / name).stat().st_size > 0, name


def test_report_json_agrees_with_report_md(quick_report):
    report = json.loads((quick_report / "report.json").read_text(encoding="utf-8"))
    md = (quick_report / "report.md").read_text(encoding="utf-8")
    for table in report["gradcheck"]["tables"].values():
        assert [row["parameter"] for row in table] == ["b", "c", "U", "W", "V"]
        for row in table:
            assert f"| {row['parameter']} |" in md
            assert f"{row['max_rel']:.2e}" in md and f"{row['complex_rel']:.2e}" in md
            assert row["passed"] and row["failures"] == row["complex_failures"] == 0
    train = report["training"]
    assert train["iterations"] == 2000
    assert f"{train['final_smooth_loss']:.2f}" in md and f"{train['best_smooth_loss']:.2f}" in md
    assert [s["iteration"] for s in report["evolution"]] == [1, 500, 1000, 1500, 2000]
    for s in report["evolution"]:
        assert f"**Iteration {s['iteration']:,}**, smooth loss {s['smooth_loss']:.2f}" in md
        assert s["text"] in md and len(s["text"]) == 200
    assert report["final"]["text"] in md and len(report["final"]["text"]) == 300
    assert report["corpus"]["sha256"] in md and report["command"] in md


def test_training_learns_and_first_loss_is_near_tau_ln_k(quick_report):
    report = json.loads((quick_report / "report.json").read_text(encoding="utf-8"))
    train = report["training"]
    assert train["first_loss"] == pytest.approx(train["uniform_loss"], rel=0.01)
    assert train["best_smooth_loss"] < 0.9 * train["first_loss"]


def test_running_again_resumes_and_gives_the_same_report(quick_report):
    before = json.loads((quick_report / "report.json").read_text(encoding="utf-8"))
    corpus = quick_report.parent / "plays.txt"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--quick", "--quiet", "--data", str(corpus), "--out", str(quick_report)])
    assert exit_info.value.code == 0
    after = json.loads((quick_report / "report.json").read_text(encoding="utf-8"))
    for key in ("gradcheck", "evolution", "final"):
        assert after[key] == before[key]
    assert after["training"]["resumed_from"] == 2000
    # The run's own training time, not this session's zero seconds.
    for key in ("wall_time_s", "iterations_per_s"):
        assert after["training"][key] == before["training"][key] > 0


def test_report_json_takes_the_check_settings_it_used(quick_report):
    report = json.loads((quick_report / "report.json").read_text(encoding="utf-8"))
    assert report["gradcheck"]["passed"] is True
    assert (report["gradcheck"]["step"], report["gradcheck"]["eps"]) == (STEP, EPS)
    assert isinstance(report["corpus"]["characters"], int)
    settings = json.loads((quick_report / "run" / "settings.json").read_text(encoding="utf-8"))
    assert settings["corpus"]["characters"] == report["corpus"]["characters"]


def test_the_report_stands_beside_the_original_one(quick_report):
    from charrnn_edu.original import REPORT
    report = json.loads((quick_report / "report.json").read_text(encoding="utf-8"))
    rows = {row["what"]: row for row in report["original"]}
    assert rows["K, distinct characters"]["report"] == REPORT["K"] == 83
    first = rows["loss at iteration 1"]
    assert first["run"] == report["training"]["first_loss"]
    assert first["difference"] == pytest.approx(first["run"] - 110.48)
    # A quick report stops at 2,000 iterations: the report's 30,000 is not reached.
    assert rows["smooth loss at iteration 30,000"]["run"] is None
    assert rows["smooth loss at iteration 30,000"]["difference"] is None
    md = (quick_report / "report.md").read_text(encoding="utf-8")
    assert "## Beside the original report" in md and "| best smooth loss |" in md


@pytest.mark.parametrize("loss, tau, batch", [("sum", 25, 1), ("mean", 25, 1), ("mean", 50, 1),
                                              ("sum", 10, 2), ("mean", 50, 4)])
def test_runs_are_compared_per_25_characters_after_as_many_characters(loss, tau, batch):
    """A run reading tau * B characters an iteration meets the report's iteration i at
    i * 25 / (tau * B), and its losses are scaled to a sum over 25 characters."""
    from types import SimpleNamespace

    import numpy as np

    from charrnn_edu.original import REPORT
    from charrnn_edu.report import original_comparison
    from charrnn_edu.training import Settings

    n = 150_000                                   # past 125,000, the furthest meeting
    smooth = np.arange(1.0, n + 1.0)              # the smooth loss at iteration i is i
    trainer = SimpleNamespace(settings=Settings(loss=loss, seq_length=tau, batch=batch),
                              losses=smooth.copy(), smooth_losses=smooth, best_loss=1.0)
    gradcheck = {"tables": {"zero": [{"max_rel": 1e-9}]}}
    rows = original_comparison(trainer, gradcheck, 80)
    scale = 25 if loss == "mean" else 25 / tau
    for iteration in REPORT["smooth_loss"]:
        ours = round(iteration * 25 / (tau * batch))
        [row] = [r for r in rows if r["what"].startswith(f"smooth loss at iteration {iteration:,}")]
        assert row["run"] == pytest.approx(ours * scale)
        assert (f"this run's iteration {ours:,}" in row["what"]) == (ours != iteration)
    assert rows[1]["run"] == pytest.approx(scale)


def test_the_tuned_preset_reports_with_its_own_precision_and_held_out_part(tmp_path):
    """`charrnn report --preset tuned` trains in float32 with 5% held out, as the preset says,
    and compares with the original per 25 characters."""
    corpus = tmp_path / "plays.txt"
    corpus.write_text(default_corpus().read_text("utf-8")[:20_000], encoding="utf-8")
    out = tmp_path / "tuned"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--quick", "--quiet", "--preset", "tuned", "--data", str(corpus),
              "--out", str(out)])
    assert exit_info.value.code == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    record = json.loads((out / "run" / "settings.json").read_text("utf-8"))
    settings = record["settings"]
    assert report["preset"] == "tuned"
    assert (settings["dtype"], settings["seq_length"], settings["val_frac"]) == ("float32", 50,
                                                                                0.05)
    assert report["gradcheck"]["passed"]
    held = report["training"]["held_out"]
    assert held["characters"] == round(0.05 * 20_000)
    assert held["best_model_bits"] == pytest.approx(held["best_model_nats"] / math.log(2))
    assert 0 < held["best_model_bits"] < held["uniform_bits"] == pytest.approx(
        math.log2(record["K"]))
    assert [e["iteration"] for e in held["evaluations"]] == []   # 10,000 is not reached
    assert f"{held['best_model_bits']:.4f} bits per character" in (
        out / "report.md").read_text("utf-8")
    first = {row["what"]: row for row in report["original"]}["loss at iteration 1"]
    assert first["run"] == pytest.approx(25 * math.log(record["K"]), rel=0.05)


@pytest.mark.parametrize("loss, scale", [("sum", 25), ("mean", 1)])
def test_the_loss_figure_draws_the_held_out_loss_on_the_smooth_loss_scale(tmp_path, loss,
                                                                          scale):
    from charrnn_edu.report import plot_loss

    held_out = [(10, 2.0), (20, 1.5)]
    figure = plot_loss([60.0] * 30, [1], tmp_path / "loss.png", loss=loss,
                       held_out=held_out, seq_length=25)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert list(lines["held-out loss"].get_xdata()) == [10, 20]
    assert list(lines["held-out loss"].get_ydata()) == [2.0 * scale, 1.5 * scale]
    assert (tmp_path / "loss.png").stat().st_size > 0
    bare = plot_loss([60.0] * 30, [1], tmp_path / "bare.png", loss=loss)
    assert "held-out loss" not in {line.get_label() for line in bare.axes[0].get_lines()}


def test_a_text_too_short_once_the_preset_holds_some_out_is_a_usage_error(tmp_path, capsys):
    """53 characters are enough for tau = 50, but not once the tuned preset keeps 5% out."""
    corpus = tmp_path / "short.txt"
    corpus.write_text(("abcdefghij" * 6)[:53], encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--quick", "--quiet", "--preset", "tuned", "--data", str(corpus),
              "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert err.count("\n") == 1 and "50 characters to train on (3 held out" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ the library's pipeline

TINY = "".join(f"{word} " for word in ("to be or not to be that is the question " * 20).split())


def tiny_settings(**changes):
    from charrnn_edu.settings import Settings

    return Settings(hidden=6, seq_length=8, sample_every=40, sample_length=12, **changes)


def test_gradcheck_problem_draws_as_a_run_starts_then_a_random_h0(tmp_path):
    """The parameters are the run's initial_parameters from the seed, in float64; the random
    h0 comes next from the same generator; x and y are the first tau + 1 characters."""
    import numpy as np

    from charrnn_edu.encoding import Vocabulary
    from charrnn_edu.report import gradcheck_problem
    from charrnn_edu.training import initial_parameters

    vocab = Vocabulary.from_text(TINY)
    for init in ("classic", "scaled"):
        settings = tiny_settings(init=init, dtype="float32")
        rnn, x, y, h0 = gradcheck_problem(TINY, vocab, settings, seed=4)
        rng = np.random.default_rng(4)
        expected = initial_parameters(len(vocab), settings, rng)
        for theta, kept in zip(rnn, expected, strict=True):
            assert theta.dtype == np.float64
            np.testing.assert_allclose(theta, kept, rtol=1e-7, atol=1e-8)   # kept is float32
        assert np.array_equal(h0["zero"], np.zeros((6, 1)))
        assert np.array_equal(h0["random"], rng.uniform(-1, 1, (6, 1)))
        assert list(x) == list(vocab.encode(TINY[:8])) and list(y) == list(vocab.encode(TINY[1:9]))


def test_the_report_s_gradient_check_is_charrnn_gradcheck_s(capsys):
    """With the classic preset the report checks m = 5, tau = 25, sigma 0.01 from the seed:
    the numbers `charrnn gradcheck --seed S` prints, for both h0."""
    from charrnn_edu.encoding import Vocabulary
    from charrnn_edu.gradcheck import table
    from charrnn_edu.report import report_gradcheck
    from charrnn_edu.settings import PRESETS

    text = default_corpus().read_text("utf-8")             # K = 76, as the command's
    _, tables = report_gradcheck(text, Vocabulary.from_text(text), PRESETS["classic"], seed=7)
    for h0 in ("zero", "random"):
        with pytest.raises(SystemExit):
            main(["gradcheck", "--seed", "7", "--h0", h0])
        assert table(tables[h0]) in capsys.readouterr().out


def test_make_report_trains_writes_and_resumes_a_tiny_report(tmp_path):
    from charrnn_edu import runs
    from charrnn_edu.encoding import Vocabulary
    from charrnn_edu.files import Corpus
    from charrnn_edu.report import make_report

    vocab, settings = Vocabulary.from_text(TINY), tiny_settings()
    corpus = Corpus.of(tmp_path / "tiny.txt", TINY, "utf-8")
    told, trained = [], []

    def train(trainer, total, saved):
        trained.append((trainer.iteration, total, saved))
        trainer.run(total // 2 if len(trained) == 1 else total)     # a stop, then the rest
        runs.save(out / "run", trainer, corpus, {"train_seconds": 1.5})

    out = tmp_path / "report"
    (out / "run").mkdir(parents=True)            # the caller holds both folders
    common = dict(epochs=2, train=train, final_length=30, seed=3, title="tiny", command="c",
                  preset="classic", evolution_every=40, evolution_until=80,
                  checked=lambda section, tables: told.append(section["passed"]),
                  resumed=lambda trainer: told.append(trainer.iteration))
    stopped = make_report(out, TINY, vocab, corpus, settings, **common)
    per_epoch = stopped.trainer.iterations_per_epoch
    assert stopped.report is None and stopped.total == 2 * per_epoch
    assert trained == [(0, 2 * per_epoch, None)] and told == [True]
    assert not (out / "report.json").exists()

    made = make_report(out, TINY, vocab, corpus, settings, **common)
    assert trained[1] == (per_epoch, 2 * per_epoch, per_epoch)
    assert told == [True, True, per_epoch]       # checked, then resumed from the checkpoint
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report == json.loads(json.dumps(made.report))
    assert report["training"]["iterations"] == made.trainer.iteration == 2 * per_epoch
    assert report["training"]["resumed_from"] == per_epoch
    assert report["training"]["wall_time_s"] == 1.5
    assert [s["iteration"] for s in report["evolution"]] == [1, 40, 80]
    assert len(report["final"]["text"]) == 30 and report["gradcheck"]["hidden"] == 5
    for name in ("report.md", "loss.png", "loss.svg"):
        assert (out / name).stat().st_size > 0

    with pytest.raises(ValueError, match="was trained with other settings"):
        make_report(out, TINY, vocab, corpus, tiny_settings(eta=0.05), **common)
    with pytest.raises(ValueError, match="--epochs 1e-06 is 0 iterations"):
        make_report(tmp_path / "other", TINY, vocab, corpus, settings,
                    **{**common, "epochs": 1e-6})


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf"])
def test_a_figure_is_saved_atomically_with_the_same_bytes_each_time(tmp_path, suffix):
    from matplotlib.figure import Figure

    from charrnn_edu.files import save_figure

    def draw():
        figure = Figure(figsize=(2, 2))
        figure.subplots().plot([0, 1], [1, 0], label="a line")
        return figure

    path = tmp_path / "folder" / f"figure{suffix}"
    save_figure(draw(), path)
    first = path.read_bytes()
    save_figure(draw(), path)
    assert path.read_bytes() == first
    assert list(path.parent.iterdir()) == [path]                 # no temporary file left
    if suffix == ".png":                                         # fewer pixels
        save_figure(draw(), tmp_path / "small.png", dpi=40)
        assert len((tmp_path / "small.png").read_bytes()) < len(first)
    with pytest.raises(ValueError, match="no suffix"):
        save_figure(draw(), tmp_path / "figure")
