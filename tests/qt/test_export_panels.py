"""Export from the canvas: the "⋯" menu and Shift+right click save the drawing's pixels and picture."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QFileDialog  # noqa: E402

from cnnstudio.core.canvas import CanvasModel  # noqa: E402
from cnnstudio.qt.panels.canvas_view import QtCanvas  # noqa: E402


@pytest.fixture
def canvas(qtbot):
    model = CanvasModel()
    model.stamp_sample_digit(3)
    canvas = QtCanvas(model)
    qtbot.addWidget(canvas)
    canvas.resize(420, 520)
    canvas.show()
    qtbot.waitExposed(canvas)
    return canvas


def action(menu, words):
    return next(a for a in menu.actions() if words in a.text().replace("&", ""))


def test_shift_right_click_opens_the_export_menu_and_erases_nothing(qtbot, canvas):
    before = canvas.model.image.copy()
    qtbot.mouseClick(canvas, Qt.RightButton, Qt.ShiftModifier, canvas.image_rect().center())
    assert canvas.export_menu.isVisible()
    np.testing.assert_array_equal(canvas.model.image, before)
    canvas.export_menu.close()


def test_a_plain_right_click_still_erases(qtbot, canvas):
    rows, cols = np.nonzero(canvas.model.image > 0.9)
    rect, n = canvas.image_rect(), canvas.model.size
    at = QPoint(rect.x() + int((cols[0] + 0.5) * rect.width() / n), rect.y() + int((rows[0] + 0.5) * rect.height() / n))
    qtbot.mouseClick(canvas, Qt.RightButton, Qt.NoModifier, at)
    assert canvas.model.image[rows[0], cols[0]] < 0.9
    assert not canvas.export_menu.isVisible()


def test_the_export_button_saves_the_pixels_and_the_picture(canvas, tmp_path, monkeypatch):
    assert canvas.export_button.menu() is canvas.export_menu
    assert "Shift+right click" in canvas.toolTip()
    target = tmp_path / "drawing.npy"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    canvas.export_menu.aboutToShow.emit()
    action(canvas.export_menu, ".npy").trigger()
    np.testing.assert_array_equal(np.load(target), canvas.model.image)
    png = tmp_path / "drawing.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(png), ""))
    action(canvas.export_menu, "PNG").trigger()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_open_image_file_loads_a_picture_by_path(canvas, tmp_path):
    from PySide6.QtGui import QImage
    image = QImage(40, 40, QImage.Format_Grayscale8)
    image.fill(0)
    for y in range(8, 32):
        for x in range(18, 22):
            image.setPixel(x, y, 0xFFFFFFFF)
    path = tmp_path / "one.png"
    assert image.save(str(path))
    assert canvas.open_image_file(str(path)) is True
    assert canvas.model.image.max() > 0.9
    assert canvas.open_image_file(str(tmp_path / "missing.png")) is False
