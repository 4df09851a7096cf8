"""The kernel editor's controls as a learner meets them: presets, rapid clicks, printed values, the export menu."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QContextMenuEvent, QMouseEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

from cnnstudio.core.presets import preset_kernel  # noqa: E402
from cnnstudio.qt.panels.kernel_editor.layout import VALUES_FROM  # noqa: E402
from cnnstudio.qt.panels.kernel_editor.painting import GridFonts, cell_text  # noqa: E402


def send_mouse(widget, kind, pos: QPointF, button=Qt.LeftButton) -> None:
    buttons = Qt.NoButton if kind == QEvent.MouseButtonRelease else button
    event = QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos.toPoint())), button, buttons, Qt.NoModifier)
    QApplication.sendEvent(QApplication.widgetAt(widget.mapToGlobal(pos.toPoint())) or widget, event)


def platform_clicks(qtbot, grid, pos: QPointF, count: int, apart_ms: int, positions=None) -> None:
    """Left clicks as the platform delivers them: a second press within the double-click interval comes as
    a double-click event (press, release, double click, release, press, ...), as Qt 6 sends them.

    Each event goes to the widget under the pointer (the inline editor, once it is open), in real time.
    """
    interval = QApplication.styleHints().mouseDoubleClickInterval()
    last = None
    for k in range(count):
        if k:
            qtbot.wait(apart_ms)
        at = positions[k] if positions else pos
        double = last is not None and apart_ms < interval and k % 2 == 1
        target = grid.childAt(at.toPoint()) or grid
        local = QPointF(target.mapFrom(grid, at.toPoint())) if target is not grid else at
        kind = QEvent.MouseButtonDblClick if double else QEvent.MouseButtonPress
        QApplication.sendEvent(target, QMouseEvent(kind, local, QPointF(target.mapToGlobal(local.toPoint())),
                                                   Qt.LeftButton, Qt.LeftButton, Qt.NoModifier))
        QApplication.sendEvent(target, QMouseEvent(QEvent.MouseButtonRelease, local,
                                                   QPointF(target.mapToGlobal(local.toPoint())),
                                                   Qt.LeftButton, Qt.NoButton, Qt.NoModifier))
        last = at


# ---------------------------------------------------------------- rapid clicks and double clicks

def test_five_clicks_150_ms_apart_step_five_times(qtbot, editor, playground):
    before = float(playground.network.weight(0)[2, 0, 1, 1])
    platform_clicks(qtbot, editor.grid, QPointF(editor.cell_rect(2, 1, 1).center()), 5, 150)
    qtbot.wait(10)
    assert playground.network.weight(0)[2, 0, 1, 1] == pytest.approx(before + 5 * editor.step, abs=1e-5)
    assert not editor.grid.inline_editor.isVisible()
    assert editor.grid.editing is None


def test_a_still_double_click_opens_the_editor_and_takes_back_its_step(qtbot, editor, playground):
    before = playground.network.weight(0).copy()
    platform_clicks(qtbot, editor.grid, QPointF(editor.cell_rect(3, 0, 1).center()), 2, 50)
    assert editor.grid.editing == (3, 0, 1)
    assert editor.grid.inline_editor.isVisible()
    np.testing.assert_array_equal(playground.network.weight(0), before)


@pytest.fixture
def short_double_click_interval():
    hints = QApplication.styleHints()
    interval = hints.mouseDoubleClickInterval()
    hints.setMouseDoubleClickInterval(100)
    yield
    hints.setMouseDoubleClickInterval(interval)


def test_a_double_click_slower_than_the_platform_interval_steps_twice(qtbot, editor, playground,
                                                                        short_double_click_interval):
    before = float(playground.network.weight(0)[1, 0, 2, 2])
    pos = QPointF(editor.cell_rect(1, 2, 2).center())
    send_mouse(editor.grid, QEvent.MouseButtonPress, pos)
    send_mouse(editor.grid, QEvent.MouseButtonRelease, pos)
    qtbot.wait(160)  # slower than the interval (the platform's clock may still call it a double click)
    send_mouse(editor.grid, QEvent.MouseButtonDblClick, pos)
    send_mouse(editor.grid, QEvent.MouseButtonRelease, pos)
    assert editor.grid.editing is None
    assert playground.network.weight(0)[1, 0, 2, 2] == pytest.approx(before + 2 * editor.step, abs=1e-5)


def test_a_double_click_on_a_moving_pointer_steps_twice(qtbot, editor, playground):
    centre = QPointF(editor.cell_rect(4, 1, 1).center())
    assert editor.grid.cell_size > 2 * QApplication.styleHints().startDragDistance()
    moved = centre + QPointF(QApplication.styleHints().startDragDistance(), 0)
    assert editor.grid.hit_test(moved.toPoint()) == ("cell", 4, 1, 1)
    before = float(playground.network.weight(0)[4, 0, 1, 1])
    platform_clicks(qtbot, editor.grid, centre, 2, 50, positions=[centre, moved])
    assert editor.grid.editing is None
    assert playground.network.weight(0)[4, 0, 1, 1] == pytest.approx(before + 2 * editor.step, abs=1e-5)


# ---------------------------------------------------------------- presets

def test_the_preset_control_is_an_action_not_the_filters_name(editor):
    assert editor.preset_button.text().startswith("Apply preset")
    assert editor.findChild(type(editor.layer_combo), "kernelPreset") is None  # no combo naming a preset
    shown = editor.preset_button.text() + editor.filter_label.text()
    assert not any(name in shown for name in editor.preset_actions)


def test_choosing_a_preset_applies_it_at_once_and_undo_takes_it_back(editor, playground):
    editor.select_filter(2)
    before = playground.network.weight(0).copy()
    editor.preset_actions["Sobel x"].trigger()
    np.testing.assert_array_equal(playground.network.weight(0)[2, 0], preset_kernel("Sobel x", 3))
    assert playground.undo_stack.can_undo
    playground.undo_stack.undo()
    np.testing.assert_array_equal(playground.network.weight(0), before)


# ---------------------------------------------------------------- printed values

def test_cells_of_28_px_and_more_print_their_values(qtbot, editor, playground):
    for width, height in ((420, 330), (460, 480), (560, 620)):
        editor.resize(width, height)
        QApplication.processEvents()
        if editor.grid.cell_size >= 28:
            assert editor.grid.values_shown, (width, height, editor.grid.cell_size)
    assert VALUES_FROM <= 28


@pytest.mark.parametrize("cell", range(VALUES_FROM, 47))
def test_printed_values_never_run_into_their_neighbours(editor, cell):
    fonts = GridFonts(editor.grid.font(), cell, cell < 27, editor.grid)
    for value in (-0.2345, -0.05, 0.0, 0.999, -1.5, 3.25, -12.34, 123.4):
        text = cell_text(value, fonts, cell)
        assert fonts.advance(fonts.value, text) <= cell - 5, (cell, value, text)
        assert text == "" or float(text.replace("\u2212", "-")) == pytest.approx(value, abs=0.05 + 1e-9)
    assert cell_text(-0.23, fonts, cell) != ""  # the usual weights always show


# ---------------------------------------------------------------- export

def test_right_click_on_a_card_title_offers_its_export(qtbot, editor, playground, tmp_path, monkeypatch):
    title = editor.header_rect(5).center()
    before = playground.network.weight(0).copy()
    QTest.mouseClick(editor.grid, Qt.RightButton, Qt.NoModifier, title)
    QApplication.sendEvent(editor.grid, QContextMenuEvent(QContextMenuEvent.Mouse, title,
                                                          editor.grid.mapToGlobal(title)))
    menu = editor.export_menu
    assert menu is not None and menu.isVisible()
    np.testing.assert_array_equal(playground.network.weight(0), before)  # the title holds no weight
    target = tmp_path / "filter6.npy"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    npy = next(a for a in menu.actions() if ".npy" in a.text().replace("&", ""))
    npy.trigger()
    np.testing.assert_array_equal(np.load(target), playground.network.weight(0)[5])  # (C, K, K)
    png = tmp_path / "filter6.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(png), ""))
    next(a for a in menu.actions() if "PNG" in a.text()).trigger()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    menu.close()


def test_right_click_on_a_weight_still_lowers_it_and_opens_no_menu(qtbot, editor, playground):
    cell = editor.cell_rect(1, 0, 0).center()
    before = float(playground.network.weight(0)[1, 0, 0, 0])
    QTest.mouseClick(editor.grid, Qt.RightButton, Qt.NoModifier, cell)
    QApplication.sendEvent(editor.grid, QContextMenuEvent(QContextMenuEvent.Mouse, cell, editor.grid.mapToGlobal(cell)))
    assert editor.export_menu is None
    assert playground.network.weight(0)[1, 0, 0, 0] == pytest.approx(before - editor.step, abs=1e-6)
