"""The step-through's numbers add up as shown, and its steps go through every layer in order."""
import re
from decimal import Decimal

import numpy as np
import pytest

from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network
from cnnstudio.lessons.guided import sample_digit_image
from cnnstudio.lessons.step_through import StepThrough
from cnnstudio.qt.lessons.grid_view import GridView
from cnnstudio.qt.lessons.step_view import ExplainView


@pytest.fixture
def view(qtbot):
    playground = Playground(Network(seed=0))
    playground.set_input(sample_digit_image(3))
    view = ExplainView(playground)
    qtbot.addWidget(view)
    view.resize(1200, 520)
    view.show()
    qtbot.waitExposed(view)
    return view


def shown_cells(grid: GridView) -> list[Decimal]:
    return [Decimal(grid.cell_text(v)) for v in grid.values.reshape(-1)]


def bold_numbers(label) -> list[Decimal]:
    return [Decimal(n) for n in re.findall(r"<b>(-?\d+\.\d+)</b>", label.text())]


def test_the_shown_products_sum_to_the_shown_sum(view):
    model = view.model
    for index in range(model.span("conv").start + 40, model.span("conv").stop, 97):
        model.go_to(index)
        shown_sum = bold_numbers(view.result)[0]
        assert sum(shown_cells(view.products)) == shown_sum
        assert "exact" in view.result.text()   # and it says the products are rounded
        assert "rounded" in view.result.text()


def test_conv_2_shows_a_channel_selector_whose_subtotals_add_up_to_the_sum(view, qtbot):
    view.stage_box.setCurrentIndex(1)
    model = view.model
    model.go_to(model.span("conv").start + 20)
    assert not view.channel_box.isHidden() and view.channel_box.maximum() == 8
    assert not view.subtotals.isHidden() and view.subtotals.values.shape == (1, 8)
    subtotals = shown_cells(view.subtotals)
    shown_sum = bold_numbers(view.result)[0]
    assert sum(subtotals) == shown_sum
    for channel in (1, 4, 8):
        view.channel_box.setValue(channel)
        assert sum(shown_cells(view.products)) == subtotals[channel - 1]
        assert f"channel {channel}: {subtotals[channel - 1]}" in view.result.text()
    rect = view.subtotals.cell_rect(0, 2)
    from PySide6.QtCore import Qt
    qtbot.mouseClick(view.subtotals, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert view.channel_box.value() == 3


def test_the_step_through_visits_conv_2_before_flatten():
    network = Network(seed=0)
    digit = sample_digit_image(3)
    model = StepThrough(network, digit, stage=0, filter=2)
    order = []
    for span in model.spans:
        if span.count:
            step = model.step(span.start)
            order.append((step.phase, step.stage))
    assert order == [("conv", 0), ("activation", 0), ("pool", 0), ("conv", 1), ("activation", 1), ("pool", 1),
                     ("flatten", None), ("dense", None), ("softmax", None)]
    trace = network.forward_maps(digit)
    model.go_to(model.span("pool", 1).stop - 1)
    np.testing.assert_allclose(model.conv_filled(stage=1), trace.stages[1].conv[2], atol=1e-4)
    np.testing.assert_allclose(model.pooled_filled(stage=1), trace.stages[1].pooled[2], atol=1e-4)


def test_stepping_forward_from_conv_1s_pooling_shows_conv_2(view):
    model = view.model
    model.go_to(model.span("pool").stop - 1)
    view.model_step_forward()
    assert model.phase == "conv" and model.step().stage == 1
    assert "conv 2" in view.phase_label.text() and view.target.title.startswith("feature map of conv 2")
    assert view.channel_box.maximum() == 8 and not view.channel_box.isHidden()
    assert view.description.text().startswith("Conv 2, output pixel (row 1, column 1)")


def test_softmax_says_why_it_subtracts_the_max(view):
    view.model.go_to_phase("softmax")
    assert not view.note_label.isHidden() and "numerical stability" in view.note_label.text()
    assert "changes nothing in the result" in view.note_label.text()
    view.model.go_to_phase("dense")
    assert view.note_label.isHidden()


def test_kernel_numbers_fit_their_cells(view):
    """Numbers scale with the cell and are never wider than it (no "-0.23-0.05")."""
    from PySide6.QtGui import QFontMetricsF, QPainter, QPixmap

    from cnnstudio.qt.lessons.grid_view import _fitting_font
    pixmap = QPixmap(10, 10)
    painter = QPainter(pixmap)
    try:
        for cell in (14, 20, 30, 40):
            font = _fitting_font(painter, ["-0.23", "-12.05"], cell)
            if font is not None:
                assert QFontMetricsF(font).horizontalAdvance("-12.05") <= cell - 4
        assert _fitting_font(painter, ["-0.23"], 40).pixelSize() >= 12
    finally:
        painter.end()
