"""Training-replay snapshots: how one set of weights is compressed, and the optional ``replay`` entry of a model file.

Qt-free.  A snapshot stores each parameter array as float16 (float32 when a value does not fit
float16's range), its bytes split into planes (every array's high bytes, then its low bytes,
which deflate packs far better than interleaved) in a zlib stream.  The recorder writes the stream
*stored* (zlib level 0: half the memory of float32 in about 2 ms for the 'Wide' network, on the GUI
thread); the model file's npz deflates the whole entry as it saves.  Any zlib level reads back.
The error this allows is stated
and tested: for every weight ``w`` the replayed value ``r`` has
``|r - w| <= max(FLOAT16_RELATIVE_ERROR * |w|, FLOAT16_ABSOLUTE_ERROR)`` (round to nearest
float16: half a unit in the last of its 11 significant bits, or half the smallest subnormal).

The ``replay`` entry of a ``.cnnmodel`` file is a 1-D uint8 array::

    b"CNNREPLAY\\n"  uint32 (little endian) n  n bytes of JSON  blob 0  blob 1 ...

    {"version": 1, "interval": 8,
     "snapshots": [{"step": 0, "loss": null, "anchor": true, "kinds": "hhhhhh", "bytes": 13211}, ...]}

``kinds`` holds one letter per parameter array: ``h`` float16, ``f`` float32.  The shapes come from
the model's network; ``read_replay`` checks every snapshot (sizes, steps in order, finite values)
before it is used.
"""
from __future__ import annotations

import json
import logging
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"CNNREPLAY\n"
REPLAY_VERSION = 1
ENTRY = "replay"                   # the npz member of a model file
MAX_REPLAY_BYTES = 256_000_000     # the entry in a file; a recorder keeps far less (training/replay.py)
MAX_REPLAY_HEADER = 1_000_000
MAX_SNAPSHOTS = 10_000
FLOAT16_RELATIVE_ERROR = 2.0 ** -11
FLOAT16_ABSOLUTE_ERROR = 2.0 ** -25
_FLOAT16_MAX = float(np.finfo(np.float16).max)
# NOTE: level 1 took 18 of the 20 ms a 'Wide' snapshot cost the GUI thread, to save 13 % more; level 0 (stored)
# takes 0.4 ms, and savez_compressed deflates the replay entry of a model file anyway
_ZLIB_LEVEL = 0
_KINDS = {"h": np.dtype("<f2"), "f": np.dtype("<f4")}


@dataclass(frozen=True)
class Snapshot:
    """The weights at one training step: compressed (``blob``, ``kinds``) or exact (``state``, the newest).

    step    steps counted across runs, as in the training history
    loss    the batch loss at that step (None before the first step)
    anchor  True for the evenly spaced snapshots (the newest may be one or not)
    """

    step: int
    loss: float | None
    anchor: bool
    kinds: str = ""
    blob: bytes = b""
    state: tuple | None = None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.state) if self.state is not None else len(self.blob)

    def compressed(self) -> Snapshot:
        """This snapshot with its weights compressed (itself if they already are)."""
        if self.state is None:
            return self
        kinds, blob = encode_state(self.state)
        return Snapshot(self.step, self.loss, self.anchor, kinds, blob, None)

    def weights(self, shapes) -> list[np.ndarray]:
        """The weights as new float32 arrays of ``shapes`` (a list like ``Network.params``' shapes)."""
        if self.state is not None:
            return [np.array(a, dtype=np.float32) for a in self.state]
        return decode_state(self.kinds, self.blob, shapes)


def encode_state(state) -> tuple[str, bytes]:
    """(kinds, blob) of a list of float32 arrays: float16 where every value fits, byte planes, a stored zlib stream."""
    kinds, planes_low, planes_high = [], [], []
    for array in state:
        array = np.asarray(array, dtype=np.float32)
        fits = bool(np.isfinite(array).all()) and float(np.abs(array).max(initial=0.0)) <= _FLOAT16_MAX
        kind = "h" if fits else "f"
        data = np.ascontiguousarray(array, dtype=_KINDS[kind]).view(np.uint8).reshape(-1, _KINDS[kind].itemsize)
        kinds.append(kind)
        planes_low.append(data[:, :-1].T.tobytes())  # mantissa bytes: noisy
        planes_high.append(data[:, -1].tobytes())    # sign, exponent and top mantissa bits: repetitive
    return "".join(kinds), zlib.compress(b"".join(planes_high + planes_low), _ZLIB_LEVEL)


def decode_state(kinds: str, blob: bytes, shapes) -> list[np.ndarray]:
    """The float32 arrays that ``encode_state`` packed into ``(kinds, blob)``; ``ValueError`` if they do not fit ``shapes``."""
    shapes = [tuple(int(n) for n in shape) for shape in shapes]
    if len(kinds) != len(shapes) or any(kind not in _KINDS for kind in kinds):
        raise ValueError(f"a snapshot holds {len(kinds)} arrays of kinds {kinds[:20]!r}, but the network has "
                         f"{len(shapes)} float arrays")
    sizes = [math.prod(shape) for shape in shapes]
    itemsizes = [_KINDS[kind].itemsize for kind in kinds]
    expected = sum(n * b for n, b in zip(sizes, itemsizes))
    inflater = zlib.decompressobj()
    data = inflater.decompress(blob, expected + 1)  # never more than the network needs (a deflate bomb stops here)
    if len(data) != expected or not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        raise ValueError(f"a snapshot's weights unpack to {len(data):,} bytes, not the {expected:,} the network needs")
    buffer = np.frombuffer(data, dtype=np.uint8)
    high_total = sum(sizes)
    high_at, low_at = 0, high_total
    state = []
    for shape, size, kind, itemsize in zip(shapes, sizes, kinds, itemsizes):
        planes = np.empty((size, itemsize), dtype=np.uint8)
        planes[:, -1] = buffer[high_at:high_at + size]
        planes[:, :-1] = buffer[low_at:low_at + size * (itemsize - 1)].reshape(itemsize - 1, size).T
        high_at += size
        low_at += size * (itemsize - 1)
        state.append(planes.reshape(-1).view(_KINDS[kind]).astype(np.float32).reshape(shape))
    return state


# ---------------------------------------------------------------- the model file's entry

@dataclass(frozen=True)
class ReplayData:
    """A recorder's snapshots as saved: the spacing of its anchors (steps) and the snapshots, oldest first."""

    interval: int
    snapshots: tuple


def pack_replay(data: ReplayData) -> np.ndarray:
    """The ``replay`` entry (1-D uint8) of ``data``; the newest snapshot is compressed like the others."""
    snapshots = [s.compressed() for s in data.snapshots]
    header = {"version": REPLAY_VERSION, "interval": int(data.interval),
              "snapshots": [{"step": int(s.step), "loss": None if s.loss is None else float(s.loss),
                             "anchor": bool(s.anchor), "kinds": s.kinds, "bytes": len(s.blob)} for s in snapshots]}
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    payload = b"".join([MAGIC, struct.pack("<I", len(text)), text] + [s.blob for s in snapshots])
    return np.frombuffer(payload, dtype=np.uint8)


def unpack_replay(entry, shapes) -> ReplayData:
    """The snapshots of a ``replay`` entry, every one unpacked and checked against ``shapes``.

    Raises ``ValueError`` with a phrase saying what is wrong (the caller names the file).
    """
    payload = np.asarray(entry)
    if payload.dtype != np.uint8 or payload.ndim != 1:
        raise ValueError(f"it is a {payload.dtype} array of shape {payload.shape}, not bytes")
    payload = payload.tobytes()
    start = len(MAGIC) + 4
    if not payload.startswith(MAGIC) or len(payload) < start:
        raise ValueError("it does not start like a CNN Studio replay")
    (length,) = struct.unpack("<I", payload[len(MAGIC):start])
    if length > MAX_REPLAY_HEADER or start + length > len(payload):
        raise ValueError(f"its description declares {length:,} bytes, more than the entry holds")
    try:
        header = json.loads(payload[start:start + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"its description is not valid JSON ({err})") from None
    interval, items = _checked_header(header)
    snapshots, at, previous = [], start + length, -1
    for k, item in enumerate(items):
        blob = payload[at:at + item["bytes"]]
        at += item["bytes"]
        if len(blob) != item["bytes"]:
            raise ValueError(f"snapshot {k + 1} is cut short ({len(blob):,} of {item['bytes']:,} bytes)")
        if item["step"] <= previous:
            raise ValueError(f"snapshot {k + 1} is at step {item['step']}, not after step {previous}")
        previous = item["step"]
        try:
            state = decode_state(item["kinds"], blob, shapes)
        except (ValueError, zlib.error) as err:
            raise ValueError(f"snapshot {k + 1} (step {item['step']}) is damaged: {err}") from None
        if not all(np.isfinite(a).all() for a in state):
            raise ValueError(f"snapshot {k + 1} (step {item['step']}) holds NaN or infinite weights")
        snapshots.append(Snapshot(item["step"], item["loss"], item["anchor"], item["kinds"], blob))
    if at != len(payload):
        raise ValueError(f"it holds {len(payload) - at:,} bytes more than its snapshots")
    return ReplayData(interval, tuple(snapshots))


def read_replay(name: str, npz, shapes) -> tuple[ReplayData | None, str]:
    """(snapshots, "") from the ``replay`` entry of an open model file (``io.atomic.BoundedNpz``); (None, "") without one.

    NOTE: the replay is an extra beside the weights, so a damaged one does not stop the model
    loading: it gives (None, problem), ``problem`` being one line with the reason and the fix.
    """
    if ENTRY not in npz.names:
        return None, ""
    try:
        return unpack_replay(npz.read(ENTRY, MAX_REPLAY_BYTES), shapes), ""
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        problem = (f"{name}: its training replay is damaged ({err}), so the model was loaded without it. "
                   f"Fix: train again to record a new replay, then save.")
        log.warning(problem)
        return None, problem


def replay_entry(data: ReplayData | None) -> dict:
    """The arrays a model file gets for ``data``: ``{"replay": ...}``, or nothing without snapshots."""
    return {ENTRY: pack_replay(data)} if data is not None and data.snapshots else {}


def _checked_header(header) -> tuple[int, list]:
    if not isinstance(header, dict) or header.get("version") != REPLAY_VERSION:
        version = header.get("version") if isinstance(header, dict) else None
        raise ValueError(f"its version is {version!r}, not {REPLAY_VERSION} (saved by a newer CNN Studio?)")
    interval, items = header.get("interval"), header.get("snapshots")
    if not _whole(interval) or interval < 1:
        raise ValueError(f"its spacing {interval!r} is not a positive whole number of steps")
    if not isinstance(items, list) or len(items) > MAX_SNAPSHOTS:
        raise ValueError(f"its snapshot list is not a list of at most {MAX_SNAPSHOTS:,}")
    for k, item in enumerate(items):
        ok = (isinstance(item, dict) and _whole(item.get("step")) and item["step"] >= 0
              and _whole(item.get("bytes")) and item["bytes"] >= 0 and isinstance(item.get("anchor"), bool)
              and isinstance(item.get("kinds"), str)
              and (item.get("loss") is None or (isinstance(item["loss"], (int, float))
                                                 and not isinstance(item["loss"], bool) and math.isfinite(item["loss"]))))
        if not ok:
            raise ValueError(f"snapshot {k + 1}'s description {str(item)[:80]!r} is invalid")
    return interval, items


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
