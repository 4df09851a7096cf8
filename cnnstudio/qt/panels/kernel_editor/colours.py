"""The kernel editor's colours: a weight's fill and ink on a diverging scale, the accents, and the colour key.

Blue negative, near-white zero, red positive (ColorBrewer RdBu), the same
scale [-vmax, vmax] for every filter of a layer so filters compare at a glance.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

from cnnstudio.qt.panels.kernel_editor.words import format_value

# Diverging colour map (ColorBrewer RdBu): blue negative, near-white zero, red positive.
_STOPS = ((-1.0, (33, 102, 172)), (-0.5, (103, 169, 207)), (0.0, (247, 247, 247)),
          (0.5, (239, 138, 98)), (1.0, (178, 24, 43)))
ACCENT = QColor(26, 115, 232)       # the selected filter, the inline editor's border
HIGHLIGHT = QColor(255, 196, 0)     # weights outlined by a linked view (a hovered map cell)
GRID_LINE = QColor(200, 204, 210)   # between the cells, around the bias


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


class ColourScale(QWidget):
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
