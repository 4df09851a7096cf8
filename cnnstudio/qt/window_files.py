"""The main window's files: open an image or a model from the last folder, File > Open recent, screenshots.

``WindowFiles`` is mixed into ``MainWindow`` (it uses its ``settings``, ``recent_files``,
``canvas``, ``training`` and ``recent_menu``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from cnnstudio.qt.panels.canvas_view import IMAGE_FILTER
from cnnstudio.qt.window_layout import DEFAULT_SIZE
from cnnstudio.qt.window_state import last_folder, remember_folder

MODEL_FILTER = "CNN Studio models (*.cnnmodel);;All files (*)"


class WindowFiles:
    """Open image / Load model / Open recent / Save screenshot for the main window."""

    # -- files: the last folder and File > Recent
    def open_image(self) -> None:
        """Ask for a picture and put it on the canvas (the canvas explains a file it cannot read)."""
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", last_folder(self.settings), IMAGE_FILTER)
        if path:
            self.open_image_file(path)

    def open_image_file(self, path) -> bool:
        remember_folder(self.settings, path)
        if not self.canvas.load_image_file(str(path)):
            return False
        self.recent_files.add("image", path)
        self._fill_recent_menu()
        return True

    def open_model(self, path=None) -> bool:
        """Load a model file (asking for one if ``path`` is None) through the Training panel; one undo step."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load model", last_folder(self.settings), MODEL_FILTER)
            if not path:
                return False
        remember_folder(self.settings, path)
        self.training.show()
        self.training.raise_()
        if not self.training.panel.load_model(str(path)):
            return False
        self.recent_files.add("model", path)
        self._fill_recent_menu()
        return True

    def open_recent(self, kind: str, path: str) -> bool:
        """Open a File > Recent entry; one that is gone is explained and taken off the list."""
        if not Path(path).is_file():
            self.recent_files.remove(path)
            self._fill_recent_menu()
            QMessageBox.information(self, "File not found", f"{path} is no longer there (moved, renamed or "
                                    "deleted), so it was removed from File > Open recent.")
            return False
        return self.open_model(path) if kind == "model" else self.open_image_file(path)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        entries = self.recent_files.entries()
        for number, (kind, path) in enumerate(entries, 1):
            action = self.recent_menu.addAction(f"&{number} {Path(path).name}  ({kind})")
            action.setToolTip(path)
            action.triggered.connect(lambda checked=False, k=kind, p=path: self.open_recent(k, p))
        if entries:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", lambda: (self.recent_files.clear(),
                                                                  self._fill_recent_menu()))
        else:
            self.recent_menu.addAction("(no models or images opened yet)").setEnabled(False)

    def _ask_screenshot_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", str(Path(last_folder(self.settings)) /
                                              "cnnstudio.png"), "PNG images (*.png)")
        if path:
            remember_folder(self.settings, path)
        if path and not self.grab().save(path, "PNG"):
            QMessageBox.warning(self, "Screenshot not saved", screenshot_error(path))

    def point_at_strongest_map_cell(self) -> None:
        """Hover (with a real mouse-move event) the most active cell of conv 1's activations: shows the linked
        highlights on the maps, the canvas and the kernel, as a learner's first hover would."""
        trace = self.playground.trace
        if trace is None or not trace.stages:
            return
        activation = trace.stages[0].activation
        filter, row, col = (int(v) for v in np.unravel_index(np.argmax(activation), activation.shape))
        view = self.feature_maps.graphics_view()
        position = QPointF(view.mapFromScene(self.feature_maps.map_cell_scene_pos(0, "activation", filter, row, col)))
        QApplication.sendEvent(view.viewport(), QMouseEvent(
            QEvent.Type.MouseMove, position, view.viewport().mapToGlobal(position), Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))

    def save_screenshot(self, path: str) -> int:
        """Show the window with a sample digit drawn and one map cell pointed at; save it to ``path`` as PNG.

        Returns 0 on success, 1 on failure (an exit code), after one line on stderr saying why.
        """
        self.resize(*DEFAULT_SIZE)
        self.reset_layout()  # the column widths of a fresh window of that size
        self.show()
        if self.canvas_model.is_empty:
            self.draw_sample_digit()
        QApplication.processEvents()
        self.flush_updates()
        self.point_at_strongest_map_cell()
        QApplication.processEvents()
        if self.grab().save(path, "PNG"):
            return 0
        print(f"cnnstudio: {screenshot_error(path)}", file=sys.stderr)
        return 1


def screenshot_error(path: str) -> str:
    """One sentence on why a screenshot could not be written to ``path`` (Qt's save only says that it failed)."""
    folder = Path(path).resolve().parent
    if not folder.exists():
        why = f"the folder {folder} does not exist"
    elif not folder.is_dir():
        why = f"{folder} is a file, not a folder"
    elif not os.access(folder, os.W_OK):
        why = f"the folder {folder} is not writable"
    else:
        why = "the file could not be written there"
    return f"Could not save the screenshot to {path}: {why}. Fix: choose another file name or folder."
