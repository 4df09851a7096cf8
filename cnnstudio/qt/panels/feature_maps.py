"""Every feature map of every conv layer, live: convolution | activation | pooled, one row per filter.

Each stage of a layer is ONE ImageItem showing a mosaic (its F maps stacked in a
column, see ``cnnstudio.render.mosaic``) fed ready RGBA pixels: painting 6 mosaics
instead of 72 small images is what keeps a stroke under the frame budget
(PERFORMANCE.md).  Items are created when the architecture changes and only get
``setImage`` afterwards.

The three views of a layer share one coordinate system, the conv map's pixels:
the pooled mosaic is drawn scaled by the pool stride, with its gaps chosen so
that map f starts at the same height in all three, so each pooled cell sits over
its pool window.  The views are linked (zoom and pan together).

Hover: the scene position becomes (stage, kind, filter, row, col); the receptive
field is outlined on this and every earlier map, ``hovered(MapHover)`` is emitted
and the arithmetic is shown under the maps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetricsF, QImage, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGraphicsPathItem, QGraphicsView, QHBoxLayout, QLabel,
                               QToolButton, QVBoxLayout, QWidget)

from cnnstudio.render.mosaic import (DEFAULT_FIXED_RANGE, GRAY_LUT, MosaicLayout, colormap_lut, mosaic_levels,
                                    paint_mosaic, stage_is_signed)
from cnnstudio.core.receptive_field import (ACTIVATION_NAMES, KernelCell, MapTarget, ReceptiveField, Rect,
                                             describe_input_pixel, explain, fed_by_input, receptive_field,
                                             stage_geometry)

pg.setConfigOptions(imageAxisOrder="row-major")

BACKGROUND = "#f4f5f7"
VIEW_BACKGROUND = "#d9dde3"   # behind the maps: the gaps between them show it
TEXT = "#2b2f36"
MUTED = "#6b7280"
FIELD_COLOR = "#0a9b48"       # receptive field outlines: neither blue nor red, so it reads on every map
CELL_COLOR = "#111111"        # the hovered cell, a max pool's winner
INPUT_PIXEL_COLOR = "#f08c00"  # readable on white paper and on black ink
SCALE_CHOICES = (("per map", "map"), ("per layer", "layer"), ("fixed", "fixed"))
MAP_GAP = 2
INPUT_HINT = ("Point at any map cell to see the numbers behind it and its receptive field. "
              "Drag to pan, wheel to zoom.")


@dataclass(frozen=True)
class MapHover:
    """What ``hovered`` carries: the cell pointed at, its receptive field and the arithmetic as text."""

    target: MapTarget
    field: ReceptiveField
    text: str

    @property
    def stage(self) -> int:
        return self.target.stage

    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def filter(self) -> int:
        return self.target.filter

    @property
    def row(self) -> int:
        return self.target.row

    @property
    def col(self) -> int:
        return self.target.col

    @property
    def input_rect(self) -> Rect:
        """The receptive field on the network's input (clipped to the image)."""
        return self.field.input_rect

    @property
    def kernel_cells(self) -> tuple[KernelCell, ...]:
        return self.field.kernel_cells


def _stack_gaps(height: int, pooled_height: int, stride: int) -> tuple[int, int]:
    """Gaps (full-size maps, pooled maps) that make both mosaics' map pitches equal once pooled is scaled by stride."""
    gap = MAP_GAP
    while (height + gap) % stride or (height + gap) // stride - pooled_height < 1:
        gap += 1
    return gap, (height + gap) // stride - pooled_height


def _short(v: float) -> str:
    text = f"{v:.3g}"
    return "0" if text in ("-0", "0") else text


class _ColorBar(pg.GraphicsWidget):
    """A thin gradient with its levels written under it; painting it is a scaled image and three words."""

    HEIGHT = 30

    def __init__(self, lut: np.ndarray, signed: bool):
        super().__init__()
        self.setMinimumHeight(self.HEIGHT)
        self.setMaximumHeight(self.HEIGHT)
        self.setMinimumWidth(0)
        self.setPreferredWidth(0)
        self._signed = signed
        self._levels = (0.0, 1.0)
        self._caption = ""
        rgba = np.ascontiguousarray(lut[None, :, :])
        self._gradient = QImage(rgba.data, rgba.shape[1], 1, 4 * rgba.shape[1], QImage.Format.Format_RGBA8888).copy()
        self._font = QFont()
        self._font.setPointSizeF(7.5)

    def set_levels(self, low: float, high: float, caption: str = "") -> None:
        if (low, high, caption) != (*self._levels, self._caption):
            self._levels, self._caption = (float(low), float(high)), caption
            self.update()

    @property
    def levels(self) -> tuple[float, float]:
        return self._levels

    @property
    def caption(self) -> str:
        return self._caption

    def paint(self, painter: QPainter, *args) -> None:
        rect = self.boundingRect()
        width = max(min(rect.width() - 44, 120.0), 10.0)
        left = rect.left() + (rect.width() - width) / 2
        bar = QRectF(left, rect.top() + 3, width, 7)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(bar, self._gradient)
        painter.setPen(QPen(QColor(MUTED), 0))
        painter.drawRect(bar)
        painter.setFont(self._font)
        painter.setPen(QColor(TEXT))
        text_rect = QRectF(left - 20, bar.bottom() + 1, width + 40, 14)
        low, high = self._levels
        painter.drawText(QRectF(left - 20, text_rect.top(), 40, 14), Qt.AlignmentFlag.AlignCenter, _short(low))
        painter.drawText(QRectF(left + width - 20, text_rect.top(), 40, 14), Qt.AlignmentFlag.AlignCenter,
                         _short(high))
        middle = self._caption or ("0" if self._signed else "")
        if QFontMetricsF(self._font).horizontalAdvance(middle) < width - 44:
            painter.setPen(QColor(MUTED))
            painter.drawText(QRectF(left + 20, text_rect.top(), width - 40, 14), Qt.AlignmentFlag.AlignCenter,
                             middle)


class _Caption(pg.GraphicsWidget):
    """A title: a strong part and a muted part, centred, on one line or two (``stacked``), elided to fit.

    Unlike LabelItem it asks for no minimum width, so long titles never widen a column.
    """

    def __init__(self, strong: str, muted: str = "", point_size: float = 8.5, bold: bool = False,
                 stacked: bool = False):
        super().__init__()
        self._strong, self._muted, self._stacked = strong, muted, stacked
        self._font = QFont()
        self._font.setPointSizeF(point_size)
        self._strong_font = QFont(self._font)
        self._strong_font.setBold(bold)
        line = QFontMetricsF(self._strong_font).height()
        height = (2 * line if stacked else line) + 6
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)
        self.setMinimumWidth(0)
        self.setPreferredWidth(0)

    def text(self) -> str:
        return f"{self._strong} {self._muted}".strip()

    def _draw(self, painter, rect, baseline, parts) -> None:
        """Draw (text, font, color) parts centred on one line, eliding the last part that does not fit."""
        widths = [QFontMetricsF(font).horizontalAdvance(text) for text, font, _ in parts]
        while len(parts) > 1 and sum(widths) > rect.width():  # drop the muted part first
            parts, widths = parts[:-1], widths[:-1]
        if sum(widths) > rect.width():
            text, font, color = parts[0]
            text = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
            parts, widths = [(text, font, color)], [QFontMetricsF(font).horizontalAdvance(text)]
        x = rect.left() + (rect.width() - sum(widths)) / 2
        for (text, font, color), width in zip(parts, widths):
            painter.setFont(font)
            painter.setPen(QColor(color))
            painter.drawText(QPointF(x, baseline), text)
            x += width

    def paint(self, painter: QPainter, *args) -> None:
        rect = self.boundingRect()
        metrics = QFontMetricsF(self._strong_font)
        baseline = rect.top() + 3 + metrics.ascent()
        strong = (self._strong, self._strong_font, TEXT)
        if not self._muted:
            self._draw(painter, rect, baseline, [strong])
        elif self._stacked:
            self._draw(painter, rect, baseline, [strong])
            self._draw(painter, rect, baseline + metrics.height(), [(self._muted, self._font, MUTED)])
        else:
            self._draw(painter, rect, baseline, [strong, ("  " + self._muted, self._font, MUTED)])


class _MosaicImage(pg.ImageItem):
    """An ImageItem for mosaics given as premultiplied B, G, R, A bytes (``paint_mosaic(byte_order="bgra")``).

    pyqtgraph wraps (H, W, 4) uint8 as ``Format_RGBA8888``, which Qt converts on every
    paint; ``Format_ARGB32_Premultiplied`` is drawn directly, about twice as fast here.
    """

    def render(self) -> None:
        image = self.image
        if image is None or image.size == 0:
            self._unrenderable = True
            return
        self._bgra = np.ascontiguousarray(image)  # the QImage borrows this buffer
        height, width = self._bgra.shape[:2]
        self.qimage = QImage(self._bgra.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied)
        self._renderRequired = False
        self._unrenderable = False


class _Panel:
    """One mosaic in one ViewBox, plus the two highlight paths drawn over it."""

    def __init__(self, stage: int, kind: str, layout: MosaicLayout, scale: float, signed: bool, lut: np.ndarray):
        self.stage, self.kind, self.layout, self.scale, self.signed, self.lut = stage, kind, layout, scale, signed, lut
        self.levels = np.zeros((layout.count, 2), dtype=np.float32)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setBackgroundColor(VIEW_BACKGROUND)
        self.image = _MosaicImage(axisOrder="row-major")
        self.image.setTransform(QTransform.fromScale(scale, scale))
        self.view.addItem(self.image)
        self.field = self._path(FIELD_COLOR, 2.0, z=10)
        self.cells = self._path(INPUT_PIXEL_COLOR if kind == "input" else CELL_COLOR, 2.0, z=11)
        height, width = layout.shape
        self.bounds = QRectF(0, 0, width * scale, height * scale)
        self.bar: _ColorBar | None = None

    def _path(self, color: str, width: float, z: float) -> QGraphicsPathItem:
        item = QGraphicsPathItem()
        pen = QPen(QColor(color), width)
        pen.setCosmetic(True)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        item.setPen(pen)
        item.setZValue(z)
        self.view.addItem(item, ignoreBounds=True)
        return item

    def show_maps(self, maps: np.ndarray, levels: np.ndarray) -> None:
        self.levels = levels
        self.image.setImage(paint_mosaic(maps, self.layout, levels, self.signed, self.lut, byte_order="bgra"),
                            autoLevels=False)

    def cell_at(self, scene_pos) -> tuple[int, int, int] | None:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        local = self.image.mapFromScene(scene_pos)
        return self.layout.mosaic_position((local.x(), local.y()))

    def rect_path(self, rect: Rect, filters) -> QPainterPath:
        """The outline of map-cell rectangle ``rect`` on each map in ``filters`` (None: all), in view coordinates."""
        path = QPainterPath()
        s = self.scale
        for f in range(self.layout.count) if filters is None else filters:
            top, left = self.layout.to_mosaic(f, rect.row0, rect.col0)
            path.addRect(QRectF(left * s, top * s, rect.width * s, rect.height * s))
        return path

    def clear_highlight(self) -> None:
        self.field.setPath(QPainterPath())
        self.cells.setPath(QPainterPath())


class QtFeatureMaps(QWidget):
    """Live conv | activation | pooled maps of every conv layer of ``playground.network``.

    Signals
    -------
    hovered(MapHover)   the pointer is over a map cell (emitted when the cell changes)
    hover_left()        the pointer left the maps
    """

    hovered = Signal(object)
    hover_left = Signal()

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.setObjectName("featureMaps")
        self._playground = playground
        self._scale_mode = "layer"
        self._fixed_range = DEFAULT_FIXED_RANGE
        self._panels: dict[tuple[int, str], _Panel] = {}
        self._layer_views: list[list[_Panel]] = []
        self._hover: MapTarget | None = None
        self._pointing_input: tuple[int, int] | None = None  # the input pixel under the pointer
        self._bar_filter: dict[int, int] = {}
        self._shapes = None

        self._combo = QComboBox()
        for text, mode in SCALE_CHOICES:
            self._combo.addItem(text, mode)
        self._combo.setCurrentIndex([m for _, m in SCALE_CHOICES].index(self._scale_mode))
        self._combo.setToolTip("Colour scale: each map its own range, one range per layer stage, or a fixed range")
        self._combo.currentIndexChanged.connect(lambda index: self.set_scale_mode(self._combo.itemData(index)))
        self._fixed = QDoubleSpinBox()
        self._fixed.setRange(0.01, 1000.0)
        self._fixed.setDecimals(2)
        self._fixed.setSingleStep(0.5)
        self._fixed.setPrefix("± ")
        self._fixed.setValue(self._fixed_range)
        self._fixed.setEnabled(False)
        self._fixed.setToolTip("The range of the fixed scale: signed maps span ±value, non-negative maps 0..value")
        self._fixed.valueChanged.connect(self.set_fixed_range)
        self._fit = QToolButton()
        self._fit.setText("Fit")
        self._fit.setToolTip("Show all maps again after zooming")
        self._fit.clicked.connect(self.fit)
        toolbar = QHBoxLayout()
        toolbar.setContentsMargins(6, 4, 6, 0)
        title = QLabel("<b>Feature maps</b>")
        toolbar.addWidget(title)
        toolbar.addStretch(1)
        toolbar.addWidget(QLabel("Colour scale"))
        toolbar.addWidget(self._combo)
        toolbar.addWidget(self._fixed)
        toolbar.addWidget(self._fit)

        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground(BACKGROUND)
        # NOTE: one bounding rectangle repaints the 7 changed mosaics about a third faster than pyqtgraph's
        # default MinimalViewportUpdate, which clips to a region of 7 separate rectangles (measured offscreen)
        self._graphics.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self._graphics.viewport().installEventFilter(self)

        self._explanation = QLabel(INPUT_HINT)
        self._explanation.setObjectName("featureMapsExplanation")
        self._explanation.setWordWrap(True)
        self._explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._explanation.setFont(mono)
        self._explanation.setMinimumHeight(4 * self._explanation.fontMetrics().lineSpacing() + 8)
        self._explanation.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._explanation.setStyleSheet(f"QLabel#featureMapsExplanation {{ background: white; color: {TEXT}; "
                                        f"border-top: 1px solid #d0d4da; padding: 4px 8px; }}")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(toolbar)
        layout.addWidget(self._graphics, 1)
        layout.addWidget(self._explanation)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), QColor(BACKGROUND))
        self.setPalette(palette)

        events = playground.events
        events.activations_changed.connect(self._on_activations)
        events.architecture_changed.connect(self._on_architecture)
        self.destroyed.connect(lambda *_: (events.activations_changed.disconnect(self._on_activations),
                                           events.architecture_changed.disconnect(self._on_architecture)))
        self._build(playground.input.shape)
        if playground.trace is not None:
            self._on_activations(playground.trace)

    # ------------------------------------------------------------ public
    @property
    def scale_mode(self) -> str:
        return self._scale_mode

    def set_scale_mode(self, mode: str) -> None:
        """"map", "layer" or "fixed"; repaints from the current trace (no recomputation)."""
        if mode not in [m for _, m in SCALE_CHOICES]:
            raise ValueError(f"unknown scale mode {mode!r}")
        self._scale_mode = mode
        self._fixed.setEnabled(mode == "fixed")
        index = [m for _, m in SCALE_CHOICES].index(mode)
        if self._combo.currentIndex() != index:
            with QSignalBlocker(self._combo):
                self._combo.setCurrentIndex(index)
        self._repaint_trace()

    def set_fixed_range(self, value: float) -> None:
        self._fixed_range = float(value)
        if abs(self._fixed.value() - value) > 1e-9:
            with QSignalBlocker(self._fixed):
                self._fixed.setValue(value)
        if self._scale_mode == "fixed":
            self._repaint_trace()

    def levels(self, stage: int, kind: str) -> np.ndarray:
        """The (F, 2) colour levels (low, high) of each map currently shown for ``stage``/``kind``."""
        return self._panels[(stage, kind)].levels

    def panel_image(self, stage: int, kind: str) -> pg.ImageItem:
        return self._panels[(stage, kind)].image

    def panel_view(self, stage: int, kind: str) -> pg.ViewBox:
        return self._panels[(stage, kind)].view

    def panel_layout(self, stage: int, kind: str) -> MosaicLayout:
        return self._panels[(stage, kind)].layout

    def colour_bar(self, stage: int, kind: str) -> _ColorBar:
        """The colour bar under a panel: its ``levels`` and ``caption`` (the filter it describes, per map)."""
        return self._panels[(stage, kind)].bar

    def map_cell_scene_pos(self, stage: int, kind: str, filter: int, row: int, col: int) -> QPointF:
        """Scene position of the centre of a map cell (for tests and for pointing at a cell programmatically)."""
        panel = self._panels[(stage, kind)]
        top, left = panel.layout.to_mosaic(filter, row, col)
        return panel.image.mapToScene(QPointF(left + 0.5, top + 0.5))

    def graphics_view(self) -> pg.GraphicsLayoutWidget:
        return self._graphics

    def fit(self) -> None:
        """Zoom every layer back to show all its maps."""
        for panels in self._layer_views:
            for panel in panels:
                panel.view.setRange(panels[0].bounds, padding=0.02)

    def show_input_pixel(self, row: int, col: int) -> None:
        """Outline the cells of every map fed by input pixel (row, col) (for hovering the canvas)."""
        network = self._playground.network
        shape = self._playground.input.shape
        if not (0 <= row < shape[1] and 0 <= col < shape[2]):
            self.clear_highlight()
            return
        self._hover = None
        for panel in self._panels.values():
            panel.clear_highlight()
        input_panel = self._panels.get((-1, "input"))
        if input_panel is not None:
            input_panel.cells.setPath(input_panel.rect_path(Rect(row, col, row, col), None))
        for k, cells in enumerate(fed_by_input(network, row, col, shape)):
            for kind in ("conv", "activation", "pooled"):
                panel, rect = self._panels.get((k, kind)), cells.get(kind)
                if panel is not None and rect is not None:
                    panel.field.setPath(panel.rect_path(rect, None))
        self._explanation.setText(describe_input_pixel(network, row, col, shape))

    def clear_highlight(self) -> None:
        for panel in self._panels.values():
            panel.clear_highlight()
        self._hover = None
        self._explanation.setText(INPUT_HINT)

    # ------------------------------------------------------------ building (architecture changes only)
    def _build(self, input_shape) -> None:
        # every hover index belongs to the old panels: a filter pointed at may not exist any more
        was_pointing = self._hover is not None or self._pointing_input is not None
        self._hover = None
        self._pointing_input = None
        self._bar_filter = {}
        self._explanation.setText(INPUT_HINT)
        graphics = pg.GraphicsLayout()
        graphics.setContentsMargins(4, 2, 4, 2)
        self._panels.clear()
        self._layer_views = []
        network = self._playground.network
        geometry = stage_geometry(network, input_shape)
        self._shapes = self._expected_shapes(geometry, input_shape)
        grid = graphics.layout
        column = 0

        # the input, at the scale of the first layer's maps when they have its size
        channels, height, width = input_shape
        input_layout = MosaicLayout(channels, height, width, MAP_GAP)
        input_panel = _Panel(-1, "input", input_layout, 1.0, False, GRAY_LUT)
        self._panels[(-1, "input")] = input_panel
        graphics.addItem(_Caption("input", "", 9, bold=True), row=0, col=column)
        graphics.addItem(_Caption("image", f"{channels} × {height}×{width}" if channels > 1 else
                                  f"{height}×{width}", stacked=True), row=1, col=column)
        graphics.addItem(input_panel.view, row=2, col=column)
        grid.setColumnSpacing(column, 18)
        column += 1

        for k, (spec, g) in enumerate(zip(network.conv_specs, geometry)):
            kinds = ["conv", "activation"] + (["pooled"] if g.pool != "none" else [])
            stride = g.pool_stride if g.pool != "none" else 1
            gap, pooled_gap = _stack_gaps(g.height, g.pooled_height, stride) if g.pool != "none" else (MAP_GAP, 0)
            panels = []
            graphics.addItem(_Caption(f"conv {k + 1}", f"{g.filters} filters {g.kernel}×{g.kernel}, stride "
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
                panel = _Panel(k, kind, layout, scale, signed, None)
                graphics.addItem(_Caption(heading, size, stacked=True), row=1, col=column)
                graphics.addItem(panel.view, row=2, col=column)
                panel.bar = _ColorBar(colormap_lut(signed), signed)
                graphics.addItem(panel.bar, row=3, col=column)
                self._panels[(k, kind)] = panel
                panels.append(panel)
                column += 1
            grid.setColumnSpacing(column - 1, 18)
            self._layer_views.append(panels)

        # the input shares layer 1's coordinates (zooms with it) when its maps have the input's size;
        # otherwise it is drawn top-aligned at about the scale of layer 1's maps
        first = self._layer_views[0][0] if self._layer_views else None
        if first is not None and first.layout.width == width and first.layout.pitch[0] == input_layout.pitch[0]:
            input_panel.bounds = first.bounds
            self._layer_views[0].insert(0, input_panel)
        else:
            if first is not None:
                input_panel.bounds = QRectF(0, 0, width, max(height, first.bounds.height()))
            self._layer_views.append([input_panel])
        for panels in self._layer_views:
            for panel in panels:
                panel.view.sigRangeChangedManually.connect(
                    lambda _mask, view=panel.view, group=panels: self._follow(view, group))
        for c in range(column):
            grid.setColumnStretchFactor(c, 1)
        grid.setRowStretchFactor(2, 1)
        # set (and so sized to the view) only once filled: a layout resized while being filled can shrink
        # to the height of its first, fixed-height rows and stay there
        self._graphics.setCentralItem(graphics)
        self.fit()
        if was_pointing:  # the linked highlights (canvas, kernel) pointed into the old maps
            self.hover_left.emit()

    @staticmethod
    def _follow(source: pg.ViewBox, panels: list[_Panel]) -> None:
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

    @staticmethod
    def _expected_shapes(geometry, input_shape):
        return [tuple(input_shape)] + [((g.filters, g.height, g.width), (g.filters, g.pooled_height, g.pooled_width))
                                       for g in geometry]

    # ------------------------------------------------------------ updates (every stroke)
    def _on_architecture(self) -> None:
        self._build(self._playground.input.shape)

    def _on_activations(self, trace) -> None:
        shapes = [tuple(trace.input.shape)] + [(s.conv.shape, s.pooled.shape) for s in trace.stages]
        if shapes != self._shapes:  # a new input size (or the network changed without telling)
            self._build(trace.input.shape)
        self._paint(trace)
        if self._hover is not None:
            self._show_hover(self._hover, emit=False)

    def _repaint_trace(self) -> None:
        if self._playground.trace is not None:
            self._paint(self._playground.trace)

    def _paint(self, trace) -> None:
        mode, fixed = self._scale_mode, self._fixed_range
        input_panel = self._panels[(-1, "input")]
        top = max(1.0, float(trace.input.max(initial=0.0)))
        input_panel.show_maps(trace.input, np.tile(np.float32([0.0, top]), (trace.input.shape[0], 1)))
        for k, stage in enumerate(trace.stages):
            for kind in ("conv", "activation", "pooled"):
                panel = self._panels.get((k, kind))
                if panel is None:
                    continue
                maps = getattr(stage, kind)
                panel.show_maps(maps, mosaic_levels(maps, panel.signed, mode, fixed))
            self._update_bars(k)

    def _update_bars(self, stage: int) -> None:
        f = self._bar_filter.get(stage, 0)
        for kind in ("conv", "activation", "pooled"):
            panel = self._panels.get((stage, kind))
            if panel is None or panel.bar is None:
                continue
            if not 0 <= f < len(panel.levels):  # a filter of layers that are gone: describe filter 1
                self._bar_filter.pop(stage, None)
                f = 0
            low, high = panel.levels[f]
            panel.bar.set_levels(low, high, f"filter {f + 1}" if self._scale_mode == "map" else "")

    # ------------------------------------------------------------ hover
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # NOTE: the viewport's own events, not the scene's sigMouseMoved, which pyqtgraph rate-limits and
        # which would then miss the last move (e.g. into a gap) of a quick gesture
        kind = event.type()
        if kind == QEvent.Type.MouseMove:
            self._on_mouse_moved(self._graphics.mapToScene(event.position().toPoint()))
        elif kind == QEvent.Type.Leave and (self._hover is not None or self._pointing_input is not None):
            self._leave()
        return False

    def _on_mouse_moved(self, scene_pos) -> None:
        for (stage, kind), panel in self._panels.items():
            cell = panel.cell_at(scene_pos)
            if cell is None:
                continue
            if stage < 0:
                if self._pointing_input != cell[1:]:
                    left_a_map = self._hover is not None
                    self.show_input_pixel(cell[1], cell[2])
                    self._pointing_input = cell[1:]
                    if left_a_map:
                        self.hover_left.emit()
                return
            self._pointing_input = None
            target = MapTarget(stage, kind, *cell)
            if target != self._hover:
                self._show_hover(target, emit=True)
            return
        if self._hover is not None or self._pointing_input is not None:
            self._leave()

    def _leave(self) -> None:
        self._pointing_input = None
        self.clear_highlight()
        self.hover_left.emit()

    def _show_hover(self, target: MapTarget, emit: bool) -> None:
        trace, network = self._playground.trace, self._playground.network
        field = receptive_field(network, target, trace)
        text = explain(trace, network, target)
        self._hover = target
        paths: dict[tuple[int, str], QPainterPath] = {}
        for region in field.regions[1:]:
            panel = self._panels.get((region.stage, region.kind))
            if panel is not None:
                paths.setdefault((region.stage, region.kind), QPainterPath()).addPath(
                    panel.rect_path(region.rect, region.filters))
        for key, panel in self._panels.items():
            panel.field.setPath(paths.get(key, QPainterPath()))
            panel.cells.setPath(QPainterPath())
        own = self._panels[(target.stage, target.kind)]
        own.cells.setPath(own.rect_path(Rect(target.row, target.col, target.row, target.col), (target.filter,)))
        if target.kind == "pooled" and network.conv_specs[target.stage].pool == "max":
            r, c = field.conv_cell
            winner = self._panels[(target.stage, "activation")]
            winner.cells.setPath(winner.rect_path(Rect(r, c, r, c), (target.filter,)))
        if self._scale_mode == "map" and self._bar_filter.get(target.stage) != target.filter:
            self._bar_filter[target.stage] = target.filter
            self._update_bars(target.stage)
        self._explanation.setText(text)
        if emit:
            self.hovered.emit(MapHover(target, field, text))
