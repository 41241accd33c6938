"""The messages between the grader and the child process that runs a learner's code: data only.

A message is a JSON header and the raw bytes of the numeric arrays it holds, never a pickle:
whatever the learner's code returns, unpacking it runs none of that code. A value that is
not numbers, text or containers of them arrives as an :class:`Opaque` naming its type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, is_dataclass
from typing import Any

import numpy as np

from charrnn_edu.bptt import Cache
from charrnn_edu.forward import RNN
from charrnn_edu.lstm import LSTM
from charrnn_edu.lstm import NAMES as LSTM_NAMES
from charrnn_edu.lstm import Cache as LSTMCache
from charrnn_edu.lstm import Step as LSTMStep

__all__ = ["END_OF_OUTPUT", "Opaque", "pack", "unpack"]

# The child writes this byte to the pipe of the learner's output before each message: the
# parent reads that pipe and the messages' on two threads, which keep no order between them.
# A learner who prints the byte only loses it from what is shown, and that order.
END_OF_OUTPUT = b"\0"


@dataclass(frozen=True)
class Opaque:
    """Stands for a value that is not numbers, text or containers of them (never unpickled)."""

    kind: str


def pack(value: Any) -> bytes:
    """``value`` as bytes: numbers, str, None, tuples, lists, str-keyed dicts, arrays, RNNs, Caches.

    An RNN and chapter 4's :class:`~charrnn_edu.bptt.Cache` arrive as themselves: the
    learner's code reads their parts by name.
    """
    blobs: list[bytes] = []
    offset = 0

    def encode(v: Any) -> Any:
        nonlocal offset
        if isinstance(v, RNN):
            return {"RNN": [encode(a) for a in v]}
        if isinstance(v, Cache):
            return {"Cache": [encode(a) for a in v]}
        # Chapter 10's, read by name too; a lab file's LSTM is its own copy of the class.
        if type(v).__name__ == "LSTM" and is_dataclass(v) and not isinstance(v, type):
            return {"LSTM": [encode(getattr(v, name, None)) for name in LSTM_NAMES]}
        for kind, tag in ((LSTMCache, "LSTMCache"), (LSTMStep, "LSTMStep")):
            if isinstance(v, kind):
                return {tag: [encode(a) for a in v]}
        if isinstance(v, np.ndarray | np.generic):
            a = np.ascontiguousarray(v)
            if a.dtype.kind not in "biufc":
                return {"opaque": f"array of dtype {a.dtype}"}
            blobs.append(a.tobytes())
            offset += a.nbytes
            return {"array": [a.dtype.str, list(a.shape), offset - a.nbytes]}
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, complex):
            return {"complex": [v.real, v.imag]}
        if isinstance(v, tuple | list):
            return {type(v).__name__ if type(v) in (tuple, list) else "tuple":
                    [encode(x) for x in v]}
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {"dict": {k: encode(x) for k, x in v.items()}}
        return {"opaque": type(v).__name__}

    try:
        header = json.dumps(encode(value)).encode()
    except (RecursionError, ValueError):
        header, blobs = json.dumps({"opaque": "a value that refers to itself"}).encode(), []
    body = len(header).to_bytes(8, "big") + header + b"".join(blobs)
    return len(body).to_bytes(8, "big") + body      # the size first: the reader knows the end


def unpack(data: bytes) -> Any:
    """The value :func:`pack` packed; ValueError if ``data`` is not such a message."""
    n = int.from_bytes(data[8:16], "big")
    try:
        header, blobs = json.loads(data[16:16 + n]), memoryview(data)[16 + n:]
    except ValueError:
        raise ValueError("a malformed message") from None

    def decode(v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        (tag, body), = v.items()
        if tag == "array":
            dtype, shape, start = np.dtype(body[0]), tuple(body[1]), body[2]
            size = int(np.prod(shape)) * dtype.itemsize
            if dtype.kind not in "biufc" or min(shape, default=0) < 0 or start + size > len(blobs):
                raise ValueError("a malformed array")
            return np.frombuffer(blobs[start:start + size], dtype).reshape(shape).copy()
        decoders = {"RNN": lambda b: RNN(*map(decode, b)), "complex": lambda b: complex(*b),
                    "Cache": lambda b: Cache(*map(decode, b)),
                    "LSTM": lambda b: LSTM(*map(decode, b)),
                    "LSTMCache": lambda b: LSTMCache(*map(decode, b)),
                    "LSTMStep": lambda b: LSTMStep(*map(decode, b)),
                    "tuple": lambda b: tuple(map(decode, b)), "opaque": Opaque,
                    "list": lambda b: list(map(decode, b)),
                    "dict": lambda b: {k: decode(x) for k, x in b.items()}}
        return decoders[tag](body)

    try:
        return decode(header)
    except (KeyError, TypeError, IndexError) as err:
        raise ValueError(f"a malformed message ({err})") from None
