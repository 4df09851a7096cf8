"""Pictures decoded by Qt into RGBA arrays: the one decoder of the canvas view and the command line.

Qt only decodes (and shrinks huge photos); the model's ``to_gray`` turns the
pixels gray (luma, the paper under transparent pixels), so a picture gives the
network the same input whether it is opened, dropped or passed to ``predict``.
No QApplication is needed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader

MAX_SIDE = 1024  # photos are shrunk by Qt to this before NumPy fits them


class ImageFileError(ValueError):
    """A file Qt cannot decode; the message is Qt's reason (e.g. "Unsupported image format")."""


def read_rgba(path: str | Path) -> np.ndarray:
    """Decode an image file (PNG, JPEG, BMP, GIF, WebP, ...) as uint8 RGBA ``(H, W, 4)``.

    Photos are turned upright by their EXIF orientation and shrunk to at most
    ``MAX_SIDE`` pixels a side.  Raises ``ImageFileError`` if Qt cannot read it.
    """
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise ImageFileError(reader.errorString())
    return qimage_rgba(image)


def qimage_rgba(image: QImage) -> np.ndarray:
    """A ``QImage`` as uint8 RGBA ``(H, W, 4)``, straight alpha, shrunk to at most ``MAX_SIDE`` a side.

    A null image gives an empty ``(0, 0, 4)`` array.
    """
    if image.isNull():
        return np.zeros((0, 0, 4), dtype=np.uint8)
    if max(image.width(), image.height()) > MAX_SIDE:
        if image.hasAlphaChannel():  # average colours weighted by alpha, so invisible ones do not bleed
            image = image.convertToFormat(QImage.Format.Format_RGBA8888_Premultiplied)
        image = image.scaled(MAX_SIDE, MAX_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    height, width = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return rows.reshape(height, image.bytesPerLine())[:, :width * 4].reshape(height, width, 4).copy()
