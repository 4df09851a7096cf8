"""The Digit space tab in the main window: 1,000 test digits, the drawing as a moving star, hover, click to
load a digit (undoable), live during training."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from inspect_mouse import LEFT, draw_on_canvas, send_mouse
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QTextDocument

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.core.playground import Playground
from cnnstudio.engine import ConvSpec, DenseSpec, Network, last_hidden_features
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.qt.inspection.dock import InspectContext
from cnnstudio.qt.inspection.space_view import DigitSpaceView, class_colour
from cnnstudio.training.settings import TrainingSettings

TIMEOUT_MS = 60_000


@pytest.fixture
def view(qtbot, window):
    window.inspect_dock.show_tab("space_view")
    view = window.inspect_dock.views["space_view"]
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.space is not None, timeout=TIMEOUT_MS)
    return view


def widget_point(view, x: float, y: float) -> QPointF:
    """Where data point (x, y) of the scatter is on the plot widget's viewport (as last painted)."""
    view.plot.viewport().repaint()  # pyqtgraph fits the range to new points just before it paints them
    view_box = view.plot.getPlotItem().getViewBox()
    return QPointF(view.plot.mapFromScene(view_box.mapViewToScene(QPointF(x, y))))


def lonely_point(view) -> int:
    """A digit whose point has no other within 12 screen pixels (so the mouse can only mean it)."""
    view.plot.viewport().repaint()
    view_box = view.plot.getPlotItem().getViewBox()
    sx, sy = view_box.viewPixelSize()
    pixels = view.space.points / np.array([sx, sy])
    distance = np.hypot(*(pixels[:, None, :] - pixels[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distance, np.inf)
    inside = view_box.viewRect()
    candidates = [k for k in np.argsort(-distance.min(axis=1))
                  if inside.contains(QPointF(*view.space.points[k]))]
    assert distance[candidates[0]].min() > 12
    return int(candidates[0])


def test_the_view_is_the_digit_space_tab(view):
    assert view.objectName() == "inspectSpace"
    assert type(view).__name__ == "DigitSpaceView"


def test_a_thousand_test_digits_are_shown_coloured_by_class(view):
    assert view.space.points.shape == (1000, 2)
    assert np.all(np.bincount(view.labels, minlength=10) == 100)
    for label, scatter in enumerate(view.scatters):
        x, y = scatter.getData()
        members = np.flatnonzero(view.labels == label)
        np.testing.assert_allclose(np.column_stack([x, y]), view.space.points[members])
        assert scatter.opts["brush"].color().name() == class_colour(label).name()
    assert len({scatter.opts["brush"].color().name() for scatter in view.scatters}) == 10
    legend = QTextDocument()
    legend.setHtml(view.legend.text())
    assert all(f"● {name}" in legend.toPlainText() for name in "0123456789")
    first, second = view.space.pca.explained
    assert f"{first:.0%} of the variance" in view.plot.getPlotItem().getAxis("bottom").labelText
    assert f"{second:.0%} of the variance" in view.plot.getPlotItem().getAxis("left").labelText


def test_the_drawing_is_a_star_that_moves_with_every_stroke(qtbot, window, view):
    draw_on_canvas(window, [(5, 14), (22, 14)])
    window.flush_updates()
    qtbot.waitUntil(lambda: view.marker_position is not None)
    first = view.marker_position.copy()
    draw_on_canvas(window, [(5, 5), (5, 22), (14, 14)])
    window.flush_updates()
    qtbot.waitUntil(lambda: not np.allclose(view.marker_position, first))
    expected = view.space.place(window.playground.network, window.playground.input)
    np.testing.assert_allclose(view.marker_position, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.column_stack(view.marker.getData())[0], view.marker_position)


def test_hovering_a_point_shows_its_digit_and_label(qtbot, view):
    index = lonely_point(view)
    send_mouse(view.plot.viewport(), QEvent.Type.MouseMove, widget_point(view, *view.space.points[index]),
               Qt.MouseButton.NoButton)
    qtbot.waitUntil(lambda: view.hovered == index)
    label = str(view.labels[index])
    assert view.thumbnail.title == f"digit: {label}"
    np.testing.assert_array_equal(view.thumbnail.values, view.images[index, 0])
    assert f"labelled <b>{label}</b>" in view.hover_label.text()
    assert label in view.plot.toolTip()


def test_clicking_a_point_loads_that_digit_onto_the_canvas_and_ctrl_z_takes_it_back(qtbot, window, view):
    draw_on_canvas(window, [(6, 6), (20, 20)])
    window.flush_updates()
    before = window.playground.input.copy()
    index = lonely_point(view)
    point = widget_point(view, *view.space.points[index]).toPoint()
    qtbot.mouseClick(view.plot.viewport(), LEFT, pos=point)
    window.flush_updates()
    np.testing.assert_allclose(window.canvas_model.image, view.images[index, 0], atol=1e-6)
    np.testing.assert_allclose(window.playground.input, view.images[index], atol=1e-6)  # not framed again
    qtbot.waitUntil(lambda: view.marker_position is not None
                    and np.allclose(view.marker_position, view.space.points[index], rtol=1e-4, atol=1e-3))
    qtbot.keyClick(window.kernel_editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    window.flush_updates()
    np.testing.assert_allclose(window.playground.input, before, atol=1e-6)


def test_a_click_on_empty_space_loads_nothing(qtbot, window, view):
    view.plot.viewport().repaint()
    view_box = view.plot.getPlotItem().getViewBox()
    shown = view_box.viewRect()  # just inside a corner of the plot, in data coordinates
    corner = QPointF(shown.left() + 0.02 * shown.width(), shown.top() + 0.02 * shown.height())
    assert view_box.sceneBoundingRect().contains(view_box.mapViewToScene(corner))
    assert view.point_at(view_box.mapViewToScene(corner)) is None
    before = window.canvas_model.image.copy()
    qtbot.mouseClick(view.plot.viewport(), LEFT, pos=widget_point(view, corner.x(), corner.y()).toPoint())
    window.flush_updates()
    np.testing.assert_array_equal(window.canvas_model.image, before)
    assert not window.canvas_model.can_undo


def test_training_moves_the_points(qtbot, window, view):
    shown = view.space
    train, test = load_mnist_5k()
    small = (Digits(train.images[::13], train.labels[::13], "small train"),
             Digits(test.images[::50], test.labels[::50], "small test"))
    controller = window.training_controller
    finished = []
    controller.finished.connect(lambda: finished.append(True))
    controller.start(TrainingSettings(batch_size=32, epochs=1, learning_rate=3e-2), *small)
    qtbot.waitUntil(lambda: view.space is not shown, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: bool(finished), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not view._stale and not view.computer.busy and not view._update_timer.isActive(),
                    timeout=TIMEOUT_MS)
    moved = view.space
    assert not np.allclose(moved.points, shown.points)
    # the points are the projection of the trained network's features, turned to agree with the old axes
    features = last_hidden_features(window.playground.network, view.images)
    np.testing.assert_allclose(moved.pca.project(features), moved.points, rtol=1e-4, atol=1e-3)
    assert np.all(np.sum(moved.pca.axes * shown.pca.axes, axis=1) > 0)


def test_tsne_is_disabled_with_the_reason_when_scikit_learn_is_missing(view):
    item = view.method_box.model().item(1)
    if importlib.util.find_spec("sklearn") is None:
        assert not item.isEnabled()
        assert "scikit-learn" in view.method_box.itemData(1, Qt.ItemDataRole.ToolTipRole)
    else:
        assert item.isEnabled()


def test_a_new_architecture_gets_a_new_space(qtbot, window, view):
    layers = [ConvSpec(4, 3, padding=1), DenseSpec(16, activation="relu"), DenseSpec(10)]
    window.playground.set_network(Network(layers, (1, 28, 28), seed=2))
    qtbot.waitUntil(lambda: view.space is not None and view.space.features.shape[1] == 16, timeout=TIMEOUT_MS)
    draw_on_canvas(window, [(5, 14), (22, 14)])
    window.flush_updates()
    qtbot.waitUntil(lambda: view.marker_position is not None)


def test_no_test_digits_is_said_not_crashed(qtbot):
    def no_data():
        raise ValueError("no data set is chosen")

    playground = Playground()
    context = InspectContext(playground, CanvasModel(), None, no_data, lambda text, ms=0: None)
    view = DigitSpaceView(context)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert "no data set is chosen" in view.info.text()
    assert view.space is None
    view.stop()
