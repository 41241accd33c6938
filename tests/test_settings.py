"""Settings of a run: presets with overrides, what --resume asks, the iteration target."""

import math
from dataclasses import fields, replace

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from charrnn_edu.settings import (
    DEFAULT_ITERATIONS,
    MAX_ITERATIONS,
    PRESET_FIELDS,
    PRESETS,
    Settings,
    resolve_settings,
    resume_requests,
    target_iterations,
)
from charrnn_edu.training import Trainer, too_short, trained_length

# Values every Settings field accepts, to override a preset with.
OVERRIDES = {"hidden": st.integers(1, 300), "seq_length": st.integers(1, 60),
             "eta": st.floats(1e-5, 1.0), "sigma": st.floats(0.0, 1.0),
             "clip": st.floats(0.1, 10.0), "seed": st.integers(0, 2**32),
             "sample_every": st.integers(1, 10**5), "sample_length": st.integers(0, 500),
             "dtype": st.sampled_from(["float64", "float32"]), "batch": st.integers(1, 8),
             "val_frac": st.floats(0.0, 0.5), "eval_every": st.integers(1, 10**5)}
presets = st.sampled_from(sorted(PRESETS))
overrides = st.fixed_dictionaries({}, optional={k: s | st.none() for k, s in OVERRIDES.items()})


def test_the_default_is_the_report_s_and_the_settings_module_is_training_s():
    from charrnn_edu import training

    assert resolve_settings() == PRESETS["classic"] == Settings()
    assert training.Settings is Settings and training.PRESETS is PRESETS


@given(presets, overrides)
def test_an_override_replaces_the_preset_s_value_and_nothing_else(preset, chosen):
    settings = resolve_settings(preset, chosen)
    for f in fields(Settings):
        given_value = chosen.get(f.name)
        expected = getattr(PRESETS[preset], f.name) if given_value is None else given_value
        assert getattr(settings, f.name) == expected, f.name


@pytest.mark.parametrize("preset, chosen, words", [
    ("classic2", {}, ["unknown preset 'classic2'", "classic, 2026, tuned-vanilla, tuned"]),
    ("tuned", {"hiden": 3}, ["unknown settings hiden", "hidden"]),
    (None, {"hidden": 0}, ["hidden must be positive, got 0"]),
    (None, {"val_frac": 0.7}, ["val_frac must lie in [0, 0.5], got 0.7"]),
])
def test_a_setting_that_cannot_be_is_refused_by_name(preset, chosen, words):
    with pytest.raises(ValueError) as info:
        resolve_settings(preset, chosen)
    assert all(w in str(info.value) for w in words), info.value


@given(presets, overrides)
def test_a_run_is_never_contradicted_by_the_command_line_that_made_it(preset, chosen):
    """What resume_requests asks of a run agrees with resolve_settings's run, field by field,
    and each option is typed as a flag would be."""
    settings = resolve_settings(preset, chosen)
    asked = resume_requests(preset, chosen)
    for typed, field, value in asked:
        assert getattr(settings, field) == value, typed
        flag = typed.split()[0]
        assert flag == "--preset" or flag == "--" + field.replace("_", "-")
    given_fields = {k for k, v in chosen.items() if v is not None}
    assert {f for _, f, _ in asked} == given_fields | set(PRESET_FIELDS)


@given(presets, presets)
def test_another_preset_contradicts_the_run_in_a_field_where_they_differ(made, named):
    run = PRESETS[made]
    contradictions = [(typed, field) for typed, field, value in resume_requests(named)
                      if getattr(run, field) != value]
    assert bool(contradictions) == (made != named)
    assert all(typed == f"--preset {named}" for typed, _ in contradictions)


def test_an_override_keeps_the_preset_from_asking_for_that_field():
    asked = resume_requests("tuned", {"hidden": 64, "seq_length": None})
    assert ("--hidden 64", "hidden", 64) in asked
    assert ("--preset tuned", "seq_length", 50) in asked
    assert not any(typed.startswith("--preset") and f == "hidden" for typed, f, _ in asked)
    assert PRESET_FIELDS[:3] == ("optimizer", "loss", "init")
    assert resume_requests() == []


def test_the_iteration_target_from_iterations_or_epochs():
    assert target_iterations(123) == DEFAULT_ITERATIONS == 100_000
    assert target_iterations(123, iterations=7) == 7
    assert target_iterations(43_668, epochs=1) == 43_668
    assert target_iterations(10, epochs=0.25) == 2                        # round(2.5), to even
    with pytest.raises(ValueError, match="^give --iterations or --epochs, not both$"):
        target_iterations(10, iterations=5, epochs=1.0)
    with pytest.raises(ValueError) as info:
        target_iterations(119, epochs=1e-9)
    assert str(info.value) == ("--epochs 1e-09 is 0 iterations of this text (119 per epoch); "
                               "it must be 1 to 100,000,000")
    with pytest.raises(ValueError, match="finite"):
        target_iterations(119, epochs=math.inf)


@given(st.integers(1, 10**7), st.floats(1e-6, 1e4))
@example(per_epoch=2, epochs=0.25).via("half an iteration rounds to none: refused")
def test_epochs_are_rounded_to_whole_iterations_in_range(per_epoch, epochs):
    total = round(epochs * per_epoch)
    if 1 <= total <= MAX_ITERATIONS:
        assert target_iterations(per_epoch, epochs=epochs) == total
    else:
        with pytest.raises(ValueError, match=f"is {total:,} iterations of this text"):
            target_iterations(per_epoch, epochs=epochs)


@given(st.integers(2, 120), st.integers(1, 10), st.integers(1, 4), st.floats(0.0, 0.5))
def test_too_short_says_when_a_trainer_cannot_start(n, tau, batch, val_frac):
    """too_short is None exactly when Trainer.start finds a batch of pieces to train on."""
    settings = Settings(hidden=2, seq_length=tau, batch=batch, val_frac=val_frac,
                        sample_every=10**6)
    held = n - trained_length(n, settings)
    assume(val_frac == 0 or held >= 2)           # fewer is refused for another reason
    text = "".join(np.random.default_rng(n).choice(list("abc"), n))
    short = too_short(n, settings)
    if short is None:
        trainer = Trainer.start(text, settings)
        assert len(trainer.data) >= batch * (tau + 1)
    else:
        assert short == (trained_length(n, settings), batch * (tau + 1))
        with pytest.raises(ValueError, match=f"the text has {short[0]} characters to train on"):
            Trainer.start(text, settings)


def test_the_presets_differ_where_preset_fields_says():
    for f in fields(Settings):
        differ = len({getattr(p, f.name) for p in PRESETS.values()}) > 1
        assert (f.name in PRESET_FIELDS) == differ, f.name
    assert replace(PRESETS["2026"], eta=0.1, optimizer="adagrad", loss="sum",
                   init="classic") == PRESETS["classic"]
