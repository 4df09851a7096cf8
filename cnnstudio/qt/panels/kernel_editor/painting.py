"""How the kernel grid draws its pieces: card backgrounds and titles, bias chips, push glyphs, outlines.

Plain functions of a painter and a ``GridLayout``; the grid widget decides what
to repaint and calls them.  Fonts and card backgrounds are made once per look
and reused, which keeps font metrics and antialiased corners out of the repaint
after a click.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap, QPolygonF

from cnnstudio.qt.panels.kernel_editor.colours import ACCENT, GRID_LINE, value_colours
from cnnstudio.qt.panels.kernel_editor.layout import GridLayout
from cnnstudio.qt.panels.kernel_editor.words import format_value

SMALLEST_PUSH = 3.0  # pixels: a push glyph smaller than this would read as a speck, not a direction


class GridFonts:
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


VALUE_MARGIN = 2  # pixels kept free on each side of a printed value, so neighbours never run together


def cell_text(value: float, fonts: GridFonts, cell: int) -> str:
    """The value as printed in a ``cell`` px cell: two decimals, else without the leading zero, else one
    decimal; "" when none fits (the readout and the tooltip still give it)."""
    text = format_value(value)
    room = cell - 1 - 2 * VALUE_MARGIN  # the last pixel of a cell is the grid line
    for candidate in (text, text.replace("0.", ".", 1) if text.lstrip("\u2212").startswith("0.") else text,
                      f"{value:.1f}".replace("-", "\u2212")):
        if fonts.advance(fonts.value, candidate) <= room:
            return candidate
    return ""


class CardPixmaps:
    """Each card's rounded background, border and title, on the window colour: drawn once, then copied.

    NOTE: the antialiased rounded rectangle is the slowest part of a card, and a new selection or a bias
    edit repaints cards around their weights; copying a pixmap instead halves that repaint.
    """

    def __init__(self):
        self._key = None      # (layout, fonts, palette, device pixel ratio) the pixmaps were drawn for
        self._pixmaps: dict = {}  # {(filter, selected): QPixmap}

    def get(self, layout: GridLayout, f: int, card: QRect, selected: bool, fonts: GridFonts, palette,
            dpr: float) -> QPixmap:
        """The pixmap of card ``f`` (at ``card``), drawn now if this look has not been drawn yet."""
        key = (layout, fonts, palette.cacheKey(), dpr)
        if self._key != key:
            self._key, self._pixmaps = key, {}
        pixmap = self._pixmaps.get((f, selected))
        if pixmap is None:
            pixmap = QPixmap(card.size() * dpr)
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(palette.color(QPalette.Window))
            painter = QPainter(pixmap)
            painter.translate(-card.topLeft())
            paint_card(painter, layout, f, card, selected, fonts, palette)
            painter.end()
            self._pixmaps[(f, selected)] = pixmap
        return pixmap


def paint_card(painter, layout: GridLayout, f: int, card: QRect, selected: bool, fonts: GridFonts, palette) -> None:
    """A card's rounded background and border (accented when ``selected``) and its "filter n" title."""
    painter.setRenderHint(QPainter.Antialiasing, True)
    base = palette.color(QPalette.Base)
    border = ACCENT if selected else palette.color(QPalette.Mid)
    painter.setPen(QPen(border, 2 if selected else 1))
    painter.setBrush(QColor(232, 240, 254) if selected and base.lightness() > 128 else base)
    painter.drawRoundedRect(QRectF(card).adjusted(1, 1, -1, -1), 6, 6)
    font = fonts.header_bold if selected else fonts.header
    painter.setFont(font)
    painter.setPen(ACCENT if selected else palette.color(QPalette.Text))
    header = QRect(card.x() + layout.pad + 2, card.y() + layout.pad - 1, card.width() - 2 * layout.pad - 2,
                   layout.header)
    # NOTE: one form for every card, chosen by the widest number: "filter 9" beside a bare "10" reads as two things
    widest = fonts.advance(fonts.header_bold, f"filter {layout.filters}")
    title = f"filter {f + 1}" if widest <= header.width() else f"#{f + 1}"
    painter.drawText(header, Qt.AlignLeft | Qt.AlignVCenter, title)


def paint_bias(painter, rect: QRect, value: float, vmax: float, fonts: GridFonts) -> None:
    """A filter's bias: a rounded chip in the weight's colour, "bias" and its value (the value alone if narrow)."""
    fill, ink = value_colours(value, vmax)
    painter.setRenderHint(QPainter.Antialiasing, True)
    painter.setPen(QPen(GRID_LINE, 1))
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


def paint_push(painter, rect: QRect, gradient: float, scale: float, ink: QColor, fonts: GridFonts | None) -> None:
    """A triangle showing which way the update pushes a weight: up when its gradient is negative.

    Its area (and opacity) grows with |gradient| / ``scale``.  With ``fonts`` (the
    value is printed) it sits above the digits when pointing up and below them when
    pointing down; otherwise in the middle of the cell.
    """
    strength = abs(gradient) / scale if scale > 0 else 0.0
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
    if height < SMALLEST_PUSH:
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


def outline(painter, rect: QRect, colour: QColor, width: int, inner: bool = False) -> None:
    """A ``width`` px frame just inside ``rect``; ``inner`` adds a white halo inside it (the focus ring)."""
    painter.setRenderHint(QPainter.Antialiasing, False)
    painter.setBrush(Qt.NoBrush)
    r = QRect(rect).adjusted(0, 0, -1, -1)
    if inner:  # a white halo inside keeps the focus ring visible on dark blue and red
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawRect(r.adjusted(width, width, -width, -width))
    painter.setPen(QPen(colour, width, Qt.SolidLine, Qt.SquareCap, Qt.MiterJoin))
    half = width // 2
    painter.drawRect(r.adjusted(half, half, -half, -half))
