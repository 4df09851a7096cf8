"""The grid every lesson view paints with, and the small pieces those views share.

``GridView`` draws a matrix as coloured cells, with the numbers in them when
they fit, and overlays in cell coordinates (windows, filled cells, crosses, a
tinted border).  The step-through, receptive-field, occlusion, X-or-O and
ANN-vs-CNN views all use it, and the helpers below: ``rich_label``,
``operator_label`` (the "×" and "→" between grids), ``tool_button``,
``number_text`` (a cell's number), ``symmetric_levels`` and ``worth_refreshing``.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QWidget

from cnnstudio.render.mosaic import INK_LUT
from cnnstudio.qt.widgets import theme

EMPTY = QColor("#eceef1")        # a cell not computed yet
PADDING_TINT = QColor(120, 130, 150, 70)
WINDOW = QColor("#0a9b48")       # the sliding window, the receptive field
CURRENT = QColor("#111111")      # the output cell being filled
UNREACHED = QColor("#d93025")    # cells the window never reaches
MIN_NUMBER_PIXELS = 8            # a number smaller than this is not drawn (unreadable)


def number_text(value: float) -> str:
    """``value`` as a cell shows it: whole numbers whole, others with 0-2 decimals by size; "" if not finite."""
    if not math.isfinite(value):
        return ""
    if value == round(value) and abs(value) < 1000:
        return str(int(round(value)))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def worth_refreshing(view: QWidget) -> bool:
    """Whether ``view`` should redo its work for a playground change now.

    NOTE: a view inside a window but hidden (the Explain dock closed, or
    another tab in front) would otherwise recompute after every click and
    stroke, for no one; it catches up in its ``showEvent``.  A view that is a
    window of its own stays live.
    """
    return view.isVisible() or view.isWindow()


def symmetric_levels(*arrays) -> tuple[float, float]:
    """(-top, top) with ``top`` the largest finite magnitude (infinite values are drawn at the ends)."""
    tops = [float(np.abs(a[np.isfinite(a)]).max()) for a in map(np.asarray, arrays) if np.isfinite(a).any()]
    top = max(tops + [1e-3])
    return -top, top


def lut_indices(values: np.ndarray, levels: tuple[float, float], size: int) -> np.ndarray:
    """Rows of a ``size``-row colour table for ``values``: ``levels`` span the table, values beyond them (even
    infinite ones, from an overflowing map) take its end colours; NaN values, and anything the arithmetic
    cannot place (infinite levels), take row 0, to be painted over.
    """
    # NOTE: huge levels are brought into float64's range so that hi - lo cannot overflow to inf
    lo, hi = np.clip(np.nan_to_num(np.asarray(levels, dtype=np.float64)), -1e300, 1e300)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (np.asarray(values, dtype=np.float64) - lo) / max(hi - lo, 1e-12) * (size - 1)
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0, size - 1).astype(np.int64)


class GridView(QWidget):
    """A matrix painted as coloured cells, numbers inside when they fit, with overlays.

    ``set_data(values, lut, levels)``: NaN cells are painted as not-yet-computed, infinite ones in the end
    colours of ``lut``.
    Overlays (all in cell coordinates): ``rects`` ``(row0, col0, row1, col1, colour, width)``
    inclusive; ``fills`` ``(row0, col0, row1, col1, QColor)``; ``crosses`` a bool mask;
    ``tint`` a bool mask painted over (the padding border).  ``clicked(row, col)`` on a press.
    Numbers scale with the cell and shrink to fit inside it (never running into the next one);
    a cell too small for a legible number shows none.
    """

    clicked = Signal(int, int)

    def __init__(self, title: str = "", numbers: bool | None = None, max_cell: int = 44, min_cell: int = 3,
                 decimals: int | None = None, parent=None):
        super().__init__(parent)
        self.title = title
        self.numbers = numbers          # None: when the cells are big enough
        self.decimals = decimals        # None: ``number_text``'s 0-2 decimals by size; else always this many
        self.max_cell, self.min_cell = max_cell, min_cell
        self.values = np.zeros((1, 1))
        self.lut, self.levels = INK_LUT, (0.0, 1.0)
        self.rects, self.fills, self.crosses, self.tint = [], [], None, None
        self.caption = ""
        self._image = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(40, 40)

    def set_data(self, values, lut=None, levels=None) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None]
        self.values = values
        if lut is not None:
            self.lut = lut
        if levels is not None:
            self.levels = (float(levels[0]), float(levels[1]))
        rgba = np.ascontiguousarray(self.lut[lut_indices(values, self.levels, len(self.lut))])
        rgba[np.isnan(values)] = EMPTY.getRgb()
        self._rgba = rgba  # QImage does not copy: keep the buffer alive
        self._image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4,
                             QImage.Format.Format_RGBA8888)
        self.update()

    def set_overlays(self, rects=(), fills=(), crosses=None, tint=None) -> None:
        self.rects, self.fills, self.crosses, self.tint = list(rects), list(fills), crosses, tint
        self.update()

    def set_caption(self, text: str) -> None:
        self.caption = text
        self.update()

    # -- geometry
    def _header(self) -> int:
        return (16 if self.title else 0)

    def _footer(self) -> int:
        return 16 if self.caption else 0

    def cell_size(self) -> float:
        H, W = self.values.shape
        avail_w = self.width() - 4
        avail_h = self.height() - 4 - self._header() - self._footer()
        return max(min(avail_w / W, avail_h / H, self.max_cell), 0.5)

    def _origin(self) -> tuple[float, float]:
        H, W = self.values.shape
        c = self.cell_size()
        x = (self.width() - W * c) / 2
        y = self._header() + 2 + (self.height() - self._header() - self._footer() - 4 - H * c) / 2
        return x, y

    def cell_rect(self, row: float, col: float, rows: float = 1, cols: float = 1) -> QRectF:
        x, y = self._origin()
        c = self.cell_size()
        return QRectF(x + col * c, y + row * c, cols * c, rows * c)

    def sizeHint(self) -> QSize:
        H, W = self.values.shape
        c = min(self.max_cell, max(self.min_cell, 360 / max(H, W)))
        return QSize(int(W * c) + 8, int(H * c) + 8 + self._header() + self._footer())

    def mousePressEvent(self, event) -> None:
        x, y = self._origin()
        c = self.cell_size()
        col = int((event.position().x() - x) // c)
        row = int((event.position().y() - y) // c)
        if 0 <= row < self.values.shape[0] and 0 <= col < self.values.shape[1]:
            self.clicked.emit(row, col)

    def cell_text(self, value: float) -> str:
        """The number a cell shows for ``value`` ("" for NaN)."""
        if self.decimals is None or not math.isfinite(value):
            return number_text(value)
        return f"{value:.{self.decimals}f}"

    # -- painting
    def _paint_numbers(self, painter: QPainter, H: int, W: int, c: float) -> None:
        texts = [[self.cell_text(v) for v in row] for row in self.values]
        font = _fitting_font(painter, [t for row in texts for t in row], c)
        if font is None:   # smaller than legible: the colours alone
            return
        painter.setFont(font)
        for r in range(H):
            for k in range(W):
                if not texts[r][k]:
                    continue
                rgba = self._rgba[r, k]
                dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 128
                painter.setPen(QColor("white") if dark else QColor("#111"))
                painter.drawText(self.cell_rect(r, k), Qt.AlignmentFlag.AlignCenter, texts[r][k])

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        H, W = self.values.shape
        c = self.cell_size()
        if self.title:
            painter.setPen(theme.text())
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(QRectF(0, 0, self.width(), 16), Qt.AlignmentFlag.AlignCenter, self.title)
            font.setBold(False)
            painter.setFont(font)
        if self.caption:
            painter.setPen(theme.muted())
            painter.drawText(QRectF(0, self.height() - 16, self.width(), 16), Qt.AlignmentFlag.AlignCenter,
                             self.caption)
        if self._image is None:
            return
        whole = self.cell_rect(0, 0, H, W)
        painter.drawImage(whole, self._image)
        if self.tint is not None:
            for r, cc in zip(*np.nonzero(self.tint)):
                painter.fillRect(self.cell_rect(r, cc), PADDING_TINT)
        for r0, c0, r1, c1, colour in self.fills:
            painter.fillRect(self.cell_rect(r0, c0, r1 - r0 + 1, c1 - c0 + 1), colour)
        if c >= 6:
            painter.setPen(QPen(QColor(0, 0, 0, 40), 1))
            for r in range(H + 1):
                painter.drawLine(whole.left(), whole.top() + r * c, whole.right(), whole.top() + r * c)
            for k in range(W + 1):
                painter.drawLine(whole.left() + k * c, whole.top(), whole.left() + k * c, whole.bottom())
        show_numbers = self.numbers if self.numbers is not None else c >= 24
        if show_numbers and c >= 12:
            self._paint_numbers(painter, H, W, c)
        if self.crosses is not None:
            painter.setPen(QPen(UNREACHED, max(1.0, c / 10)))
            for r, k in zip(*np.nonzero(self.crosses)):
                cell = self.cell_rect(r, k).adjusted(c * 0.2, c * 0.2, -c * 0.2, -c * 0.2)
                painter.drawLine(cell.topLeft(), cell.bottomRight())
                painter.drawLine(cell.topRight(), cell.bottomLeft())
        for r0, c0, r1, c1, colour, width in self.rects:
            painter.setPen(QPen(QColor(colour), width))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.cell_rect(r0, c0, r1 - r0 + 1, c1 - c0 + 1))
        painter.end()


def _fitting_font(painter: QPainter, texts: list[str], cell: float) -> QFont | None:
    """A font that scales with the cell (about 0.45 of it, at least 8 px) and fits the widest text with a margin; None if too small."""
    font = QFont(painter.font())
    size = min(max(cell * 0.45, MIN_NUMBER_PIXELS), 16.0)
    widest = max(texts, key=len, default="")
    while size >= MIN_NUMBER_PIXELS:
        font.setPixelSize(int(size))
        if QFontMetricsF(font).horizontalAdvance(widest) <= cell - 4:
            return font
        size -= 1
    return None


def rich_label(text: str = "", style: str = "", wrap: bool = True) -> QLabel:
    """A rich-text label, word-wrapped unless ``wrap`` is False, with an optional style sheet."""
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.RichText)
    if style:
        label.setStyleSheet(style)
    return label


def operator_label(text: str) -> QLabel:
    """A large operator ("×", "=", "→") set between two grids."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet(f"font-size: 20px; color: {theme.css(theme.muted())}; padding: 0 2px;")
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
    return label


def tool_button(text: str, tip: str, slot) -> QToolButton:
    """A tool button that calls ``slot()`` when clicked."""
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.clicked.connect(lambda checked=False: slot())
    return button

