"""Export what a panel shows: Save as PNG, Copy values, Save values as CSV or .npy (a right-click menu).

Every file is written atomically (``io.atomic.save_bytes_atomically``: a temporary file beside it, then
renamed), so a failed export never leaves half a file and a device, pipe or folder is refused; a failure is explained in a dialog and nothing else changes.
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QAction, QGuiApplication, QPixmap
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from cnnstudio.io.atomic import save_bytes_atomically


def values_text(values) -> str:
    """Tab-separated rows (a spreadsheet pastes them as cells); a (C, H, W) stack as blocks, one per channel."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim <= 1:
        values = values.reshape(1, -1)
    blocks = values.reshape(-1, *values.shape[-2:])
    parts = []
    for k, block in enumerate(blocks):
        head = f"# {k + 1} of {len(blocks)}\n" if len(blocks) > 1 else ""
        parts.append(head + "\n".join("\t".join(f"{v:.6g}" for v in row) for row in block))
    return "\n\n".join(parts) + "\n"


def csv_bytes(values) -> bytes:
    """Comma-separated rows; a (C, H, W) stack as blocks separated by a '# channel k' line."""
    return values_text(values).replace("\t", ",").encode("utf-8")


def npy_bytes(values) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values))
    return buffer.getvalue()


def png_bytes(pixmap: QPixmap) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not pixmap.save(buffer, "PNG"):
        raise OSError("the picture could not be encoded as PNG")
    return bytes(data)


def export_menu(parent: QWidget, what: str, values: Callable[[], np.ndarray | None],
                picture: Callable[[], QPixmap | None]) -> QMenu:
    """A menu with Save as PNG, Copy values, Save values as CSV and as .npy for ``what`` (e.g. "filter 3").

    ``values()`` and ``picture()`` are asked when an action runs (None: nothing to export now).
    """
    menu = QMenu(parent)
    stem = "".join(c if c.isalnum() else "_" for c in what).strip("_") or "export"

    def save(kind: str, suffix: str, data: Callable[[], bytes]) -> None:
        path, _ = QFileDialog.getSaveFileName(parent, f"Save {what} as {kind}", f"{stem}{suffix}",
                                              f"{kind} (*{suffix})")
        if not path:
            return
        try:
            save_bytes_atomically(path, data())
        except (OSError, ValueError) as err:
            QMessageBox.warning(parent, "Not saved", f"Could not save {what} to {path}: {err}")

    def add(text: str, slot) -> QAction:
        action = QAction(text, menu)
        action.triggered.connect(lambda checked=False: slot())
        menu.addAction(action)
        return action

    png = add("Save as &PNG...", lambda: save("PNG image", ".png", lambda: png_bytes(picture())))
    value_actions = [add("&Copy values", lambda: QGuiApplication.clipboard().setText(values_text(values()))),
                     add("Save values as &CSV...", lambda: save("CSV", ".csv", lambda: csv_bytes(values()))),
                     add("Save values as .&npy...", lambda: save("NumPy array", ".npy", lambda: npy_bytes(values())))]

    def enable() -> None:  # nothing to export (no map under the mouse, say): the actions are greyed out
        png.setEnabled(picture() is not None)
        has_values = values() is not None
        for action in value_actions:
            action.setEnabled(has_values)

    menu.aboutToShow.connect(enable)
    return menu
