"""The feature maps panel: updated in place, scale modes, linked hover, re-layout; checked on the model and pixels."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QMouseEvent, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QComboBox, QDoubleSpinBox  # noqa: E402

from cnnstudio.render.mosaic import DIVERGING_LUT, SEQUENTIAL_LUT, mosaic_levels, paint_mosaic  # noqa: E402
from cnnstudio.core.receptive_field import MapTarget, explain  # noqa: E402
from cnnstudio.qt.panels.feature_maps import QtFeatureMaps  # noqa: E402
from drawings import a_drawn_seven  # noqa: E402

KINDS = ("conv", "activation", "pooled")


@pytest.fixture
def maps(qtbot, playground):
    widget = QtFeatureMaps(playground)
    qtbot.addWidget(widget)
    widget.resize(1000, 650)
    widget.show()
    qtbot.waitExposed(widget)
    QApplication.processEvents()
    return widget


def cell_widget_pos(maps, stage, kind, f, row, col) -> QPoint:
    """Where map cell (f, row, col) of a panel is drawn, in the graphics view's viewport coordinates."""
    scene = maps.map_cell_scene_pos(stage, kind, f, row, col)
    return maps.graphics_view().mapFromScene(scene)


def shown_colour(maps, stage, kind, f, row, col) -> QColor:
    """The colour on screen at the centre of a map cell, after zooming in so a cell spans many pixels."""
    layout = maps.panel_layout(stage, kind)
    top, left = layout.to_mosaic(f, row, col)
    maps.panel_view(stage, kind).setRange(QRectF(left - 2, top - 2, 5, 5), padding=0)
    QApplication.processEvents()
    view = maps.graphics_view()
    image = view.grab().toImage()
    return image.pixelColor(cell_widget_pos(maps, stage, kind, f, row, col) * image.devicePixelRatio())


def move_mouse(maps, pos: QPoint) -> None:
    viewport = maps.graphics_view().viewport()
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), viewport.mapToGlobal(QPointF(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def expected_bgra(playground, maps, stage, kind):
    maps_of = getattr(playground.trace.stages[stage], kind)
    return paint_mosaic(maps_of, maps.panel_layout(stage, kind), maps.levels(stage, kind),
                        kind == "conv", byte_order="bgra")


# ---------------------------------------------------------------- structure and updates

def test_object_name_and_one_image_item_per_stage(maps, playground):
    assert maps.objectName() == "featureMaps"
    for stage in range(2):
        for kind in KINDS:
            layout = maps.panel_layout(stage, kind)
            maps_of = getattr(playground.trace.stages[stage], kind)
            assert (layout.count, layout.height, layout.width) == maps_of.shape
            assert maps.panel_image(stage, kind).image.shape == layout.shape + (4,)


def test_a_new_input_updates_the_same_items_and_the_shown_pixels(maps, playground):
    items = {(k, kind): maps.panel_image(k, kind) for k in range(2) for kind in KINDS}
    views = {(k, kind): maps.panel_view(k, kind) for k in range(2) for kind in KINDS}
    before = maps.graphics_view().grab().toImage()
    image = a_drawn_seven()
    image[14:18, 2:12] = 1.0  # one more stroke
    playground.set_input(image)
    QApplication.processEvents()
    after = maps.graphics_view().grab().toImage()
    assert before != after
    for key, item in items.items():
        assert maps.panel_image(*key) is item and maps.panel_view(*key) is views[key]
        np.testing.assert_array_equal(item.image, expected_bgra(playground, maps, *key))


def lut_colour(value, low, high, lut):
    t = min(max((value - low) / (high - low), 0.0), 1.0)
    return tuple(int(v) for v in lut[int(t * (len(lut) - 1) + 0.5)][:3])


def test_the_shown_pixel_has_the_colour_of_its_map_value(maps, playground):
    stage = playground.trace.stages[0]
    f, i, j = np.unravel_index(np.argmax(stage.conv), stage.conv.shape)  # the strongest response: dark red
    low, high = maps.levels(0, "conv")[f]
    colour = shown_colour(maps, 0, "conv", f, i, j)
    assert (colour.red(), colour.green(), colour.blue()) == lut_colour(stage.conv[f, i, j], low, high, DIVERGING_LUT)
    assert colour.red() > 90 and colour.blue() < 60
    f, i, j = np.argwhere(stage.conv < -0.5)[0]  # a negative response: blue
    colour = shown_colour(maps, 0, "conv", f, i, j)
    assert (colour.red(), colour.green(), colour.blue()) == lut_colour(stage.conv[f, i, j], low, high, DIVERGING_LUT)
    assert colour.blue() > colour.red()
    zero = np.argwhere(stage.activation[f] == 0)[0]  # ReLU wiped it out: white
    colour = shown_colour(maps, 0, "activation", f, *zero)
    assert (colour.red(), colour.green(), colour.blue()) == tuple(int(v) for v in SEQUENTIAL_LUT[0][:3])


def test_pooled_cells_sit_over_their_pool_windows(maps):
    # the three panels of a layer share the conv map's coordinates: pooled cell (q, r) covers window (2q, 2r)
    pooled = maps.map_cell_scene_pos(0, "pooled", 3, 4, 5)
    conv = maps.map_cell_scene_pos(0, "conv", 3, 8, 10)
    pooled_view = maps.panel_view(0, "pooled").mapSceneToView(pooled)
    conv_view = maps.panel_view(0, "conv").mapSceneToView(conv)
    assert pooled_view.y() == pytest.approx(conv_view.y() + 0.5)   # the centre of a 2x2 window
    assert abs(pooled.y() - conv.y()) < 3  # and the rows line up on screen


# ---------------------------------------------------------------- scale modes

def test_scale_mode_combo_changes_the_levels(maps, playground):
    trace = playground.trace
    combo = maps.findChild(QComboBox)
    np.testing.assert_allclose(maps.levels(1, "conv"), mosaic_levels(trace.stages[1].conv, True, "layer"))
    combo.setCurrentIndex(combo.findData("map"))
    assert maps.scale_mode == "map"
    np.testing.assert_allclose(maps.levels(1, "conv"), mosaic_levels(trace.stages[1].conv, True, "map"))
    np.testing.assert_allclose(maps.levels(0, "activation"),
                               mosaic_levels(trace.stages[0].activation, False, "map"))
    assert len(set(maps.levels(1, "conv")[:, 1].tolist())) > 1
    combo.setCurrentIndex(combo.findData("fixed"))
    np.testing.assert_allclose(maps.levels(0, "conv"), [[-3.0, 3.0]] * 8)
    np.testing.assert_allclose(maps.levels(0, "pooled"), [[0.0, 3.0]] * 8)
    spin = maps.findChild(QDoubleSpinBox)
    assert spin.isEnabled()
    spin.setValue(1.5)
    np.testing.assert_allclose(maps.levels(1, "activation"), [[0.0, 1.5]] * 16)
    np.testing.assert_array_equal(maps.panel_image(1, "activation").image,
                                  expected_bgra(playground, maps, 1, "activation"))


def test_changing_the_scale_repaints_without_recomputing(maps, playground):
    trace = playground.trace
    before = maps.graphics_view().grab().toImage()
    maps.set_scale_mode("map")
    QApplication.processEvents()
    assert playground.trace is trace
    assert maps.graphics_view().grab().toImage() != before


# ---------------------------------------------------------------- hover

def test_pointing_at_a_conv2_cell_emits_hovered_with_its_indices(qtbot, maps, playground):
    pos = cell_widget_pos(maps, 1, "conv", 5, 3, 4)
    with qtbot.waitSignal(maps.hovered, timeout=1000) as blocker:
        move_mouse(maps, pos)
    hover = blocker.args[0]
    assert (hover.stage, hover.kind, hover.filter, hover.row, hover.col) == (1, "conv", 5, 3, 4)
    assert (hover.input_rect.row0, hover.input_rect.col0, hover.input_rect.row1, hover.input_rect.col1) == \
        (3, 5, 10, 12)
    assert len(hover.kernel_cells) == 8 * 9
    assert hover.text == explain(playground.trace, playground.network, MapTarget(1, "conv", 5, 3, 4))
    from PySide6.QtWidgets import QLabel
    shown = [label.text() for label in maps.findChildren(QLabel)]
    assert hover.text in shown


def test_hover_outlines_the_receptive_field_on_earlier_maps(qtbot, maps):
    view = maps.graphics_view()
    plain = view.grab().toImage()
    with qtbot.waitSignal(maps.hovered, timeout=1000):
        move_mouse(maps, cell_widget_pos(maps, 1, "pooled", 2, 3, 2))
    QApplication.processEvents()
    lit = view.grab().toImage()
    assert lit != plain
    # the receptive field on conv1 (rows 10..17, cols 6..13 of every filter) has a green outline
    top_left = cell_widget_pos(maps, 0, "conv", 0, 10, 6)
    greens = [lit.pixelColor(top_left + QPoint(dx, dy)) for dx in range(-3, 2) for dy in range(-3, 2)]
    assert any(c.green() > 120 and c.red() < 60 and c.blue() < 110 for c in greens)


def test_pointing_at_a_pooled_cell_finds_the_pooled_indices(qtbot, maps, playground):
    with qtbot.waitSignal(maps.hovered, timeout=1000) as blocker:
        move_mouse(maps, cell_widget_pos(maps, 0, "pooled", 6, 10, 3))
    hover = blocker.args[0]
    assert (hover.stage, hover.kind, hover.filter, hover.row, hover.col) == (0, "pooled", 6, 10, 3)
    winner = divmod(int(playground.trace.stages[0].winner[6, 10, 3]), 28)
    assert f"winner at row {winner[0]}, col {winner[1]}" in hover.text


def test_leaving_the_maps_emits_hover_left(qtbot, maps):
    with qtbot.waitSignal(maps.hovered, timeout=1000):
        move_mouse(maps, cell_widget_pos(maps, 0, "conv", 1, 4, 4))
    gap = cell_widget_pos(maps, 0, "conv", 0, 0, 0) + QPoint(0, -12)  # above the first map: no cell
    with qtbot.waitSignal(maps.hover_left, timeout=1000):
        move_mouse(maps, gap)


def test_show_input_pixel_outlines_the_cells_it_feeds(maps):
    view = maps.graphics_view()
    plain = view.grab().toImage()
    maps.show_input_pixel(10, 10)
    QApplication.processEvents()
    assert view.grab().toImage() != plain
    maps.clear_highlight()
    QApplication.processEvents()
    assert view.grab().toImage() == plain


def test_pointing_at_the_input_panel_outlines_what_the_pixel_feeds(qtbot, maps):
    with qtbot.waitSignal(maps.hovered, timeout=1000):
        move_mouse(maps, cell_widget_pos(maps, 1, "conv", 0, 5, 5))
    with qtbot.waitSignal(maps.hover_left, timeout=1000):  # the map hover ends
        move_mouse(maps, cell_widget_pos(maps, -1, "input", 0, 10, 10))
    from PySide6.QtWidgets import QLabel
    assert any(label.text().startswith("input pixel row 10, col 10 feeds") for label in maps.findChildren(QLabel))


def test_the_views_of_a_layer_zoom_together(maps):
    conv, pooled, other_layer = (maps.panel_view(0, "conv"), maps.panel_view(0, "pooled"),
                                 maps.panel_view(1, "conv"))
    untouched = other_layer.viewRange()
    pos = QPointF(cell_widget_pos(maps, 0, "conv", 2, 14, 14))
    viewport = maps.graphics_view().viewport()
    wheel = QWheelEvent(pos, viewport.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    QApplication.processEvents()
    (cx0, cx1), (cy0, cy1) = conv.viewRange()
    (px0, px1), (py0, py1) = pooled.viewRange()
    assert cy1 - cy0 < 0.9 * maps.panel_layout(0, "conv").shape[0]  # zoomed in
    assert (py0, py1) == pytest.approx((cy0, cy1), abs=0.5)          # the same rows, so the same maps
    assert (px0 + px1) / 2 == pytest.approx((cx0 + cx1) / 2, abs=0.5)
    assert other_layer.viewRange() == untouched
    maps.fit()
    assert maps.panel_view(0, "conv").viewRange()[1][1] - maps.panel_view(0, "conv").viewRange()[1][0] > cy1 - cy0


# ---------------------------------------------------------------- architecture and input size

def test_a_stride_change_relays_out_the_panels(qtbot, maps, playground):
    old_item = maps.panel_image(0, "conv")
    playground.set_conv_settings(0, stride=2)
    QApplication.processEvents()
    assert maps.panel_layout(0, "conv").height == 14 and maps.panel_layout(0, "pooled").height == 7
    assert maps.panel_layout(1, "conv").height == 7 and maps.panel_layout(1, "pooled").height == 3
    for stage in range(2):
        for kind in KINDS:
            np.testing.assert_array_equal(maps.panel_image(stage, kind).image,
                                          expected_bgra(playground, maps, stage, kind))
    assert maps.panel_image(0, "conv") is not old_item
    with qtbot.waitSignal(maps.hovered, timeout=1000) as blocker:
        move_mouse(maps, cell_widget_pos(maps, 1, "pooled", 0, 2, 2))
    assert (blocker.args[0].kind, blocker.args[0].row, blocker.args[0].col) == ("pooled", 2, 2)


def test_removing_pooling_drops_the_pooled_panel(maps, playground):
    playground.set_conv_settings(1, pool="none")
    QApplication.processEvents()
    with pytest.raises(KeyError):
        maps.panel_layout(1, "pooled")
    assert maps.panel_layout(1, "activation").height == 14


def test_a_larger_image_shows_larger_maps(maps, playground):
    playground.set_input(np.random.default_rng(0).random((40, 50), dtype=np.float32))
    QApplication.processEvents()
    layout = maps.panel_layout(0, "conv")
    assert (layout.height, layout.width) == (40, 50)
    np.testing.assert_array_equal(maps.panel_image(1, "pooled").image, expected_bgra(playground, maps, 1, "pooled"))


def test_a_filter_change_after_a_per_map_hover_keeps_the_maps_working(qtbot, maps, playground):
    # the learner's sequence: colour scale "per map", point at conv 2 filter 16, then give conv 2 only 4 filters
    combo = maps.findChild(QComboBox)
    combo.setCurrentIndex(combo.findData("map"))
    with qtbot.waitSignal(maps.hovered, timeout=1000) as blocker:
        move_mouse(maps, cell_widget_pos(maps, 1, "conv", 15, 3, 4))
    assert blocker.args[0].filter == 15
    assert maps.colour_bar(1, "conv").caption == "filter 16"
    with qtbot.waitSignal(maps.hover_left, timeout=1000):  # the cell pointed at is gone: linked highlights go
        playground.set_conv_settings(1, filters=4)   # raised IndexError in the colour bars before
    QApplication.processEvents()
    assert maps.panel_layout(1, "conv").count == 4
    playground.set_input(np.roll(a_drawn_seven(), 2, axis=1))  # and so did every later stroke
    QApplication.processEvents()
    trace = playground.trace
    for kind in KINDS:
        maps_of = getattr(trace.stages[1], kind)
        assert maps.levels(1, kind).shape == (4, 2)
        np.testing.assert_allclose(maps.levels(1, kind), mosaic_levels(maps_of, kind == "conv", "map"))
        np.testing.assert_array_equal(maps.panel_image(1, kind).image, expected_bgra(playground, maps, 1, kind))
        bar = maps.colour_bar(1, kind)
        assert bar.levels == pytest.approx(tuple(maps.levels(1, kind)[0]))  # back on filter 1
        assert bar.caption == "filter 1"
    with qtbot.waitSignal(maps.hovered, timeout=1000) as blocker:  # hovering works again on the new maps
        move_mouse(maps, cell_widget_pos(maps, 1, "conv", 3, 2, 2))
    assert blocker.args[0].filter == 3
    assert maps.colour_bar(1, "conv").levels == pytest.approx(tuple(maps.levels(1, "conv")[3]))
