"""The words drawn inside the maps' pyqtgraph layout: column titles and the colour bar under each panel.

Both are GraphicsWidgets that ask for no minimum width, so a long title or
level never widens a column of maps.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen

from cnnstudio.qt.widgets import theme


def _short(v: float, digits: int = 3) -> str:
    text = f"{v:.{digits}g}"
    return "0" if text in ("-0", "0") else text


class ColorBar(pg.GraphicsWidget):
    """A thin gradient with its levels written under it; painting it is a scaled image and up to three words.

    The words never overlap (``label_rects``): on a narrow column the numbers get shorter
    (3 then 2 significant digits), the middle word goes first, and a symmetric signed
    range is written once as "±4.3".
    """

    HEIGHT = 30
    GAP = 4.0  # the least space between two words

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
        self._metrics = QFontMetricsF(self._font)
        self._text_colour, self._muted_colour = theme.text(), theme.muted()

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

    def _bar_rect(self) -> QRectF:
        rect = self.boundingRect()
        width = max(min(rect.width() - 44, 120.0), 10.0)
        return QRectF(rect.left() + (rect.width() - width) / 2, rect.top() + 3, width, 7)

    def label_rects(self) -> list[tuple[QRectF, str, str]]:
        """(rect, text, colour) of every word drawn under the bar, in item coordinates; no two rects intersect."""
        rect, bar = self.boundingRect(), self._bar_rect()
        top, height = bar.bottom() + 1, 14.0
        low, high = self._levels

        def word(text: str, centre: float) -> QRectF:
            width = self._metrics.horizontalAdvance(text) + 2
            left = min(max(centre - width / 2, rect.left()), rect.right() - width)
            return QRectF(left, top, width, height)

        for digits in (3, 2):
            ends = [(word(_short(low, digits), bar.left()), _short(low, digits)),
                    (word(_short(high, digits), bar.right()), _short(high, digits))]
            if ends[0][0].right() + self.GAP <= ends[1][0].left():
                break
        else:  # the two ends cannot both fit: one word for the range
            if self._signed and np.isclose(-low, high):
                text = f"\u00b1{_short(high, 2)}"
            else:
                text = f"{_short(low, 2)}..{_short(high, 2)}"
            box = word(text, bar.center().x())
            if box.width() > rect.width():
                return []
            return [(box, text, self._text_colour)]
        words = [(box, text, self._text_colour) for box, text in ends]
        middle = self._caption or ("0" if self._signed else "")
        if middle:
            box = word(middle, bar.center().x())
            if ends[0][0].right() + self.GAP <= box.left() and box.right() + self.GAP <= ends[1][0].left():
                words.insert(1, (box, middle, self._muted_colour))
        return words

    def paint(self, painter: QPainter, *args) -> None:
        bar = self._bar_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(bar, self._gradient)
        painter.setPen(QPen(self._muted_colour, 0))
        painter.drawRect(bar)
        painter.setFont(self._font)
        for box, text, colour in self.label_rects():
            painter.setPen(QColor(colour))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class Caption(pg.GraphicsWidget):
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
        self._text_colour, self._muted_colour = theme.text(), theme.muted()
        line = QFontMetricsF(self._strong_font).height()
        height = (2 * line if stacked else line) + 6
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)
        self.setMinimumWidth(0)
        self.setPreferredWidth(0)

    def text(self) -> str:
        return f"{self._strong} {self._muted}".strip()

    def natural_width(self) -> float:
        """The width that shows the whole title without eliding (stacked: its wider line)."""
        strong = QFontMetricsF(self._strong_font).horizontalAdvance(self._strong)
        muted = QFontMetricsF(self._font).horizontalAdvance(self._muted) if self._muted else 0.0
        return (max(strong, muted) if self._stacked else strong + muted) + 8

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
        strong = (self._strong, self._strong_font, self._text_colour)
        if not self._muted:
            self._draw(painter, rect, baseline, [strong])
        elif self._stacked:
            self._draw(painter, rect, baseline, [strong])
            self._draw(painter, rect, baseline + metrics.height(), [(self._muted, self._font, self._muted_colour)])
        else:
            self._draw(painter, rect, baseline, [strong, ("  " + self._muted, self._font, self._muted_colour)])
