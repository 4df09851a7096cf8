"""The data sets CNN Studio knows by name: full MNIST (shipped) and Fashion-MNIST (a Debian package).

Qt-free.  Both hold 60,000 training and 10,000 test images of 28x28.  Their uint8 arrays are
read once per process and kept (about 55 MB each); every ``load_*`` call converts them to new
float32 ``Digits`` (the caller keeps those as long as it needs them).  The shipped 5,000
digits, the IDX reader and ``Digits`` are in datasets.py.

- ``mnist_full.npz`` (``MNIST_FULL_PATH``) is checked against ``MNIST_FULL_SHA256`` when read.
- Fashion-MNIST (Zalando Research, MIT licence) is not shipped: Debian's
  ``dataset-fashion-mnist`` puts its four gzipped IDX files in ``FASHION_DIR`` (``bootstrap.sh``
  installs it when run as root).  Its classes are ``FASHION_NAMES``.
- ``mnist_full_loaded`` and ``fashion_mnist_loaded`` say, without reading anything, whether a
  ``load_*`` call would find its arrays already read (a GUI can then read them off its thread first).
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np

from cnnstudio.io.class_names import FASHION_NAMES
from cnnstudio.io.datasets import (IMAGE_SIZE, MNIST_FULL_PATH, MNIST_FULL_SHA256, NUM_CLASSES, DatasetError, Digits,
                                   _checked_idx_pair, _open_regular_file, _read_up_to)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
FASHION_FIX = ("Fix: install it (sudo apt-get install dataset-fashion-mnist), or open its IDX files "
               "(File > Open IDX data set; on the command line --data idx).")


def load_mnist_full(path: str | Path = MNIST_FULL_PATH,
                    expected_sha256: str | None = MNIST_FULL_SHA256) -> tuple[Digits, Digits]:
    """All of MNIST as (train, test): 60,000 and 10,000 digits, as MNIST splits them.

    The file is read and its SHA-256 checked once per process (``expected_sha256=None`` skips
    the check); every call returns new float32 ``Digits`` made from the kept uint8 arrays.
    """
    arrays = _cached_npz_digits(*_file_key(path), expected_sha256)
    return (Digits.from_uint8(arrays[0], arrays[1], "MNIST full (train)"),
            Digits.from_uint8(arrays[2], arrays[3], "MNIST full (test)"))


def mnist_full_loaded(path: str | Path = MNIST_FULL_PATH, expected_sha256: str | None = MNIST_FULL_SHA256) -> bool:
    """True when ``load_mnist_full`` would find the file already read and checked (no reading, no checksum)."""
    try:
        return _cached_npz_digits.holds(*_file_key(path), expected_sha256)
    except DatasetError:
        return False


def fashion_mnist_loaded(folder: str | Path | None = None) -> bool:
    """True when ``load_fashion_mnist`` would find its files already read (no reading, no unzipping)."""
    folder = Path(folder) if folder is not None else FASHION_DIR
    try:
        return _cached_idx_sets.holds(tuple(_file_key(folder / name) for name in FASHION_FILES))
    except DatasetError:
        return False


def _kept_results(maxsize: int):
    """``functools.lru_cache(maxsize)`` that can also say whether it holds a result: ``.holds(*args)``.

    NOTE: lru_cache cannot be asked about a key without computing it; the keys are mirrored here,
    in the same least-recently-used order, under a lock (loads run on a worker thread, questions on the GUI's).
    """
    def decorate(function):
        cached = functools.lru_cache(maxsize=maxsize)(function)
        held: dict = {}
        lock = threading.Lock()

        @functools.wraps(function)
        def call(*args):
            result = cached(*args)  # raises for a bad file: nothing is held then
            with lock:
                held.pop(args, None)
                held[args] = True
                while len(held) > maxsize:
                    del held[next(iter(held))]
            return result

        def holds(*args) -> bool:
            with lock:
                return args in held

        def cache_clear() -> None:
            with lock:
                held.clear()
                cached.cache_clear()

        call.holds, call.cache_clear, call.cache_info = holds, cache_clear, cached.cache_info
        return call
    return decorate


def _file_key(path) -> tuple[str, int, int]:
    """(path, modification time, size): a cache key that changes when the file does."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing. Fix: reinstall CNN Studio, or rebuild it with "
                           f"scripts/build_digits.py --full.") from None
    except OSError as err:
        raise DatasetError(f"{path} cannot be read ({err.strerror or err}). Fix: check that you may read it.") from None
    return str(path), info.st_mtime_ns, info.st_size


@_kept_results(maxsize=2)
def _cached_npz_digits(path: str, mtime_ns: int, size: int, expected_sha256: str | None) -> tuple[np.ndarray, ...]:
    """(train images, train labels, test images, test labels) of a full-MNIST npz, uint8, checked."""
    path = Path(path)
    fix = "Fix: reinstall CNN Studio, or rebuild it with scripts/build_digits.py --full."
    with _open_regular_file(path) as stream:
        data = _read_up_to(stream, size + 1, path)
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise DatasetError(f"{path.name} is damaged or not the one shipped (its SHA-256 checksum differs). {fix}")
    arrays = []
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for part in ("train", "test"):
                images, labels = npz[f"{part}_images"], npz[f"{part}_labels"]
                if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SIZE or labels.shape != images.shape[:1] \
                        or labels.dtype != np.uint8 or labels.size and labels.max() >= NUM_CLASSES:
                    raise ValueError(f"its {part} arrays are {images.dtype} {images.shape} and {labels.dtype} "
                                     f"{labels.shape}, not uint8 (N, 28, 28) and labels 0..9")
                arrays += [images, labels]
    except (OSError, ValueError, KeyError, EOFError, AttributeError, zipfile.BadZipFile, zlib.error) as err:
        raise DatasetError(f"{path.name} is damaged ({type(err).__name__}: {err}). {fix}") from None
    return _kept(arrays)


def _kept(arrays: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The arrays, read-only: they are shared by every caller for the life of the process."""
    for array in arrays:
        array.flags.writeable = False
    return tuple(arrays)


def fashion_mnist_available(folder: str | Path | None = None) -> bool:
    """True when the Fashion-MNIST files (Debian's ``dataset-fashion-mnist``) are in ``folder``."""
    folder = Path(folder) if folder is not None else FASHION_DIR
    return all((folder / name).is_file() for name in FASHION_FILES)


def load_fashion_mnist(folder: str | Path | None = None) -> tuple[Digits, Digits]:
    """Fashion-MNIST as (train, test): 60,000 and 10,000 pictures of clothes in 10 classes (``FASHION_NAMES``).

    Read from ``folder`` (default ``FASHION_DIR``) once per process; every call returns new
    float32 ``Digits``.  Raises ``DatasetError`` with the fix when it is not installed.
    """
    folder = Path(folder) if folder is not None else FASHION_DIR
    missing = [name for name in FASHION_FILES if not (folder / name).is_file()]
    if missing:
        raise DatasetError(f"Fashion-MNIST is not installed on this machine ({folder} has no {missing[0]}). "
                           f"{FASHION_FIX}")
    key = tuple(_file_key(folder / name) for name in FASHION_FILES)
    train_images, train_labels, test_images, test_labels = _cached_idx_sets(key)
    return (Digits.from_uint8(train_images, train_labels, "Fashion-MNIST (train)", FASHION_NAMES),
            Digits.from_uint8(test_images, test_labels, "Fashion-MNIST (test)", FASHION_NAMES))


@_kept_results(maxsize=1)
def _cached_idx_sets(key: tuple) -> tuple[np.ndarray, ...]:
    """The uint8 (images, labels) of two IDX pairs, keyed by the four files' (path, time, size)."""
    (train_images, _, _), (train_labels, _, _), (test_images, _, _), (test_labels, _, _) = key
    arrays = []
    for images_path, labels_path in ((train_images, train_labels), (test_images, test_labels)):
        images, labels = _checked_idx_pair(Path(images_path), Path(labels_path), IMAGE_SIZE, False)
        if images.dtype != np.uint8:
            raise DatasetError(f"{Path(images_path).name} holds {images.dtype} pixels, not bytes. Fix: reinstall "
                               f"dataset-fashion-mnist.")
        arrays += [images, labels.astype(np.uint8)]
    return _kept(arrays)
