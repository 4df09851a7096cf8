"""The kernel editor, driven as a user: click, scroll and type into kernel cells; check the model and the pixels."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QRegion, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cnnstudio.engine import Network  # noqa: E402
from cnnstudio.core.presets import preset_kernel, presets_for  # noqa: E402
from cnnstudio.qt.panels.kernel_editor import BIAS  # noqa: E402


def centre(editor, filter, row, col) -> QPoint:
    return editor.cell_rect(filter, row, col).center()


def click(qtbot, editor, filter, row, col, button=Qt.LeftButton):
    qtbot.mouseClick(editor.grid, button, pos=centre(editor, filter, row, col))


def double_click(qtbot, editor, filter, row, col):
    """What a real double click delivers: press and release (a first click), then the double-click event."""
    pos = centre(editor, filter, row, col)
    qtbot.mouseClick(editor.grid, Qt.LeftButton, pos=pos)
    qtbot.mouseDClick(editor.grid, Qt.LeftButton, pos=pos)


def wheel(editor, filter, row, col, notches: float):
    pos = QPointF(centre(editor, filter, row, col))
    event = QWheelEvent(pos, QPointF(editor.grid.mapToGlobal(pos.toPoint())), QPoint(0, 0),
                        QPoint(0, int(120 * notches)), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(editor.grid, event)


def expected_trace(playground, weight0):
    """A fresh engine forward with conv 1's weights replaced: what the maps must now be."""
    network = Network(playground.network.layers, playground.network.input_shape)
    state = playground.network.get_state()
    state[0] = weight0
    network.set_state(state)
    return network.forward_maps(playground.input)


def pixels(widget):
    return widget.grab().toImage()


class RepaintedRegion(QObject):
    """The union of the regions a widget was asked to repaint since it was installed."""

    def __init__(self, widget):
        super().__init__()
        self.region = QRegion()
        widget.installEventFilter(self)

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Paint:
            self.region = self.region.united(event.region())
        return False


# ---------------------------------------------------------------- clicking, scrolling, typing

def test_it_is_found_by_its_object_name(editor):
    assert editor.objectName() == "kernelEditor"
    assert editor.layer == 0 and editor.channel == 0 and editor.selected_filter == 0
    assert editor.grid.kernel_size == 3 and editor.grid.filters == 8


def test_left_click_raises_the_cell_by_a_step_and_the_maps_follow(qtbot, editor, playground):
    before = playground.network.weight(0).copy()
    old_maps = playground.trace.stages[0].conv.copy()
    click(qtbot, editor, 2, 1, 0)
    after = playground.network.weight(0)
    expected = before.copy()
    expected[2, 0, 1, 0] += np.float32(editor.step)
    np.testing.assert_array_equal(after, expected)
    assert editor.step == pytest.approx(0.1)
    fresh = expected_trace(playground, expected)
    np.testing.assert_allclose(playground.trace.stages[0].conv, fresh.stages[0].conv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(playground.trace.probabilities, fresh.probabilities, rtol=1e-4, atol=1e-6)
    assert not np.allclose(playground.trace.stages[0].conv[2], old_maps[2])
    np.testing.assert_array_equal(playground.trace.stages[0].conv[3], old_maps[3])  # other filters untouched


def test_right_click_lowers_the_cell_by_a_step(qtbot, editor, playground):
    editor.set_step(0.25)
    before = float(playground.network.weight(0)[5, 0, 2, 2])
    click(qtbot, editor, 5, 2, 2, Qt.RightButton)
    assert playground.network.weight(0)[5, 0, 2, 2] == pytest.approx(before - 0.25, abs=1e-6)
    np.testing.assert_allclose(playground.trace.stages[0].conv,
                               expected_trace(playground, playground.network.weight(0)).stages[0].conv, atol=1e-5)


def test_the_wheel_fine_tunes_by_a_tenth_of_the_step(editor, playground):
    before = float(playground.network.weight(0)[1, 0, 0, 2])
    wheel(editor, 1, 0, 2, +3)
    assert playground.network.weight(0)[1, 0, 0, 2] == pytest.approx(before + 0.03, abs=1e-6)
    wheel(editor, 1, 0, 2, -1)
    assert playground.network.weight(0)[1, 0, 0, 2] == pytest.approx(before + 0.02, abs=1e-6)


def test_double_click_then_typing_sets_the_exact_value(qtbot, editor, playground):
    double_click(qtbot, editor, 3, 0, 1)
    line = editor.grid.inline_editor
    assert line.isVisible() and line.hasFocus()
    qtbot.keyClicks(line, "1.5")
    qtbot.keyClick(line, Qt.Key_Return)
    assert not line.isVisible()
    assert playground.network.weight(0)[3, 0, 0, 1] == 1.5
    assert editor.grid.hasFocus()  # typing goes back to the cells


def test_escape_cancels_typing_and_the_double_clicks_own_step(qtbot, editor, playground):
    before = playground.network.weight(0).copy()
    double_click(qtbot, editor, 3, 0, 1)
    line = editor.grid.inline_editor
    assert line.isVisible()
    qtbot.keyClicks(line, "7")
    qtbot.keyClick(line, Qt.Key_Escape)
    assert not line.isVisible()
    np.testing.assert_array_equal(playground.network.weight(0), before)


def test_typing_on_the_focused_cell_opens_the_editor_with_that_digit(qtbot, editor, playground):
    editor.grid.setFocus()
    qtbot.keyClick(editor.grid, Qt.Key_Right)  # focus (0, 0, 0) -> (0, 0, 1)
    qtbot.keyClick(editor.grid, Qt.Key_Minus)
    line = editor.grid.inline_editor
    assert line.isVisible() and line.text() == "-"
    qtbot.keyClicks(line, "0.75")
    qtbot.keyClick(line, Qt.Key_Enter)
    assert playground.network.weight(0)[0, 0, 0, 1] == -0.75


def test_a_typo_keeps_the_editor_open_and_changes_nothing(qtbot, editor, playground):
    before = playground.network.weight(0).copy()
    editor.grid.setFocus()
    qtbot.keyClick(editor.grid, Qt.Key_Return)
    line = editor.grid.inline_editor
    line.setText("abc")
    qtbot.keyClick(line, Qt.Key_Return)
    assert line.isVisible()
    np.testing.assert_array_equal(playground.network.weight(0), before)
    qtbot.keyClick(line, Qt.Key_Escape)
    assert not line.isVisible()


def test_a_number_too_large_for_float32_keeps_the_editor_open_and_changes_nothing(qtbot, editor, playground):
    before = playground.network.weight(0).copy()
    editor.grid.setFocus()
    qtbot.keyClick(editor.grid, Qt.Key_Return)
    line = editor.grid.inline_editor
    line.setText("1e39")  # finite in Python, inf as a float32 weight
    qtbot.keyClick(line, Qt.Key_Return)
    assert line.isVisible()
    np.testing.assert_array_equal(playground.network.weight(0), before)
    assert np.isfinite(playground.trace.probabilities).all()


def test_arrow_keys_move_between_cells_filters_and_the_bias(qtbot, editor, playground):
    grid = editor.grid
    grid.setFocus()
    assert grid.focus_cell == (0, 0, 0)
    qtbot.keyClick(grid, Qt.Key_Down)
    qtbot.keyClick(grid, Qt.Key_Right)
    assert grid.focus_cell == (0, 1, 1)
    qtbot.keyClick(grid, Qt.Key_Right)
    qtbot.keyClick(grid, Qt.Key_Right)  # off the right edge: into filter 2's first column
    assert grid.focus_cell == (1, 1, 0)
    assert editor.selected_filter == 1
    qtbot.keyClick(grid, Qt.Key_Left)
    assert grid.focus_cell == (0, 1, 2)
    for _ in range(3):
        qtbot.keyClick(grid, Qt.Key_Down)
    assert grid.focus_cell == (0, BIAS, 0)
    qtbot.keyClick(grid, Qt.Key_Up)
    assert grid.focus_cell == (0, 2, 0)
    qtbot.keyClick(grid, Qt.Key_Up)
    qtbot.keyClick(grid, Qt.Key_Up)
    qtbot.keyClick(grid, Qt.Key_Up)  # stays on the top row
    assert grid.focus_cell == (0, 0, 0)
    np.testing.assert_array_equal(playground.network.weight(0), playground.reference_state[0])  # moving edits nothing


def test_the_focused_cell_is_drawn(qtbot, editor):
    grid = editor.grid
    grid.setFocus()
    before = pixels(grid)
    qtbot.keyClick(grid, Qt.Key_Right)
    assert pixels(grid) != before


# ---------------------------------------------------------------- presets, randomise, reset

def test_apply_sobel_x_to_the_selected_filter(qtbot, editor, playground):
    qtbot.mouseClick(editor.grid, Qt.LeftButton, pos=editor.header_rect(4).center())
    assert editor.selected_filter == 4
    others = np.delete(playground.network.weight(0), 4, axis=0).copy()
    editor.preset_actions["Sobel x"].trigger()  # choosing a preset applies it at once
    np.testing.assert_array_equal(playground.network.weight(0)[4, 0], preset_kernel("Sobel x", 3))
    np.testing.assert_array_equal(np.delete(playground.network.weight(0), 4, axis=0), others)
    np.testing.assert_allclose(playground.trace.stages[0].conv,
                               expected_trace(playground, playground.network.weight(0)).stages[0].conv, atol=1e-5)


def test_randomise_redraws_only_the_selected_kernel(qtbot, editor, playground):
    editor.select_filter(6)
    before = playground.network.weight(0).copy()
    qtbot.mouseClick(editor.randomise_button, Qt.LeftButton)
    after = playground.network.weight(0)
    assert not np.array_equal(after[6], before[6])
    np.testing.assert_array_equal(np.delete(after, 6, axis=0), np.delete(before, 6, axis=0))
    assert 0.05 < np.abs(after[6]).max() < 3.0  # He-scaled, not wild


def test_reset_to_trained_restores_the_layer(qtbot, editor, playground):
    trained = playground.network.weight(0).copy()
    click(qtbot, editor, 0, 0, 0)
    editor.preset_actions["emboss"].trigger()  # choosing a preset applies it at once
    click(qtbot, editor, 2, BIAS, 0)
    assert not np.array_equal(playground.network.weight(0), trained)
    qtbot.mouseClick(editor.reset_button, Qt.LeftButton)
    np.testing.assert_array_equal(playground.network.weight(0), trained)
    np.testing.assert_array_equal(playground.network.bias(0), playground.reference_state[1])


def test_presets_that_need_a_bigger_kernel_are_greyed_out(editor, playground):
    playground.set_conv_settings(0, kernel=1, padding=0)
    enabled = {name for name, action in editor.preset_actions.items() if action.isEnabled()}
    assert enabled == set(presets_for(1))


# ---------------------------------------------------------------- bias, layers, channels, kernel size

def test_clicking_and_typing_the_bias(qtbot, editor, playground):
    before = float(playground.network.bias(0)[3])
    click(qtbot, editor, 3, BIAS, 0)
    assert playground.network.bias(0)[3] == pytest.approx(before + 0.1, abs=1e-6)
    double_click(qtbot, editor, 5, BIAS, 0)
    qtbot.keyClicks(editor.grid.inline_editor, "-0.3")
    qtbot.keyClick(editor.grid.inline_editor, Qt.Key_Return)
    assert playground.network.bias(0)[5] == pytest.approx(-0.3)
    conv = expected_trace(playground, playground.network.weight(0)).stages[0].conv
    np.testing.assert_allclose(playground.trace.stages[0].conv, conv, atol=1e-5)


def test_conv_2_channel_3_edits_that_channels_kernel(qtbot, editor, playground):
    editor.layer_combo.setCurrentIndex(1)
    assert editor.layer == 1 and editor.grid.filters == 16
    assert editor.channel_spin.isEnabled() and editor.channel_spin.maximum() == 8
    editor.channel_spin.setValue(4)  # shown 1-based: "input 4 of 8" is channel 3
    assert editor.channel == 3
    before = playground.network.weight(1).copy()
    click(qtbot, editor, 9, 2, 1)
    expected = before.copy()
    expected[9, 3, 2, 1] += np.float32(0.1)
    np.testing.assert_array_equal(playground.network.weight(1), expected)
    editor.preset_actions["vertical line"].trigger()  # choosing a preset applies it at once
    np.testing.assert_array_equal(playground.network.weight(1)[9, 3], preset_kernel("vertical line", 3))
    np.testing.assert_array_equal(playground.network.weight(1)[9, 2], before[9, 2])


def test_sixteen_filters_fit_without_scrolling(editor):
    editor.select_layer(1)
    QApplication.processEvents()
    viewport = editor.scroll.viewport().rect()
    for f in range(16):
        card = editor.grid.card_rect(f)
        assert viewport.contains(card), f
    assert editor.grid.cell_size >= 12


def test_a_5x5_kernel_shows_5x5_cells(qtbot, editor, playground):
    playground.set_conv_settings(0, kernel=5, padding=2)
    assert editor.grid.kernel_size == 5
    assert editor.grid.hit_test(centre(editor, 0, 4, 4)) == ("cell", 0, 4, 4)
    cell = editor.cell_rect(0, 0, 0)
    assert editor.cell_rect(0, 4, 4).topLeft() == cell.topLeft() + QPoint(4 * cell.width(), 4 * cell.height())
    before = float(playground.network.weight(0)[0, 0, 4, 4])
    click(qtbot, editor, 0, 4, 4)
    assert playground.network.weight(0)[0, 0, 4, 4] == pytest.approx(before + 0.1, abs=1e-6)


def test_an_11x11_kernel_still_fits_every_filter(editor, playground):
    playground.set_conv_settings(0, kernel=11, padding=5)
    QApplication.processEvents()
    assert editor.grid.kernel_size == 11
    assert not editor.grid.values_shown  # too small to print values: the colour and the tooltip tell
    viewport = editor.scroll.viewport().rect()
    assert all(viewport.contains(editor.grid.card_rect(f)) for f in range(8))


# ---------------------------------------------------------------- model -> view, selection, highlight

def test_the_pixels_change_after_an_edit(qtbot, editor):
    before = pixels(editor.grid)
    click(qtbot, editor, 0, 1, 1)
    assert pixels(editor.grid) != before


def test_a_change_made_elsewhere_repaints_the_cells(editor, playground):
    before = pixels(editor.grid)
    playground.set_kernel_cell(0, 7, 0, 2, 2, -1.0)  # e.g. training or another panel
    assert pixels(editor.grid) != before


def test_edits_update_cells_in_place_without_rebuilding(qtbot, editor):
    grid, children = editor.grid, editor.grid.children()
    click(qtbot, editor, 0, 0, 0)
    editor.apply_preset("identity")
    assert editor.grid is grid and editor.grid.children() == children


def test_an_edit_repaints_only_the_cell_it_changed(editor, playground):
    QApplication.processEvents()
    grid_painted, scale_painted = RepaintedRegion(editor.grid), RepaintedRegion(editor.scale)
    kernels = np.abs(playground.network.weight(0)[:, 0])
    f, i, j = (int(k) for k in np.unravel_index(np.argmin(kernels), kernels.shape))  # far from the scale's end
    playground.set_kernel_cell(0, f, 0, i, j, float(playground.network.weight(0)[f, 0, i, j]) + 1e-3)
    QApplication.processEvents()
    assert grid_painted.region == QRegion(editor.cell_rect(f, i, j))
    assert scale_painted.region.isEmpty()


def test_an_edit_that_moves_the_colour_scale_repaints_every_cell_and_the_scale(editor, playground):
    QApplication.processEvents()
    grid_painted, scale_painted = RepaintedRegion(editor.grid), RepaintedRegion(editor.scale)
    playground.set_kernel_cell(0, 3, 0, 1, 1, 9.0)
    QApplication.processEvents()
    assert grid_painted.region == QRegion(editor.grid.rect())
    assert not scale_painted.region.isEmpty()


def test_the_partial_repaints_show_what_a_full_repaint_shows(qtbot, editor, playground):
    if QGuiApplication.platformName() != "offscreen":
        pytest.skip("reads the window's backing store through the offscreen screen")
    for f, i, j, button in ((1, 0, 0, Qt.LeftButton), (6, 2, 1, Qt.RightButton), (6, 2, 1, Qt.LeftButton),
                            (3, BIAS, 0, Qt.LeftButton)):
        click(qtbot, editor, f, i, j, button)
    qtbot.mouseClick(editor.grid, Qt.LeftButton, pos=editor.header_rect(5).center())
    qtbot.mouseMove(editor.grid, centre(editor, 4, 1, 2))
    editor.highlight(0, 2, [(0, 0, 0), (0, 2, 2)])
    playground.set_kernel_cell(0, 7, 0, 2, 2, 5.0)  # a new colour scale
    playground.set_kernel_cell(0, 7, 0, 2, 2, 0.0)
    playground.set_bias(0, 0, -0.3)
    editor.apply_preset("identity")
    QApplication.processEvents()
    full = editor.grab().toImage()
    on_screen = editor.screen().grabWindow(editor.winId()).toImage().convertToFormat(full.format())
    assert on_screen == full


def test_clicking_a_title_selects_the_filter_and_says_so(qtbot, editor):
    with qtbot.waitSignal(editor.filter_selected, timeout=1000) as signal:
        qtbot.mouseClick(editor.grid, Qt.LeftButton, pos=editor.header_rect(6).center())
    assert signal.args == [0, 6]
    assert editor.selected_filter == 6
    assert editor.filter_label.text() == "Filter 7:"  # shown 1-based, like "conv 1"


def test_highlight_outlines_cells_and_none_clears(editor):
    before = pixels(editor.grid)
    editor.highlight(0, 2, [(0, 0, 0), (0, 1, 1), (0, 2, 2)])
    assert editor.grid.highlighted == {(2, 0, 0), (2, 1, 1), (2, 2, 2)}
    assert pixels(editor.grid) != before
    editor.highlight(0, 2, None)
    assert editor.grid.highlighted == set()
    assert pixels(editor.grid) == before


def test_highlight_of_another_layer_or_channel_shows_when_it_is_shown(editor):
    editor.highlight(1, 4, [(2, 0, 0), (3, 1, 1)])
    assert editor.grid.highlighted == set()
    editor.select_layer(1)
    editor.select_channel(3)
    assert editor.grid.highlighted == {(4, 1, 1)}


def test_the_readout_gives_the_exact_value_under_the_mouse(qtbot, editor, playground):
    playground.set_kernel_cell(0, 2, 0, 1, 2, -0.123456)
    qtbot.mouseMove(editor.grid, centre(editor, 2, 1, 2))
    qtbot.waitUntil(lambda: "0.1235" in editor.readout.text(), timeout=1000)
    assert "filter 3" in editor.readout.text() and "row 2, column 3" in editor.readout.text()
    playground.set_kernel_cell(0, 2, 0, 1, 2, 0.5)  # follows the model while pointed at
    assert "+0.5000" in editor.readout.text()
