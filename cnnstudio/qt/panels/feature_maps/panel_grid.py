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
from cnnstudio.qt.panels.feature_maps.style import MAP_GAP
from cnnstudio.render.mosaic import INK_LUT, MosaicLayout, colormap_lut, stage_is_signed


@dataclass
class PanelGrid:
    """The panels of one architecture, ready to be set as the graphics view's central item."""

    graphics: pg.GraphicsLayout
    panels: dict[tuple[int, str], MosaicPanel]   # (stage, kind) -> panel; the input is (-1, "input")
    layer_views: list[list[MosaicPanel]]          # the panels that zoom together, first one's bounds fit them all
    shapes: list                                  # what a trace must look like to fit: see ``expected_shapes``


def stack_gaps(height: int, pooled_height: int, stride: int) -> tuple[int, int]:
    """Gaps (full-size maps, pooled maps) that make both mosaics' map pitches equal once pooled is scaled by stride."""
    gap = MAP_GAP
    while (height + gap) % stride or (height + gap) // stride - pooled_height < 1:
        gap += 1
    return gap, (height + gap) // stride - pooled_height


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

    # the input, at the scale of the first layer's maps when they have its size
    channels, height, width = input_shape
    input_layout = MosaicLayout(channels, height, width, MAP_GAP)
    input_panel = MosaicPanel(-1, "input", input_layout, 1.0, False, INK_LUT)
    panels[(-1, "input")] = input_panel
    graphics.addItem(Caption("input", "", 9, bold=True), row=0, col=column)
    graphics.addItem(Caption("image", f"{channels} × {height}×{width}" if channels > 1 else
                             f"{height}×{width}", stacked=True), row=1, col=column)
    graphics.addItem(input_panel.view, row=2, col=column)
    grid.setColumnSpacing(column, 18)
    column += 1

    for k, (spec, g) in enumerate(zip(network.conv_specs, geometry)):
        kinds = ["conv", "activation"] + (["pooled"] if g.pool != "none" else [])
        stride = g.pool_stride if g.pool != "none" else 1
        gap, pooled_gap = stack_gaps(g.height, g.pooled_height, stride) if g.pool != "none" else (MAP_GAP, 0)
        layer = []
        graphics.addItem(Caption(f"conv {k + 1}", f"{g.filters} filters {g.kernel}×{g.kernel}, stride "
                                                  f"{g.stride}, pad {spec.padding}", 9, bold=True),
                         row=0, col=column, colspan=len(kinds))
        for kind in kinds:
            if kind == "pooled":
                layout = MosaicLayout(g.filters, g.pooled_height, g.pooled_width, pooled_gap)
                scale = float(stride)
                heading = f"{g.pool} pool {g.pool_size}×{g.pool_size}"
                size = f"{g.pooled_height}×{g.pooled_width}"
            else:
                layout = MosaicLayout(g.filters, g.height, g.width, gap)
                scale = 1.0
                heading = "convolution" if kind == "conv" else ACTIVATION_NAMES.get(g.activation, g.activation)
                size = f"{g.height}×{g.width}"
            signed = stage_is_signed(kind, g.activation)
            panel = MosaicPanel(k, kind, layout, scale, signed, None)
            graphics.addItem(Caption(heading, size, stacked=True), row=1, col=column)
            graphics.addItem(panel.view, row=2, col=column)
            panel.bar = ColorBar(colormap_lut(signed), signed)
            graphics.addItem(panel.bar, row=3, col=column)
            panels[(k, kind)] = panel
            layer.append(panel)
            column += 1
        grid.setColumnSpacing(column - 1, 18)
        layer_views.append(layer)

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
    for c in range(column):
        grid.setColumnStretchFactor(c, 1)
    grid.setRowStretchFactor(2, 1)
    return PanelGrid(graphics, panels, layer_views, shapes)


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
