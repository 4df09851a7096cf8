"""The feature maps' title bar: the title and the colour-scale controls never overlap, however narrow the panel."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication

from cnnstudio.qt.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNSTUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    window = MainWindow()
    qtbot.addWidget(window)
    return window


def geometry_in(window, widget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


@pytest.mark.parametrize("size", [(1024, 700), (1366, 768), (1920, 1080)])
def test_title_and_colour_scale_do_not_overlap(window, size):
    window.resize(*size)
    window.show()
    window.reset_layout()
    window.draw_sample_digit()
    QApplication.processEvents()
    maps = window.feature_maps
    title, controls = maps._title, maps._scale_controls
    assert title.isVisible() and controls.isVisible()
    title_rect, controls_rect = geometry_in(window, title), geometry_in(window, controls)
    assert not title_rect.intersects(controls_rect), (size, title_rect, controls_rect)
    assert title_rect.width() >= title.sizeHint().width()  # the whole title shows, not a clipped part
    panel = geometry_in(window, maps)
    assert panel.contains(controls_rect), (size, panel, controls_rect)  # every control within reach
    for control in (maps._combo, maps._fixed, maps._fit):
        assert controls_rect.contains(geometry_in(window, control)), control
