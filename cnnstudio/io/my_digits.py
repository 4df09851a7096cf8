"""My digits: the user's own labelled drawings, kept between sessions.

Qt-free.  Views send commands (``add``, ``remove``, ``clear``, ``load``) and listen to:

- ``digits_changed()``   a drawing was added or removed, or the whole set was replaced

Each drawing is a (28, 28) float32 image in [0, 1], a label 0..9 and a use: "train",
"test" or "both".  ``as_digits("train")`` gives every drawing whose use includes training,
ready to mix with the shipped digits.

The set lives in ``$XDG_DATA_HOME/cnnstudio/my_digits.npz`` (by default
``~/.local/share/cnnstudio/my_digits.npz``), an npz of:

- ``format``   "cnnstudio-my-digits"        ``version``  1
- ``images``   (N, 28, 28) float32 in [0, 1]
- ``labels``   (N,) int64 in 0..9
- ``uses``     (N,) str, each "train", "test" or "both"

Saving is atomic: the set is written to a temporary file in the same folder, flushed to
disk, then renamed over the old file, so a crash mid-save leaves the previous file whole.
Loading validates everything before touching the current set.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from cnnstudio.io.atomic import BoundedNpz, NpzLimitError, file_kind, read_npy_shape, save_npz_atomically
from cnnstudio.io.datasets import IMAGE_SIZE, NUM_CLASSES, DatasetError, Digits
from cnnstudio.base.events import EventGroup

USES = ("train", "test", "both")
FILE_FORMAT = "cnnstudio-my-digits"
FILE_VERSION = 1
MAX_DRAWINGS = 100_000  # a file declaring more is refused before anything is allocated (313 MB of float32)


def default_path() -> Path:
    """Where the user's drawings are kept: $XDG_DATA_HOME/cnnstudio/my_digits.npz or ~/.local/share/..."""
    data_home = os.environ.get("XDG_DATA_HOME", "")
    # the XDG spec says to ignore a relative path
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "cnnstudio" / "my_digits.npz"


@dataclass(frozen=True)
class MyDigit:
    """One drawing: image (28, 28) float32 in [0, 1], label 0..9, use "train" | "test" | "both"."""

    image: np.ndarray
    label: int
    use: str


def _checked_image(image) -> np.ndarray:
    image = np.array(image, dtype=np.float32)  # a copy: later edits to the caller's array must not leak in
    if image.shape != IMAGE_SIZE:
        raise ValueError(f"a drawing must be {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}, got shape {image.shape}")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError("a drawing's pixels must be finite and in [0, 1]")
    image.flags.writeable = False
    return image


def _checked_label(label) -> int:
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise ValueError(f"a label must be a whole number 0..9, got {label!r}")
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"a label must be 0..9, got {label}")
    return int(label)


def _checked_use(use) -> str:
    if use not in USES:
        raise ValueError(f"use must be one of {', '.join(USES)}, got {use!r}")
    return str(use)


class MyDigits:
    """The user's labelled drawings, in the order they were added."""

    def __init__(self, path: str | Path | None = None):
        self.events = EventGroup("digits_changed")
        self.path = Path(path) if path is not None else default_path()
        self._items: list[MyDigit] = []

    # -- reading
    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[MyDigit]:
        return iter(list(self._items))

    def __getitem__(self, index: int) -> MyDigit:
        return self._items[index]

    @property
    def items(self) -> tuple[MyDigit, ...]:
        return tuple(self._items)

    def as_digits(self, use: str = "train") -> Digits:
        """The drawings for ``use`` ("train", "test" or "all") as ``Digits``; "both" drawings go in train and test."""
        if use not in ("train", "test", "all"):
            raise ValueError(f"use must be 'train', 'test' or 'all', got {use!r}")
        chosen = [item for item in self._items if use == "all" or item.use in (use, "both")]
        images = np.zeros((len(chosen), 1, *IMAGE_SIZE), dtype=np.float32)
        for row, item in enumerate(chosen):
            images[row, 0] = item.image
        labels = np.array([item.label for item in chosen], dtype=np.int64)
        return Digits(images, labels, f"My digits ({use})")

    # -- changing
    def add(self, image, label: int, use: str = "both") -> int:
        """Add a drawing: image (28, 28) in [0, 1], label 0..9; returns its index."""
        self._items.append(MyDigit(_checked_image(image), _checked_label(label), _checked_use(use)))
        self.events.digits_changed.emit()
        return len(self._items) - 1

    def remove(self, index: int) -> None:
        """Remove the drawing at ``index`` (IndexError if there is none)."""
        if not -len(self._items) <= index < len(self._items):
            raise IndexError(f"there is no drawing {index}; there are {len(self._items)}")
        del self._items[index]
        self.events.digits_changed.emit()

    def clear(self) -> None:
        self._items.clear()
        self.events.digits_changed.emit()

    # -- files
    def save(self, path: str | Path | None = None) -> Path:
        """Write the set to ``path`` (default: ``self.path``) atomically; returns the path written."""
        path = Path(path) if path is not None else self.path
        arrays = {
            "format": np.array(FILE_FORMAT),
            "version": np.array(FILE_VERSION, dtype=np.int64),
            "images": np.array([item.image for item in self._items], dtype=np.float32).reshape(-1, *IMAGE_SIZE),
            "labels": np.array([item.label for item in self._items], dtype=np.int64),
            "uses": np.array([item.use for item in self._items], dtype="<U5"),
        }
        return save_npz_atomically(path, arrays)

    def load(self, path: str | Path | None = None, missing_ok: bool = False) -> bool:
        """Replace the set with the one saved in ``path`` (default: ``self.path``).

        Returns False, changing nothing, when the file does not exist and ``missing_ok``
        (the first run); otherwise a missing, damaged or foreign file raises
        ``DatasetError`` and the current set stays as it was.
        """
        path = Path(path) if path is not None else self.path
        if missing_ok and not path.exists():
            return False
        items = _read_file(path)
        self._items = items
        self.events.digits_changed.emit()
        return True


def _read_file(path: Path) -> list[MyDigit]:
    """Every drawing in a saved set, fully checked; raises DatasetError on any problem.

    The arrays' declared shapes are checked (at most ``MAX_DRAWINGS``) before any is read.
    """
    fix = "Fix: choose a file saved by CNN Studio's My digits, or move this one away to start afresh."
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is not None:  # a named pipe would block the reader for ever
            raise DatasetError(f"{path.name} is {kind}, not a 'my digits' file. {fix}")
        lone = read_npy_shape(path)
        if lone is not None:  # a lone .npy array, not an npz archive
            raise DatasetError(f"{path.name} is not a CNN Studio 'my digits' file (it holds one "
                               f"{lone[0]} array). {fix}")
        with BoundedNpz(path, max_members=16) as npz:
            names = sorted(npz.names)
            if "format" not in names or _text(npz, "format") != FILE_FORMAT:
                raise DatasetError(f"{path.name} is not a CNN Studio 'my digits' file (it holds "
                                   f"{', '.join(names) or 'nothing'}). {fix}")
            version = int(npz.read("version", 64)) if "version" in names else 0
            if version > FILE_VERSION:
                raise DatasetError(f"{path.name} was saved by a newer CNN Studio (format version {version}). "
                                   f"Fix: update CNN Studio.")
            missing = [name for name in ("images", "labels", "uses") if name not in names]
            if missing:
                raise DatasetError(f"{path.name} is damaged: it has no {', '.join(missing)}. {fix}")
            declared = {name: npz.declared(name) for name in ("images", "labels", "uses")}
            _check_declared(path.name, declared, fix)
            # the shapes are checked: the limit only keeps an absurd element type out
            images, labels, uses = (npz.read(name, MAX_DRAWINGS * IMAGE_SIZE[0] * IMAGE_SIZE[1] * 8)
                                    for name in ("images", "labels", "uses"))
    except DatasetError:
        raise
    except NpzLimitError as err:
        raise DatasetError(f"{path.name} is damaged or not a 'my digits' file: {err}. {fix}") from None
    except FileNotFoundError:
        raise DatasetError(f"{path.name} does not exist ({path}). Fix: check the file name and folder.") from None
    except (OSError, ValueError, TypeError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise DatasetError(f"{path.name} is damaged or not a 'my digits' file ({type(err).__name__}: {err}). "
                           f"{fix}") from err
    n = len(labels)
    if n and (not np.isfinite(images).all() or images.min() < 0 or images.max() > 1):
        raise DatasetError(f"{path.name} is damaged: some pixels are outside 0..1. {fix}")
    if n and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DatasetError(f"{path.name} is damaged: some labels are outside 0..9. {fix}")
    bad_uses = sorted(set(uses.tolist()) - set(USES))
    if bad_uses:
        raise DatasetError(f"{path.name} is damaged: unknown uses {', '.join(map(repr, bad_uses))}. {fix}")
    items = []
    for image, label, use in zip(images.astype(np.float32), labels.tolist(), uses.tolist()):
        image = np.ascontiguousarray(image)
        image.flags.writeable = False
        items.append(MyDigit(image, int(label), str(use)))
    return items


def _text(npz: BoundedNpz, name: str) -> str | None:
    """A short text scalar of the archive, or None when ``name`` holds something else."""
    shape, dtype = npz.declared(name)
    if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * 64:
        return None
    return str(npz.read(name, 4 * 64).item())


def _check_declared(name: str, declared: dict, fix: str) -> None:
    """``DatasetError`` unless the declared images, labels and uses fit together, with at most ``MAX_DRAWINGS``."""
    (images, images_dtype), (labels, labels_dtype), (uses, uses_dtype) = (
        declared["images"], declared["labels"], declared["uses"])
    n = labels[0] if len(labels) == 1 else -1
    if n > MAX_DRAWINGS:
        raise DatasetError(f"{name} declares {n:,} drawings, more than the {MAX_DRAWINGS:,} CNN Studio keeps. {fix}")
    if (images != (n, *IMAGE_SIZE) or uses != (n,) or images_dtype.kind != "f" or labels_dtype.kind not in "iu"
            or uses_dtype.kind != "U" or uses_dtype.itemsize > 4 * 16):
        raise DatasetError(f"{name} is damaged: images {images} {images_dtype}, labels {labels} {labels_dtype} "
                           f"and uses {uses} {uses_dtype} do not fit together. {fix}")
