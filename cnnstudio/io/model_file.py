"""Saving and loading a trained network as one ``.cnnmodel`` file.

Qt-free.  A ``.cnnmodel`` file is an npz archive (``numpy.savez_compressed``) of:

- ``header``      a 0-d string array holding JSON::

      {"format": "cnnstudio-model", "version": 1,
       "input_shape": [1, 28, 28],
       "layers": [{"kind": "conv", "filters": 8, ...}, ..., {"kind": "dense", "units": 10, ...}],
       "locked": [[layer, filter], ...],          # kernels kept fixed while training
       "settings": {...} | null,                  # the run's training settings (TrainingSettings.to_dict())
       "history": {"step": [...], ...} | null,    # Trainer.history (see below)
       "test_accuracy": 0.97 | null,
       "class_names": ["T-shirt/top", ...] | null,  # what each output means; null or absent: "0".."9"
       "params": 6}                               # number of parameter arrays

- ``p0`` .. ``pN-1``  float32 parameter arrays in ``Network.params`` order (w0, b0, w1, b1, ...)
- ``replay``      optional: the training replay's weight snapshots (io/replay_file.py); a damaged one is
                  left out with a one-line ``LoadedModel.replay_problem``, the rest of the model loads

The history holds two groups of curves, each a set of equally long lists of finite
numbers: ``step``, ``loss``, ``train_acc`` (one value each per training step) and
``test_step``, ``test_loss``, ``test_acc`` (one each per test evaluation).  A group
may be left out (no values); keys this version does not know are ignored, so a
newer CNN Studio may add curves without making its files unreadable here.

Saving is atomic (io/atomic.py): a failed save keeps the previous file whole.  Loading checks
every size the file declares against the ``MAX_*`` limits before parsing or allocating, then
everything else; it raises ``ModelFileError`` (one line: reason and fix) and never touches the
caller's network.

This module knows the file format, not what the training settings mean: they are a
plain dict here, turned into ``TrainingSettings`` (and checked) by ``core/document.py``.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import numbers
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstudio.engine import ConvSpec, Network, resolve_padding, spec_from_dict, spec_to_dict, validate_layers

from cnnstudio.io.atomic import BoundedNpz, NpzLimitError, file_kind, save_npz_atomically
from cnnstudio.io.class_names import check_class_names, digit_names
from cnnstudio.io.datasets import RESOURCES
from cnnstudio.io.replay_file import ENTRY as REPLAY_ENTRY, ReplayData, read_replay, replay_entry

FILE_FORMAT = "cnnstudio-model"
FILE_VERSION = 1
SUFFIX = ".cnnmodel"
DEFAULT_MODEL_PATH = RESOURCES / "models" / f"default{SUFFIX}"

log = logging.getLogger(__name__)

# What a header may declare, checked before anything is parsed deeply or allocated: a small
# file must not make CNN Studio allocate gigabytes (zeros compress a thousandfold).
MAX_HEADER_CHARS = 4_000_000      # the JSON header; a longer training history is thinned when saving
MAX_HEADER_DEPTH = 16             # JSON nesting (a real header nests 3 deep)
MAX_LAYERS = 64
MAX_LAYER_SIZE = 100_000          # filters, units, and every other whole-number layer setting
MAX_INPUT_CHANNELS = 64
MAX_INPUT_SIDE = 4096
MAX_PARAMETERS = 50_000_000       # weights and biases together (200 MB of float32)
MAX_MAP_VALUES = 50_000_000       # the largest feature map a forward pass would hold
MAX_WEIGHT = 1_000_000.0          # beyond this a forward pass overflows float32 into NaN


HISTORY_GROUPS = (("step", "loss", "train_acc"), ("test_step", "test_loss", "test_acc"))


class ModelFileError(ValueError):
    """A model file cannot be used; the message says why and how to fix it, in one line."""


@dataclass
class LoadedModel:
    """What a model file holds: a new network and the facts saved with it."""

    network: Network
    locked: frozenset
    settings: dict | None     # the training settings as saved (TrainingSettings.to_dict())
    history: dict | None
    header: dict
    replay: ReplayData | None = None  # the training replay's snapshots, if saved and whole
    replay_problem: str = ""          # why a saved replay was left out, else ""

    @property
    def test_accuracy(self) -> float | None:
        return self.header.get("test_accuracy")

    @property
    def class_names(self) -> tuple[str, ...]:
        """What each output means (checked on load); "0", "1", ... for files saved without names."""
        names = self.header.get("class_names")
        return digit_names(self.network.num_classes) if names is None else tuple(names)


# ---------------------------------------------------------------- saving

def save_model(path, network: Network, locked=frozenset(), settings: dict | None = None,
               history: dict | None = None, test_accuracy: float | None = None, class_names=None,
               replay: ReplayData | None = None) -> Path:
    """Write ``network`` (and what is known about its training) to ``path`` atomically.

    ``test_accuracy`` defaults to the last test accuracy in ``history``.  Raises
    ``ValueError`` for weights that are NaN/inf or beyond ±``MAX_WEIGHT`` (they could not be
    loaded back) and ``OSError`` when the file cannot be written (``io.atomic``: a folder,
    a device, a read-only folder, ...); the old file stays whole.  Returns the path written.
    """
    path = Path(path)
    for k, p in enumerate(network.params):
        if not np.isfinite(p).all():
            raise ValueError(f"cannot save: layer {k // 2 + 1} has NaN or infinite weights. "
                             f"Fix: revert to the last good weights or retrain.")
        largest = float(np.abs(p).max(initial=0.0))
        if largest > MAX_WEIGHT:
            raise ValueError(f"cannot save: layer {k // 2 + 1} has {'weights' if k % 2 == 0 else 'biases'} beyond "
                             f"±1,000,000 (up to {largest:.3g}), which make its predictions overflow into NaN. "
                             f"Fix: reset the kernels to the trained weights, or retrain with a lower learning rate.")
    if history is not None:
        try:
            history = checked_history(history)
        except ValueError as err:
            raise ValueError(f"cannot save: the training history {err}. Fix: save the history of the run "
                             f"(Trainer.history), or none.") from None
    if test_accuracy is None and history and history.get("test_acc"):
        test_accuracy = history["test_acc"][-1]
    header = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "input_shape": list(network.input_shape),
        "layers": [spec_to_dict(spec) for spec in network.layers],
        "locked": sorted([int(layer), int(filter)] for layer, filter in locked),
        "settings": None if settings is None else dict(settings),
        "history": history,
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
        "class_names": None if class_names is None else _names_to_save(class_names, network.num_classes),
        "params": len(network.params),
    }
    arrays = {"header": np.array(_header_text(header))}
    arrays.update({f"p{k}": np.ascontiguousarray(p, dtype=np.float32) for k, p in enumerate(network.params)})
    arrays.update(replay_entry(replay))
    return save_npz_atomically(path, arrays)


def _names_to_save(names, count: int) -> list[str]:
    try:
        return list(check_class_names(names, count))
    except ValueError as err:
        raise ValueError(f"cannot save: the class names {err}. Fix: give one name per output, or none.") from None


def _header_text(header: dict) -> str:
    """The header as compact JSON within ``MAX_HEADER_CHARS``: a very long history keeps every other point
    (again until it fits; the curves look the same), so the file can always be loaded back."""
    text = json.dumps(header, separators=(",", ":"))
    while len(text) > MAX_HEADER_CHARS and header["history"] and \
            any(len(values) > 1 for values in header["history"].values()):
        # each group's lists are equally long, so they stay aligned; the last point is kept
        header["history"] = {key: values[::-1][::2][::-1] for key, values in header["history"].items()}
        log.warning("the training history is too long to save in full: every other point is kept")
        text = json.dumps(header, separators=(",", ":"))
    if len(text) > MAX_HEADER_CHARS:
        raise ValueError(f"cannot save: the model's description is {len(text):,} characters long, more than "
                         f"{MAX_HEADER_CHARS:,}. Fix: save with shorter training settings.")
    return text


# ---------------------------------------------------------------- loading

_CHOOSE = "Fix: choose a .cnnmodel file saved by CNN Studio."
_RESAVE = "Fix: save or train the model again, or choose another .cnnmodel file."


def load_model(path) -> LoadedModel:
    """Read a model file, each size it declares checked against the ``MAX_*`` limits before it is parsed
    or allocated; raises ``ModelFileError`` (one line: what is wrong and the fix)."""
    path = Path(path)
    name = path.name
    _check_file(path)
    try:
        with BoundedNpz(path, max_members=2 * MAX_LAYERS + 8) as npz:
            header = _read_header(name, npz)
            _check_format(name, header)
            layers, input_shape, shapes = _architecture_from(name, header)
            params = _read_params(name, npz, header, shapes)
            replay, replay_problem = read_replay(name, npz, shapes)
    except ModelFileError:
        raise
    except NpzLimitError as err:
        raise ModelFileError(f"{name} is damaged or not a CNN Studio model: {err}. {_RESAVE}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ModelFileError(f"{name} is damaged ({type(err).__name__}: {err}). {_RESAVE}") from None
    network = Network(layers, input_shape, seed=0)
    network.set_state(params)
    locked = _locked_from(name, header, network)
    settings = header.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise ModelFileError(f"{name} is damaged: its training settings are invalid (a mapping was expected, "
                             f"got {type(settings).__name__}). {_RESAVE}")
    history = header.get("history")
    if history is not None:
        try:
            history = checked_history(history)
        except ValueError as err:
            raise ModelFileError(f"{name} is damaged: its training history {err}. {_RESAVE}") from None
    accuracy = header.get("test_accuracy")
    if accuracy is not None and (not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1):
        raise ModelFileError(f"{name} is damaged: its test accuracy {accuracy!r} is not in 0..1. {_RESAVE}")
    if header.get("class_names") is not None:
        try:
            check_class_names(header["class_names"], network.num_classes)
        except ValueError as err:
            raise ModelFileError(f"{name} is damaged: its class names {err}. {_RESAVE}") from None
    return LoadedModel(network, locked, settings, history, header, replay, replay_problem)


def checked_history(history) -> dict:
    """The known curves of a training history as lists of numbers; ``ValueError`` (a phrase) if they cannot be drawn.

    Each group of ``HISTORY_GROUPS`` must be equally long lists of finite numbers (a missing
    key counts as an empty list); other keys are left out.  The message completes "the
    training history ...", e.g. "'loss' holds 'x' (value 2), not a finite number".
    """
    if not isinstance(history, dict):
        raise ValueError("is not a mapping of curves")
    curves = {}
    for group in HISTORY_GROUPS:
        for key in group:
            if key not in history:
                continue
            values = history[key]
            if not isinstance(values, (list, tuple)):
                raise ValueError(f"{key!r} is {_short(values)}, not a list of numbers")
            curves[key] = [_finite(key, index, value) for index, value in enumerate(values, start=1)]
        lengths = [len(curves.get(key, ())) for key in group]
        if len(set(lengths)) > 1:
            counts = ", ".join(f"{count} {key!r}" for key, count in zip(group, lengths))
            unit = "training step" if group[0] == "step" else "test evaluation"
            raise ValueError(f"has {counts} values, but needs one of each per {unit}")
    return curves


def _finite(key: str, index: int, value) -> int | float:
    """``value`` as a plain int or float (NumPy scalars too), if it is a finite real number."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            finite = math.isfinite(value)
        except OverflowError:  # a JSON integer beyond float's range
            finite = False
        if finite:
            return value.item() if isinstance(value, np.generic) else value
    raise ValueError(f"{key!r} holds {_short(value)} (value {index}), not a finite number")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


def _check_file(path: Path) -> None:
    """``ModelFileError`` unless ``path`` is a regular file that starts like a whole zip archive."""
    name = path.name
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is None:  # a named pipe would block the reader for ever, a device never ends: not opened
            with open(path, "rb") as handle:
                start = handle.read(4)
    except FileNotFoundError:
        raise ModelFileError(f"{name} does not exist ({path}). Fix: check the file name and folder, or train "
                             f"a model with 'python -m cnnstudio train'.") from None
    except OSError as err:
        raise ModelFileError(f"{name} cannot be read ({err.strerror}). Fix: check that you may read it.") from None
    if kind is not None:
        raise ModelFileError(f"{name} is {kind}, not a model file. {_CHOOSE}")
    if not start:
        raise ModelFileError(f"{name} is empty (0 bytes). {_RESAVE}")
    if start != b"PK\x03\x04":
        raise ModelFileError(f"{name} is not a CNN Studio model: it is not an npz (zip) archive. {_CHOOSE}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{name} is truncated: the end of the archive is missing (an interrupted copy or "
                             f"download?). {_RESAVE}")


def _read_header(name: str, npz: BoundedNpz) -> dict:
    """The parsed JSON header, its length and nesting checked before it is read and parsed."""
    names = npz.names
    if "header" not in names:
        shown = ", ".join(sorted(names)[:6]) + (", ..." if len(names) > 6 else "")
        raise ModelFileError(f"{name} is an npz archive but not a CNN Studio model (it holds "
                             f"{shown or 'nothing'}, no header). {_CHOOSE}")
    shape, dtype = npz.declared("header")
    if dtype.kind != "U" or shape != ():
        raise ModelFileError(f"{name} is not a CNN Studio model: its header is not text. {_CHOOSE}")
    if dtype.itemsize // 4 > MAX_HEADER_CHARS:
        raise ModelFileError(f"{name} is damaged: its header declares {dtype.itemsize // 4:,} characters, more "
                             f"than the {MAX_HEADER_CHARS:,} a model file holds. {_RESAVE}")
    text = npz.read("header", 4 * MAX_HEADER_CHARS).item()
    depth = _nesting_depth(text)
    if depth > MAX_HEADER_DEPTH:
        raise ModelFileError(f"{name} is damaged: its header nests {depth:,} levels deep (a model's nests 3). "
                             f"{_RESAVE}")
    try:
        header = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{name} is damaged: its header is not valid JSON ({err.msg} at character "
                             f"{err.pos}). {_RESAVE}") from None
    except (ValueError, RecursionError) as err:  # e.g. an integer of more than 4300 digits
        raise ModelFileError(f"{name} is damaged: its header cannot be read ({err}). {_RESAVE}") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{name} is not a CNN Studio model: its header is not a JSON object. {_CHOOSE}")
    return header


_JSON_ESCAPE = re.compile(r"\\.", re.DOTALL)
_JSON_STRING = re.compile(r'"[^"]*"?')  # once escapes are gone a string is plain; an unclosed one runs to the end
_OPENING, _CLOSING = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def _nesting_depth(text: str) -> int:
    """How deep JSON ``text`` nests lists and objects (brackets inside strings do not count).

    NOTE: counted in linear time with two flat regular expressions and NumPy, not with json.loads,
    which recurses once per level.  Up to the first error json.loads meets, it sees the same strings.
    """
    plain = _JSON_STRING.sub("", _JSON_ESCAPE.sub("", text))
    codes = np.frombuffer(plain.encode("utf-8", "surrogatepass"), np.uint8)  # brackets are single bytes
    steps = np.isin(codes, _OPENING).astype(np.int32) - np.isin(codes, _CLOSING)
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _check_format(name: str, header: dict) -> None:
    if header.get("format") != FILE_FORMAT:
        raise ModelFileError(f"{name} is not a CNN Studio model (its header says format "
                             f"{_short(header.get('format'))}). {_CHOOSE}")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{name} is damaged: its format version {_short(version)} is not a number. {_RESAVE}")
    if version > FILE_VERSION:
        raise ModelFileError(f"{name} was saved by a newer CNN Studio (model format version {_count(version)}; this "
                             f"one reads up to {FILE_VERSION}). Fix: update CNN Studio.")


_WHOLE_FIELDS = ("filters", "kernel", "stride", "padding", "pool_size", "pool_stride", "units")


def _architecture_from(name: str, header: dict) -> tuple[list, tuple, list[tuple]]:
    """The header's layers, input shape and the shape of every parameter array, all sizes within limits."""
    input_shape = header.get("input_shape")
    if (not isinstance(input_shape, list) or len(input_shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in input_shape)):
        raise ModelFileError(f"{name} is damaged: its input shape {_short(input_shape)} is not three whole numbers "
                             f"(channels, height, width). {_RESAVE}")
    if input_shape[0] > MAX_INPUT_CHANNELS or max(input_shape[1:]) > MAX_INPUT_SIDE:
        raise ModelFileError(f"{name} describes a network for {_short(input_shape)} inputs, larger than CNN Studio "
                             f"reads (at most {MAX_INPUT_CHANNELS} channels of {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE}). "
                             f"{_CHOOSE}")
    layer_dicts = header.get("layers")
    if not isinstance(layer_dicts, list) or not all(isinstance(d, dict) for d in layer_dicts):
        raise ModelFileError(f"{name} is damaged: its layer list is missing or malformed. {_RESAVE}")
    if len(layer_dicts) > MAX_LAYERS:
        raise ModelFileError(f"{name} describes {len(layer_dicts):,} layers, more than the {MAX_LAYERS} CNN Studio "
                             f"loads. {_CHOOSE}")
    for index, fields in enumerate(layer_dicts, start=1):
        for key in _WHOLE_FIELDS:
            value = fields.get(key, 0)
            if key == "padding" and value == "same":
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise ModelFileError(f"{name} is damaged: layer {index}'s {key} is {_short(value)}, not a whole "
                                     f"number. {_RESAVE}")
            if abs(value) > MAX_LAYER_SIZE:
                raise ModelFileError(f"{name} describes a layer {index} with {key} = {_count(value)}, more than the "
                                     f"{MAX_LAYER_SIZE:,} CNN Studio loads. {_CHOOSE}")
    try:
        layers = [spec_from_dict(d) for d in layer_dicts]
        reports = validate_layers(tuple(input_shape), layers)
    except (TypeError, ValueError) as err:
        reason = str(err) if "Fix:" in str(err) else f"{str(err).rstrip('.')}. {_CHOOSE}"
        raise ModelFileError(f"{name} describes a network that cannot be built: {reason}") from None
    shapes, largest_map = [], 0
    for spec, report in zip(layers, reports):
        if isinstance(spec, ConvSpec):
            channels, height, width = report.input_shape
            shapes += [(spec.filters, channels, spec.kernel, spec.kernel), (spec.filters,)]
            out_h = resolve_padding(height, spec.kernel, spec.stride, spec.padding)[0]
            out_w = resolve_padding(width, spec.kernel, spec.stride, spec.padding)[0]
            largest_map = max(largest_map, spec.filters * out_h * out_w)
        else:
            shapes += [(spec.units, math.prod(report.input_shape)), (spec.units,)]
    total = sum(math.prod(shape) for shape in shapes)
    if total > MAX_PARAMETERS or largest_map > MAX_MAP_VALUES:
        what = (f"{total:,} weights, more than the {MAX_PARAMETERS:,}" if total > MAX_PARAMETERS else
                f"feature maps of {largest_map:,} values, more than the {MAX_MAP_VALUES:,}")
        raise ModelFileError(f"{name} describes a network with {what} CNN Studio loads. {_CHOOSE}")
    return layers, tuple(input_shape), shapes


def _read_params(name: str, npz: BoundedNpz, header: dict, shapes: list[tuple]) -> list[np.ndarray]:
    """The parameter arrays as float32, each one's declared shape and type checked before it is read."""
    expected = len(shapes)
    keys = [f"p{k}" for k in range(expected)]
    in_file = [key for key in npz.names if key not in ("header", REPLAY_ENTRY)]
    if set(in_file) != set(keys) or header.get("params", expected) != expected:
        raise ModelFileError(f"{name} is damaged: its {len(in_file)} weight arrays do not fit its "
                             f"{expected // 2}-layer network, which needs {expected}. {_RESAVE}")
    params = []
    for k, (key, shape) in enumerate(zip(keys, shapes)):
        kind = "weights" if k % 2 == 0 else "biases"
        declared, dtype = npz.declared(key)
        if declared != shape:
            raise ModelFileError(f"{name} is damaged: layer {k // 2 + 1}'s {kind} have shape {declared} but "
                                 f"its architecture needs {shape}. {_RESAVE}")
        if dtype.kind != "f":
            raise ModelFileError(f"{name} is damaged: layer {k // 2 + 1}'s {kind} are {dtype}, not "
                                 f"floating point. {_RESAVE}")
        array = npz.read(key, math.prod(shape) * dtype.itemsize)
        if not np.isfinite(array).all():
            raise ModelFileError(f"{name} holds NaN or infinite {kind} in layer {k // 2 + 1} (saved from a "
                                 f"diverged training run?). Fix: retrain with a lower learning rate, or "
                                 f"choose another model.")
        largest = float(np.abs(array).max(initial=0.0))
        if largest > MAX_WEIGHT:
            raise ModelFileError(f"{name} holds {kind} beyond ±1,000,000 in layer {k // 2 + 1} (up to "
                                 f"{largest:.3g}), which make its predictions overflow into NaN. Fix: retrain "
                                 f"with a lower learning rate, or choose another model.")
        params.append(array.astype(np.float32))
    return params


def _count(value: int) -> str:  # thousands separators; an absurdly long number is cut short
    return f"{value:,}" if abs(value) < 10 ** 15 else _short(value)


def _locked_from(name: str, header: dict, network: Network) -> frozenset:
    locked = header.get("locked", [])
    pairs = set()
    if isinstance(locked, list):
        for item in locked:
            if (isinstance(item, list) and len(item) == 2 and all(isinstance(v, int) for v in item)
                    and 0 <= item[0] < len(network.layers) and 0 <= item[1] < network.weight(item[0]).shape[0]):
                pairs.add((item[0], item[1]))
            else:
                break
        else:
            return frozenset(pairs)
    raise ModelFileError(f"{name} is damaged: its locked kernels {locked!r} do not fit the network. {_RESAVE}")


# ---------------------------------------------------------------- the shipped model

def load_default_network(path=None) -> Network:
    """The pretrained network that ships with CNN Studio (a new copy on every call).

    If the file is missing or damaged, logs a warning and returns a fresh
    ``Network(seed=0)`` of the default architecture, so the app still starts.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    try:
        stamp = path.stat().st_mtime_ns
        return _load_cached(str(path), stamp).copy()
    except (OSError, ModelFileError) as err:
        reason = err if isinstance(err, ModelFileError) else f"{path} cannot be read ({err})"
        log.warning("the pretrained model is unavailable, starting from random weights: %s", reason)
        return Network(seed=0)


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, stamp: int) -> Network:
    # keyed by the modification time too, so a retrained default file is picked up
    return load_model(path).network
