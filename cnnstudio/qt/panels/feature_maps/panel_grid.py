"""Lay out the maps of a network: one column per stage (input | conv | activation | pooled ...), built per architecture.

``build_panel_grid`` makes the pyqtgraph layout with its titles, panels and
colour bars; it runs only when the architecture or the input size changes.
The views of a layer (and the input, when its maps have the input's size) zoom
and pan together.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QRectF

from cnnstudio.core.receptive_field import ACTIVATION_NAMES
from cnnstudio.qt.panels.feature_maps.captions import Caption, ColorBar
from cnnstudio.qt.panels.feature_maps.mosaic_panel import MosaicPanel
from cnnstudio.qt.panels.feature_maps.style import (MAP_GAP, MAX_MIN_MAP_PIXELS, MAX_ROWS, MIN_CELL_PIXELS,
                                                    MIN_COLUMN_WIDTH, MIN_MAP_PIXELS)
from cnnstudio.render.mosaic import INK_LUT, MosaicLayout, colormap_lut, stage_is_signed


@dataclass
class PanelGrid:
    """The panels of one architecture, ready to be set as the graphics view's central item."""

    graphics: pg.GraphicsLayout
    panels: dict[tuple[int, str], MosaicPanel]   # (stage, kind) -> panel; the input is (-1, "input")
    layer_views: list[list[MosaicPanel]]          # the panels that zoom together, first one's bounds fit them all
    shapes: list                                  # what a trace must look like to fit: see ``expected_shapes``
    minimum_size: tuple[int, int] = (0, 0)        # (width, height) that keeps maps and titles legible


def stack_gaps(height: int, pooled_height: int, stride: int) -> tuple[int, int]:
    """Gaps (full-size maps, pooled maps) that make both mosaics' map pitches equal once pooled is scaled by stride."""
    gap = MAP_GAP
    while (height + gap) % stride or (height + gap) // stride - pooled_height < 1:
        gap += 1
    return gap, (height + gap) // stride - pooled_height


def mosaic_columns(stage) -> int:
    """Maps side by side in a stage's mosaic: one column up to MAX_ROWS maps, more past that (32 filters: 2).

    Only square maps get several columns: the gaps that line the pooled maps up with their conv maps
    (``stack_gaps``) are worked out from the heights, so they fit the widths only when both are equal.
    """
    square = stage.height == stage.width and stage.pooled_height == stage.pooled_width
    return -(-stage.filters // MAX_ROWS) if square else 1


def expected_shapes(geometry, input_shape) -> list:
    """[input (C, H, W), then per conv layer ((F, H, W) of the conv maps, (F, h, w) of the pooled maps)]."""
    return [tuple(input_shape)] + [((g.filters, g.height, g.width), (g.filters, g.pooled_height, g.pooled_width))
                                   for g in geometry]


def build_panel_grid(network, input_shape) -> PanelGrid:
    """Titles, panels and colour bars for every stage of ``network`` on an input of ``input_shape`` (C, H, W)."""
    graphics = pg.GraphicsLayout()
    graphics.setContentsMargins(4, 2, 4, 2)
    panels: dict[tuple[int, str], MosaicPanel] = {}
    layer_views: list[list[MosaicPanel]] = []
    geometry = network.geometry(input_shape)
    shapes = expected_shapes(geometry, input_shape)
    grid = graphics.layout
    column = 0
    widths: list[float] = []      # each column's least width: its title unelided, its colour bar readable
    spacings: list[float] = []
    view_height = 0.0             # the height at which every layer's maps are MIN_MAP_PIXELS tall
    column_of: dict[int, int] = {}  # id(panel) -> its column

    # the input, at the scale of the first layer's maps when they have its size
    channels, height, width = input_shape
    input_layout = MosaicLayout(channels, height, width, MAP_GAP)
    input_panel = MosaicPanel(-1, "input", input_layout, 1.0, False, INK_LUT)
    panels[(-1, "input")] = input_panel
    graphics.addItem(Caption("input", "", 9, bold=True), row=0, col=column)
    caption = Caption("image", f"{channels} × {height}×{width}" if channels > 1 else f"{height}×{width}",
                      stacked=True)
    graphics.addItem(caption, row=1, col=column)
    graphics.addItem(input_panel.view, row=2, col=column)
    column_of[id(input_panel)] = column
    grid.setColumnSpacing(column, 18)
    widths.append(max(caption.natural_width(), 40.0))
    spacings.append(18)
    column += 1

    for k, (spec, g) in enumerate(zip(network.conv_specs, geometry)):
        kinds = ["conv", "activation"] + (["pooled"] if g.pool != "none" else [])
        stride = g.pool_stride if g.pool != "none" else 1
        gap, pooled_gap = stack_gaps(g.height, g.pooled_height, stride) if g.pool != "none" else (MAP_GAP, 0)
        layer = []
        graphics.addItem(Caption(f"conv {k + 1}", f"{g.filters} filters {g.kernel}×{g.kernel}, stride "
                                                  f"{g.stride}, pad {spec.padding}", 9, bold=True),
                         row=0, col=column, colspan=len(kinds))
        columns = mosaic_columns(g)
        for kind in kinds:
            if kind == "pooled":
                layout = MosaicLayout(g.filters, g.pooled_height, g.pooled_width, pooled_gap, columns)
                scale = float(stride)
                heading = f"{g.pool} pool {g.pool_size}×{g.pool_size}"
                size = f"{g.pooled_height}×{g.pooled_width}"
            else:
                layout = MosaicLayout(g.filters, g.height, g.width, gap, columns)
                scale = 1.0
                heading = "convolution" if kind == "conv" else ACTIVATION_NAMES.get(g.activation, g.activation)
                size = f"{g.height}×{g.width}"
            signed = stage_is_signed(kind, g.activation)
            panel = MosaicPanel(k, kind, layout, scale, signed, None)
            caption = Caption(heading, size, stacked=True)
            widths.append(max(caption.natural_width(), MIN_COLUMN_WIDTH))
            spacings.append(grid.horizontalSpacing())
            graphics.addItem(caption, row=1, col=column)
            graphics.addItem(panel.view, row=2, col=column)
            column_of[id(panel)] = column
            panel.bar = ColorBar(colormap_lut(signed), signed)
            graphics.addItem(panel.bar, row=3, col=column)
            panels[(k, kind)] = panel
            layer.append(panel)
            column += 1
        grid.setColumnSpacing(column - 1, 18)
        spacings[-1] = 18
        layer_views.append(layer)
        # the views share one height; at it, this layer's maps (all panels show the conv maps' extent) are
        # legible: MIN_MAP_PIXELS tall, and MIN_CELL_PIXELS a cell for maps up to 14 cells
        least = max(MIN_MAP_PIXELS, min(MIN_CELL_PIXELS * g.height, MAX_MIN_MAP_PIXELS))
        view_height = max(view_height, layer[0].bounds.height() * least / g.height)
        for c in range(column - len(kinds), column):  # and wide enough for its maps side by side at that size
            widths[c] = max(widths[c], layer[0].bounds.width() * least / g.height + 4)

    # the input shares layer 1's coordinates (zooms with it) when its maps have the input's size;
    # otherwise it is drawn top-aligned at about the scale of layer 1's maps
    first = layer_views[0][0] if layer_views else None
    if first is not None and first.layout.width == width and first.layout.pitch[0] == input_layout.pitch[0]:
        input_panel.bounds = first.bounds
        layer_views[0].insert(0, input_panel)
    else:
        if first is not None:
            input_panel.bounds = QRectF(0, 0, width, max(height, first.bounds.height()))
        layer_views.append([input_panel])
    for layer in layer_views:
        for panel in layer:
            panel.view.sigRangeChangedManually.connect(
                lambda _mask, view=panel.view, group=layer: follow(view, group))
        # NOTE: the views of a layer get one width, so fitting them gives one scale and their rows line up
        # (columns of different widths would fit the same bounds at different scales once width-limited)
        columns = [column_of[id(panel)] for panel in layer]
        for c in columns:
            widths[c] = max(widths[c] for c in columns)
    for c in range(column):
        grid.setColumnStretchFactor(c, 1)
        grid.setColumnMinimumWidth(c, widths[c])  # equal stretch alone would elide the wider titles
    grid.setRowStretchFactor(2, 1)
    margins = grid.getContentsMargins()
    chrome = sum(grid.itemAt(row, 0).minimumHeight() for row in (0, 1)) + ColorBar.HEIGHT \
        + 3 * grid.verticalSpacing() + margins[1] + margins[3]
    minimum = (int(sum(widths) + sum(spacings) + margins[0] + margins[2]), int(view_height + chrome))
    return PanelGrid(graphics, panels, layer_views, shapes, minimum)


def follow(source: pg.ViewBox, panels: list[MosaicPanel]) -> None:
    """Give the other views of a layer the centre and zoom (units per pixel) of ``source``.

    pyqtgraph's setXLink/setYLink copy whole ranges, which together with a locked
    aspect ratio on views of slightly different widths feeds back and zooms out;
    matching centre and scale instead keeps map rows aligned across the views.
    """
    (x0, x1), (y0, y1) = source.viewRange()
    height = source.height()
    if height <= 0:
        return
    per_pixel = (y1 - y0) / height
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    for panel in panels:
        view = panel.view
        if view is source:
            continue
        half_w, half_h = per_pixel * view.width() / 2, per_pixel * view.height() / 2
        view.setRange(xRange=(cx - half_w, cx + half_w), yRange=(cy - half_h, cy + half_h), padding=0)
