"""The reproduction study: a band over seeds, resumable, with the report's numbers beside it."""

import json
from dataclasses import replace

import numpy as np
import pytest

from charrnn_edu.files import corpus_sha256, default_corpus, read_text
from charrnn_edu.study import run_study, study_markdown, write_study
from charrnn_edu.training import PRESETS, Trainer

TEXT = read_text(default_corpus())[:3_000]
SETTINGS = replace(PRESETS["classic"], hidden=8, sample_every=10**9, sample_length=0)
CORPUS = {"name": "part.txt", "sha256": corpus_sha256(TEXT, "utf-8"), "encoding": "utf-8"}


def test_the_band_holds_every_seed_and_each_seed_is_its_own_run():
    study = run_study(TEXT, SETTINGS, [0, 1, 2], 120)
    assert study.smooth.shape == (3, 120)
    for row, seed in zip(study.smooth, study.seeds, strict=True):
        alone = Trainer.start(TEXT, replace(SETTINGS, seed=seed))
        alone.run(120)
        assert np.array_equal(row, alone.smooth_losses)
    low, mean, high = study.band(120)
    assert low <= mean <= high and low == study.smooth[:, -1].min()
    assert study.rows() == [1, 120]
    comparison = study.report_comparison()
    assert [r["iteration"] for r in comparison] == [1]          # the rest lies beyond 120
    first_low, _, first_high = study.band(1)
    assert comparison[0]["inside"] == (first_low <= 110.48 <= first_high)


def test_a_stopped_study_resumes_to_the_same_numbers(tmp_path):
    whole = run_study(TEXT, SETTINGS, [4, 5], 90)
    run_study(TEXT, SETTINGS, [4, 5], 40, folder=tmp_path, corpus=CORPUS, checkpoint_every=25)
    assert (tmp_path / "seed-4" / "checkpoint.npz").is_file()
    resumed = run_study(TEXT, SETTINGS, [4, 5], 90, folder=tmp_path, corpus=CORPUS,
                        checkpoint_every=25)
    assert np.array_equal(resumed.smooth, whole.smooth)
    with pytest.raises(ValueError, match="other settings"):
        run_study(TEXT, replace(SETTINGS, eta=0.05), [4], 90, folder=tmp_path, corpus=CORPUS)


def test_the_written_study_has_its_table_figure_and_the_report(tmp_path):
    study = run_study(TEXT, SETTINGS, [0, 1], 30)
    write_study(study, tmp_path, "A small study")
    data = json.loads((tmp_path / "study.json").read_text("utf-8"))
    assert data["seeds"] == [0, 1] and data["iterations"] == 30
    assert [row["iteration"] for row in data["table"]] == [1, 30]
    assert data["report"][0]["report"] == 110.48
    assert (tmp_path / "study.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (tmp_path / "study.md").read_text("utf-8")
    assert markdown.startswith("# A small study") and "original report" in markdown
    assert "original report" not in study_markdown(study, "t", compare_report=False)


def test_a_study_needs_distinct_seeds_and_iterations():
    with pytest.raises(ValueError, match="distinct"):
        run_study(TEXT, SETTINGS, [1, 1], 10)
    with pytest.raises(ValueError, match="at least 1 iteration"):
        run_study(TEXT, SETTINGS, [1], 0)
