"""Checkpoints: bit-exact resume, a full round trip, atomic writes, and clear refusals."""

import json
import os
import struct
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from charrnn_edu import checkpoint
from charrnn_edu.cells import CELLS
from charrnn_edu.checkpoint import CheckpointError, load, load_model, save
from charrnn_edu.files import corpus_sha256, default_corpus, read_text
from charrnn_edu.forward import NAMES
from charrnn_edu.spec.strategies import seeds
from charrnn_edu.training import Settings, Trainer

TEXT = read_text(default_corpus())[:400]
SETTINGS = Settings(hidden=8, seq_length=5, sample_every=7, sample_length=10, seed=3)
N = 50   # one epoch is (400 - 1) // 5 = 79 iterations: epoch 2 begins at iteration 80


def save_as_cli(path, trainer, text=TEXT, encoding="utf-8", name="shakespeare.txt"):
    save(path, trainer, corpus_sha256=corpus_sha256(text, encoding), encoding=encoding,
         corpus_name=name)


def trained(iterations, text=TEXT, settings=SETTINGS):
    trainer = Trainer.start(text, settings)
    trainer.run(iterations)
    return trainer


def state(trainer):
    """Every number a run holds, as numpy arrays (for bit comparison) and plain values."""
    arrays = {"data": trainer.data, "held_out": trainer.held_out, "h": trainer.h,
              "evaluations": np.asarray(trainer.evaluations, dtype=np.float64),
              "losses": np.asarray(trainer.losses, dtype=np.float64),
              "smooth_losses": np.asarray(trainer.smooth_losses, dtype=np.float64),
              "epoch_starts": np.asarray(trainer.epoch_starts, dtype=np.int64),
              "smooth_loss": np.float64(trainer.smooth_loss),
              "best_loss": np.float64(trainer.best_loss)}
    optimizer = trainer.optimizer
    groups = {"rnn": trainer.rnn, "best": trainer.best,
              **{name: getattr(optimizer, name) for name in optimizer.state_names}}
    for prefix, rnn in groups.items():
        for name, theta in zip(trainer.cell.names, rnn or (), strict=False):
            arrays[f"{prefix}.{name}"] = theta
    values = {"e": trainer.e, "iteration": trainer.iteration, "epoch": trainer.epoch,
              "best_iteration": trainer.best_iteration, "samples": trainer.samples,
              "rng": trainer.rng.bit_generator.state, "settings": trainer.settings,
              "vocab": trainer.vocab, "optimizer": type(optimizer),
              "eta": optimizer.eta, "eps": optimizer.eps, "t": getattr(optimizer, "t", None)}
    return arrays, values


def assert_identical(a, b, *, data=True):
    """Same shapes, dtypes and bits in every array, and equal values everywhere else."""
    (arrays_a, values_a), (arrays_b, values_b) = state(a), state(b)
    if not data:
        for name in ("data", "held_out"):
            del arrays_a[name], arrays_b[name]
    assert arrays_a.keys() == arrays_b.keys()
    for name, x in arrays_a.items():
        y = arrays_b[name]
        assert (x.dtype, x.shape) == (y.dtype, y.shape), name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
        assert x.tobytes() == y.tobytes(), f"{name} differs in its bits"
    assert values_a == values_b


# ---------------------------------------------------------------- resume

def test_resume_is_bit_exact(tmp_path):
    full = trained(2 * N)
    # The second half must cross an epoch boundary and write a sample, or it proves little.
    assert N < full.epoch_starts[-1] <= 2 * N
    assert any(N < s.iteration <= 2 * N for s in full.samples)

    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trained(N))
    resumed = load(path, TEXT)
    resumed.run(2 * N)
    assert_identical(resumed, full)


@given(seed=seeds, chars=st.text(min_size=1, max_size=6), length=st.integers(2, 60),
       hidden=st.integers(1, 6), seq_length=st.integers(1, 6), sample_every=st.integers(1, 5),
       sample_length=st.integers(0, 5), split=st.integers(0, 30), extra=st.integers(0, 30),
       cell=st.sampled_from(tuple(CELLS)))
@example(seed=0, chars="ab", length=2, hidden=1, seq_length=1, sample_every=1,
         sample_length=0, split=0, extra=1,
         cell="vanilla")   # saved before the first step: no AdaGrad memory
def test_resume_at_any_iteration_is_bit_exact(seed, chars, length, hidden, seq_length,
                                              sample_every, sample_length, split, extra, cell):
    assume(length >= seq_length + 1)
    # Indices, not choice(list(chars)): a numpy string array drops a trailing "\x00".
    text = "".join(chars[i] for i in np.random.default_rng(seed).integers(0, len(chars), length))
    settings = Settings(cell=cell, hidden=hidden, seq_length=seq_length, seed=seed,
                        sample_every=sample_every, sample_length=sample_length)
    full = trained(split + extra, text, settings)
    half = trained(split, text, settings)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.npz"
        save_as_cli(path, half, text)
        resumed = load(path, text)
    assert_identical(resumed, half)                 # the round trip changes nothing
    resumed.run(split + extra)
    assert_identical(resumed, full)                 # and continuing matches never stopping


@pytest.mark.parametrize("changes", [dict(batch=3), dict(val_frac=0.2, eval_every=9),
                                     dict(batch=2, val_frac=0.1, eval_every=7,
                                          optimizer="adam", eta=0.01)])
def test_resume_with_streams_and_a_held_out_part_is_bit_exact(tmp_path, changes):
    """Mini-batches carry (m, B) hidden states; the held-out split and its losses survive."""
    settings = replace(SETTINGS, **changes)
    text = TEXT * 3
    full = trained(2 * N, text, settings)
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trained(N, text, settings), text)
    resumed = load(path, text)
    assert resumed.h.shape == (settings.hidden, settings.batch)
    resumed.run(2 * N)
    assert_identical(resumed, full)
    if settings.val_frac:
        assert len(full.evaluations) == 2 * N // settings.eval_every


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("changes", [{}, dict(batch=3, optimizer="adam", eta=0.01, loss="mean",
                                              init="scaled", dtype="float32", val_frac=0.1,
                                              eval_every=9)])
def test_resume_of_a_gated_cell_is_bit_exact(tmp_path, cell, changes):
    """The LSTM carries [h; c] (2m, B), the GRU h (m, B); both resume bit for bit."""
    settings = replace(SETTINGS, cell=cell, **changes)
    text = TEXT * 3
    full = trained(2 * N, text, settings)
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trained(N, text, settings), text)
    resumed = load(path, text)
    assert type(resumed.rnn) is type(full.rnn)
    assert resumed.h.shape == ((2 if cell == "lstm" else 1) * settings.hidden, settings.batch)
    resumed.run(2 * N)
    assert_identical(resumed, full)
    with np.load(path, allow_pickle=False) as npz:
        assert "rnn.d" in npz.files and "rnn.c" not in npz.files    # the cell's own names


def test_a_gated_checkpoint_with_the_vanilla_cell_named_is_refused(tmp_path):
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trained(5, settings=replace(SETTINGS, cell="lstm")))
    saved = path.read_bytes()
    rewrite(saved, path, edit=lambda s: s["settings"].update(cell="vanilla"))
    with pytest.raises(CheckpointError, match="is not a charrnn checkpoint"):
        load(path, TEXT)


# ---------------------------------------------------------------- round trip and format

def test_round_trip_preserves_everything(tmp_path):
    trainer = trained(N)
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trainer)
    loaded = load(path, TEXT)
    assert_identical(loaded, trainer)
    assert loaded.stop_requested is False
    # The loaded arrays are the trainer's own: updating one must not touch another.
    arrays = [*loaded.rnn, *loaded.best, *loaded.optimizer.memory, loaded.h]
    assert all(a.flags.writeable and a.flags.c_contiguous for a in arrays)
    assert not any(np.shares_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1:])


def test_round_trip_before_the_first_step(tmp_path):
    trainer = Trainer.start(TEXT, SETTINGS)
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trainer)
    loaded = load(path, TEXT)
    assert loaded.optimizer.memory is None
    assert np.isnan(loaded.smooth_loss) and loaded.best_loss == np.inf
    assert_identical(loaded, trainer)


def test_the_file_is_plain_arrays_readable_without_pickle(tmp_path):
    path = tmp_path / "checkpoint.npz"
    trainer = trained(10)
    save_as_cli(path, trainer, encoding="latin-1", name="A Tale — of Two Cities.txt")
    with np.load(path, allow_pickle=False) as npz:
        entries = {name: npz[name] for name in npz.files}
    params = {f"{prefix}.{name}" for prefix in ("rnn", "best", "memory") for name in NAMES}
    assert entries.keys() == {"format_version", "state", "h", "losses", "smooth_losses",
                              "epoch_starts", *params}
    assert not any(a.dtype.hasobject for a in entries.values())
    assert int(entries["format_version"]) == checkpoint.FORMAT_VERSION == 3
    assert entries["rnn.U"].shape == (8, len(set(TEXT)))
    assert entries["losses"].dtype == np.float64 and entries["epoch_starts"].dtype == np.int64
    state = json.loads(str(entries["state"]))
    assert state["vocabulary"] == "".join(sorted(set(TEXT)))
    assert state["corpus"] == {"name": "A Tale — of Two Cities.txt", "encoding": "latin-1",
                               "sha256": corpus_sha256(TEXT, "latin-1")}
    assert state["settings"] == SETTINGS.to_dict() and state["iteration"] == 10
    assert state["rng_state"] == trainer.rng.bit_generator.state
    with zipfile.ZipFile(path) as archive:
        assert all(info.filename.endswith(".npy") and info.compress_type == zipfile.ZIP_STORED
                   for info in archive.infolist())


def test_save_writes_exactly_the_path_given_and_creates_folders(tmp_path):
    path = tmp_path / "runs" / "new" / "checkpoint"        # no .npz: none may be added
    save_as_cli(path, trained(3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint"]
    assert load(path, TEXT).iteration == 3


def test_load_without_text_is_for_sampling_and_plotting(tmp_path):
    trainer = trained(N)
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trainer)
    loaded = load(path)
    assert loaded.data.dtype == np.int64 and loaded.data.shape == (0,)
    assert_identical(loaded, trainer, data=False)


@pytest.mark.parametrize("best", [False, True])
def test_load_model_returns_latest_or_best_parameters(tmp_path, best):
    trainer = trained(N)
    trainer.rnn.b += 1.0                    # the loss only fell so far: make latest != best
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trainer)
    rnn, vocab, meta = load_model(path, best=best)
    for got, want in zip(rnn, trainer.best if best else trainer.rnn, strict=True):
        assert np.array_equal(got, want)
    assert vocab == trainer.vocab
    assert meta["settings"] == SETTINGS and meta["best"] is best
    assert (meta["iteration"], meta["best_iteration"]) == (trainer.iteration,
                                                            trainer.best_iteration)
    assert (meta["smooth_loss"], meta["best_loss"]) == (trainer.smooth_loss, trainer.best_loss)
    assert meta["corpus_sha256"] == corpus_sha256(TEXT, "utf-8")


def test_a_vocabulary_of_only_nul_survives(tmp_path):
    # numpy's fixed-width strings drop trailing NULs; JSON escapes them, so "\x00" survives.
    trainer = trained(2, "\x00" * 3, Settings(hidden=2, seq_length=2, sample_every=1,
                                                   sample_length=10))
    path = tmp_path / "c.npz"
    save_as_cli(path, trainer, text="\x00" * 3)
    loaded = load(path, "\x00" * 3)
    assert loaded.vocab.chars == "\x00" and loaded.samples[0].text == "\x00" * 10
    assert_identical(loaded, trainer)


def test_a_generator_other_than_pcg64_is_refused_before_writing(tmp_path):
    trainer = trained(3)
    trainer.rng = np.random.Generator(np.random.MT19937(0))
    with pytest.raises(ValueError, match="MT19937; checkpoints hold PCG64 only"):
        save_as_cli(tmp_path / "c.npz", trainer)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- atomic writes

def failing_savez(error):
    """An np.savez that writes part of an archive and then fails, like a full disk."""
    def savez(file, **arrays):
        file.write(b"PK\x03\x04" + bytes(1000))
        raise error
    return savez


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   RuntimeError("boom"), KeyboardInterrupt()],
                         ids=["disk full", "exception", "ctrl-c"])
def test_a_failed_save_keeps_the_old_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch,
                                                                       error):
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trained(5))
    before = path.read_bytes()
    monkeypatch.setattr(np, "savez", failing_savez(error))
    with pytest.raises(type(error)):
        save_as_cli(path, trained(9))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]
    monkeypatch.undo()
    assert load(path, TEXT).iteration == 5


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez", failing_savez(OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        save_as_cli(tmp_path / "checkpoint.npz", trained(2))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- refusals

def saved_bytes():
    """The bytes of a small checkpoint, trained 20 iterations on TEXT (deterministic)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.npz"
        save_as_cli(path, trained(20))
        return path.read_bytes()


SAVED = saved_bytes()
# Where the first entry's zip headers keep its general-purpose flags (bit 0: encrypted) and its
# compression method: in its local header at the start of the file, and in its record in the
# central directory, whose offset the end-of-central-directory record (the last 22 bytes) holds.
CENTRAL = struct.unpack_from("<I", SAVED, len(SAVED) - 22 + 16)[0]
assert SAVED[:4] == b"PK\x03\x04" and SAVED[CENTRAL:CENTRAL + 4] == b"PK\x01\x02"
LOCAL_FLAGS, LOCAL_METHOD, CENTRAL_FLAGS, CENTRAL_METHOD = 6, 8, CENTRAL + 8, CENTRAL + 10
# The "(" of "'shape': ()" in the state entry's .npy header: numpy parses the header before
# zipfile has read far enough to check the CRC-32.
STATE_SHAPE = SAVED.index(b"'shape': ()", SAVED.index(b"state.npy")) + len(b"'shape': ")


@pytest.fixture(scope="module")
def saved():
    return SAVED


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "checkpoint.npz"
    with pytest.raises(CheckpointError, match=r"^no checkpoint at .*checkpoint\.npz"):
        load(path, TEXT)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_model(tmp_path)                       # a folder is not a checkpoint either


@given(data=st.binary(max_size=2000))
def test_random_bytes_are_refused(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.npz"
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match="is not a charrnn checkpoint"):
            load(path, TEXT)


@given(fraction=st.floats(0, 1, exclude_max=True))
@example(fraction=0.0).via("an empty file")
@example(fraction=0.5).via("half a file")
def test_a_truncated_checkpoint_is_refused(saved, fraction):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.npz"
        path.write_bytes(saved[:int(fraction * len(saved))])
        with pytest.raises(CheckpointError, match="is not a charrnn checkpoint .or is corrupt."):
            load(path, TEXT)


def load_flipped(data, position, bit, text=TEXT, iteration=20):
    """Load ``data`` with one bit flipped: the same run, or a one-line CheckpointError."""
    damaged = bytearray(data)
    damaged[position % len(data)] ^= 1 << bit
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.npz"
        path.write_bytes(bytes(damaged))
        try:
            trainer = load(path, text)
        except CheckpointError as err:
            assert "\n" not in str(err) and str(path) in str(err)
        else:
            assert trainer.iteration == iteration


@given(position=st.integers(0, 10**9), bit=st.integers(0, 7))
# zipfile raised RuntimeError ("encrypted") and NotImplementedError ("compression method")
# for these bits, which once escaped as tracebacks.
@example(position=CENTRAL_FLAGS, bit=0).via("central directory: encrypted")
@example(position=LOCAL_FLAGS, bit=0).via("local header: encrypted")
@example(position=LOCAL_FLAGS, bit=6).via("local header: strong encryption")
@example(position=CENTRAL_METHOD, bit=0).via("central directory: method 1, shrunk")
@example(position=CENTRAL_METHOD, bit=3).via("central directory: method 8, deflated")
@example(position=LOCAL_METHOD, bit=0).via("local header: method 1, shrunk")
@example(position=LOCAL_METHOD, bit=3).via("local header: method 8, deflated")
# Found by the CI profile: "(" becomes " ", and numpy's header parser raised tokenize's
# TokenError, which escaped as a traceback.
@example(position=STATE_SHAPE, bit=3).via(".npy header: a syntax error")
def test_a_flipped_bit_loads_the_same_or_is_refused(position, bit):
    # The zip's CRC-32 guards every entry's data; a flip elsewhere (a timestamp) may be
    # harmless. Either way nothing but CheckpointError may escape.
    load_flipped(SAVED, position, bit)


def test_every_header_bit_of_the_first_two_entries_loads_the_same_or_is_refused(tmp_path):
    # Headers are parsed before the CRC-32 is checked (at the end of an entry): the zip's
    # by zipfile, the .npy's by numpy. Every bit of the first entry's zip headers, and of the
    # second entry's .npy header text, is flipped; a tiny checkpoint keeps this quick.
    text = "to be or not to be, " * 4
    path = tmp_path / "tiny.npz"
    save_as_cli(path, trained(3, text, Settings(hidden=2, seq_length=5)), text)
    tiny = path.read_bytes()
    central = struct.unpack_from("<I", tiny, len(tiny) - 22 + 16)[0]
    with zipfile.ZipFile(path) as archive:
        first, second = archive.infolist()[:2]
    record = 46 + len(first.filename) + len(first.extra) + len(first.comment)
    npy_header = tiny.index(b"{", second.header_offset)       # "{'descr': ... }"
    for position in [*range(second.header_offset - first.file_size),  # local header, name
                     *range(central, central + record),               # central record
                     *range(npy_header, tiny.index(b"}", npy_header) + 1)]:
        for bit in range(8):
            load_flipped(tiny, position, bit, text, iteration=3)


def rewrite(saved, path, changes=(), edit=None):
    """Write ``saved`` to ``path`` with entries replaced (None: removed) and ``edit(state)``."""
    path.write_bytes(saved)
    with np.load(path) as npz:
        entries = {name: npz[name] for name in npz.files}
    entries.update(changes)
    if edit is not None:
        state = json.loads(str(entries["state"]))
        edit(state)
        entries["state"] = np.array(json.dumps(state))
    with open(path, "wb") as f:
        np.savez(f, **{name: value for name, value in entries.items() if value is not None})


@pytest.mark.parametrize(("changes", "message"), [
    ({"format_version": np.int64(4)}, "format version 4, but this charrnn-edu reads versions "
                                      "1 to 3; use the charrnn-edu that wrote it"),
    ({"format_version": None}, "it has no format_version"),
    ({"rnn.W": None, "h": None}, "missing rnn.W"),
    ({"rnn.W": np.zeros((3, 3))}, r"rnn.W is float64 of shape \(3, 3\), expected float64 "
                                  r"of shape \(8, 8\)"),
    ({"state": np.array("{not json")}, "JSONDecodeError"),
    ({"state": np.array(3.0)}, "state is float64 of shape .., expected a string of shape .."),
    (lambda s: s.update(iteration=21), r"losses is float64 of shape \(20,\), "
                                       r"expected float64 of shape \(21,\)"),
    (lambda s: s["settings"].update(hidden="8"), "TypeError"),
    (lambda s: s["settings"].update(hidden=8.0), "setting hidden is 8.0, expected an? int"),
    (lambda s: s.pop("rng_state"), "KeyError: 'rng_state'"),
], ids=["newer version", "no version", "missing entries", "wrong shape", "bad JSON",
        "state not text", "iteration", "setting of wrong type", "float hidden", "no rng"])
def test_a_checkpoint_with_bad_entries_is_refused(saved, tmp_path, changes, message):
    path = tmp_path / "checkpoint.npz"
    if callable(changes):
        rewrite(saved, path, edit=changes)
    else:
        rewrite(saved, path, changes)
    with pytest.raises(CheckpointError, match="is not a charrnn checkpoint") as info:
        load(path, TEXT)
    info.match(message)


def test_some_other_npz_is_refused(tmp_path):
    path = tmp_path / "weights.npz"
    with open(path, "wb") as f:
        np.savez(f, weights=np.ones(3))
    with pytest.raises(CheckpointError, match="not a charrnn checkpoint.*no format_version"):
        load_model(path)


def test_another_text_with_the_same_characters_is_refused(saved, tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(saved)
    other = TEXT[::-1]                              # same characters, different text
    with pytest.raises(CheckpointError) as info:
        load(path, other)
    message = str(info.value)
    assert f"trained on shakespeare.txt with sha256 {corpus_sha256(TEXT, 'utf-8')[:12]}" in message
    assert f"the given text has sha256 {corpus_sha256(other, 'utf-8')[:12]}" in message
    assert "pass the same --data and --encoding" in message


def test_a_mismatched_given_sha256_is_refused(saved, tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(saved)
    with pytest.raises(CheckpointError, match="the given text has sha256 000000000000"):
        load(path, TEXT, corpus_sha256="0" * 64)
    with pytest.raises(CheckpointError, match="the given sha256 is 000000000000"):
        load(path, corpus_sha256="0" * 64)


def test_the_same_bytes_read_with_another_encoding_are_refused(tmp_path):
    # "é" as utf-8 is two bytes that latin-1 reads as "Ã©": the file's hash is unchanged,
    # but the text is not the one trained on.
    text = "café au lait, " * 5
    trainer = Trainer.start(text, SETTINGS)
    path = tmp_path / "checkpoint.npz"
    save_as_cli(path, trainer, text=text)
    misread = text.encode("utf-8").decode("latin-1")
    with pytest.raises(CheckpointError, match=r"the text has '©', 'Ã' that the vocabulary "
                                              r"lacks, and it lacks 'é'"):
        load(path, misread, corpus_sha256=corpus_sha256(misread, "latin-1"))


def test_a_text_with_other_characters_is_refused(saved, tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(saved)
    with pytest.raises(CheckpointError) as info:
        load(path, TEXT + "€")
    message = str(info.value)
    assert "vocabulary" in message and "'€'" in message
    assert "pass the same --data and --encoding" in message and "\n" not in message


def test_messages_are_one_line(saved, tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(saved[: len(saved) // 3])
    messages = []
    for call in (lambda: load(path, TEXT), lambda: load(tmp_path / "missing.npz"),
                 lambda: load_model(os.fspath(path))):
        with pytest.raises(CheckpointError) as info:
            call()
        messages.append(str(info.value))
    assert all("\n" not in m for m in messages), messages


# ---------------------------------------------------------------- format 2

def test_a_format_2_checkpoint_is_a_vanilla_run_and_continues_bit_for_bit(tmp_path):
    # Written by charrnn-edu 43d1416, before the gated cells: batch 2, Adam, 10 % held out.
    # Its numbers came from that machine's BLAS; continuing it is compared with continuing
    # its own format-3 copy, so the test holds on any BLAS.
    hamlet = "to be or not to be, " * 8
    path = Path(__file__).parent / "data" / "format-2-adam.npz"
    trainer = load(path, hamlet)
    assert trainer.settings.cell == "vanilla" and trainer.iteration == 20
    with np.load(path, allow_pickle=False) as npz:
        assert int(npz["format_version"]) == 2
        for name in ("rnn.W", "best.V", "second.U", "h"):
            kept = trainer.h if name == "h" else getattr(
                {"rnn": trainer.rnn, "best": trainer.best,
                 "second": trainer.optimizer.second}[name.split(".")[0]], name.split(".")[1])
            assert kept.tobytes() == npz[name].tobytes(), name
    again = tmp_path / "checkpoint.npz"
    save_as_cli(again, trainer, hamlet, name="hamlet.txt")
    copy = load(again, hamlet)
    assert_identical(copy, trainer)
    trainer.run(40)
    copy.run(40)
    assert_identical(copy, trainer)


# ---------------------------------------------------------------- format 1

FORMAT_1 = Path(__file__).parent / "data"        # written by charrnn-edu's format-1 code
HAMLET = "to be or not to be, " * 8


def same_bits(x, y):
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


@pytest.mark.parametrize("name", ["adagrad", "adam", "unstarted"])
def test_a_format_1_checkpoint_is_read_exactly_and_saved_as_format_2(tmp_path, name):
    path = FORMAT_1 / f"format-1-{name}.npz"
    with np.load(path, allow_pickle=False) as npz:
        old = {key: npz[key] for key in npz.files}
    assert int(old["format_version"]) == 1
    trainer = load(path, HAMLET)
    optimizer, started = trainer.optimizer, bool(old["memory_started"])
    groups = {"": trainer.rnn, "best_": trainer.best}
    # Format 1 kept Adam's second moment under AdaGrad's name, "memory".
    renamed = {"memory": "memory_", "first": "first_", "second": "memory_"}
    groups.update({renamed[name]: getattr(optimizer, name) for name in optimizer.state_names})
    if optimizer.name == "adam":
        assert (optimizer.first is None, optimizer.t) == (not started, int(old["adam_t"]))
    assert (groups["memory_"] is None) == (not started) == (name == "unstarted")
    for prefix, rnn in groups.items():
        for param, theta in zip(NAMES, rnn or (), strict=False):
            assert same_bits(theta, old[prefix + param]), prefix + param
    for key, value in [("h", trainer.h), ("losses", trainer.losses),
                       ("smooth_losses", trainer.smooth_losses),
                       ("epoch_starts", trainer.epoch_starts), ("e", trainer.e),
                       ("iteration", trainer.iteration), ("epoch", trainer.epoch),
                       ("best_iteration", trainer.best_iteration),
                       ("smooth_loss", trainer.smooth_loss), ("best_loss", trainer.best_loss),
                       ("optimizer_eps", optimizer.eps)]:
        assert same_bits(np.asarray(value, dtype=old[key].dtype), old[key]), key
    # Settings added since format 1 (batch, val_frac, eval_every) take their defaults.
    assert trainer.settings.to_dict() == {**Settings().to_dict(),
                                          **json.loads(str(old["settings"]))}
    assert trainer.rng.bit_generator.state == json.loads(str(old["rng_state"]))
    assert [vars(s) for s in trainer.samples] == json.loads(str(old["samples"]))
    assert trainer.vocab.chars == str(old["vocabulary"])
    _, _, meta = load_model(path)
    assert [meta[key] for key in ("corpus_name", "corpus_sha256", "encoding")] == [
        str(old[key]) for key in ("corpus_name", "corpus_sha256", "encoding")]

    again = tmp_path / "checkpoint.npz"
    save_as_cli(again, trainer, HAMLET, name=meta["corpus_name"])
    resaved = load(again, HAMLET)
    assert_identical(resaved, trainer)
    trainer.run(trainer.iteration + 20)
    resaved.run(resaved.iteration + 20)
    assert_identical(resaved, trainer)


def format_1_with(tmp_path, **changes):
    """The format-1 AdaGrad file with entries replaced, as the reliability sweep built its."""
    with np.load(FORMAT_1 / "format-1-adagrad.npz") as npz:
        entries = {name: npz[name] for name in npz.files}
    path = tmp_path / "old.npz"
    with open(path, "wb") as f:
        np.savez(f, **{**entries, **changes})
    return path


@pytest.mark.parametrize(("changes", "message"), [
    ({"W": np.full((4, 4), np.nan), "best_W": np.full((4, 4), np.nan)},
     "rnn.W, best.W hold NaN or infinite values"),                                 # K12, R04
    ({"e": np.int64(-5)}, "the text position e = -5 is not where a piece"),        # R01
    ({"W": np.ones((4, 4), dtype=np.float16)}, "W is float16 of shape .4, 4., expected "
                                               "float64"),                         # R03
    ({"junk": np.ones(3)}, "unknown entries junk.npy"),                            # K31
    ({"memory_started": np.int64(1)}, "memory_started is int64"),
], ids=["nan", "negative e", "float16", "unknown entry", "flag of wrong dtype"])
def test_a_damaged_format_1_checkpoint_is_refused(tmp_path, changes, message):
    with pytest.raises(CheckpointError, match="is not a charrnn checkpoint") as info:
        load(format_1_with(tmp_path, **changes), HAMLET)
    info.match(message)
