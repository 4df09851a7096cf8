"""Training data: the (train, test) digits a run uses, splits, and the one zero-fill image shift."""
from __future__ import annotations

import numpy as np

from pathlib import Path

from cnnstudio.io.catalog import load_fashion_mnist, load_mnist_full
from cnnstudio.io.class_names import ClassNamesError, find_class_names_file, read_class_names
from cnnstudio.io.datasets import Digits, load_idx_pair, load_mnist_5k

from .settings import TrainingSettings


def concat_digits(parts: list[Digits], name: str) -> Digits:
    """One ``Digits`` holding every image of ``parts`` (in order)."""
    class_names = parts[0].class_names if parts else Digits.class_names
    parts = [p for p in parts if len(p)]
    if not parts:
        return Digits(np.zeros((0, 1, 28, 28), np.float32), np.zeros(0, np.int64), name, class_names)
    return Digits(np.ascontiguousarray(np.concatenate([p.images for p in parts]), dtype=np.float32),
                  np.concatenate([p.labels for p in parts]).astype(np.int64), name, class_names)


def load_idx_set(images_path, labels_path, class_names_path=None) -> tuple[Digits, str]:
    """An IDX pair as ``Digits`` with class names, and a sentence about where the names came from.

    ``class_names_path`` is a text file of names, one per line; None looks for one beside the
    images file (``classes.txt``, ``class_names.txt``, ``classes.names`` or the only ``*.names``).
    A bad IDX file raises ``DatasetError``; a bad names file chosen explicitly raises
    ``ClassNamesError``, one found beside the images is skipped (digit names, and the sentence says why).
    """
    digits = load_idx_pair(images_path, labels_path)
    found = class_names_path is None
    names_path = find_class_names_file(images_path) if found else Path(class_names_path)
    if names_path is None:
        return digits, ""
    try:
        digits.class_names = read_class_names(names_path, len(digits.class_names))
    except ClassNamesError as err:
        if not found:
            raise
        return digits, f"Class names not used: {err}"
    return digits, f"Class names from {names_path.name}: {', '.join(digits.class_names)}."


def split_digits(digits: Digits, test_fraction: float = 1 / 6, seed: int = 0) -> tuple[Digits, Digits]:
    """Hold out a seeded random ``test_fraction`` of ``digits`` for testing: (train, test)."""
    order = np.random.default_rng(seed).permutation(len(digits))
    n_test = int(round(len(digits) * test_fraction)) if len(digits) > 1 else 0
    test_rows, train_rows = np.sort(order[:n_test]), np.sort(order[n_test:])
    return (Digits(digits.images[train_rows], digits.labels[train_rows], f"{digits.name} (train)", digits.class_names),
            Digits(digits.images[test_rows], digits.labels[test_rows], f"{digits.name} (test)", digits.class_names))


def make_dataset(settings: TrainingSettings, my_digits=None, idx=None) -> tuple[Digits, Digits]:
    """The (train, test) digits that ``settings.data`` asks for.

    Parameters
    ----------
    settings : its ``data`` picks the source ("mnist-full" and "fashion" convert 70,000 images to float32:
        about 0.1 s once read, 220 MB; "fashion" raises ``DatasetError`` with the fix when not installed)
    my_digits : a ``MyDigits`` (for "mine" and "mix"); its drawings marked "train"/"both" train,
        "test"/"both" test.  With no test drawings, "mine" tests on the shipped MNIST test digits.
    idx : for "idx", a ``Digits`` (from ``load_idx_pair``; one sixth is held out for testing)
        or a ``(train, test)`` pair of ``Digits``
    """
    settings.validate()
    if settings.data == "mnist":
        return load_mnist_5k()
    if settings.data == "mnist-full":
        return load_mnist_full()
    if settings.data == "fashion":
        return load_fashion_mnist()
    if settings.data == "idx":
        if idx is None:
            raise ValueError("no IDX data set is loaded. Fix: choose an images file and a labels file first.")
        if isinstance(idx, Digits):
            return split_digits(idx, seed=settings.seed)
        train, test = idx
        return train, test
    if my_digits is None or not len(my_digits.as_digits("train")):
        raise ValueError("there are no drawings of yours to train on. Fix: draw and label a few digits in "
                         "My digits (use: train or both), or train on MNIST.")
    mine_train, mine_test = my_digits.as_digits("train"), my_digits.as_digits("test")
    if settings.data == "mine":
        if len(mine_test):
            return mine_train, mine_test
        return mine_train, load_mnist_5k()[1]
    mnist_train, mnist_test = load_mnist_5k()
    return (concat_digits([mnist_train, mine_train], "MNIST 5k + my digits (train)"),
            concat_digits([mnist_test, mine_test], "MNIST 5k + my digits (test)"))


def shift_images(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move images (..., H, W) by ``dy`` rows down and ``dx`` columns right, filling with zeros.

    Like ``np.roll`` along the last two axes, except that what leaves one side
    does not come back on the other: the background (0) comes in instead.
    """
    images = np.asarray(images)
    out = np.zeros_like(images)
    H, W = images.shape[-2:]
    if abs(dy) >= H or abs(dx) >= W:
        return out
    rows_to = slice(max(dy, 0), H + min(dy, 0))
    rows_from = slice(max(-dy, 0), H + min(-dy, 0))
    cols_to = slice(max(dx, 0), W + min(dx, 0))
    cols_from = slice(max(-dx, 0), W + min(-dx, 0))
    out[..., rows_to, cols_to] = images[..., rows_from, cols_from]
    return out


def shift_each(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Move every image by its own (rows, cols) shift, filling with zeros (see ``shift_images``).

    images : (N, C, H, W) float32;  shifts : (N, 2) int.
    Returns a new (N, C, H, W) float32 array.
    """
    out = np.empty_like(images)
    for n in range(images.shape[0]):
        out[n] = shift_images(images[n], int(shifts[n, 0]), int(shifts[n, 1]))
    return out
