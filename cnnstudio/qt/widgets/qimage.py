"""A ``QImage`` (e.g. image data dropped from another program) as the RGBA array a picture file gives.

Files are decoded without Qt (cnnstudio/imaging/files.py); this is the one
conversion left for pixels that arrive as a ``QImage``, shrunk by the same code.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from cnnstudio.imaging.files import MAX_SIDE, shrink_rgba


def qimage_rgba(image: QImage) -> np.ndarray:
    """A ``QImage`` as uint8 RGBA ``(H, W, 4)``, straight alpha, shrunk to at most ``MAX_SIDE`` a side.

    A null image gives an empty ``(0, 0, 4)`` array.
    """
    if image.isNull():
        return np.zeros((0, 0, 4), dtype=np.uint8)
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    height, width = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rgba = rows.reshape(height, image.bytesPerLine())[:, :width * 4].reshape(height, width, 4)
    return shrink_rgba(rgba.copy(), MAX_SIDE)
