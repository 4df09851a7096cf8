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
       "params": 6}                               # number of parameter arrays

- ``p0`` .. ``pN-1``  float32 parameter arrays in ``Network.params`` order (w0, b0, w1, b1, ...)

The history holds two groups of curves, each a set of equally long lists of finite
numbers: ``step``, ``loss``, ``train_acc`` (one value each per training step) and
``test_step``, ``test_loss``, ``test_acc`` (one each per test evaluation).  A group
may be left out (no values); keys this version does not know are ignored, so a
newer CNN Studio may add curves without making its files unreadable here.

Saving is atomic (temporary file in the same folder, flushed to disk, renamed
over the target), so a failed save never leaves a half-written model and keeps
the previous file whole.  Loading checks everything and raises ``ModelFileError``
with a one-line reason and fix; it builds a new ``Network`` and never touches
the caller's.

This module knows the file format, not what the training settings mean: they are a
plain dict here, turned into ``TrainingSettings`` (and checked) by ``core/document.py``.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import numbers
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstudio.engine import Network, spec_from_dict, spec_to_dict, validate_layers

from cnnstudio.io.atomic import save_npz_atomically
from cnnstudio.io.datasets import RESOURCES

FILE_FORMAT = "cnnstudio-model"
FILE_VERSION = 1
SUFFIX = ".cnnmodel"
DEFAULT_MODEL_PATH = RESOURCES / "models" / f"default{SUFFIX}"

log = logging.getLogger(__name__)


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

    @property
    def test_accuracy(self) -> float | None:
        return self.header.get("test_accuracy")


# ---------------------------------------------------------------- saving

def save_model(path, network: Network, locked=frozenset(), settings: dict | None = None,
               history: dict | None = None, test_accuracy: float | None = None) -> Path:
    """Write ``network`` (and what is known about its training) to ``path`` atomically.

    ``test_accuracy`` defaults to the last test accuracy in ``history``.  Raises
    ``ValueError`` for weights that are NaN/inf (they could not be loaded back)
    and ``OSError`` when the folder cannot be written; the old file stays whole.
    Returns the path written.
    """
    path = Path(path)
    for k, p in enumerate(network.params):
        if not np.isfinite(p).all():
            raise ValueError(f"cannot save: layer {k // 2 + 1} has NaN or infinite weights. "
                             f"Fix: revert to the last good weights or retrain.")
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
        "params": len(network.params),
    }
    arrays = {"header": np.array(json.dumps(header, separators=(",", ":")))}
    arrays.update({f"p{k}": np.ascontiguousarray(p, dtype=np.float32) for k, p in enumerate(network.params)})
    return save_npz_atomically(path, arrays)


# ---------------------------------------------------------------- loading

_CHOOSE = "Fix: choose a .cnnmodel file saved by CNN Studio."
_RESAVE = "Fix: save or train the model again, or choose another .cnnmodel file."


def load_model(path) -> LoadedModel:
    """Read a model file; raises ``ModelFileError`` (one line: what is wrong and the fix)."""
    path = Path(path)
    name = path.name
    arrays, header = _read_archive(path)
    if header.get("format") != FILE_FORMAT:
        raise ModelFileError(f"{name} is not a CNN Studio model (its header says format "
                             f"{header.get('format')!r}). {_CHOOSE}")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{name} is damaged: its format version {version!r} is not a number. {_RESAVE}")
    if version > FILE_VERSION:
        raise ModelFileError(f"{name} was saved by a newer CNN Studio (model format version {version}; this one "
                             f"reads up to {FILE_VERSION}). Fix: update CNN Studio.")
    network = _network_from(name, header, arrays)
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
    return LoadedModel(network, locked, settings, history, header)


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


def _read_archive(path: Path) -> tuple[dict, dict]:
    """The parameter arrays and the parsed JSON header of an npz model file."""
    name = path.name
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except FileNotFoundError:
        raise ModelFileError(f"{name} does not exist ({path}). Fix: check the file name and folder, or train "
                             f"a model with 'python -m cnnstudio train'.") from None
    except IsADirectoryError:
        raise ModelFileError(f"{name} is a folder, not a model file. {_CHOOSE}") from None
    except OSError as err:
        raise ModelFileError(f"{name} cannot be read ({err.strerror}). Fix: check that you may read it.") from None
    if not start:
        raise ModelFileError(f"{name} is empty (0 bytes). {_RESAVE}")
    if start != b"PK\x03\x04":
        raise ModelFileError(f"{name} is not a CNN Studio model: it is not an npz (zip) archive. {_CHOOSE}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{name} is truncated: the end of the archive is missing (an interrupted copy or "
                             f"download?). {_RESAVE}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if "header" not in names:
                shown = ", ".join(sorted(names)[:6]) + (", ..." if len(names) > 6 else "")
                raise ModelFileError(f"{name} is an npz archive but not a CNN Studio model (it holds "
                                     f"{shown or 'nothing'}, no header). {_CHOOSE}")
            raw_header = npz["header"]
            arrays = {key: npz[key] for key in names if key != "header"}
    except ModelFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ModelFileError(f"{name} is damaged ({type(err).__name__}: {err}). {_RESAVE}") from None
    if raw_header.dtype.kind != "U" or raw_header.shape != ():
        raise ModelFileError(f"{name} is not a CNN Studio model: its header is not text. {_CHOOSE}")
    try:
        header = json.loads(str(raw_header))
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{name} is damaged: its header is not valid JSON ({err.msg} at character "
                             f"{err.pos}). {_RESAVE}") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{name} is not a CNN Studio model: its header is not a JSON object. {_CHOOSE}")
    return arrays, header


def _network_from(name: str, header: dict, arrays: dict) -> Network:
    """A new network of the header's architecture with the file's weights, every shape checked."""
    input_shape = header.get("input_shape")
    if (not isinstance(input_shape, list) or len(input_shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in input_shape)):
        raise ModelFileError(f"{name} is damaged: its input shape {input_shape!r} is not three whole numbers "
                             f"(channels, height, width). {_RESAVE}")
    layer_dicts = header.get("layers")
    if not isinstance(layer_dicts, list) or not all(isinstance(d, dict) for d in layer_dicts):
        raise ModelFileError(f"{name} is damaged: its layer list is missing or malformed. {_RESAVE}")
    try:
        layers = [spec_from_dict(d) for d in layer_dicts]
        validate_layers(tuple(input_shape), layers)
    except (TypeError, ValueError) as err:
        reason = str(err) if "Fix:" in str(err) else f"{str(err).rstrip('.')}. {_CHOOSE}"
        raise ModelFileError(f"{name} describes a network that cannot be built: {reason}") from None
    network = Network(layers, tuple(input_shape), seed=0)
    expected = len(network.params)
    keys = [f"p{k}" for k in range(expected)]
    missing = [key for key in keys if key not in arrays]
    extra = sorted(set(arrays) - set(keys))
    if missing or extra or header.get("params", expected) != expected:
        raise ModelFileError(f"{name} is damaged: its {len(arrays)} weight arrays do not fit its "
                             f"{len(layers)}-layer network, which needs {expected}. {_RESAVE}")
    params = []
    for k, (key, target) in enumerate(zip(keys, network.params)):
        array = arrays[key]
        kind = "weights" if k % 2 == 0 else "biases"
        if array.shape != target.shape:
            raise ModelFileError(f"{name} is damaged: layer {k // 2 + 1}'s {kind} have shape {array.shape} but "
                                 f"its architecture needs {target.shape}. {_RESAVE}")
        if array.dtype.kind != "f":
            raise ModelFileError(f"{name} is damaged: layer {k // 2 + 1}'s {kind} are {array.dtype}, not "
                                 f"floating point. {_RESAVE}")
        if not np.isfinite(array).all():
            raise ModelFileError(f"{name} holds NaN or infinite {kind} in layer {k // 2 + 1} (saved from a "
                                 f"diverged training run?). Fix: retrain with a lower learning rate, or "
                                 f"choose another model.")
        params.append(array.astype(np.float32))
    network.set_state(params)
    return network


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
