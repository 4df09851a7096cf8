"""The whole window, driven as a user: draw, click kernels, change settings, hover; check model and pixels."""
from __future__ import annotations

import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QSpinBox, QWidget

from cnnstudio import app
from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network

PANELS = ("canvas", "kernelEditor", "featureMaps", "predictionBars", "layerSettings")


def pixels(widget: QWidget) -> np.ndarray:
    """What the widget shows now, as an (H, W, 4) uint8 array."""
    QApplication.processEvents()
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    return np.array(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine())[
        :, :image.width() * 4].reshape(image.height(), image.width(), 4).copy()


def send_mouse(widget, kind, position: QPointF, button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton):
    event = QMouseEvent(kind, position, widget.mapToGlobal(position), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def canvas_point(window, row: float, col: float) -> QPointF:
    rect = window.canvas.image_rect()
    scale = rect.width() / window.canvas_model.size
    return QPointF(rect.x() + (col + 0.5) * scale, rect.y() + (row + 0.5) * scale)


def draw(window, points) -> None:
    """Press, move through ``points`` (row, col) and release with the left button, as a hand does."""
    canvas, left = window.canvas, Qt.MouseButton.LeftButton
    send_mouse(canvas, QEvent.Type.MouseButtonPress, canvas_point(window, *points[0]), left, left)
    for point in points[1:]:
        send_mouse(canvas, QEvent.Type.MouseMove, canvas_point(window, *point), Qt.MouseButton.NoButton, left)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, canvas_point(window, *points[-1]), left)
    QApplication.processEvents()


def assert_trace_is_a_fresh_forward(playground) -> None:
    fresh = Network(playground.network.layers, playground.network.input_shape)
    fresh.set_state(playground.network.get_state())
    expected = fresh.forward_maps(playground.input)
    for got, want in zip(playground.trace.stages, expected.stages):
        for kind in ("conv", "activation", "pooled"):
            assert np.allclose(getattr(got, kind), getattr(want, kind), atol=1e-5)
    assert np.allclose(playground.trace.probabilities, expected.probabilities, atol=1e-6)


def test_window_has_every_panel(window):
    for name in PANELS:
        panel = window.findChild(QWidget, name)
        assert panel is not None, name
        assert panel.isVisible(), name
    # the first window takes the default 1400x900, shrunk to the screen's free area (offscreen: 800x800)
    free = window.screen().availableGeometry()
    assert window.width() >= min(1200, 0.9 * free.width()) and window.height() >= min(800, 0.9 * free.height())
    assert window.width() <= max(free.width(), 1400) and window.height() <= max(free.height(), 900)
    menus = [action.text().replace("&", "") for action in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Lessons", "Help"]


def test_data_flows_left_to_right(window):
    def x(name):
        panel = window.findChild(QWidget, name)
        return panel.mapTo(window, panel.rect().topLeft()).x()

    assert x("canvas") < x("featureMaps") < x("predictionBars")
    canvas, kernels = window.findChild(QWidget, "canvas"), window.findChild(QWidget, "kernelEditor")
    assert canvas.mapTo(window, canvas.rect().topLeft()).y() < kernels.mapTo(window, kernels.rect().topLeft()).y()


def test_drawing_with_the_mouse_feeds_the_network_and_repaints_the_maps(window):
    maps_before = pixels(window.feature_maps)
    draw(window, [(14, 4), (14, 10), (13, 16), (14, 23)])
    assert window.canvas_model.image[14, 4:23].min() > 0.3
    assert np.array_equal(window.playground.input[0], window.canvas_model.network_input())
    assert_trace_is_a_fresh_forward(window.playground)
    assert not np.array_equal(pixels(window.feature_maps), maps_before)


def test_a_burst_of_mouse_moves_is_fed_to_the_network_once(window, monkeypatch):
    window.canvas_model.set_mnist_framing(False)  # so the stroke's pixels reach the network where drawn
    QApplication.processEvents()
    calls = []
    original = window.playground.set_input
    monkeypatch.setattr(window.playground, "set_input", lambda image: calls.append(1) or original(image))
    canvas, left = window.canvas, Qt.MouseButton.LeftButton
    send_mouse(canvas, QEvent.Type.MouseButtonPress, canvas_point(window, 5, 5), left, left)
    for col in range(6, 20):  # all delivered before the event loop runs again
        send_mouse(canvas, QEvent.Type.MouseMove, canvas_point(window, 5, col), Qt.MouseButton.NoButton, left)
    assert calls == [] and window.update_pending
    QApplication.processEvents()
    assert len(calls) == 1 and not window.update_pending
    assert window.playground.input[0, 5, 19] > 0.5


def test_status_bar_shows_engine_and_paint_time(window):
    draw(window, [(8, 8), (20, 20)])
    assert re.fullmatch(r"update \d+\.\d\d ms engine \+ \d+\.\d ms paint", window.speed_label.text())
    assert window.last_paint_seconds > 0


def test_clicking_a_kernel_cell_changes_the_weight_and_the_maps(qtbot, window):
    window.draw_sample_digit()
    window.flush_updates()
    editor = window.kernel_editor
    before_weight = float(window.playground.network.weight(0)[0, 0, 1, 1])
    before_conv = window.playground.trace.stages[0].conv[0].copy()
    maps_before = pixels(window.feature_maps)
    qtbot.mouseClick(editor.grid, Qt.MouseButton.LeftButton, pos=editor.cell_rect(0, 1, 1).center())
    QApplication.processEvents()
    assert window.playground.network.weight(0)[0, 0, 1, 1] == pytest.approx(before_weight + editor.step)
    assert not np.allclose(window.playground.trace.stages[0].conv[0], before_conv)
    assert_trace_is_a_fresh_forward(window.playground)
    assert not np.array_equal(pixels(window.feature_maps), maps_before)


def type_value(qtbot, spin: QSpinBox, value: int) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    QApplication.processEvents()


def test_stride_two_in_the_settings_relays_out_and_still_renders(qtbot, window):
    window.draw_sample_digit()
    type_value(qtbot, window.findChild(QSpinBox, "conv0_stride"), 2)
    trace = window.playground.trace
    assert trace.stages[0].conv.shape == (8, 14, 14)
    assert trace.stages[1].pooled.shape == (16, 3, 3)
    assert_trace_is_a_fresh_forward(window.playground)
    shot = pixels(window)
    assert shot.shape[:2] == (window.height(), window.width())
    assert len(np.unique(shot.reshape(-1, 4), axis=0)) > 50


def test_impossible_setting_is_explained_next_to_the_field(qtbot, window):
    layers = list(window.playground.network.layers)
    kernel = window.findChild(QSpinBox, "conv0_kernel")
    type_value(qtbot, kernel, 1)  # padding 1 would be >= kernel 1
    error = window.findChild(QLabel, "conv0_kernel_error")
    assert error.isVisible()
    assert "kernel size K = 1" in error.text() and "Fix:" in error.text()
    below = error.mapTo(window, error.rect().topLeft()).y() - kernel.mapTo(window, kernel.rect().bottomLeft()).y()
    assert 0 <= below < 30  # right under the field
    assert window.playground.network.layers == layers
    assert kernel.value() == 3


def test_undo_settings_change_from_the_edit_menu(window):
    state = window.playground.network.get_state()
    window.layer_settings.apply(0, filters=4)
    assert window.playground.trace.stages[0].conv.shape[0] == 4
    assert window.layer_settings.banner.isVisible()
    assert window.undo_network_action.shortcut().toString() == "Ctrl+Alt+Z"
    assert window.undo_network_action.text().replace("&", "") == "Undo settings change"
    window.undo_network_action.trigger()
    assert window.playground.network.layers[0].filters == 8
    assert all(np.array_equal(a, b) for a, b in zip(state, window.playground.network.params))
    assert window.findChild(QSpinBox, "conv0_filters").value() == 8


def test_ctrl_z_undoes_a_stroke_in_the_window(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    draw(window, [(10, 5), (10, 20)])
    assert not window.canvas_model.is_empty
    qtbot.keyClick(window.kernel_editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()
    assert window.canvas_model.is_empty
    assert not window.playground.input.any()


def test_hovering_a_map_cell_outlines_its_receptive_field_and_kernel(qtbot, window):
    window.draw_sample_digit()
    window.flush_updates()
    window.feature_maps.fit()
    QApplication.processEvents()
    canvas_before = pixels(window.canvas)
    view = window.feature_maps.graphics_view()
    scene_pos = window.feature_maps.map_cell_scene_pos(0, "conv", 2, 10, 12)
    qtbot.mouseMove(view.viewport(), view.mapFromScene(scene_pos))
    QApplication.processEvents()
    editor = window.kernel_editor
    assert editor.grid.highlighted == {(2, i, j) for i in range(3) for j in range(3)}
    assert not np.array_equal(pixels(window.canvas), canvas_before)  # the receptive field is outlined


def test_hovering_the_canvas_shows_where_the_pixel_goes(qtbot, window):
    explanation = window.findChild(QLabel, "featureMapsExplanation")
    before = explanation.text()
    send_mouse(window.canvas, QEvent.Type.MouseMove, canvas_point(window, 9, 11))
    assert explanation.text() != before
    send_mouse(window.canvas, QEvent.Type.MouseMove, QPointF(1, 1))  # off the image
    assert explanation.text() == before


def test_screenshot_option_writes_a_full_window_png(tmp_path):
    path = tmp_path / "shot.png"
    assert app.run(["--screenshot", str(path)]) == 0
    image = QImage(str(path))
    assert image.width() > 1000 and image.height() > 600
    array = np.array(image.convertToFormat(QImage.Format.Format_RGBA8888).constBits(), dtype=np.uint8)
    assert len(np.unique(array.reshape(-1, 4), axis=0)) > 100


def test_view_menu_framing_follows_the_canvas_from_the_start(window):
    assert window.mnist_framing_action.isChecked() == window.canvas_model.mnist_framing
    window.canvas_model.set_mnist_framing(not window.canvas_model.mnist_framing)
    assert window.mnist_framing_action.isChecked() == window.canvas_model.mnist_framing
    window.mnist_framing_action.trigger()
    assert window.mnist_framing_action.isChecked() == window.canvas_model.mnist_framing


def test_screenshot_option_to_a_missing_folder_says_why_in_one_line(tmp_path, capsys):
    path = tmp_path / "no such folder" / "shot.png"
    assert app.run(["--screenshot", str(path)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert f"Could not save the screenshot to {path}" in error and "does not exist" in error
    assert not path.exists()


def test_save_screenshot_menu_reports_a_failed_save(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    not_a_folder = tmp_path / "a file"
    not_a_folder.write_text("")
    path = not_a_folder / "shot.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), "PNG images (*.png)"))
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *args: warnings.append((title, text)))
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if "screenshot" in a.text())
    action.trigger()
    assert warnings == [("Screenshot not saved", f"Could not save the screenshot to {path}: {not_a_folder} is a file, "
                                                 f"not a folder. Fix: choose another file name or folder.")]


def test_save_screenshot_menu_writes_a_png_even_without_the_suffix(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    path = tmp_path / "shot"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), "PNG images (*.png)"))
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: pytest.fail(f"unexpected warning {args}"))
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if "screenshot" in a.text())
    action.trigger()
    assert QImage(str(path)).width() > 500


def test_with_framing_the_receptive_field_is_outlined_where_the_drawing_is(qtbot, window):
    window.canvas_model.set_mnist_framing(True)
    window.draw_sample_digit()
    window.flush_updates()
    window.feature_maps.fit()
    QApplication.processEvents()
    framing = window.canvas_model.framing()
    assert framing is not None
    view = window.feature_maps.graphics_view()
    # (a cell no other test points at: the cursor may still be where the last test left it)
    qtbot.mouseMove(view.viewport(), view.mapFromScene(window.feature_maps.map_cell_scene_pos(0, "conv", 3, 8, 9)))
    QApplication.processEvents()
    # conv 1 is 3x3 with padding 1: output (8, 9) sees network-input rows 7..9, columns 8..10
    (row0, col0), (row1, col1) = framing.to_canvas(7, 8), framing.to_canvas(10, 11)
    (outline, _), = window.canvas._highlights
    assert (outline.top(), outline.left(), outline.bottom(), outline.right()) == \
        pytest.approx((row0, col0, row1, col1))


def test_with_framing_hovering_the_canvas_points_at_the_pixel_the_network_sees(window, monkeypatch):
    window.canvas_model.set_mnist_framing(True)
    window.draw_sample_digit()
    window.flush_updates()
    framing = window.canvas_model.framing()
    shown = []
    monkeypatch.setattr(window.feature_maps, "show_input_pixel", lambda row, col: shown.append((row, col)))
    window.canvas.hovered.emit(12.5, 9.5)
    row, col = framing.to_network(12.5, 9.5)
    assert shown == [(int(row), int(col))]


def test_a_closed_panel_is_disconnected_from_the_model(qtbot):
    """Views listen to the model while they live (qt.widgets.signals.listen), and not after."""
    from cnnstudio.qt.panels.kernel_editor import QtKernelEditor

    playground = Playground(Network(seed=1))
    before = playground.events.kernels_changed.listeners
    editor = QtKernelEditor(playground)
    assert playground.events.kernels_changed.listeners == before + 1
    editor.deleteLater()
    qtbot.waitUntil(lambda: playground.events.kernels_changed.listeners == before)
    playground.set_kernel_cell(0, 0, 0, 0, 0, 0.5)  # nobody closed is called
