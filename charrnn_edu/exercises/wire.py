"""The messages between the grader and the child process that runs a learner's code: data only.

A message is a JSON header and the raw bytes of the numeric arrays it holds, never a pickle:
whatever the learner's code returns, unpacking it runs none of that code. A value that is
not numbers, text or containers of them arrives as an :class:`Opaque` naming its type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, is_dataclass
from queue import Queue
from typing import Any

import numpy as np

from charrnn_edu.bptt import Cache
from charrnn_edu.forward import NAMES, RNN
from charrnn_edu.gru import GRU
from charrnn_edu.gru import NAMES as GRU_NAMES
from charrnn_edu.gru import Cache as GRUCache
from charrnn_edu.gru import Step as GRUStep
from charrnn_edu.lstm import LSTM
from charrnn_edu.lstm import NAMES as LSTM_NAMES
from charrnn_edu.lstm import Cache as LSTMCache
from charrnn_edu.lstm import Step as LSTMStep

__all__ = ["END_OF_OUTPUT", "Opaque", "pack", "unpack", "answer", "pump", "write_all",
           "finite", "write_back"]

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
    learner's code reads their parts by name. So do chapter 10's LSTM, Cache and Step and
    chapter 10b's GRU, Cache and Step.
    """
    blobs: list[bytes] = []
    offset = 0

    def encode(v: Any) -> Any:
        nonlocal offset
        if isinstance(v, RNN):
            return {"RNN": [encode(a) for a in v]}
        if isinstance(v, Cache):
            return {"Cache": [encode(a) for a in v]}
        # Chapters 10's and 10b's, read by name too; a lab file's LSTM or GRU is its own
        # copy of the class.
        for cell, names in (("LSTM", LSTM_NAMES), ("GRU", GRU_NAMES)):
            if type(v).__name__ == cell and is_dataclass(v) and not isinstance(v, type):
                return {cell: [encode(getattr(v, name, None)) for name in names]}
        for kind, tag in ((LSTMCache, "LSTMCache"), (LSTMStep, "LSTMStep"),
                          (GRUCache, "GRUCache"), (GRUStep, "GRUStep")):
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
    except (ValueError, RecursionError):
        raise ValueError("a malformed message") from None

    def decode(v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        (tag, body), = v.items()
        if tag == "array":
            dtype, shape, start = np.dtype(body[0]), tuple(body[1]), body[2]
            size = int(np.prod(shape)) * dtype.itemsize
            if (dtype.kind not in "biufc" or min(shape, default=0) < 0 or not 0 <= start
                    or start + size > len(blobs)):
                raise ValueError("a malformed array")
            return np.frombuffer(blobs[start:start + size], dtype).reshape(shape).copy()
        decoders = {"RNN": lambda b: RNN(*map(decode, b)), "complex": lambda b: complex(*b),
                    "Cache": lambda b: Cache(*map(decode, b)),
                    "LSTM": lambda b: LSTM(*map(decode, b)),
                    "LSTMCache": lambda b: LSTMCache(*map(decode, b)),
                    "LSTMStep": lambda b: LSTMStep(*map(decode, b)),
                    "GRU": lambda b: GRU(*map(decode, b)),
                    "GRUCache": lambda b: GRUCache(*map(decode, b)),
                    "GRUStep": lambda b: GRUStep(*map(decode, b)),
                    "tuple": lambda b: tuple(map(decode, b)), "opaque": Opaque,
                    "list": lambda b: list(map(decode, b)),
                    "dict": lambda b: {k: decode(x) for k, x in b.items()}}
        return decoders[tag](body)

    try:
        return decode(header)
    except (KeyError, TypeError, IndexError, AttributeError, RecursionError, OverflowError,
            ValueError) as err:
        raise ValueError(f"a malformed message ({type(err).__name__})") from None


def answer(response: Any) -> dict:
    """``response`` if it has the shape of one of the child's answers; else ValueError."""
    shapes = {"ready": None, "loaded": None, "problem": str, "memory": str, "refused": str,
              "raised": dict, "result": None}
    if not (isinstance(response, dict) and response and set(response) <= {*shapes, "args",
                                                                          "unconfined"}):
        raise ValueError("a message that is not an answer")
    raised = response.get("raised", {})
    if not (isinstance(raised, dict) and set(raised) <= {"kind", "message", "where"}
            and all(isinstance(v, str) for v in raised.values())
            and all(shape is None or isinstance(response[k], shape)
                    for k, shape in shapes.items() if k in response)):
        raise ValueError("a malformed answer")
    if "raised" in response and "kind" not in raised:
        raise ValueError("a malformed answer")
    return response


# ---------------------------------------------------------------- after a call

def leaves(value: Any) -> list[Any]:
    """The numbers and arrays inside ``value``, RNNs, tuples and lists opened."""
    if isinstance(value, RNN | tuple | list):
        return [leaf for v in value for leaf in leaves(v)]
    return [value]


def finite(value: Any) -> bool:
    """Every number in ``value`` (arrays, RNNs, tuples and lists of them) is finite."""
    return all(np.all(np.isfinite(v)) for v in leaves(value)
               if isinstance(v, np.ndarray | float | complex) and not isinstance(v, bool))


def write_back(args: tuple, after: Any) -> None:
    """Copy what the call changed in its arguments into the parent's, in the same arrays."""
    if not isinstance(after, list) or len(after) != len(args):
        return
    for arg, new in zip(args, after, strict=True):
        pairs = (zip(arg, new, NAMES, strict=True) if isinstance(arg, RNN)
                 and isinstance(new, RNN) else [(arg, new, None)])
        for old, value, name in pairs:
            if (isinstance(old, np.ndarray) and isinstance(value, np.ndarray) and value.shape
                    == old.shape and np.can_cast(value.dtype, old.dtype, "same_kind")):
                old[...] = value
            elif name is not None:
                setattr(arg, name, value)


# ---------------------------------------------------------------- the pipes (the parent's side)

def pump(pipe: Any, kind: str, events: Queue, size: int = 1 << 20) -> None:
    """Put what comes down ``pipe`` on ``events`` as ``(kind, bytes)``, then ``(kind, b"")``."""
    try:
        with pipe:
            while chunk := pipe.read(size):
                events.put((kind, chunk))
    except (OSError, ValueError):
        pass                            # the pipe broke or was closed: its end all the same
    events.put((kind, b""))


def write_all(pipe: Any, data: bytes) -> None:
    """Write all of ``data`` to ``pipe`` unless the child has gone (its end tells the rest)."""
    view = memoryview(data)
    try:
        while view:
            view = view[pipe.write(view):]
    except (OSError, ValueError):
        pass
