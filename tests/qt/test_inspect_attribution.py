"""The Inspect dock's Attribution tab, driven as a user: draw on the canvas, pick a class and a Grad-CAM
layer in the choosers; check the maps shown, and the messages when a map cannot be made."""
from __future__ import annotations

import numpy as np
import pytest
from inspect_mouse import choose, draw_on_canvas
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from cnnstudio.engine import DenseSpec, Network
from cnnstudio.inspection.attribution import METHODS
from cnnstudio.qt.inspection.attribution_view import PREDICTED
from cnnstudio.qt.inspection.map_tile import range_text

WAIT_MS = 10000


@pytest.fixture
def view(qtbot, window):
    """The Attribution tab, shown in the Inspect dock, with its first maps."""
    view = window.inspect_dock.views["attribution_view"]
    with qtbot.waitSignal(view.updated, timeout=WAIT_MS):
        window.inspect_dock.show_tab("attribution_view")
    qtbot.waitUntil(lambda: not view.computer.busy, timeout=WAIT_MS)
    return view


def maps(view) -> dict:
    return {method: None if view.tiles[method].values is None else view.tiles[method].values.copy()
            for method in METHODS}


def shown_pixels(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    return np.array(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine()).copy()


def settle(qtbot, view) -> None:
    """Wait until the newest request's maps are shown (latest request wins: several may be in flight)."""
    qtbot.waitUntil(lambda: not view.computer.busy and not view._timer.isActive() and not view._stale,
                    timeout=WAIT_MS)


def test_the_view_is_the_attribution_tab_with_five_titled_maps(view):
    assert view.objectName() == "inspectAttribution" and view.isVisible()
    titles = [view.tiles[m].title.text() for m in METHODS]
    assert titles == ["Saliency", "SmoothGrad", "Integrated gradients", "Grad-CAM", "Occlusion"]
    for method, tile in view.tiles.items():
        assert tile.caption.text() and tile.colour_bar.isVisible()
        assert tile.values.shape == (28, 28) and np.isfinite(tile.values).all()
        lo, hi = view.results[method].levels
        # the legend: signed maps centred at 0 on the diverging colours, the others from 0
        expected = [range_text(lo), "0", range_text(hi)] if view.results[method].signed else ["0", range_text(hi)]
        assert tile.colour_bar.labels() == expected and lo == (-hi if view.results[method].signed else 0)
    assert view.class_box.itemText(0).startswith("predicted (")
    assert [view.class_box.itemText(k) for k in range(1, 11)] == [str(k) for k in range(10)]


def test_a_stroke_on_the_canvas_changes_the_maps(qtbot, window, view):
    before = maps(view)
    pixels_before = shown_pixels(view.tiles["saliency"].canvas)
    with qtbot.waitSignal(view.updated, timeout=WAIT_MS):
        draw_on_canvas(window, [(6, 6), (6, 14), (6, 22), (14, 18), (22, 14)])
    settle(qtbot, view)
    after = maps(view)
    assert not window.canvas_model.is_empty
    for method in METHODS:
        assert np.isfinite(after[method]).all(), method
        assert not np.array_equal(after[method], before[method]), f"{method} did not follow the stroke"
    assert not np.array_equal(shown_pixels(view.tiles["saliency"].canvas), pixels_before)
    predicted = int(np.argmax(window.playground.trace.probabilities))
    assert view.class_box.itemText(0) == f"predicted ({predicted})"
    assert all(view.results[m].target == predicted for m in METHODS)
    ig = view.results["integrated_gradients"]
    assert ig.completeness_error <= 0.01 and "off by" in view.tiles["integrated_gradients"].detail.text()


def test_choosing_another_class_with_the_mouse_explains_that_class(qtbot, window, view):
    window.canvas_model.stamp_sample_digit(3)
    window.flush_updates()
    settle(qtbot, view)
    before = maps(view)
    other = 5 if view.results["saliency"].predicted != 5 else 6
    with qtbot.waitSignal(view.updated, timeout=WAIT_MS):
        choose(qtbot, view.class_box, other)
    settle(qtbot, view)
    assert view.class_box.currentData() == other
    assert all(view.results[m].target == other for m in METHODS)
    changed = [m for m in METHODS if not np.array_equal(maps(view)[m], before[m])]
    assert set(changed) == set(METHODS)
    assert f"class <b>{other}</b>" in view.info.text()
    # and back to the predicted class with the keyboard
    view.class_box.setFocus()
    for _ in range(view.class_box.currentIndex()):
        qtbot.keyClick(view.class_box, Qt.Key.Key_Up)
    settle(qtbot, view)
    assert view.class_box.currentData() == PREDICTED
    assert view.results["saliency"].target == view.results["saliency"].predicted


def test_choosing_another_grad_cam_layer_recomputes_grad_cam_on_it(qtbot, view):
    assert view.layer_box.count() == 2 and view.layer_box.currentData() == 1  # the last conv layer first
    assert view.results["grad_cam"].cam.shape == (14, 14)
    with qtbot.waitSignal(view.updated, timeout=WAIT_MS):
        choose(qtbot, view.layer_box, 0)
    settle(qtbot, view)
    result = view.results["grad_cam"]
    assert result.stage == 0 and result.cam.shape == (28, 28)
    assert view.tiles["grad_cam"].caption.text().startswith("conv 1's maps")
    assert "conv 1: 8 maps of 28×28" in view.tiles["grad_cam"].detail.text()
    # the keyboard works too
    view.layer_box.setFocus()
    qtbot.keyClick(view.layer_box, Qt.Key.Key_Down)
    settle(qtbot, view)
    assert view.results["grad_cam"].stage == 1


def test_a_network_without_conv_layers_says_grad_cam_needs_one(qtbot, window, view):
    network = Network([DenseSpec(32, "relu"), DenseSpec(10)], input_shape=(1, 28, 28), seed=0)
    window.canvas_model.stamp_sample_digit(3)
    window.flush_updates()
    window.playground.set_network(network)
    settle(qtbot, view)
    tile = view.tiles["grad_cam"]
    assert tile.values is None and "no conv layer" in tile.message and "Fix:" in tile.message
    assert not tile.colour_bar.isVisible()
    assert not view.layer_box.isEnabled() and view.layer_box.currentText() == "no conv layer"
    for method in ("saliency", "smoothgrad", "integrated_gradients", "occlusion"):
        assert np.isfinite(view.tiles[method].values).all(), method
    painted = shown_pixels(tile.canvas)
    assert len(np.unique(painted.reshape(-1, 4), axis=0)) > 1, "the message is painted"


def test_an_input_of_another_size_is_said_not_crashed(qtbot, window, view):
    window.playground.set_input(np.zeros((40, 36), np.float32))
    settle(qtbot, view)
    for tile in view.tiles.values():
        assert "network's size (28×28)" in tile.message and "40×36" in tile.message
    window.playground.set_input(np.zeros((28, 28), np.float32))
    settle(qtbot, view)
    assert all(view.tiles[m].values is not None for m in METHODS)


def test_hidden_it_waits_and_catches_up_when_shown(qtbot, window, view):
    window.inspect_dock.tabs.setCurrentIndex(1)  # another tab in front
    assert not view.isVisible()
    window.canvas_model.stamp_sample_digit(7)
    window.flush_updates()
    qtbot.wait(50)
    assert view._stale and not view.computer.busy, "a hidden view computes nothing"
    with qtbot.waitSignal(view.updated, timeout=WAIT_MS):
        window.inspect_dock.show_tab("attribution_view")
    settle(qtbot, view)
    assert np.array_equal(view.results["saliency"].map.shape, (28, 28)) and not view._stale
