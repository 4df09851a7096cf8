"""The words drawn inside the maps' pyqtgraph layout: column titles and the colour bar under each panel.

Both are GraphicsWidgets that ask for no minimum width, so a long title or
level never widens a column of maps.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen

from cnnstudio.qt.panels.feature_maps.style import MUTED, TEXT


def _short(v: float) -> str:
    text = f"{v:.3g}"
    return "0" if text in ("-0", "0") else text


class ColorBar(pg.GraphicsWidget):
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
