"""The IDX data set of the Training panel: open an images and a labels file, and name their classes.

``IdxData`` is a part of ``QtTrainingPanel`` (panel.py), which provides ``idx_digits``,
``data_combo`` and ``show_status``; the dialogs are plain functions.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from cnnstudio.io.class_names import ClassNamesError, read_class_names
from cnnstudio.io.datasets import DatasetError
from cnnstudio.training.data import load_idx_set


def ask_idx_files(parent) -> tuple[str, str] | None:
    """Ask for an IDX images file, then its labels file (the likely one preselected); None if cancelled."""
    images, _ = QFileDialog.getOpenFileName(parent, "Open IDX images file", "",
                                            "IDX images (*idx3-ubyte* *.idx3* *.gz);;All files (*)")
    if not images:
        return None
    guess = images.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1")
    start = guess if guess != images and Path(guess).exists() else str(Path(images).parent)
    labels, _ = QFileDialog.getOpenFileName(parent, "Open the matching IDX labels file", start,
                                            "IDX labels (*idx1-ubyte* *.idx1* *.gz);;All files (*)")
    return (images, labels) if labels else None


def ask_class_names_file(parent, folder="") -> str | None:
    """Ask for a text file of class names, one per line (``classes.txt``, ``*.names``); None if cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open class names (one per line)", str(folder),
                                          "Class names (*.txt *.names);;All files (*)")
    return path or None


class IdxData:
    """Open an IDX data set as the panel's "idx" data, and name its classes."""

    idx_digits = None
    _idx_folder = ""

    def open_idx_dialog(self) -> None:
        """Ask for an IDX images file, then its labels file, and open them."""
        files = ask_idx_files(self)
        if files:
            self.open_idx(*files)

    def open_idx(self, images_path, labels_path, class_names_path=None) -> bool:
        """Read an IDX pair and choose it as the data; a bad file is explained and the data stays as it was.

        Class names come from ``class_names_path`` or a ``classes.txt``/``*.names`` file beside the images.
        """
        try:
            digits, names_note = load_idx_set(images_path, labels_path, class_names_path)
        except (DatasetError, ClassNamesError) as err:
            QMessageBox.warning(self, "Cannot open this data set", str(err))
            return False
        self.idx_digits = digits
        self._idx_folder = Path(images_path).parent
        index = self.data_combo.findData("idx")
        self.data_combo.setItemText(index, f"IDX: {digits.name} ({len(digits):,} images)")
        self.data_combo.setCurrentIndex(index)
        self.show_status(f"Opened {digits.name}: {len(digits):,} images; one sixth is kept aside for testing. "
                         f"{names_note}".strip())
        return True

    def class_names_dialog(self) -> None:
        """Ask for a class-names file for the opened IDX data set."""
        if self.idx_digits is None:
            self.show_status("Open an IDX data set first (Open…), then choose its class names.", error=True)
            return
        path = ask_class_names_file(self, self._idx_folder)
        if path:
            self.set_idx_class_names(path)

    def set_idx_class_names(self, path) -> bool:
        """Name the opened IDX set's classes from a text file (one name per line); a bad file changes nothing."""
        try:
            self.idx_digits.class_names = read_class_names(path, len(self.idx_digits.class_names))
        except ClassNamesError as err:
            QMessageBox.warning(self, "Cannot use these class names", str(err))
            return False
        self.show_status(f"Class names of {self.idx_digits.name}: {', '.join(self.idx_digits.class_names)}.")
        return True
