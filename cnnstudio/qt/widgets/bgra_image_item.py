"""A pyqtgraph item that draws ready premultiplied B, G, R, A pixels as they are, one square per pixel.

pyqtgraph's ImageItem wraps (H, W, 4) uint8 as ``Format_RGBA8888``, which Qt converts
on every paint; ``Format_ARGB32_Premultiplied`` (B, G, R, A bytes on little-endian
machines, what ``paint_mosaic(byte_order="bgra")`` writes) is drawn directly, about
twice as fast.  This item holds such a QImage over the caller's buffer and uses only
public Qt and pyqtgraph API.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter


class BgraImageItem(pg.GraphicsObject):
    """Draws (H, W, 4) uint8 premultiplied B, G, R, A pixels over (0, 0)-(W, H) of its own coordinates.

    Pixel (row, col) covers the unit square at x = col, y = row, drawn nearest
    neighbour (no smoothing when zoomed in).  ``image`` is the array shown
    (None before the first ``setImage``); the QImage borrows its memory.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None  # a view of self.image: no copy per update

    def setImage(self, image: np.ndarray) -> None:
        """Show ``image`` (H, W, 4) uint8 B, G, R, A, premultiplied; kept (not copied) while shown."""
        pixels = np.ascontiguousarray(image, dtype=np.uint8)
        if pixels.ndim != 3 or pixels.shape[2] != 4:
            raise ValueError(f"expected (H, W, 4) B, G, R, A bytes, got shape {pixels.shape}")
        resized = self.image is None or pixels.shape != self.image.shape
        if resized:
            self.prepareGeometryChange()
        self.image = pixels
        height, width = pixels.shape[:2]
        self._qimage = (QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied)
                        if pixels.size else None)
        if resized:
            self.informViewBoundsChanged()  # a ViewBox that auto-ranges follows the new size
        self.update()

    def width(self) -> int:
        """Pixels per row (0 before the first image)."""
        return 0 if self.image is None else self.image.shape[1]

    def height(self) -> int:
        """Rows of pixels (0 before the first image)."""
        return 0 if self.image is None else self.image.shape[0]

    def boundingRect(self) -> QRectF:
        return QRectF(0.0, 0.0, self.width(), self.height())

    def paint(self, painter: QPainter, *args) -> None:
        if self._qimage is None:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(0.0, 0.0, self._qimage.width(), self._qimage.height()), self._qimage)
