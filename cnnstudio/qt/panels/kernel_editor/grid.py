"""The kernel grid widget: every filter's kernel of one layer and input channel, painted and repainted sparingly.

One widget paints all the cards and hit-tests the mouse itself (a layer of 16
filters of 11 x 11 weights is ~2000 cells, too many for a child widget each).
What it shows and what it repaints live here; how clicks and keys become intents
is ``GridInput`` (grid_input.py), where it comes from ``GridLayout`` (layout.py)
and how the pieces are drawn ``painting.py``.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QRegion
from PySide6.QtWidgets import QSizePolicy, QWidget

from cnnstudio.qt.panels.kernel_editor.cell_editor import CellEditor
from cnnstudio.qt.panels.kernel_editor.colours import GRID_LINE, HIGHLIGHT, value_colours
from cnnstudio.qt.panels.kernel_editor.grid_input import GridInput
from cnnstudio.qt.panels.kernel_editor.layout import BIAS, GridLayout, compute_layout, min_width
from cnnstudio.qt.panels.kernel_editor.painting import (CardPixmaps, GridFonts, cell_text, outline, paint_bias,
                                                        paint_push)

STEPS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)
DEFAULT_STEP = 0.1


class KernelGrid(GridInput, QWidget):
    """Paints every filter's kernel of one layer and input channel; turns clicks and keys into intents.

    It reads the weights through ``source()`` at paint time and never changes
    them: it emits ``nudged`` (in steps) and ``value_entered`` and lets the
    editor send the command.  It repaints as little as it can: ``refresh_values``
    only the cells whose value changed, a moved outline only its two cells, a
    new selection only its two cards; ``set_gradients`` (a training shipment)
    the whole grid once.
    """

    nudged = Signal(int, int, int, float)          # filter, row, col, steps (row == BIAS: the bias)
    value_entered = Signal(int, int, int, float)   # filter, row, col, exact value
    filter_clicked = Signal(int)
    pointed_changed = Signal()                      # the hovered or focused cell changed
    export_requested = Signal(int, QPoint)          # filter, global position: a right click on its title

    def __init__(self, source, parent=None):
        super().__init__(parent)
        self.setObjectName("kernelGrid")
        self._source = source  # () -> (weights (F, K, K), bias (F,), vmax) of what is shown
        self.step = DEFAULT_STEP
        self.selected = 0
        self.focus_cell = (0, 0, 0)
        self.highlighted: set = set()   # (filter, row, col) drawn with a bright outline
        self.gradients = None           # (F, K, K) gradient of each weight shown, or None: no push glyphs
        self.gradient_scale = 1.0       # the |gradient| drawn at full size (the layer's largest)
        self._hover = None
        # a quick run of left clicks on one cell: (target, value before it, clicks, time, position,
        # whether its double click put the first step back), so rapid clicks all step and a double click types
        self._click_run = None
        self._known = None              # (weights, bias, vmax) as last painted in full or refreshed
        self._fonts = None              # (key, GridFonts) for the current cell size and widget font
        self._cards = CardPixmaps()     # card backgrounds and titles
        self._layout = self._fitting_layout(0, 1)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setAccessibleName("kernel weights")
        self.inline_editor = CellEditor(self)
        self.inline_editor.setObjectName("kernelCellEditor")
        self.inline_editor.hide()
        self.inline_editor.setAlignment(Qt.AlignCenter)
        self.inline_editor.committed.connect(self._commit_edit)
        self.inline_editor.cancelled.connect(self.cancel_edit)
        self._editing = None

    # -- geometry
    @property
    def filters(self) -> int:
        return self._layout.filters

    @property
    def kernel_size(self) -> int:
        return self._layout.size

    @property
    def cell_size(self) -> int:
        return self._layout.cell

    @property
    def values_shown(self) -> bool:
        return self._layout.values_shown

    def set_shape(self, filters: int, size: int) -> None:
        """Re-lay out for ``filters`` kernels of ``size`` x ``size`` (only when the architecture changed)."""
        self.cancel_edit()
        self._hover = self._click_run = None
        self.gradients = None  # they were another shape's; the editor hands over the new layer's
        self.selected = min(self.selected, max(filters - 1, 0))
        f, r, c = self.focus_cell
        self.focus_cell = (min(f, max(filters - 1, 0)), r if r == BIAS else min(r, size - 1), min(c, size - 1))
        self._layout = self._fitting_layout(filters, size)
        self._apply_layout()
        self.pointed_changed.emit()

    def _available_height(self) -> int:
        parent = self.parentWidget()
        return parent.height() if parent is not None else self.height()

    def _fitting_layout(self, filters: int, size: int) -> GridLayout:
        """The largest cells at which every card fits the visible area; at the smallest the grid scrolls."""
        return compute_layout(filters, size, self.width(), self._available_height())

    def _apply_layout(self) -> None:
        # Scroll only when even the smallest cells do not fit; otherwise follow the viewport.
        lay = self._layout
        needed = lay.height if lay.height > self._available_height() else 0
        self.setMinimumSize(min_width(lay.size), needed)
        self.update()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        layout = self._fitting_layout(self._layout.filters, self._layout.size)
        if layout != self._layout:
            self._layout = layout
            self.cancel_edit()
            self._apply_layout()

    def card_rect(self, filter: int) -> QRect:
        return self._layout.card_rect(filter)

    def header_rect(self, filter: int) -> QRect:
        """The "filter n" strip at the top of a filter's card: clicking it selects the filter."""
        return self._layout.header_rect(filter)

    def cell_rect(self, filter: int, row: int, col: int) -> QRect:
        """The rectangle of weight (row, col) of ``filter``, or of its bias when ``row == BIAS``."""
        return self._layout.cell_rect(filter, row, col)

    def bias_rect(self, filter: int) -> QRect:
        return self._layout.bias_rect(filter)

    def hit_test(self, pos):
        """``("cell", f, row, col)`` (row == BIAS for the bias), ``("card", f, 0, 0)`` or None."""
        return self._layout.hit_test(pos)

    def sizeHint(self) -> QSize:
        return QSize(420, 360)

    # -- values
    def value_at(self, filter: int, row: int, col: int) -> float:
        weights, bias, _ = self._source()
        return float(bias[filter] if row == BIAS else weights[filter, row, col])

    @property
    def pointed_cell(self):
        """The cell under the mouse, else the focused cell while the grid has focus, else None."""
        if self._hover is not None:
            return self._hover
        return self.focus_cell if self.hasFocus() and self._layout.filters else None

    # -- what changed: repaint only that
    def source_changed(self) -> None:
        """Another layer or input channel is shown: every cell is new."""
        self._known = None
        self.refresh_values()

    def refresh_values(self) -> bool:
        """Repaint the cells whose weight or bias changed since the last call; True when the colour scale moved.

        A changed scale recolours every cell, so then the whole grid is
        repainted; otherwise a click on one cell repaints that cell alone.
        """
        weights, bias, vmax = self._source()
        known, self._known = self._known, (np.array(weights), np.array(bias), vmax)
        if (known is None or known[2] != vmax or known[0].shape != weights.shape
                or known[1].shape != bias.shape):
            self.update()
            return known is None or known[2] != vmax
        changed = known[0] != weights  # (F, K, K); NaN != NaN only repaints a NaN cell again
        filters = np.flatnonzero(changed.any(axis=(1, 2)) | (known[1] != bias))
        if len(filters) > max(2, self._layout.filters // 2):  # e.g. a training step: one pass is cheaper
            self.update()
            return False
        for f in map(int, filters):
            cells = np.argwhere(changed[f])
            if len(cells) > 4:  # a preset or a new random kernel: the whole card
                self.update(self.card_rect(f))
                continue
            for i, j in cells:
                self.update(self.cell_rect(f, int(i), int(j)))
            if known[1][f] != bias[f]:
                self.update(self.bias_rect(f))
        return False

    def select(self, filter: int) -> None:
        """Make ``filter`` the selected one (outlined, its title bold): repaint the old card and the new.

        Only around the weights: they are painted opaque over the card, so its colour never shows through.
        """
        if filter != self.selected:
            for f in (self.selected, filter):
                self.update(QRegion(self.card_rect(f)).subtracted(QRegion(self._layout.kernel_area(f))))
            self.selected = filter

    def set_highlighted(self, cells: set) -> None:
        """Outline ``cells`` {(filter, row, col), ...} instead of the ones outlined now."""
        if cells != self.highlighted:
            for cell in cells ^ self.highlighted:
                self._update_cell(cell)
            self.highlighted = cells

    def set_gradients(self, gradients, scale: float = 1.0) -> None:
        """Draw the push of ``gradients`` (F, K, K) on the cells (None: draw none), full size at |gradient| = scale."""
        if gradients is None and self.gradients is None:
            return
        self.gradients, self.gradient_scale = gradients, scale
        self.update()

    def _update_cell(self, cell) -> None:
        if cell is not None and 0 <= cell[0] < self._layout.filters:
            self.update(self.cell_rect(*cell))

    # -- painting
    def _current_fonts(self) -> GridFonts:
        lay, font = self._layout, self.font()
        key = (lay.cell, lay.compact, font.key())
        if self._fonts is None or self._fonts[0] != key:
            self._fonts = (key, GridFonts(font, lay.cell, lay.compact, self))
        return self._fonts[1]

    def paintEvent(self, event):
        painter = QPainter(self)
        palette = self.palette()
        region = event.region()
        painter.fillRect(event.rect(), palette.color(QPalette.Window))
        lay = self._layout
        if not lay.filters:
            painter.setPen(palette.color(QPalette.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignCenter, "This network has no conv layer.")
            return
        weights, bias, vmax = self._source()
        fonts = self._current_fonts()
        cell, values_shown = lay.cell, lay.values_shown
        gradients = self.gradients
        if gradients is not None and gradients.shape != weights.shape:
            gradients = None  # a relayout is on its way
        highlighted = self.highlighted
        has_focus = self.hasFocus() and not self.inline_editor.isVisible()
        dpr = self.devicePixelRatioF()
        for f in range(lay.filters):
            card = lay.card_rect(f)
            if not region.intersects(card):
                continue
            kernel_area = lay.kernel_area(f)
            # NOTE: a repaint inside the weights (a click) skips the card: the grid lines and cells cover it
            if not region.intersected(card).subtracted(QRegion(kernel_area)).isEmpty():
                painter.drawPixmap(card.topLeft(),
                                   self._cards.get(lay, f, card, f == self.selected, fonts, palette, dpr))
            origin = lay.kernel_origin(f)
            # the cells: a 1 px grid line shows between them
            painter.setRenderHint(QPainter.Antialiasing, False)
            painter.fillRect(kernel_area, GRID_LINE)
            for i in range(lay.size):
                for j in range(lay.size):
                    rect = QRect(origin.x() + j * cell, origin.y() + i * cell, cell - 1, cell - 1)
                    if not region.intersects(rect):
                        continue
                    value = float(weights[f, i, j])
                    fill, ink = value_colours(value, vmax)
                    painter.fillRect(rect, fill)
                    if values_shown:
                        text = cell_text(value, fonts, cell)
                        painter.setFont(fonts.value)
                        painter.setPen(ink)
                        painter.drawText(rect, Qt.AlignCenter, text)
                    if gradients is not None:
                        self._paint_push(painter, rect, float(gradients[f, i, j]), ink, fonts if values_shown else None)
            bias_rect = lay.bias_rect(f)
            if region.intersects(bias_rect):
                paint_bias(painter, bias_rect, float(bias[f]), vmax, fonts)
            for i, j in ((i, j) for (g, i, j) in highlighted if g == f):
                outline(painter, lay.cell_rect(f, i, j), HIGHLIGHT, 3)
            if self._hover is not None and self._hover[0] == f:
                outline(painter, lay.cell_rect(*self._hover), QColor(20, 24, 31, 150), 1)
            if has_focus and self.focus_cell[0] == f:
                outline(painter, lay.cell_rect(*self.focus_cell), QColor(20, 24, 31), 2, inner=True)

    def _paint_push(self, painter, rect, gradient, ink, fonts) -> None:
        """The push glyph of one weight, full size at |gradient| = ``gradient_scale`` (see ``paint_push``)."""
        paint_push(painter, rect, gradient, self.gradient_scale, ink, fonts)
