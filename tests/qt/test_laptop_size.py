"""At laptop sizes (1366x768, 1024x700) every panel stays usable: nothing out of reach, no overlapping words."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox

from cnnstudio.qt.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNSTUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    window = MainWindow()
    qtbot.addWidget(window)
    return window


def show_at(window, width, height):
    window.resize(width, height)
    window.show()
    window.reset_layout()
    window.draw_sample_digit()
    QApplication.processEvents()
    window.flush_updates()
    QApplication.processEvents()


@pytest.mark.parametrize("size", [(1024, 700), (1366, 768)])
def test_no_layer_settings_field_is_clipped(window, size):
    show_at(window, *size)
    settings = window.layer_settings
    scroll = settings.scroll
    body = scroll.widget()
    fields = [w for g in settings.groups for w in g.editors.values()]
    assert fields and all(isinstance(w, (QAbstractSpinBox, QComboBox)) for w in fields)
    body_rect = QRect(0, 0, body.width(), body.height())
    for field in fields:
        rect = QRect(field.mapTo(body, field.rect().topLeft()), field.size())
        assert body_rect.contains(rect), field.objectName()  # laid out inside the scrolled body
        # no field is wider than what the viewport shows: reachable by scrolling down only
        assert rect.right() <= scroll.viewport().width(), field.objectName()
        # scrolled as far as the bar goes, the field's rows are in view
        bar = scroll.verticalScrollBar()
        bar.setValue(min(rect.top(), bar.maximum()))
        top = rect.top() - bar.value()
        assert 0 <= top and top + rect.height() <= body.height() - bar.maximum(), (field.objectName(), top)
    if body.height() > scroll.viewport().height():
        assert scroll.verticalScrollBar().isVisible()


def test_window_fits_the_laptop_and_docks_leave_room(window):
    show_at(window, 1024, 700)
    assert window.height() <= 700 and window.width() <= 1024
    window.explain_dock.show()
    window.training.show()
    QApplication.processEvents()
    QApplication.processEvents()
    assert window.tabifiedDockWidgets(window.training) == [window.explain_dock]
    assert window.centralWidget().height() >= 0.5 * window.height()


def test_colour_bar_labels_never_overlap(window):
    show_at(window, 1024, 700)
    bars = [window.feature_maps.colour_bar(k, kind) for k in range(2) for kind in ("conv", "activation", "pooled")]
    for bar in bars:
        bar.set_levels(-4.2812, 4.2812)
        for width in (30, 45, 60, 90, 200):  # at 30 px the range is written once or not at all
            bar.resize(width, bar.HEIGHT)
            rects = [r for r, _, _ in bar.label_rects()]
            assert rects or width < 40, width
            for i, a in enumerate(rects):
                for b in rects[i + 1:]:
                    assert not a.intersects(b), (width, bar.label_rects())
