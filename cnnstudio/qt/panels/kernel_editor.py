"""The kernel editor: every filter of a conv layer as a grid of coloured, clickable weights.

``QtKernelEditor(playground)`` shows, for one conv layer and one of its input
channels, each filter's K x K kernel (blue negative, white zero, red positive,
value printed in the cell) and the filter's bias under it.  Every edit is a
command on the playground; the view repaints only when the playground says
``kernels_changed`` and re-lays out on ``architecture_changed``.  A click
repaints only what it changed (the cell, the outlines that moved, the two cards
whose selection changed); the whole grid only when the colour scale moves.

All grids are painted by one widget (``_KernelGrid``), which hit-tests the
mouse itself: a layer of 16 filters of 11 x 11 weights is ~2000 cells, too
many for one child widget each.

While training runs, the playground knows the (smoothed) gradient of the loss for
every kernel weight; "Show gradients" draws, on each cell, which way the update
pushes that weight: a triangle pointing up (the weight grows: the gradient is
negative) or down, its area and opacity growing with |gradient| relative to the
largest of the layer.  A new gradient repaints the grid once.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetrics, QLinearGradient, QPainter, QPalette, QPen, QPixmap,
                           QPolygonF, QRegion)
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QToolTip, QVBoxLayout, QWidget)

from cnnstudio.engine import ConvSpec
from cnnstudio.core.presets import PRESETS, preset_kernel, presets_for, random_kernel

from cnnstudio.qt.widgets.signals import qt_signals_blocked

BIAS = -1
"""The ``row`` of a filter's bias cell (its ``col`` is 0)."""

STEPS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)
DEFAULT_STEP = 0.1
FLOAT32_MAX = float(np.finfo(np.float32).max)

# Diverging colour map (ColorBrewer RdBu): blue negative, near-white zero, red positive.
_STOPS = ((-1.0, (33, 102, 172)), (-0.5, (103, 169, 207)), (0.0, (247, 247, 247)),
          (0.5, (239, 138, 98)), (1.0, (178, 24, 43)))
_ACCENT = QColor(26, 115, 232)
_HIGHLIGHT = QColor(255, 196, 0)
UP, DOWN = "\u25b2", "\u25bc"  # the push glyphs, as the readout writes them


def _build_lut(n: int = 257) -> list[tuple[QColor, QColor]]:
    """(fill, legible text colour) for n values evenly spread over [-1, 1]."""
    xs = [s[0] for s in _STOPS]
    lut = []
    for t in np.linspace(-1.0, 1.0, n):
        rgb = [float(np.interp(t, xs, [s[1][k] for s in _STOPS])) for k in range(3)]
        luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
        text = QColor(255, 255, 255) if luminance < 150 else QColor(20, 24, 31)
        lut.append((QColor(*(int(round(v)) for v in rgb)), text))
    return lut


_LUT = _build_lut()


def value_colours(value: float, vmax: float) -> tuple[QColor, QColor]:
    """Fill and text colour of a weight on a symmetric scale [-vmax, vmax]."""
    t = 0.0 if vmax <= 0 or not math.isfinite(value) else max(-1.0, min(1.0, value / vmax))
    return _LUT[int(round((t + 1.0) * 0.5 * (len(_LUT) - 1)))]


def push_words(gradient: float, short: bool = False) -> str:
    """A weight's gradient and which way the update pushes the weight: in words, or ``short`` (glyph and number)."""
    if not math.isfinite(gradient) or gradient == 0:
        return f"gradient {gradient:g}" + ("" if short else ": training leaves it as it is")
    number = f"{gradient:+.2g}".replace("-", "\u2212")
    glyph = UP if gradient < 0 else DOWN
    if short:
        return f"{glyph} gradient {number}"
    return f"gradient {number}: training pushes it {'up' if gradient < 0 else 'down'} {glyph}"


def format_value(value: float) -> str:
    """A weight as printed in its cell: two decimals, a true minus sign."""
    text = f"{value:.2f}"
    if text in ("-0.00",):
        text = "0.00"
    return text.replace("-", "\u2212")


@dataclass(frozen=True)
class _Layout:
    """Where the grids are: one card per filter, laid out in rows; small cells get tighter cards."""

    filters: int
    size: int          # K
    cell: int          # pixels per weight
    cols: int
    x0: int
    y0: int
    card_w: int
    card_h: int
    inner_w: int       # width of the kernel and bias area inside a card
    height: int        # of all the cards, margins included
    pad: int           # card border to its content
    header: int        # height of the "filter n" line
    bias_gap: int
    bias_h: int
    gap: int           # between cards

    @property
    def compact(self) -> bool:
        return self.header < _KernelGrid.HEADER


class _Fonts:
    """The grid's fonts at one cell size, remembering the width of every text measured.

    Painting asks for the same few texts ("0.25", "filter 3") over and over;
    measuring each once keeps font metrics out of the repaint after a click.
    """

    MAX_REMEMBERED = 4096

    def __init__(self, base: QFont, cell: int, compact: bool, device):
        self.value = QFont(base)
        self.value.setPixelSize(max(8, min(13, int(cell * 0.3))))
        self.header = QFont(base)
        self.header.setPixelSize(10 if compact else 11)
        self.header_bold = QFont(self.header)
        self.header_bold.setBold(True)
        self._metrics = {id(font): QFontMetrics(font, device) for font in (self.value, self.header, self.header_bold)}
        self._widths: dict = {}
        value = self._metrics[id(self.value)]
        # where a centred value's digits sit in a cell: the push glyphs go above and below them
        self.value_ascent, self.value_descent, self.value_digits = value.ascent(), value.descent(), value.capHeight()

    def advance(self, font: QFont, text: str) -> int:
        """``QFontMetrics(font).horizontalAdvance(text)`` for one of these fonts."""
        key = (id(font), text)
        width = self._widths.get(key)
        if width is None:
            if len(self._widths) >= self.MAX_REMEMBERED:  # weights drifting in training: keep the memory flat
                self._widths.clear()
            width = self._widths[key] = self._metrics[id(font)].horizontalAdvance(text)
        return width


class _CellEditor(QLineEdit):
    """The inline editor for one exact value: Enter commits, Esc cancels, leaving it commits."""

    committed = Signal()
    cancelled = Signal()

    def keyPressEvent(self, event):
        if event.key() in (Qt.Key_Return, Qt.Key_Enter):
            self.committed.emit()
        elif event.key() == Qt.Key_Escape:
            self.cancelled.emit()
        else:
            super().keyPressEvent(event)

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        if self.isVisible() and event.reason() != Qt.PopupFocusReason:
            self.committed.emit()


class _KernelGrid(QWidget):
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

    # card metrics with readable values; below VALUES_FROM pixels per cell the cards tighten
    MARGIN, GAP, PAD, HEADER, BIAS_GAP, BIAS_H, MIN_INNER = 8, 10, 6, 18, 5, 20, 72
    TIGHT_GAP, TIGHT_PAD, TIGHT_HEADER, TIGHT_BIAS_GAP, TIGHT_BIAS_H, TIGHT_MIN_INNER = 6, 4, 14, 3, 15, 40
    MAX_CELL, VALUES_FROM = 46, 27
    SMALLEST_PUSH = 3.0  # pixels: a push glyph smaller than this would read as a speck, not a direction

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
        self._click_origin = None       # (target, value before the first click, time) for double clicks
        self._known = None              # (weights, bias, vmax) as last painted in full or refreshed
        self._fonts = None              # (key, _Fonts) for the current cell size and widget font
        self._cards = (None, {})        # (key, {(filter, selected): QPixmap}): card backgrounds and titles
        self._layout = self._compute_layout(0, 1)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setAccessibleName("kernel weights")
        self.inline_editor = _CellEditor(self)
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
        return self._layout.cell >= self.VALUES_FROM

    def set_shape(self, filters: int, size: int) -> None:
        """Re-lay out for ``filters`` kernels of ``size`` x ``size`` (only when the architecture changed)."""
        self.cancel_edit()
        self._hover = self._click_origin = None
        self.gradients = None  # they were another shape's; the editor hands over the new layer's
        self.selected = min(self.selected, max(filters - 1, 0))
        f, r, c = self.focus_cell
        self.focus_cell = (min(f, max(filters - 1, 0)), r if r == BIAS else min(r, size - 1), min(c, size - 1))
        self._layout = self._compute_layout(filters, size)
        self._apply_layout()
        self.pointed_changed.emit()

    def _available_height(self) -> int:
        parent = self.parentWidget()
        return parent.height() if parent is not None else self.height()

    @staticmethod
    def min_cell(size: int) -> int:
        """The smallest cells before the grid scrolls: a 3x3 stays clickable, an 11x11 may become a heat map."""
        return max(6, min(12, 40 // max(size, 1)))

    def _metrics(self, size: int, cell: int) -> dict:
        roomy = cell >= self.VALUES_FROM
        pad, header, bias_gap, bias_h, gap, min_inner = (
            (self.PAD, self.HEADER, self.BIAS_GAP, self.BIAS_H, self.GAP, self.MIN_INNER) if roomy else
            (self.TIGHT_PAD, self.TIGHT_HEADER, self.TIGHT_BIAS_GAP, self.TIGHT_BIAS_H, self.TIGHT_GAP,
             self.TIGHT_MIN_INNER))
        inner_w = max(size * cell, min_inner)
        return dict(cell=cell, inner_w=inner_w, card_w=inner_w + 2 * pad,
                    card_h=2 * pad + header + size * cell + bias_gap + bias_h,
                    pad=pad, header=header, bias_gap=bias_gap, bias_h=bias_h, gap=gap)

    def _compute_layout(self, filters: int, size: int) -> _Layout:
        """The largest cells at which every card fits the visible area; at ``min_cell`` the grid scrolls."""
        width, height = max(self.width(), 1), max(self._available_height(), 1)
        for cell in range(self.MAX_CELL, self.min_cell(size) - 1, -1):
            m = self._metrics(size, cell)
            cols = (width - 2 * self.MARGIN + m["gap"]) // (m["card_w"] + m["gap"])
            cols = max(1, min(cols, filters))
            rows = math.ceil(filters / cols) if filters else 0
            cols = math.ceil(filters / rows) if rows else 1  # balance the rows: 4 + 4, not 6 + 2
            total_w = 2 * self.MARGIN + cols * m["card_w"] + (cols - 1) * m["gap"]
            total_h = 2 * self.MARGIN + rows * m["card_h"] + max(rows - 1, 0) * m["gap"]
            if total_w <= width and total_h <= height:
                break
        x0 = max(self.MARGIN, (width - total_w) // 2 + self.MARGIN)
        return _Layout(filters=filters, size=size, cols=cols, x0=x0, y0=self.MARGIN, height=total_h, **m)

    def _apply_layout(self) -> None:
        # Scroll only when even the smallest cells do not fit; otherwise follow the viewport.
        lay = self._layout
        needed = lay.height if lay.height > self._available_height() else 0
        self.setMinimumSize(self._metrics(lay.size, self.min_cell(lay.size))["card_w"] + 2 * self.MARGIN, needed)
        self.update()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        layout = self._compute_layout(self._layout.filters, self._layout.size)
        if layout != self._layout:
            self._layout = layout
            self.cancel_edit()
            self._apply_layout()

    def card_rect(self, filter: int) -> QRect:
        lay = self._layout
        row, col = divmod(filter, lay.cols)
        return QRect(lay.x0 + col * (lay.card_w + lay.gap), lay.y0 + row * (lay.card_h + lay.gap),
                     lay.card_w, lay.card_h)

    def header_rect(self, filter: int) -> QRect:
        """The "filter n" strip at the top of a filter's card: clicking it selects the filter."""
        card, lay = self.card_rect(filter), self._layout
        return QRect(card.x(), card.y(), card.width(), lay.pad + lay.header)

    def _kernel_origin(self, filter: int) -> QPoint:
        lay, card = self._layout, self.card_rect(filter)
        return QPoint(card.x() + lay.pad + (lay.inner_w - lay.size * lay.cell) // 2, card.y() + lay.pad + lay.header)

    def cell_rect(self, filter: int, row: int, col: int) -> QRect:
        """The rectangle of weight (row, col) of ``filter``, or of its bias when ``row == BIAS``."""
        if row == BIAS:
            return self.bias_rect(filter)
        origin, cell = self._kernel_origin(filter), self._layout.cell
        return QRect(origin.x() + col * cell, origin.y() + row * cell, cell, cell)

    def bias_rect(self, filter: int) -> QRect:
        card, lay = self.card_rect(filter), self._layout
        top = card.y() + lay.pad + lay.header + lay.size * lay.cell + lay.bias_gap
        return QRect(card.x() + lay.pad, top, lay.inner_w, lay.bias_h)

    def hit_test(self, pos: QPoint):
        """``("cell", f, row, col)`` (row == BIAS for the bias), ``("card", f, 0, 0)`` or None."""
        lay = self._layout
        if not lay.filters:
            return None
        col_index = (pos.x() - lay.x0) // (lay.card_w + lay.gap)
        row_index = (pos.y() - lay.y0) // (lay.card_h + lay.gap)
        if not 0 <= col_index < lay.cols or row_index < 0:
            return None
        f = row_index * lay.cols + col_index
        if f >= lay.filters or not self.card_rect(f).contains(pos):
            return None
        if self.bias_rect(f).contains(pos):
            return ("cell", f, BIAS, 0)
        origin = self._kernel_origin(f)
        i, j = (pos.y() - origin.y()) // lay.cell, (pos.x() - origin.x()) // lay.cell
        if 0 <= i < lay.size and 0 <= j < lay.size and pos.x() >= origin.x() and pos.y() >= origin.y():
            return ("cell", f, i, j)
        return ("card", f, 0, 0)

    def sizeHint(self) -> QSize:
        return QSize(420, 360)

    # -- values
    def value_at(self, filter: int, row: int, col: int) -> float:
        weights, bias, _ = self._source()
        return float(bias[filter] if row == BIAS else weights[filter, row, col])

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
                self.update(QRegion(self.card_rect(f)).subtracted(QRegion(self._kernel_area(f))))
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
    def _current_fonts(self) -> _Fonts:
        lay, font = self._layout, self.font()
        key = (lay.cell, lay.compact, font.key())
        if self._fonts is None or self._fonts[0] != key:
            self._fonts = (key, _Fonts(font, lay.cell, lay.compact, self))
        return self._fonts[1]

    def _kernel_area(self, filter: int) -> QRect:
        """The weights of a filter with the 1 px grid lines around them: opaque, painted over the card."""
        origin, side = self._kernel_origin(filter), self._layout.size * self._layout.cell
        return QRect(origin.x() - 1, origin.y() - 1, side + 1, side + 1)

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
        cell, values_shown = lay.cell, lay.cell >= self.VALUES_FROM
        gradients = self.gradients
        if gradients is not None and gradients.shape != weights.shape:
            gradients = None  # a relayout is on its way
        highlighted = self.highlighted
        has_focus = self.hasFocus() and not self.inline_editor.isVisible()
        for f in range(lay.filters):
            card = self.card_rect(f)
            if not region.intersects(card):
                continue
            kernel_area = self._kernel_area(f)
            # NOTE: a repaint inside the weights (a click) skips the card: the grid lines and cells cover it
            if not region.intersected(card).subtracted(QRegion(kernel_area)).isEmpty():
                painter.drawPixmap(card.topLeft(), self._card_pixmap(f, card, fonts, palette))
            origin = self._kernel_origin(f)
            # the cells: a 1 px grid line shows between them
            painter.setRenderHint(QPainter.Antialiasing, False)
            painter.fillRect(kernel_area, QColor(200, 204, 210))
            for i in range(lay.size):
                for j in range(lay.size):
                    rect = QRect(origin.x() + j * cell, origin.y() + i * cell, cell - 1, cell - 1)
                    if not region.intersects(rect):
                        continue
                    value = float(weights[f, i, j])
                    fill, ink = value_colours(value, vmax)
                    painter.fillRect(rect, fill)
                    if values_shown:
                        text = format_value(value)
                        if fonts.advance(fonts.value, text) > cell - 3:
                            text = f"{value:.1f}".replace("-", "\u2212")
                        painter.setFont(fonts.value)
                        painter.setPen(ink)
                        painter.drawText(rect, Qt.AlignCenter, text)
                    if gradients is not None:
                        self._paint_push(painter, rect, float(gradients[f, i, j]), ink, fonts if values_shown else None)
            if region.intersects(self.bias_rect(f)):
                self._paint_bias(painter, f, float(bias[f]), vmax, fonts, palette)
            for i, j in ((i, j) for (g, i, j) in highlighted if g == f):
                self._outline(painter, self.cell_rect(f, i, j), _HIGHLIGHT, 3)
            if self._hover is not None and self._hover[0] == f:
                self._outline(painter, self.cell_rect(*self._hover), QColor(20, 24, 31, 150), 1)
            if has_focus and self.focus_cell[0] == f:
                self._outline(painter, self.cell_rect(*self.focus_cell), QColor(20, 24, 31), 2, inner=True)

    def _paint_push(self, painter, rect, gradient, ink, fonts) -> None:
        """A triangle showing which way the update pushes a weight: up when its gradient is negative.

        Its area (and opacity) grows with |gradient| / ``gradient_scale``.  With ``fonts`` (the
        value is printed) it sits above the digits when pointing up and below them when pointing
        down; otherwise in the middle of the cell.
        """
        strength = abs(gradient) / self.gradient_scale if self.gradient_scale > 0 else 0.0
        if not strength > 0:  # zero (a locked kernel, a dead filter) or NaN
            return
        strength = math.sqrt(min(strength, 1.0))  # sides grow as the square root: the area tells the size
        up = gradient < 0
        x = rect.x() + rect.width() / 2
        if fonts is None:
            height, y = 0.5 * rect.height() * strength, rect.y() + rect.height() / 2
        else:
            # the digits of the centred value span [top, baseline]; the glyph takes the free band above or below
            baseline = rect.y() + (rect.height() - fonts.value_ascent - fonts.value_descent) / 2 + fonts.value_ascent
            top = baseline - fonts.value_digits
            band = top - rect.y() if up else rect.bottom() + 1 - baseline
            height = (band - 3) * strength
            y = (rect.y() + top) / 2 if up else (baseline + rect.bottom() + 1) / 2
        if height < self.SMALLEST_PUSH:
            return
        half_w, half_h = 0.8 * height, height / 2
        tip, base = (y - half_h, y + half_h) if up else (y + half_h, y - half_h)
        colour = QColor(ink)
        colour.setAlphaF(0.5 + 0.5 * strength)
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setPen(Qt.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(QPolygonF([QPointF(x, tip), QPointF(x + half_w, base), QPointF(x - half_w, base)]))
        painter.setRenderHint(QPainter.Antialiasing, False)

    def _card_pixmap(self, f, card, fonts, palette) -> QPixmap:
        """A card's rounded background, border and title, on the window colour: drawn once, then copied.

        NOTE: the antialiased rounded rectangle is the slowest part of a card, and a new selection or a bias
        edit repaints cards around their weights; copying a pixmap instead halves that repaint.
        """
        dpr = self.devicePixelRatioF()
        key = (self._layout, fonts, palette.cacheKey(), dpr)
        if self._cards[0] != key:
            self._cards = (key, {})
        selected = f == self.selected
        pixmap = self._cards[1].get((f, selected))
        if pixmap is None:
            pixmap = QPixmap(card.size() * dpr)
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(palette.color(QPalette.Window))
            painter = QPainter(pixmap)
            painter.translate(-card.topLeft())
            self._paint_card(painter, f, card, selected, fonts, palette)
            painter.end()
            self._cards[1][(f, selected)] = pixmap
        return pixmap

    def _paint_card(self, painter, f, card, selected, fonts, palette):
        painter.setRenderHint(QPainter.Antialiasing, True)
        base = palette.color(QPalette.Base)
        border = _ACCENT if selected else palette.color(QPalette.Mid)
        painter.setPen(QPen(border, 2 if selected else 1))
        painter.setBrush(QColor(232, 240, 254) if selected and base.lightness() > 128 else base)
        painter.drawRoundedRect(QRectF(card).adjusted(1, 1, -1, -1), 6, 6)
        font = fonts.header_bold if selected else fonts.header
        painter.setFont(font)
        painter.setPen(_ACCENT if selected else palette.color(QPalette.Text))
        lay = self._layout
        header = QRect(card.x() + lay.pad + 2, card.y() + lay.pad - 1, card.width() - 2 * lay.pad - 2, lay.header)
        title = f"filter {f + 1}"
        if fonts.advance(font, title) > header.width():
            title = f"{f + 1}"
        painter.drawText(header, Qt.AlignLeft | Qt.AlignVCenter, title)

    def _paint_bias(self, painter, f, value, vmax, fonts, palette):
        rect = self.bias_rect(f)
        fill, ink = value_colours(value, vmax)
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setPen(QPen(QColor(200, 204, 210), 1))
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.setFont(fonts.header)
        painter.setPen(ink)
        inner = rect.adjusted(5, 0, -5, 0)
        text = format_value(value)
        if fonts.advance(fonts.header, "bias  " + text) <= inner.width():
            painter.drawText(inner, Qt.AlignLeft | Qt.AlignVCenter, "bias")
            painter.drawText(inner, Qt.AlignRight | Qt.AlignVCenter, text)
        else:  # a narrow card: the value alone (its tooltip says it is the bias)
            painter.drawText(rect, Qt.AlignCenter, text)

    @staticmethod
    def _outline(painter, rect, colour, width, inner=False):
        painter.setRenderHint(QPainter.Antialiasing, False)
        painter.setBrush(Qt.NoBrush)
        r = QRect(rect).adjusted(0, 0, -1, -1)
        if inner:  # a white halo inside keeps the focus ring visible on dark blue and red
            painter.setPen(QPen(QColor(255, 255, 255), 1))
            painter.drawRect(r.adjusted(width, width, -width, -width))
        painter.setPen(QPen(colour, width, Qt.SolidLine, Qt.SquareCap, Qt.MiterJoin))
        half = width // 2
        painter.drawRect(r.adjusted(half, half, -half, -half))

    # -- mouse
    def mousePressEvent(self, event):
        self._commit_edit()
        hit = self.hit_test(event.position().toPoint())
        if hit is None:
            return super().mousePressEvent(event)
        kind, f, i, j = hit
        self.filter_clicked.emit(f)
        if kind != "cell":
            self._move_focus((f, self.focus_cell[1], self.focus_cell[2]))
            return
        self._move_focus((f, i, j))
        if event.button() == Qt.LeftButton:
            self._remember_click((f, i, j))
            self.nudged.emit(f, i, j, 1.0)
        elif event.button() == Qt.RightButton:
            self.nudged.emit(f, i, j, -1.0)

    def _remember_click(self, target) -> None:
        """Keep the value before a run of quick clicks, so a double click can undo their steps."""
        now = time.monotonic()
        origin = self._click_origin
        if origin is None or origin[0] != target or now - origin[2] > QApplication.doubleClickInterval() / 1000:
            self._click_origin = (target, self.value_at(*target), now)
        else:
            self._click_origin = (target, origin[1], now)

    def mouseDoubleClickEvent(self, event):
        hit = self.hit_test(event.position().toPoint())
        if hit is None or hit[0] != "cell":
            return super().mouseDoubleClickEvent(event)
        target = hit[1:]
        if event.button() == Qt.RightButton:  # a quick second right click still lowers
            self.nudged.emit(*target, -1.0)
            return
        if event.button() != Qt.LeftButton:
            return
        origin, self._click_origin = self._click_origin, None
        # the first click of the double click raised the cell: put it back before typing
        if origin is not None and origin[0] == target and origin[1] != self.value_at(*target):
            self.value_entered.emit(*target, origin[1])
        self.edit(*target)

    def mouseMoveEvent(self, event):
        hit = self.hit_test(event.position().toPoint())
        hover = hit[1:] if hit is not None and hit[0] == "cell" else None
        if hover != self._hover:
            self._update_cell(self._hover)
            self._hover = hover
            self._update_cell(hover)
            self.pointed_changed.emit()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event):
        if self._hover is not None:
            self._update_cell(self._hover)
            self._hover = None
            self.pointed_changed.emit()
        super().leaveEvent(event)

    def wheelEvent(self, event):
        hit = self.hit_test(event.position().toPoint())
        delta = event.angleDelta().y() / 120.0
        if hit is None or hit[0] != "cell" or delta == 0:
            event.ignore()  # let the scroll area scroll
            return
        self._move_focus(hit[1:])
        self.nudged.emit(*hit[1:], delta / 10.0)
        event.accept()

    def event(self, event):
        if event.type() == QEvent.ToolTip:
            hit = self.hit_test(event.pos())
            if hit is not None and hit[0] == "cell":
                QToolTip.showText(event.globalPos(), self._tooltip(*hit[1:]), self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def _tooltip(self, f, i, j) -> str:
        what = f"filter {f + 1}, bias" if i == BIAS else f"filter {f + 1}, row {i + 1}, column {j + 1}"
        step = f"{self.step:g}"
        push = f"{push_words(float(self.gradients[f, i, j]))}<br>" if self.gradients is not None and i != BIAS else ""
        return (f"<b>{what}</b>: {self.value_at(f, i, j):.4f}<br>{push}"
                f"left click +{step}, right click \u2212{step}, wheel \u00b1{self.step / 10:g}<br>"
                f"double click or type a number to enter it")

    # -- keyboard
    def keyPressEvent(self, event):
        if not self._layout.filters:
            return super().keyPressEvent(event)
        key, f = event.key(), self.focus_cell[0]
        moves = {Qt.Key_Left: (0, -1), Qt.Key_Right: (0, 1), Qt.Key_Up: (-1, 0), Qt.Key_Down: (1, 0)}
        if key in moves:
            self._move_focus(self._neighbour(self.focus_cell, *moves[key]))
        elif key in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_F2):
            self.edit(*self.focus_cell)
        elif key in (Qt.Key_Delete, Qt.Key_Backspace):
            self.value_entered.emit(*self.focus_cell, 0.0)
        elif key in (Qt.Key_PageUp, Qt.Key_PageDown, Qt.Key_Plus):
            self.nudged.emit(*self.focus_cell, -1.0 if key == Qt.Key_PageDown else 1.0)
        elif event.text() and event.text() in "0123456789.,-\u2212":
            self.edit(*self.focus_cell, initial_text=event.text())
        else:
            return super().keyPressEvent(event)
        if self.focus_cell[0] != f:  # moving into another filter selects it
            self.filter_clicked.emit(self.focus_cell[0])

    def _neighbour(self, cell, d_row, d_col):
        """The cell next to ``cell``: rows run down into the bias; columns run on into the next filter."""
        f, i, j = cell
        K, F = self._layout.size, self._layout.filters
        if d_row:
            row = K if i == BIAS else i
            row = min(max(row + d_row, 0), K)
            return (f, BIAS if row == K else row, 0 if row == K else j)
        if i == BIAS:
            return (min(max(f + d_col, 0), F - 1), BIAS, 0)
        j += d_col
        if j < 0 and f > 0:
            return (f - 1, i, K - 1)
        if j >= K and f < F - 1:
            return (f + 1, i, 0)
        return (f, i, min(max(j, 0), K - 1))

    def _move_focus(self, cell) -> None:
        if cell != self.focus_cell:
            self._update_cell(self.focus_cell)
            self.focus_cell = cell
            scroll = self._scroll_area()
            if scroll is not None:
                rect = self.cell_rect(*cell)
                scroll.ensureVisible(rect.center().x(), rect.center().y(), rect.width(), rect.height())
            self.pointed_changed.emit()
        self._update_cell(cell)

    @property
    def pointed_cell(self):
        """The cell under the mouse, else the focused cell while the grid has focus, else None."""
        if self._hover is not None:
            return self._hover
        return self.focus_cell if self.hasFocus() and self._layout.filters else None

    def _scroll_area(self):
        widget = self.parentWidget()
        while widget is not None and not isinstance(widget, QScrollArea):
            widget = widget.parentWidget()
        return widget

    def focusInEvent(self, event):
        super().focusInEvent(event)
        self._update_cell(self.focus_cell)  # the focus ring appears
        self.pointed_changed.emit()

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        self._update_cell(self.focus_cell)
        self.pointed_changed.emit()

    # -- the inline editor
    def edit(self, filter: int, row: int, col: int, initial_text: str | None = None) -> None:
        """Open the inline editor on a cell; Enter commits the typed value, Esc cancels."""
        self._move_focus((filter, row, col))
        self._editing = (filter, row, col)
        rect = self.cell_rect(filter, row, col)
        width, height = max(rect.width() + 8, 64), max(rect.height(), 24)
        geometry = QRect(0, 0, width, height)
        geometry.moveCenter(rect.center())
        geometry.moveLeft(min(max(geometry.left(), 0), max(self.width() - width, 0)))
        editor = self.inline_editor
        editor.setStyleSheet(f"QLineEdit {{ border: 2px solid {_ACCENT.name()}; border-radius: 3px; "
                             f"background: white; color: black; }}")
        editor.setGeometry(geometry)
        if initial_text is None:
            value = self.value_at(filter, row, col)
            editor.setText(f"{value:.4f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0")
            editor.selectAll()
        else:
            editor.setText(initial_text)
        editor.show()
        editor.raise_()
        editor.setFocus(Qt.OtherFocusReason)

    @property
    def editing(self):
        """The (filter, row, col) being typed into, or None."""
        return self._editing

    def _commit_edit(self) -> None:
        if self._editing is None:
            return
        text = self.inline_editor.text().strip().replace(",", ".").replace("\u2212", "-")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or abs(value) > FLOAT32_MAX:  # a weight is float32: 1e39 would be inf
            if self.inline_editor.hasFocus():  # stay open and say so
                self.inline_editor.setStyleSheet("QLineEdit { border: 2px solid #d93025; border-radius: 3px; "
                                                 "background: #fce8e6; color: black; }")
                self.inline_editor.setToolTip("Type a number such as 0.5 or -1.25 (at most 3.4e38 either way)")
                return
            return self.cancel_edit()
        target, self._editing = self._editing, None
        self._close_editor()
        self.value_entered.emit(*target, value)

    def cancel_edit(self) -> None:
        """Close the inline editor without changing anything."""
        if self._editing is None:
            return
        self._editing = None
        self._close_editor()

    def _close_editor(self) -> None:
        refocus = self.inline_editor.hasFocus()
        self.inline_editor.hide()
        if refocus:
            self.setFocus(Qt.OtherFocusReason)
        self._update_cell(self.focus_cell)  # the focus ring comes back


class _ColourScale(QWidget):
    """The colour key: blue -vmax, white 0, red +vmax."""

    def __init__(self, source, parent=None):
        super().__init__(parent)
        self._source = source  # () -> vmax
        self.setFixedSize(160, 30)
        self.setToolTip("Colour of a weight: blue negative, white zero, red positive "
                        "(the same scale for every filter of this layer)")

    def paintEvent(self, event):
        vmax = self._source()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing, True)
        bar = QRectF(4, 2, self.width() - 8, 11)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for t, rgb in _STOPS:
            gradient.setColorAt((t + 1) / 2, QColor(*rgb))
        painter.setPen(QPen(QColor(190, 194, 200), 1))
        painter.setBrush(gradient)
        painter.drawRoundedRect(bar, 3, 3)
        font = QFont(self.font())
        font.setPixelSize(10)
        painter.setFont(font)
        painter.setPen(self.palette().color(QPalette.Text))
        labels = QRect(2, 14, self.width() - 4, 15)
        painter.drawText(labels, Qt.AlignLeft | Qt.AlignVCenter, format_value(-vmax))
        painter.drawText(labels, Qt.AlignHCenter | Qt.AlignVCenter, "0")
        painter.drawText(labels, Qt.AlignRight | Qt.AlignVCenter, "+" + format_value(vmax))


class QtKernelEditor(QWidget):
    """Edit the kernels and biases of a conv layer by clicking, scrolling and typing.

    Parameters
    ----------
    playground : cnnstudio.core.playground.Playground
        Receives every edit as a command (``set_kernel_cell``, ``set_kernel``,
        ``set_bias``, ``reset_kernels``); its ``kernels_changed`` and
        ``architecture_changed`` events are the only reasons to repaint.

    ``filter_selected(layer, filter)`` is emitted when the selected filter
    changes; ``highlight(layer, filter, cells)`` outlines weights (linked hover).
    The playground's ``gradients_changed`` brings the push glyphs (``gradients``:
    what is drawn), shown while "Show gradients" (``gradients_check``) is ticked.
    Cell geometry (``cell_rect``, ``bias_rect``, ``header_rect``) is in
    ``self.grid``'s coordinates.
    """

    filter_selected = Signal(int, int)

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.setObjectName("kernelEditor")
        self.playground = playground
        self._layer = 0
        self._channel = 0
        self._conv_layers: list[int] = []
        self._highlight = None  # (layer, filter, [(channel, row, col), ...])
        self._rng = np.random.default_rng()
        self._build()
        events = playground.events
        events.kernels_changed.connect(self._on_kernels_changed)
        events.architecture_changed.connect(self._on_architecture_changed)
        events.gradients_changed.connect(self._sync_gradients)
        self.destroyed.connect(lambda *_, e=events, k=self._on_kernels_changed, a=self._on_architecture_changed,
                               g=self._sync_gradients: (e.kernels_changed.disconnect(k),
                                                        e.architecture_changed.disconnect(a),
                                                        e.gradients_changed.disconnect(g)))
        self._sync_architecture()

    # -- construction (once)
    def _build(self) -> None:
        self.layer_combo = QComboBox(objectName="kernelLayer")
        self.layer_combo.setToolTip("Which conv layer's kernels to show")
        self.channel_spin = QSpinBox(objectName="kernelChannel")
        self.channel_spin.setPrefix("input ")
        self.channel_spin.setToolTip("A filter of a deeper layer has one kernel per input channel "
                                     "(per feature map of the layer before): choose which one to edit")
        self.step_combo = QComboBox(objectName="kernelStep")
        for step in STEPS:
            self.step_combo.addItem(f"step {step:g}", step)
        self.step_combo.setCurrentIndex(STEPS.index(DEFAULT_STEP))
        self.step_combo.setToolTip("How much a click raises (left) or lowers (right) a weight; "
                                   "the wheel moves a tenth of it")
        self.scale = _ColourScale(self._vmax)
        self.gradients_check = QCheckBox(f"Show gradients {UP}{DOWN}", objectName="kernelShowGradients")
        self.gradients_check.setChecked(True)

        self.filter_label = QLabel(objectName="kernelFilterLabel")
        self.preset_combo = QComboBox(objectName="kernelPreset")
        for name in PRESETS:
            self.preset_combo.addItem(name)
        self.preset_combo.setToolTip("A classic kernel to put into the selected filter")
        self.apply_button = QPushButton("Apply", objectName="kernelApply")
        self.apply_button.setToolTip("Put the chosen preset into the selected filter (this input channel)")
        self.randomise_button = QPushButton("Randomise", objectName="kernelRandomise")
        self.randomise_button.setToolTip("Draw the selected filter's kernel afresh, as the network's "
                                         "initialisation does (He normal)")
        self.reset_button = QPushButton("Reset to trained", objectName="kernelReset")
        self.reset_button.setToolTip("Put back the trained weights and biases of every filter of this layer")

        self.grid = _KernelGrid(self._shown)
        self.scroll = QScrollArea(objectName="kernelScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.scroll.setWidget(self.grid)
        self.readout = QLabel(objectName="kernelReadout")
        self.readout.setTextFormat(Qt.RichText)
        # NOTE: a long readout is cut at the right instead of widening the editor (and re-laying out the window)
        self.readout.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.readout.setMinimumHeight(self.readout.fontMetrics().height())
        self.hint = QLabel(objectName="kernelHint")
        self.hint.setWordWrap(True)
        hint_font = self.hint.font()
        hint_font.setPointSizeF(max(hint_font.pointSizeF() - 1, 7))
        self.hint.setFont(hint_font)
        self.hint.setForegroundRole(QPalette.PlaceholderText)

        top = QHBoxLayout()
        top.addWidget(self.layer_combo)
        top.addWidget(self.channel_spin)
        top.addWidget(self.step_combo)
        top.addStretch(1)
        top.addWidget(self.reset_button)
        presets = QHBoxLayout()
        presets.addWidget(self.filter_label)
        presets.addWidget(self.preset_combo, 1)
        presets.addWidget(self.apply_button)
        presets.addWidget(self.randomise_button)
        words = QVBoxLayout()
        words.setSpacing(1)
        words.addWidget(self.readout)
        words.addWidget(self.hint)
        keys = QVBoxLayout()  # what the colours and the triangles mean
        keys.setSpacing(2)
        keys.addWidget(self.scale)
        keys.addWidget(self.gradients_check)
        keys.addStretch(1)
        footer = QHBoxLayout()
        footer.addLayout(keys)
        footer.addLayout(words, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(presets)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(footer)

        self.layer_combo.currentIndexChanged.connect(self._on_layer_chosen)
        self.channel_spin.valueChanged.connect(self._on_channel_chosen)
        self.step_combo.currentIndexChanged.connect(self._on_step_chosen)
        self.apply_button.clicked.connect(self.apply_preset)
        self.randomise_button.clicked.connect(self.randomise)
        self.reset_button.clicked.connect(self.reset_to_trained)
        self.gradients_check.toggled.connect(self._sync_gradients)
        self.grid.nudged.connect(self._on_nudged)
        self.grid.value_entered.connect(self._on_value_entered)
        self.grid.filter_clicked.connect(self.select_filter)
        self.grid.pointed_changed.connect(self._sync_readout)

    def sizeHint(self) -> QSize:
        return QSize(460, 480)

    # -- what is shown
    @property
    def layer(self) -> int:
        """Index (in ``network.layers``) of the conv layer shown."""
        return self._layer

    @property
    def channel(self) -> int:
        """The input channel whose kernels are shown (0-based)."""
        return self._channel

    @property
    def selected_filter(self) -> int:
        return self.grid.selected

    @property
    def step(self) -> float:
        return self.grid.step

    @property
    def gradients(self) -> np.ndarray | None:
        """The gradients drawn on the cells shown, (filters, K, K); None when none are drawn."""
        return self.grid.gradients

    def _spec(self) -> ConvSpec | None:
        layers = self.playground.network.layers
        return layers[self._layer] if self._conv_layers else None

    def _shown(self):
        """(weights (F, K, K), bias (F,), vmax) of the layer and channel shown: what the grid paints."""
        if not self._conv_layers:
            return np.zeros((0, 1, 1), np.float32), np.zeros(0, np.float32), 1.0
        weight = self.playground.network.weight(self._layer)
        return weight[:, self._channel], self.playground.network.bias(self._layer), self._vmax()

    def _vmax(self) -> float:
        """Half-width of the colour scale: the largest |weight| of the layer, so filters compare at a glance."""
        if not self._conv_layers:
            return 1.0
        weight = self.playground.network.weight(self._layer)
        vmax = float(np.max(np.abs(weight))) if weight.size else 0.0
        return vmax if math.isfinite(vmax) and vmax > 1e-6 else 1.0

    # -- geometry for tests and linked views (grid coordinates)
    def cell_rect(self, filter: int, row: int, col: int) -> QRect:
        return self.grid.cell_rect(filter, row, col)

    def bias_rect(self, filter: int) -> QRect:
        return self.grid.bias_rect(filter)

    def header_rect(self, filter: int) -> QRect:
        return self.grid.header_rect(filter)

    # -- selection
    def select_layer(self, layer: int) -> None:
        """Show conv layer ``layer`` (an index into ``network.layers``)."""
        if layer not in self._conv_layers:
            raise ValueError(f"layer {layer} is not a conv layer")
        self.layer_combo.setCurrentIndex(self._conv_layers.index(layer))

    def select_channel(self, channel: int) -> None:
        """Show the kernels that read input channel ``channel`` (0-based)."""
        self.channel_spin.setValue(channel + 1)

    def select_filter(self, filter: int) -> None:
        if not 0 <= filter < max(self.grid.filters, 1) or filter == self.grid.selected:
            return
        self.grid.select(filter)
        self._sync_filter_label()
        self.filter_selected.emit(self._layer, filter)

    def set_step(self, step: float) -> None:
        self.step_combo.setCurrentIndex(STEPS.index(step))

    def highlight(self, layer: int, filter: int | None, cells=None) -> None:
        """Outline weights ``cells`` [(channel, row, col), ...] of ``filter`` in ``layer``; None clears."""
        self._highlight = None if cells is None or filter is None else (layer, filter, list(cells))
        self._sync_highlight()

    def _sync_highlight(self) -> None:
        cells = set()
        if self._highlight is not None:
            layer, f, wanted = self._highlight
            if layer == self._layer:
                cells = {(f, i, j) for (c, i, j) in wanted if c == self._channel}
        self.grid.set_highlighted(cells)

    # -- commands
    def _on_nudged(self, f: int, row: int, col: int, steps: float) -> None:
        value = self.grid.value_at(f, row, col) + steps * self.step
        self._on_value_entered(f, row, col, value)

    def _on_value_entered(self, f: int, row: int, col: int, value: float) -> None:
        try:
            if row == BIAS:
                self.playground.set_bias(self._layer, f, value)
            else:
                self.playground.set_kernel_cell(self._layer, f, self._channel, row, col, value)
        except ValueError:  # a nudge past float32's range: the weight stays as it was
            QApplication.beep()

    def apply_preset(self, name: str | None = None) -> None:
        """Put preset ``name`` (default: the combo's) into the selected filter's kernel of this channel."""
        spec = self._spec()
        if spec is None:
            return
        name = name or self.preset_combo.currentText()
        self.playground.set_kernel(self._layer, self.grid.selected, preset_kernel(name, spec.kernel),
                                   channel=self._channel)

    def randomise(self) -> None:
        """Draw the selected filter's kernel of this channel afresh (He normal)."""
        spec = self._spec()
        if spec is None:
            return
        channels = self.playground.network.weight(self._layer).shape[1]
        kernel = random_kernel(self._rng, spec.kernel, channels * spec.kernel * spec.kernel)
        self.playground.set_kernel(self._layer, self.grid.selected, kernel, channel=self._channel)

    def reset_to_trained(self) -> None:
        """Put back the trained (or loaded) weights and biases of the layer shown."""
        if self._conv_layers:
            self.playground.reset_kernels(self._layer)

    # -- user choices
    def _on_layer_chosen(self, index: int) -> None:
        if 0 <= index < len(self._conv_layers):
            self._layer = self._conv_layers[index]
            self._channel = 0
            self._sync_layer()
            self.filter_selected.emit(self._layer, self.grid.selected)

    def _on_channel_chosen(self, value: int) -> None:
        self._channel = value - 1
        self.grid.cancel_edit()
        self._sync_highlight()
        self._sync_gradients()
        self.grid.source_changed()

    def _on_step_chosen(self, index: int) -> None:
        self.grid.step = float(self.step_combo.itemData(index))
        self._sync_hint()

    # -- model -> view
    def _on_kernels_changed(self, layer: int) -> None:
        if layer == self._layer:
            if self.grid.refresh_values():  # only the edited cells, unless the colour scale moved
                self.scale.update()
            self._sync_readout()

    def _on_architecture_changed(self) -> None:
        self._sync_architecture()

    def _sync_architecture(self) -> None:
        layers = self.playground.network.layers
        self._conv_layers = [k for k, spec in enumerate(layers) if isinstance(spec, ConvSpec)]
        names = [f"conv {n + 1}" for n in range(len(self._conv_layers))]
        if self._layer not in self._conv_layers:
            self._layer = self._conv_layers[0] if self._conv_layers else 0
        with qt_signals_blocked(self.layer_combo):
            if [self.layer_combo.itemText(k) for k in range(self.layer_combo.count())] != names:
                self.layer_combo.clear()
                self.layer_combo.addItems(names)
            if self._conv_layers:
                self.layer_combo.setCurrentIndex(self._conv_layers.index(self._layer))
        self._sync_layer()

    def _sync_layer(self) -> None:
        """Fit the controls and the grid to the layer shown (its filters, channels and kernel size)."""
        spec = self._spec()
        enabled = spec is not None
        for widget in (self.layer_combo, self.preset_combo, self.apply_button, self.randomise_button,
                       self.reset_button, self.step_combo):
            widget.setEnabled(enabled)
        if spec is None:
            self.grid.set_shape(0, 1)
            self.channel_spin.setEnabled(False)
            self._sync_filter_label()
            self._sync_gradients()
            return
        channels = self.playground.network.weight(self._layer).shape[1]
        self._channel = min(self._channel, channels - 1)
        with qt_signals_blocked(self.channel_spin):
            self.channel_spin.setRange(1, channels)
            self.channel_spin.setSuffix(f" of {channels}")
            self.channel_spin.setValue(self._channel + 1)
        self.channel_spin.setEnabled(channels > 1)
        self._sync_presets(spec.kernel)
        self.grid.set_shape(spec.filters, spec.kernel)
        self.grid.source_changed()
        self._sync_filter_label()
        self._sync_highlight()
        self._sync_hint()
        self._sync_gradients()
        self.scale.update()

    def _sync_presets(self, size: int) -> None:
        """Grey out the presets that make no sense at this kernel size (a 1x1 Sobel)."""
        available = set(presets_for(size))
        model = self.preset_combo.model()
        for row in range(self.preset_combo.count()):
            item = model.item(row)
            item.setEnabled(self.preset_combo.itemText(row) in available)
        if self.preset_combo.currentText() not in available and available:
            with qt_signals_blocked(self.preset_combo):
                self.preset_combo.setCurrentText(presets_for(size)[0])

    def _sync_gradients(self, *args) -> None:
        """Draw the gradients of the layer and channel shown, if training brought some and the box is ticked."""
        known = self.playground.kernel_gradients
        if self.gradients_check.isEnabled() != bool(known) or not self.gradients_check.toolTip():
            self.gradients_check.setEnabled(bool(known))
            self.gradients_check.setToolTip(
                "Draw on every weight which way training pushes it: a triangle up (the weight grows) or down, "
                "bigger and darker for a stronger push. It is minus the gradient of the loss, which "
                "backpropagation computes for every weight (smoothed over the last training steps)."
                + ("" if known else "<br><br>Start training (Ctrl+T shows the Training dock) to see them."))
        gradient = known.get(self._layer) if self._conv_layers and self.gradients_check.isChecked() else None
        if gradient is None:
            self.grid.set_gradients(None)
        else:
            largest = float(np.max(np.abs(gradient))) if gradient.size else 0.0
            self.grid.set_gradients(gradient[:, self._channel], largest if math.isfinite(largest) else 0.0)
        self._sync_readout()

    def _sync_filter_label(self) -> None:
        self.filter_label.setText(f"Filter {self.grid.selected + 1}:" if self.grid.filters else "")

    def _sync_readout(self) -> None:
        """The exact value of the hovered (or focused) cell: readable even when the cells are too small for text."""
        cell = self.grid.pointed_cell if self._conv_layers else None
        if cell is None:
            self.readout.setText("")
            return
        f, i, j = cell
        where = "bias" if i == BIAS else f"row {i + 1}, column {j + 1}"
        channel = f" \u00b7 input {self._channel + 1}" if self.channel_spin.maximum() > 1 and i != BIAS else ""
        value = self.grid.value_at(f, i, j)
        text = f"filter {f + 1}{channel} \u00b7 {where}: <b>{value:+.4f}</b>".replace("-", "\u2212")
        if self.grid.gradients is not None and i != BIAS:
            text += f" \u00b7 {push_words(float(self.grid.gradients[f, i, j]), short=True)}"
        self.readout.setText(text)

    def _sync_hint(self) -> None:
        spec = self._spec()
        if spec is None:
            self.hint.setText("")
            return
        step = f"{self.step:g}"
        self.hint.setText(f"Click +{step}, right click \u2212{step}, wheel \u00b1{self.step / 10:g} \u00b7 "
                          f"double click or type a number \u00b7 arrow keys move \u00b7 click a title to select")
