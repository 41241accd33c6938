"""Crafted checkpoints: every kind of damage or malice is one CheckpointError, cheaply.

Each file is built from a small real checkpoint by changing one thing: an entry's bytes, its
.npy header, the zip's directory, or a value in the JSON state. The reliability sweep's cases
(K12, K29-K33, K37, K38, R01, R03, R04) are among them.
"""

import io
import json
import pickle
import re
import struct
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest

from charrnn_edu.checkpoint import CheckpointError, load, load_model, save
from charrnn_edu.files import corpus_sha256
from charrnn_edu.training import Settings, Trainer

TEXT = "to be or not to be, " * 8               # K = 8 characters
SETTINGS = Settings(hidden=4, seq_length=5, sample_every=5, sample_length=8, seed=1)
GiB = 2**30


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The bytes of a checkpoint trained 12 iterations (hidden 4, AdaGrad under way)."""
    path = tmp_path_factory.mktemp("saved") / "checkpoint.npz"
    trainer = Trainer.start(TEXT, SETTINGS)
    trainer.run(12)
    save(path, trainer, corpus_sha256=corpus_sha256(TEXT, "utf-8"), encoding="utf-8",
         corpus_name="hamlet.txt")
    return path.read_bytes()


def entries(data):
    """The raw bytes of every zip entry, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def array(data, name):
    return np.load(io.BytesIO(entries(data)[f"{name}.npy"]), allow_pickle=False)


def archive(members):
    """A zip of ``members`` (name -> bytes), stored uncompressed like np.savez writes it."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)         # "Duplicate name" on purpose
        with zipfile.ZipFile(buffer, "w") as zipped:
            for name, content in members:
                zipped.writestr(name, content)
    return buffer.getvalue()


def replaced(data, changes):
    """``data`` with entries replaced by bytes or arrays (None: removed), by name."""
    members = entries(data)
    for name, value in changes.items():
        if value is None:
            del members[f"{name}.npy"]
        else:
            members[f"{name}.npy"] = value if isinstance(value, bytes) else npy(value)
    return archive(members.items())


def edited(data, edit):
    """``data`` with ``edit(state)`` applied to its JSON state."""
    state = json.loads(str(array(data, "state")))
    edit(state)
    return replaced(data, {"state": np.array(json.dumps(state))})


def refusal(tmp_path, data, text=None):
    """Load ``data`` (as a file); return the CheckpointError's message, checked to be one line."""
    path = tmp_path / "crafted.npz"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        load(path, text)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path} ")
    with pytest.raises(CheckpointError):        # sampling reads the file the same way
        load_model(path)
    return message


class Malicious:
    """Unpickling this creates the file ``marker``: proof that pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


# ---------------------------------------------------------------- entries that are not arrays

@pytest.mark.parametrize("name", ["format_version", "state", "rnn.W", "losses"])
def test_an_entry_in_another_format_is_refused(saved, tmp_path, name):      # K29, K30, K37
    message = refusal(tmp_path, replaced(saved, {name: b"not an npy"}))
    assert f"{name} is not a .npy array (ValueError: the magic string is not correct" in message


@pytest.mark.parametrize("name", ["state", "rnn.W"])
def test_pickled_objects_are_refused_and_never_run(saved, tmp_path, name):  # K30, K05, K06
    marker = tmp_path / "PWNED"
    objects = np.array([Malicious(marker)], dtype=object)
    for payload, problem in [(npy(objects, allow_pickle=True), "holds Python objects"),
                             (pickle.dumps(Malicious(marker)), "is not a .npy array")]:
        assert problem in refusal(tmp_path, replaced(saved, {name: payload}))
    assert not marker.exists()
    pickle.loads(pickle.dumps(Malicious(marker))).close()   # the payload works when unpickled
    assert marker.exists()


def test_an_unknown_entry_is_refused_unread(saved, tmp_path):
    members = [*entries(saved).items(), ("junk.npy", npy(np.ones(3))), ("notes.txt", b"hi")]
    assert "unknown entries junk.npy, notes.txt" in refusal(tmp_path, archive(members))


def test_a_missing_entry_is_refused(saved, tmp_path):
    assert "missing best.V" in refusal(tmp_path, replaced(saved, {"best.V": None}))


def test_an_entry_twice_is_refused(saved, tmp_path):
    members = [*entries(saved).items(), ("rnn.W.npy", npy(np.zeros((4, 4))))]
    assert "an entry appears twice" in refusal(tmp_path, archive(members))


# ---------------------------------------------------------------- sizes: memory stays small

def peak_memory_of_refusal(tmp_path, data):
    tracemalloc.start()
    try:
        message = refusal(tmp_path, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return message, peak


def header_only(shape, descr="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def test_an_unknown_entry_claiming_a_huge_shape_costs_nothing(saved, tmp_path):     # K31, K38
    members = [*entries(saved).items(), ("junk.npy", header_only((10**12,)) + bytes(64))]
    message, peak = peak_memory_of_refusal(tmp_path, archive(members))
    assert "unknown entries junk.npy" in message and peak < 4 * 2**20


def test_a_header_claiming_a_huge_shape_is_refused_unread(saved, tmp_path):
    message, peak = peak_memory_of_refusal(
        tmp_path, replaced(saved, {"rnn.W": header_only((10**6, 10**6)) + bytes(64)}))
    assert r"rnn.W is float64 of shape (1000000, 1000000), expected float64 of shape (4, 4)" \
        in message and peak < 4 * 2**20


def test_settings_that_imply_huge_arrays_are_refused_unread(saved, tmp_path):
    # Settings and headers agree on m = 10**6, but the file cannot hold such arrays.
    data = edited(saved, lambda s: s["settings"].update(hidden=10**6))
    data = replaced(data, {"rnn.b": header_only((10**6, 1)) + bytes(64)})
    message, peak = peak_memory_of_refusal(tmp_path, data)
    assert "rnn.b holds 64 bytes of data, but its header says 8,000,000" in message
    assert peak < 4 * 2**20


def deflated_zeros(size):
    """A raw deflate stream that unpacks to ``size`` zero bytes, built in milliseconds.

    After a full flush the compressor starts afresh, so every further MiB of zeros compresses
    to the same bytes: one chunk, repeated.
    """
    compressor, MiB = zlib.compressobj(9, zlib.DEFLATED, -15), 2**20
    first = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    chunk = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + chunk * (size // MiB - 1) + compressor.flush()


def with_bomb(data, name, size=GiB):
    """``data`` plus an entry ``name`` whose deflated data unpacks to ``size`` bytes."""
    payload = deflated_zeros(size)
    members = [(n, content) for n, content in entries(data).items() if n != name]
    zipped = bytearray(archive([*members, (name, payload)]))
    # zipfile cannot add precompressed data, so the entry went in stored and is relabelled
    # here: method 8 (deflate) and the unpacked size, in its local header and in its
    # central-directory record (the last one).
    with zipfile.ZipFile(io.BytesIO(bytes(zipped))) as zipped_archive:
        local = zipped_archive.getinfo(name).header_offset
    central = bytes(zipped).rindex(b"PK\x01\x02")
    for method_at, size_at in [(local + 8, local + 22), (central + 10, central + 24)]:
        struct.pack_into("<H", zipped, method_at, zipfile.ZIP_DEFLATED)
        struct.pack_into("<I", zipped, size_at, size)
    return bytes(zipped)


def test_the_bomb_is_real():
    bomb = deflated_zeros(8 * 2**20)
    assert len(bomb) < 2**16 and zlib.decompress(bomb, -15) == bytes(8 * 2**20)


@pytest.mark.parametrize(("name", "problem"), [
    ("junk.npy", "unknown entries junk.npy"),                                      # K33
    ("rnn.W.npy", "rnn.W is encrypted or compressed (method 8); checkpoints store their "
                  "entries as plain bytes"),
])
def test_a_zip_bomb_is_refused_without_unpacking_it(saved, tmp_path, name, problem):
    data = with_bomb(saved, name)
    assert len(data) < 8 * 2**20
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        assert zipped.getinfo(name).file_size == GiB
    message, peak = peak_memory_of_refusal(tmp_path, data)
    assert problem in message
    assert peak < 2 * len(data) + 4 * 2**20      # reading the file, not unpacking 1 GiB


def test_a_directory_claiming_a_huge_entry_is_refused(saved, tmp_path):
    zipped = bytearray(saved)
    central = struct.unpack_from("<I", saved, len(saved) - 22 + 16)[0]
    # The first record is format_version's; claim 1 GiB both packed and unpacked.
    struct.pack_into("<II", zipped, central + 20, GiB, GiB)
    message, peak = peak_memory_of_refusal(tmp_path, bytes(zipped))
    assert ("format_version claims 1,073,741,824 bytes (1,073,741,824 stored) in a file of "
            f"{len(saved):,}") in message
    assert peak < 4 * 2**20


# ---------------------------------------------------------------- values

@pytest.mark.parametrize("name", ["rnn.W", "best.U", "memory.V", "h", "losses"])
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_nan_or_infinite_values_are_refused(saved, tmp_path, name, bad):      # K12, R04
    values = array(saved, name).copy()
    values.flat[-1] = bad
    message = refusal(tmp_path, replaced(saved, {name: values}))
    assert f"{name} hold NaN or infinite values" in message


def test_a_nan_smooth_loss_after_training_is_refused(saved, tmp_path):
    message = refusal(tmp_path, edited(saved, lambda s: s.update(smooth_loss=float("nan"))))
    assert "smooth_loss hold NaN or infinite values" in message


@pytest.mark.parametrize("e", [-5, 7, 2.5, "5", None])
def test_a_text_position_where_no_piece_starts_is_refused(saved, tmp_path, e):     # R01
    message = refusal(tmp_path, edited(saved, lambda s: s.update(e=e)))
    assert f"the text position e = {e!r} is not where a piece of seq_length 5 can start" \
        in message


@pytest.mark.parametrize("e", [len(TEXT), 10**18])
def test_a_text_position_beyond_the_text_is_refused(saved, tmp_path, e):
    # A multiple of seq_length, so the file alone is plausible; the text shows it is not.
    data = edited(saved, lambda s: s.update(e=e))
    path = tmp_path / "crafted.npz"
    path.write_bytes(data)
    assert load(path).e == e
    with pytest.raises(CheckpointError, match=f"the text position e = {e} lies beyond "
                                              f"the end of the text .{len(TEXT)} characters."):
        load(path, TEXT)


@pytest.mark.parametrize("dtype", ["<f2", "<f4", "<i8", ">f8", "<c16"])
def test_a_dtype_other_than_the_settings_is_refused(saved, tmp_path, dtype):  # R03
    members = {name: value.astype(dtype) for name in ("rnn.W", "best.W")
               for value in [array(saved, name)]}
    data = replaced(saved, members)
    assert (f"rnn.W is {np.dtype(dtype)} of shape (4, 4), expected float64 of shape (4, 4)"
            in refusal(tmp_path, data))


def test_float32_settings_with_float64_arrays_are_refused(saved, tmp_path):
    data = edited(saved, lambda s: s["settings"].update(dtype="float32"))
    assert "rnn.b is float64 of shape (4, 1), expected float32" in refusal(tmp_path, data)


def test_a_fortran_ordered_entry_is_refused(saved, tmp_path):
    values = np.asfortranarray(array(saved, "rnn.W").T)
    assert "rnn.W is float64 of shape (4, 4) in Fortran order" in refusal(
        tmp_path, replaced(saved, {"rnn.W": values}))


def test_an_entry_with_bytes_beyond_its_array_is_refused(saved, tmp_path):
    data = replaced(saved, {"rnn.W": npy(array(saved, "rnn.W")) + b"\0" * 8})
    assert "rnn.W holds 136 bytes of data, but its header says 128" in refusal(tmp_path, data)


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda s: s.update(iteration=-1), "iteration is -1, expected a whole number, 0 or more"),
    (lambda s: s.update(epoch=True), "epoch is True, expected a whole number"),
    (lambda s: s["settings"].update(seq_length=0), "seq_length must be positive"),
    (lambda s: s["settings"].update(optimizer="sgd"), "optimizer must be one of"),
    (lambda s: s["settings"].update(colour="blue"), "unexpected keyword argument 'colour'"),
    (lambda s: s.update(vocabulary=s["vocabulary"][::-1]), "unique and sorted"),
    (lambda s: s["optimizer"].update(eps=-1.0), "eps must be positive"),
    (lambda s: s["optimizer"].update(t=-1), "t is -1"),
    (lambda s: s["rng_state"].update(bit_generator="MT19937"), "PCG64"),
    (lambda s: s["rng_state"]["state"].update(state="x"), "rng|state|int"),
    (lambda s: s.update(samples=[{"iteration": "one"}]), "ValueError"),
    (lambda s: s["corpus"].update(sha256=None), "the corpus record"),
    (lambda s: s.clear(), "KeyError"),
], ids=["negative count", "bool count", "seq_length 0", "optimizer", "unknown setting",
        "vocabulary", "eps", "adam t", "generator", "generator state", "samples", "corpus",
        "empty state"])
def test_a_state_that_does_not_make_sense_is_refused(saved, tmp_path, edit, problem):
    message = refusal(tmp_path, edited(saved, edit))
    assert re.search(problem, message), message


def test_a_state_that_is_not_an_object_is_refused(saved, tmp_path):
    message = refusal(tmp_path, replaced(saved, {"state": np.array(json.dumps([1, 2]))}))
    assert "TypeError" in message


def test_an_unknown_encoding_is_refused(saved, tmp_path):
    data = edited(saved, lambda s: s["corpus"].update(encoding="utf-9"))
    assert "LookupError: unknown encoding: utf-9" in refusal(tmp_path, data)
