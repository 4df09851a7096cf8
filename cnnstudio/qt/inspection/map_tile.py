"""A small map with its title, a one-line "how it is computed", and a colour bar with its range.

``MapTile`` is generic: any (H, W) array, any colour table of ``render/mosaic.py`` (``DIVERGING_LUT``
for signed values, centred at 0; ``SEQUENTIAL_LUT`` for non-negative ones), optionally over a faint
image (the drawing) so the reader sees where on the digit the colours fall.  When a map cannot be
made (no conv layer, an input of another size) the tile shows a message instead.  Hovering a pixel
shows its value in a tooltip.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from cnnstudio.qt.lessons.grid_view import lut_indices
from cnnstudio.qt.widgets import theme
from cnnstudio.render.mosaic import SEQUENTIAL_LUT

UNDERLAY_STRENGTH = 0.22   # how much the faint image darkens the map's colours where it has ink


def range_text(value: float) -> str:
    """A colour-bar label: few digits, a true minus sign, scientific notation for tiny values."""
    if value == 0 or not np.isfinite(value):
        return "0" if value == 0 else str(value)
    size = abs(value)
    text = f"{value:.0f}" if size >= 100 else f"{value:.2f}" if size >= 1 else \
        f"{value:.3f}" if size >= 0.01 else f"{value:.1e}"
    return text.replace("-", "−")


def colour_image(values: np.ndarray, lut: np.ndarray, levels, underlay: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 4) uint8 RGBA of ``values`` through ``lut`` over ``levels``; ``underlay`` (H, W) in 0..1 (ink)
    darkens the colours a little where it is high, so the drawing shows through the map."""
    rgba = lut[lut_indices(values, levels, len(lut))].copy()
    if underlay is not None and underlay.shape == values.shape:
        shade = 1.0 - UNDERLAY_STRENGTH * np.clip(underlay, 0.0, 1.0)
        rgba[..., :3] = (rgba[..., :3] * shade[..., None]).astype(np.uint8)
    rgba[np.isnan(values)] = (236, 238, 241, 255)
    return np.ascontiguousarray(rgba)


def _qimage(rgba: np.ndarray) -> QImage:
    return QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4,
                  QImage.Format.Format_RGBA8888).copy()  # a copy owns its pixels


class MapCanvas(QWidget):
    """The map itself: square pixels, as large as fits, centred; or a message in its place."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.values = None
        self.image = None
        self.message = ""
        self.setMouseTracking(True)
        self.setMinimumSize(60, 60)
        # as tall as the map is at this width (square pixels), no taller: the colour bar stays right under it
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def sizeHint(self) -> QSize:
        return QSize(170, 170)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        H, W = self.values.shape if self.values is not None else (1, 1)
        return max(int((width - 4) * H / W) + 4, 60)

    def map_rect(self) -> QRectF:
        """Where the map is painted, in widget coordinates."""
        if self.values is None:
            return QRectF()
        H, W = self.values.shape
        scale = max(min((self.width() - 4) / W, (self.height() - 4) / H), 0.5)
        return QRectF((self.width() - W * scale) / 2, (self.height() - H * scale) / 2, W * scale, H * scale)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        if self.message:
            painter.setPen(theme.muted())
            painter.drawText(QRectF(self.rect()).adjusted(6, 6, -6, -6),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        elif self.image is not None:
            rect = self.map_rect()
            painter.drawImage(rect, self.image)
            painter.setPen(QPen(theme.border(), 1))
            painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        painter.end()

    def value_at(self, position: QPointF):
        """(row, col, value) under ``position``, or None off the map."""
        rect = self.map_rect()
        if self.message or self.values is None or not rect.contains(position):
            return None
        H, W = self.values.shape
        row = min(int((position.y() - rect.y()) / rect.height() * H), H - 1)
        col = min(int((position.x() - rect.x()) / rect.width() * W), W - 1)
        return row, col, float(self.values[row, col])

    def mouseMoveEvent(self, event) -> None:
        hit = self.value_at(event.position())
        if hit is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), f"row {hit[0]}, col {hit[1]}: {hit[2]:.4g}", self)


class ColourBar(QWidget):
    """The colour table as a strip, with the low end, 0 (for a signed range) and the high end beneath."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lut, self.levels = SEQUENTIAL_LUT, (0.0, 1.0)
        self._strip = _qimage(np.ascontiguousarray(self.lut[None]))
        self.setFixedHeight(self.fontMetrics().height() + 14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_range(self, lut: np.ndarray, levels) -> None:
        if lut is not self.lut:
            self.lut = lut
            self._strip = _qimage(np.ascontiguousarray(lut[None]))
        self.levels = (float(levels[0]), float(levels[1]))
        self.update()

    def labels(self) -> list[str]:
        """What the bar writes under its strip, left to right."""
        lo, hi = self.levels
        middle = ["0"] if lo < 0 < hi else []
        return [range_text(lo)] + middle + [range_text(hi)]

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        strip = QRectF(8, 1, self.width() - 16, 9)
        painter.drawImage(strip, self._strip)
        painter.setPen(QPen(theme.border(), 1))
        painter.drawRect(strip)
        painter.setPen(theme.muted())
        text_top = strip.bottom() + 2
        texts = self.labels()
        flags = (Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignHCenter, Qt.AlignmentFlag.AlignRight)
        for text, flag in zip(texts, flags if len(texts) == 3 else (flags[0], flags[2])):
            painter.drawText(QRectF(2, text_top, self.width() - 4, self.height() - text_top),
                             flag | Qt.AlignmentFlag.AlignTop, text)
        painter.end()


class MapTile(QWidget):
    """A titled map with a colour bar (its range) and a caption (how it is computed) and a detail line.

    ``set_map(values, lut, levels, underlay=None)`` shows a map; ``show_message(text)`` replaces it with
    a message (the colour bar hides).  ``values`` is kept as ``tile.values`` (tests, tooltips).
    """

    def __init__(self, title: str, caption: str = "", caption_lines: int = 2, detail_lines: int = 1, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.canvas = MapCanvas()
        self.colour_bar = ColourBar()
        policy = self.colour_bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # a message in place of the map keeps the tile's layout
        self.colour_bar.setSizePolicy(policy)
        self.caption = QLabel(caption)
        self.detail = QLabel("")
        # fixed heights, so the maps of tiles side by side keep one size whatever their texts' lengths
        # (``align_texts`` sets them to what the longest text of a row needs)
        for label, lines in ((self.caption, caption_lines), (self.detail, detail_lines)):
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            label.setStyleSheet(f"color: {theme.css(theme.muted())};")
            label.setFixedHeight(label.fontMetrics().lineSpacing() * lines + 2)
        self.caption.setToolTip(caption)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.colour_bar)
        layout.addWidget(self.detail)
        layout.addWidget(self.caption)
        layout.addStretch(1)

    @property
    def values(self):
        return self.canvas.values

    @property
    def message(self) -> str:
        return self.canvas.message

    def set_title(self, text: str) -> None:
        self.title.setText(text)

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)
        self.caption.setToolTip(text)

    def set_detail(self, text: str) -> None:
        self.detail.setText(text)

    def set_map(self, values, lut, levels, underlay=None) -> None:
        values = np.asarray(values, dtype=np.float32)
        self.canvas.values = values
        self.canvas.message = ""
        self.canvas.image = _qimage(colour_image(values, lut, levels, underlay))
        self.colour_bar.set_range(lut, levels)
        self.colour_bar.show()
        self.canvas.update()

    def show_message(self, text: str) -> None:
        self.canvas.message = text
        self.canvas.values = None
        self.canvas.image = None
        self.colour_bar.hide()
        self.set_detail("")
        self.canvas.update()


def align_texts(tiles) -> None:
    """Give the captions (and the detail lines) of tiles side by side one height: what the longest needs at
    the tiles' width.  Call it when the tiles are resized or their texts change."""
    for part in ("caption", "detail"):
        labels = [getattr(tile, part) for tile in tiles]
        spacing = labels[0].fontMetrics().lineSpacing() if labels else 0
        needed = max((label.heightForWidth(max(label.width(), 40)) for label in labels if label.text()), default=0)
        for label in labels:
            label.setFixedHeight(max(needed, spacing) + 2)
