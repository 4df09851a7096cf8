"""The feature-maps panel: a toolbar, every stage's mosaic in one graphics view, and the arithmetic under them.

``QtFeatureMaps`` rebuilds its panels (``build_panel_grid``) only when the
architecture or the input size changes; every stroke just repaints the mosaics
from the playground's new trace.  Hovering a map cell outlines its receptive
field on this and every earlier map and emits ``hovered(MapHover)``; hovering
the input outlines every cell that input pixel feeds.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QFontDatabase, QPainterPath
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFrame, QGraphicsView, QGridLayout, QHBoxLayout, QLabel,
                               QMenu, QScrollArea, QToolButton, QVBoxLayout, QWidget)

from cnnstudio.core.receptive_field import (MapTarget, Rect, describe_input_pixel, explain, fed_by_input,
                                             receptive_field)
from cnnstudio.qt.panels.feature_maps.captions import ColorBar
from cnnstudio.qt.panels.feature_maps.hover import MapHover
from cnnstudio.qt.panels.feature_maps.mosaic_panel import MosaicPanel
from cnnstudio.qt.panels.feature_maps.panel_grid import build_panel_grid
from cnnstudio.qt.panels.feature_maps.style import INPUT_HINT
from cnnstudio.qt.widgets.bgra_image_item import BgraImageItem
from cnnstudio.qt.widgets.export import export_menu
from cnnstudio.render.mosaic import DEFAULT_FIXED_RANGE, MosaicLayout, mosaic_levels
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme

SCALE_CHOICES = (("per map", "map"), ("per layer", "layer"), ("fixed", "fixed"))


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
        self._panels: dict[tuple[int, str], MosaicPanel] = {}
        self._layer_views: list[list[MosaicPanel]] = []
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
        self._title = QLabel("<b>Feature maps</b>")
        self._title.setObjectName("featureMapsTitle")
        self._scale_controls = QWidget()
        self._scale_controls.setObjectName("colourScaleControls")
        controls = QHBoxLayout(self._scale_controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Colour scale"))
        controls.addWidget(self._combo)
        controls.addWidget(self._fixed)
        controls.addWidget(self._fit)
        self._toolbar = QGridLayout()
        self._toolbar.setContentsMargins(6, 4, 6, 0)
        self._toolbar.setVerticalSpacing(2)
        self._toolbar.setColumnStretch(0, 1)
        self._toolbar.addWidget(self._title, 0, 0)
        self._one_row: bool | None = None
        self._arrange_toolbar()

        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground(theme.window())
        # NOTE: one bounding rectangle repaints the 7 changed mosaics about a third faster than pyqtgraph's
        # default MinimalViewportUpdate, which clips to a region of 7 separate rectangles (measured offscreen)
        self._graphics.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self._graphics.viewport().installEventFilter(self)
        # NOTE: many stages or filters scroll (the graphics keep a least size, see build_panel_grid) rather than
        # shrink every map to a few pixels and elide every title
        self._scroll = QScrollArea()
        self._scroll.setObjectName("featureMapsScroll")
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setWidget(self._graphics)

        self._explanation = QLabel(INPUT_HINT)
        self._explanation.setObjectName("featureMapsExplanation")
        self._explanation.setWordWrap(True)
        self._explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._explanation.setFont(mono)
        self._explanation.setMinimumHeight(4 * self._explanation.fontMetrics().lineSpacing() + 8)
        self._explanation.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._explanation.setStyleSheet(f"QLabel#featureMapsExplanation {{ background: {theme.css(theme.panel())}; "
                                        f"color: {theme.css(theme.panel_text())}; "
                                        f"border-top: 1px solid {theme.css(theme.border())}; padding: 4px 8px; }}")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self._toolbar)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(self._explanation)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), theme.window())
        self.setPalette(palette)

        events = playground.events
        listen(self, events.activations_changed, self._on_activations)
        listen(self, events.architecture_changed, self._on_architecture)
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

    @property
    def fixed_range(self) -> float:
        """The range of the "fixed" colour scale (signed maps span ±value, non-negative ones 0..value)."""
        return self._fixed_range

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

    def panel_image(self, stage: int, kind: str) -> BgraImageItem:
        return self._panels[(stage, kind)].image

    def panel_view(self, stage: int, kind: str) -> pg.ViewBox:
        return self._panels[(stage, kind)].view

    def panel_layout(self, stage: int, kind: str) -> MosaicLayout:
        return self._panels[(stage, kind)].layout

    def colour_bar(self, stage: int, kind: str) -> ColorBar:
        """The colour bar under a panel: its ``levels`` and ``caption`` (the filter it describes, per map)."""
        return self._panels[(stage, kind)].bar

    def map_cell_scene_pos(self, stage: int, kind: str, filter: int, row: int, col: int) -> QPointF:
        """Scene position of the centre of a map cell (for tests and for pointing at a cell programmatically)."""
        panel = self._panels[(stage, kind)]
        top, left = panel.layout.to_mosaic(filter, row, col)
        return panel.image.mapToScene(QPointF(left + 0.5, top + 0.5))

    def reveal_cell(self, stage: int, kind: str, filter: int, row: int, col: int) -> QPointF:
        """Scroll map cell (stage, kind, filter, row, col) into view; its position in the graphics viewport."""
        viewport = self._graphics.viewport()
        point = self._graphics.mapFromScene(self.map_cell_scene_pos(stage, kind, filter, row, col))
        inside = viewport.mapTo(self._graphics, point)
        self._scroll.ensureVisible(inside.x(), inside.y(), 60, 60)
        return QPointF(point)

    def map_at(self, scene_pos) -> tuple[int, str, int] | None:
        """(stage, kind, filter) of the map under a scene position (the input is stage -1, its channels
        are filters), or None in a gap or outside every map."""
        for (stage, kind), panel in self._panels.items():
            cell = panel.cell_at(scene_pos)
            if cell is not None:
                return stage, kind, cell[0]
        return None

    def map_values(self, stage: int, kind: str, filter: int):
        """The (H, W) numbers of one map in the playground's current trace (None without a trace)."""
        trace = self._playground.trace
        if trace is None:
            return None
        maps = trace.input if stage < 0 else getattr(trace.stages[stage], kind)
        return np.array(maps[filter]) if 0 <= filter < len(maps) else None

    def map_export_menu(self, stage: int, kind: str, filter: int) -> QMenu:
        """Save as PNG, Copy values, Save values as CSV / .npy for one map (its right-click menu)."""
        if stage < 0:
            what = f"input channel {filter + 1}" if self._playground.input.shape[0] > 1 else "input"
        else:
            what = f"conv {stage + 1} {kind} filter {filter + 1}"
        panel = self._panels[(stage, kind)]
        menu = export_menu(self, what, lambda: self.map_values(stage, kind, filter),
                           lambda: panel.map_picture(filter))
        menu.setTitle(what)
        return menu

    def _context_menu(self, event) -> None:
        found = self.map_at(self._graphics.mapToScene(event.pos()))
        if found is not None:
            self.map_export_menu(*found).exec(event.globalPos())

    def graphics_view(self) -> pg.GraphicsLayoutWidget:
        return self._graphics

    def scroll_area(self) -> QScrollArea:
        """The scroll area around the maps: it scrolls when the maps need more room than the panel has."""
        return self._scroll

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
        built = build_panel_grid(self._playground.network, input_shape)
        self._panels, self._layer_views, self._shapes = built.panels, built.layer_views, built.shapes
        # set (and so sized to the view) only once filled: a layout resized while being filled can shrink
        # to the height of its first, fixed-height rows and stay there
        self._graphics.setMinimumSize(*built.minimum_size)
        self._graphics.setCentralItem(built.graphics)
        self.fit()
        if was_pointing:  # the linked highlights (canvas, kernel) pointed into the old maps
            self.hover_left.emit()

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
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange_toolbar()

    def _arrange_toolbar(self) -> None:
        """The colour-scale controls beside the title when both fit, else on a second row under it."""
        margins = self._toolbar.contentsMargins()
        needed = (margins.left() + self._title.sizeHint().width() + max(self._toolbar.horizontalSpacing(), 6)
                  + self._scale_controls.sizeHint().width() + margins.right())
        one_row = self.width() >= needed
        if one_row == self._one_row:
            return
        self._one_row = one_row
        self._toolbar.removeWidget(self._scale_controls)
        if one_row:
            self._toolbar.addWidget(self._scale_controls, 0, 1, Qt.AlignmentFlag.AlignRight)
        else:  # NOTE: moved under the title rather than squeezed over it (a 1024 px wide window)
            self._toolbar.addWidget(self._scale_controls, 1, 0, 1, 2, Qt.AlignmentFlag.AlignLeft)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # NOTE: the viewport's own events, not the scene's sigMouseMoved, which pyqtgraph rate-limits and
        # which would then miss the last move (e.g. into a gap) of a quick gesture
        kind = event.type()
        if kind == QEvent.Type.MouseMove:
            self._on_mouse_moved(self._graphics.mapToScene(event.position().toPoint()))
        elif kind == QEvent.Type.ContextMenu:
            self._context_menu(event)
            return True
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
