"""My digits: label the current drawing with a key 0-9 (or a button) and keep it in one's own set.

The set is a ``MyDigits`` model: shown here as a gallery one can browse and delete
from, saved atomically after every change, loaded at start.  A damaged file is not
overwritten: the view says so, starts with an empty set, and before the first save
moves the damaged file aside (its name gains ``.damaged-<time>``) so nothing is lost.

Keys: ``install_key_labels(window)`` makes an unmodified 0-9 that reaches ``window``
label the drawing.  A key only reaches the window when the widget with focus did not
use it, so typing a number into a field or a kernel cell never adds a drawing.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from cnnstudio.io.datasets import IMAGE_SIZE, DatasetError
from cnnstudio.qt.training.evaluation_view import digit_pixmap, gallery_list
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme

ERROR_COLOUR = theme.LIGHT_ERROR
DIGIT_KEYS = {getattr(Qt.Key, f"Key_{d}"): d for d in range(10)}
USE_TEXT = {"train": "for training", "test": "for testing", "both": "for training and testing"}


class _DigitKeys(QObject):
    """Event filter: an unmodified 0-9 key press that reaches the watched widget labels the drawing."""

    def __init__(self, view: QtMyDigits):
        super().__init__(view)
        self.view = view

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.KeyPress and event.key() in DIGIT_KEYS and not event.isAutoRepeat():
            modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if modifiers == Qt.KeyboardModifier.NoModifier:
                self.view.add_current(DIGIT_KEYS[event.key()])
                return True
        return False


class _Gallery(QListWidget):
    """The thumbnails; Delete or Backspace removes the selected drawings."""

    delete_pressed = Signal()

    def keyPressEvent(self, event):
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)


class QtMyDigits(QWidget):
    """The user's own labelled digits (objectName ``myDigitsView``).

    Parameters
    ----------
    my_digits : the ``MyDigits`` model (already loaded, or call ``load``)
    current_image : a callable returning what the network sees now, (28, 28) float in [0, 1]
        (the canvas model's ``network_input``)
    """

    message = Signal(str)  # one line for the status bar

    def __init__(self, my_digits, current_image, parent=None):
        super().__init__(parent)
        self.setObjectName("myDigitsView")
        self.my_digits = my_digits
        self.current_image = current_image
        self.damaged_file: Path | None = None  # a file that failed to load; moved aside before the first save
        self._keys = _DigitKeys(self)
        self._build()
        self.installEventFilter(self._keys)
        listen(self, my_digits.events.digits_changed, self._digits_changed)
        self._digits_changed()

    def _build(self) -> None:
        hint = QLabel("Label what you drew: press a key <b>0</b>–<b>9</b> (with the window focused) or click:")
        hint.setTextFormat(Qt.TextFormat.RichText)
        hint.setWordWrap(True)
        buttons = QGridLayout()
        buttons.setSpacing(3)
        self.add_buttons = []
        for digit in range(10):
            button = QPushButton(str(digit))
            button.setObjectName(f"addDigit{digit}")
            button.setToolTip(f"Add the current drawing to my digits as a {digit}")
            button.setFixedWidth(34)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda checked=False, d=digit: self.add_current(d))
            buttons.addWidget(button, 0, digit)
            self.add_buttons.append(button)

        self.use_combo = QComboBox()
        self.use_combo.setObjectName("useCombo")
        # train or test, never both by default: a drawing in both sets tests the network on its training data
        for use in ("train", "test"):
            self.use_combo.addItem(USE_TEXT[use], use)
        self.use_combo.setCurrentIndex(0)
        self.use_combo.setToolTip("What new drawings (the buttons and the keys 0-9) are for: training the network "
                                  "or testing it on digits it has not learnt from")
        use_row = QHBoxLayout()
        use_row.addWidget(QLabel("Use new drawings"))
        use_row.addWidget(self.use_combo)
        use_row.addStretch(1)

        self.gallery = gallery_list("myDigitsGallery", _Gallery)
        self.gallery.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.gallery.delete_pressed.connect(self.delete_selected)
        self.gallery.itemSelectionChanged.connect(self._selection_changed)

        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("deleteDigitButton")
        self.delete_button.setToolTip("Remove the selected drawings (Delete key)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.delete_button.setEnabled(False)
        self.count_label = QLabel()
        self.count_label.setObjectName("myDigitsCount")
        self.count_label.setStyleSheet(f"color: {theme.css(theme.muted())};")
        self.status_label = QLabel()
        self.status_label.setObjectName("myDigitsStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.delete_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addLayout(use_row)
        layout.addWidget(self.gallery, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.status_label)

    # ------------------------------------------------------------------ commands
    def install_key_labels(self, widget: QWidget) -> None:
        """Let 0-9 key presses that reach ``widget`` (e.g. the main window) label the drawing."""
        widget.installEventFilter(self._keys)

    def load(self) -> bool:
        """Read the saved set (none yet is fine); a damaged file is reported, kept, and the set starts empty."""
        try:
            self.my_digits.load(missing_ok=True)
        except DatasetError as err:
            self.damaged_file = Path(self.my_digits.path)
            self._show(f"Your saved digits could not be read: {err} They were left as they are; "
                       f"new drawings start a fresh set.", error=True)
            return False
        return True

    def add_current(self, label: int) -> bool:
        """Add what the network sees now as a drawing of ``label``; False (and why) when it cannot."""
        image = np.asarray(self.current_image(), dtype=np.float32)
        if image.ndim == 3 and image.shape[0] == 1:
            image = image[0]
        if image.shape != IMAGE_SIZE:
            self._show(f"My digits are {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} drawings, but the canvas holds a "
                       f"{image.shape[-2]}x{image.shape[-1]} image. Switch the canvas to digit size first.",
                       error=True)
            return False
        if not image.any():
            self._show("The canvas is empty: draw a digit first, then press its key.", error=True)
            return False
        use = self.use_combo.currentData()
        self.my_digits.add(np.clip(image, 0.0, 1.0), label, use)
        self.gallery.scrollToBottom()
        if self._save():
            self._show(f"Added a {label} ({USE_TEXT[use]}). You now have {len(self.my_digits)} drawings.")
        return True

    def delete_selected(self) -> int:
        """Remove the selected drawings; returns how many."""
        rows = sorted({self.gallery.row(item) for item in self.gallery.selectedItems()}, reverse=True)
        if not rows:
            return 0
        for row in rows:  # from the last, so the rows still to go keep their numbers
            self.my_digits.remove(row)
        if self._save():
            self._show(f"Deleted {len(rows)} drawing{'s' if len(rows) != 1 else ''}.")
        return len(rows)

    def _save(self) -> bool:
        try:
            if self.damaged_file is not None and self.damaged_file == Path(self.my_digits.path) \
                    and self.damaged_file.exists():
                kept = self.damaged_file.with_name(
                    f"{self.damaged_file.stem}.damaged-{time.strftime('%Y%m%d-%H%M%S')}{self.damaged_file.suffix}")
                self.damaged_file.rename(kept)
                self.message.emit(f"The damaged digits file was kept as {kept.name}.")
            self.damaged_file = None
            self.my_digits.save()
        except OSError as err:
            self._show(f"Could not save your digits to {self.my_digits.path}: {err if err.strerror is None else err.strerror}. "
                       f"They are kept until you close CNN Studio.", error=True)
            return False
        return True

    # ------------------------------------------------------------------ from the model
    def _digits_changed(self) -> None:
        self.gallery.clear()
        for index, item in enumerate(self.my_digits.items):
            entry = QListWidgetItem(QIcon(digit_pixmap(item.image)), f"{item.label}\n{item.use}")
            entry.setToolTip(f"Drawing {index + 1}: a {item.label}, {USE_TEXT[item.use]}")
            self.gallery.addItem(entry)
        items = self.my_digits.items
        train = sum(1 for item in items if item.use in ("train", "both"))
        test = sum(1 for item in items if item.use in ("test", "both"))
        self.count_label.setText(f"{len(items)} drawing{'s' if len(items) != 1 else ''}: {train} for training, "
                                 f"{test} for testing")
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.delete_button.setEnabled(bool(self.gallery.selectedItems()))

    def _show(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {theme.css(theme.error() if error else theme.text())};")
        self.message.emit(text)
