"""The prediction bars: one bar per class, the most probable one highlighted, updated with every change."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cnnstudio.engine import Network  # noqa: E402
from cnnstudio.core.playground import Playground  # noqa: E402
from cnnstudio.qt.panels.prediction_bars import BAR, TOP, TRACK, QtPredictionBars  # noqa: E402
from drawings import a_drawn_seven  # noqa: E402


@pytest.fixture
def playground():
    # untrained weights: probabilities spread over the classes, so every bar has a visible length
    playground = Playground(Network(seed=0))
    playground.set_input(a_drawn_seven())
    return playground


@pytest.fixture
def bars(qtbot, playground):
    widget = QtPredictionBars(playground)
    qtbot.addWidget(widget)
    widget.resize(240, 340)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def colour_at(widget, point):
    image = widget.grab().toImage()
    return image.pixelColor(point.toPoint())


def same(colour, expected) -> bool:
    return abs(colour.red() - expected.red()) + abs(colour.green() - expected.green()) + \
        abs(colour.blue() - expected.blue()) <= 6


def test_bars_show_the_softmax_and_highlight_the_argmax(bars, playground):
    assert bars.objectName() == "predictionBars"
    p = playground.trace.probabilities
    np.testing.assert_allclose(bars.probabilities, p)
    top = int(np.argmax(p))
    assert bars.top_class == top
    for index in range(10):
        assert bars.bar_rect(index).width() == pytest.approx(bars.track_rect(index).width() * p[index], rel=1e-6)
    bar = bars.bar_rect(top)
    assert same(colour_at(bars, bar.center()), TOP)
    other = int(np.argsort(p)[-2])  # the runner-up: drawn, but not highlighted
    inside = bars.bar_rect(other)
    assert inside.width() > 4
    assert same(colour_at(bars, inside.center()), BAR)
    empty = bars.track_rect(other)
    assert same(colour_at(bars, empty.topRight() + (empty.bottomRight() - empty.topRight()) / 2
                          - type(empty.topRight())(3, 0)), TRACK)


def test_a_new_input_moves_the_bars_in_place(bars, playground):
    before = bars.grab().toImage()
    old = bars.probabilities.copy()
    image = a_drawn_seven()
    image[14:18, 2:12] = 1.0
    playground.set_input(image)
    QApplication.processEvents()
    assert not np.allclose(bars.probabilities, old)
    np.testing.assert_allclose(bars.probabilities, playground.trace.probabilities)
    assert bars.grab().toImage() != before


def test_the_highlight_follows_the_argmax(bars, playground):
    # push class 3 to the top by raising its output bias
    network = playground.network
    dense = len(network.layers) - 1
    bias = network.bias(dense).copy()
    bias[3] += 50.0
    state = network.get_state()
    state[2 * dense + 1] = bias
    playground.set_weights(state)
    QApplication.processEvents()
    assert bars.top_class == 3
    assert same(colour_at(bars, bars.bar_rect(3).center()), TOP)


def test_a_large_image_shows_a_message_instead_of_bars(bars, playground):
    playground.set_input(np.zeros((40, 60), np.float32))
    QApplication.processEvents()
    assert bars.probabilities is None and bars.top_class is None
    assert bars.message() == "prediction needs a 28×28 input"
    image = bars.grab().toImage()
    assert image.pixelColor(bars.track_rect(0).center().toPoint()) != TRACK  # no bars drawn
    playground.set_input(a_drawn_seven())
    QApplication.processEvents()
    assert bars.message() is None and bars.top_class is not None


def test_an_empty_canvas_asks_for_a_digit_instead_of_naming_one(qtbot, playground):
    playground.set_input(np.zeros((28, 28), np.float32))
    widget = QtPredictionBars(playground)
    qtbot.addWidget(widget)
    widget.resize(300, 360)
    widget.show()
    qtbot.waitExposed(widget)
    def header_has_the_top_colour():
        image = widget.grab().toImage()
        return any(image.pixelColor(x, y) == TOP for x in range(0, widget.width(), 2)
                   for y in range(0, int(widget._header_height()), 2))

    assert widget.blank_input and not header_has_the_top_colour()  # no big digit, just the request
    image = widget.grab().toImage()
    top_bar = widget.bar_rect(widget.top_class).center().toPoint()
    assert image.pixelColor(top_bar) != TOP  # and no highlighted bar
    playground.set_input(a_drawn_seven())
    QApplication.processEvents()
    assert not widget.blank_input and widget.top_class == int(np.argmax(playground.trace.probabilities))
    assert header_has_the_top_colour()


def test_outputs_that_are_not_numbers_show_a_message_not_nan_bars(bars, playground):
    playground.network.weight(0)[...] = np.inf  # set on the network directly (the kernel editor refuses such values)
    with np.errstate(all="ignore"):
        playground.recompute()
    QApplication.processEvents()
    assert bars.not_finite and bars.probabilities is None and bars.top_class is None
    message = bars.message()
    assert "not numbers (NaN or infinite)" in message and "Fix: Edit > Reset kernels, or load a model." in message
    assert "nan" not in message
    image = bars.grab().toImage()
    assert not same(image.pixelColor(bars.track_rect(0).center().toPoint()), TRACK)  # no bars drawn
    playground.reset_kernels()
    QApplication.processEvents()
    assert not bars.not_finite and bars.message() is None and bars.top_class is not None
