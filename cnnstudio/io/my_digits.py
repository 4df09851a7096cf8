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

from cnnstudio.io.atomic import save_npz_atomically
from cnnstudio.io.datasets import IMAGE_SIZE, NUM_CLASSES, DatasetError, Digits
from cnnstudio.base.events import EventGroup

USES = ("train", "test", "both")
FILE_FORMAT = "cnnstudio-my-digits"
FILE_VERSION = 1


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
    """Every drawing in a saved set, fully checked; raises DatasetError on any problem."""
    fix = "Fix: choose a file saved by CNN Studio's My digits, or move this one away to start afresh."
    try:
        loaded = np.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):  # a lone .npy array, not an npz archive
            raise DatasetError(f"{path.name} is not a CNN Studio 'my digits' file (it holds one "
                               f"{loaded.shape} array). {fix}")
        with loaded as npz:
            names = sorted(npz.files)
            if "format" not in names or str(npz["format"]) != FILE_FORMAT:
                raise DatasetError(f"{path.name} is not a CNN Studio 'my digits' file (it holds "
                                   f"{', '.join(names) or 'nothing'}). {fix}")
            version = int(npz["version"]) if "version" in names else 0
            if version > FILE_VERSION:
                raise DatasetError(f"{path.name} was saved by a newer CNN Studio (format version {version}). "
                                   f"Fix: update CNN Studio.")
            missing = [name for name in ("images", "labels", "uses") if name not in names]
            if missing:
                raise DatasetError(f"{path.name} is damaged: it has no {', '.join(missing)}. {fix}")
            images, labels, uses = npz["images"], npz["labels"], npz["uses"]
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"{path.name} does not exist ({path}). Fix: check the file name and folder.") from None
    except (OSError, ValueError, TypeError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise DatasetError(f"{path.name} is damaged or not a 'my digits' file ({type(err).__name__}: {err}). "
                           f"{fix}") from err
    n = len(labels)
    if (images.shape != (n, *IMAGE_SIZE) or uses.shape != (n,) or images.dtype.kind != "f"
            or labels.dtype.kind not in "iu" or uses.dtype.kind != "U"):
        raise DatasetError(f"{path.name} is damaged: images {images.shape} {images.dtype}, labels {labels.shape} "
                           f"{labels.dtype} and uses {uses.shape} {uses.dtype} do not fit together. {fix}")
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
