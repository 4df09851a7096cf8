"""MNIST framing: a drawing's box scaled to fit 20 x 20 and centred by its centre of mass in 28 x 28.

That is how MNIST's digits were made, so a drawing framed this way looks to the
network like its training data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstudio.imaging.resample import resample

MNIST_SIZE = 28  # MNIST's digits are 28 x 28 ...
MNIST_BOX = 20  # ... each one's box fitted into 20 x 20

_INK_THRESHOLD = 0.05  # pixels fainter than this do not count for a drawing's bounding box


@dataclass(frozen=True)
class Framing:
    """Where MNIST framing put the drawing: network pixel = (canvas pixel - crop origin) * scale + offset.

    Coordinates are continuous (pixel (r, c) covers [r, r+1) x [c, c+1)), so a
    rectangle maps by its corners.
    """

    crop_row: int
    crop_col: int
    scale_row: float
    scale_col: float
    top: int
    left: int

    def to_network(self, row: float, col: float) -> tuple[float, float]:
        """A point of the drawing -> the same point of the network input."""
        return ((row - self.crop_row) * self.scale_row + self.top,
                (col - self.crop_col) * self.scale_col + self.left)

    def to_canvas(self, row: float, col: float) -> tuple[float, float]:
        """A point of the network input -> the same point of the drawing."""
        return ((row - self.top) / self.scale_row + self.crop_row,
                (col - self.left) / self.scale_col + self.crop_col)


def mnist_framing(image: np.ndarray, box: int = MNIST_BOX,
                  size: int = MNIST_SIZE) -> tuple[np.ndarray, Framing | None]:
    """Frame a drawing as MNIST did: box scaled to fit ``box`` x ``box``, centre of mass at the centre.

    Parameters
    ----------
    image : ndarray
        The drawing, float ``(H, W)`` in [0, 1], light ink on black.

    Returns
    -------
    network_input : ndarray
        float32 ``(size, size)``.
    framing : Framing or None
        How ``network_input`` maps to ``image``; None for an empty drawing, which stays empty.
    """
    ink_rows, ink_cols = np.nonzero(image > _INK_THRESHOLD)
    out = np.zeros((size, size), dtype=np.float32)
    if len(ink_rows) == 0:
        return out, None
    crop = image[ink_rows.min():ink_rows.max() + 1, ink_cols.min():ink_cols.max() + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    digit = np.clip(resample(crop, (max(1, round(h * scale)), max(1, round(w * scale)))), 0.0, 1.0)
    # centre of mass in continuous coordinates (pixel centres at index + 0.5), moved to size / 2
    rows = np.arange(digit.shape[0]) + 0.5
    cols = np.arange(digit.shape[1]) + 0.5
    mass = digit.sum()
    top = int(round(size / 2 - (digit.sum(axis=1) @ rows) / mass))
    left = int(round(size / 2 - (digit.sum(axis=0) @ cols) / mass))
    # paste, clipping whatever a lopsided digit pushes outside the frame
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + digit.shape[0], size), min(left + digit.shape[1], size)
    out[r0:r1, c0:c1] = digit[r0 - top:r1 - top, c0 - left:c1 - left]
    return out, Framing(int(ink_rows.min()), int(ink_cols.min()), digit.shape[0] / h, digit.shape[1] / w, top, left)


def mnist_frame(image: np.ndarray, box: int = MNIST_BOX, size: int = MNIST_SIZE) -> np.ndarray:
    """The network input of ``mnist_framing`` alone, float32 ``(size, size)``."""
    return mnist_framing(image, box, size)[0]
