"""``to_gray``: a decoded picture as the canvas sees it, float32 grey in [0, 1]."""
from __future__ import annotations

import numpy as np


def to_gray(array) -> np.ndarray:
    """A decoded picture as the canvas sees it: float32 gray ``(H, W)`` in [0, 1].

    The one place pixels become gray, for every way a picture arrives (the
    canvas view's file loading and drops, the command line's ``predict``).

    Parameters
    ----------
    array : array_like
        Gray ``(H, W)``, RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` (straight, not
        premultiplied alpha), float in [0, 1] or integer in [0, 255].

    Colour becomes ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B).  Transparent
    pixels are laid on paper that sets the ink off: white under dark ink, black
    under light ink (the alpha-weighted mean gray decides), so a white digit on a
    transparent PNG stays a digit instead of vanishing into white paper.
    """
    array = np.asarray(array)
    if array.dtype.kind in "ui":
        array = array.astype(np.float32) / (255.0 if array.dtype.itemsize == 1 or array.max() > 1 else 1.0)
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError("the image contains NaN or infinite values")
    if array.ndim == 3 and array.shape[2] in (3, 4):
        # element-wise, not a matmul: the same sums in the same order for RGB and RGBA layouts
        gray = 0.299 * array[..., 0] + 0.587 * array[..., 1] + 0.114 * array[..., 2]
        if array.shape[2] == 4:
            alpha = np.clip(array[..., 3], 0.0, 1.0)
            ink = float((gray * alpha).sum(dtype=np.float64) / max(alpha.sum(dtype=np.float64), 1e-6))
            paper = np.float32(1.0 if ink < 0.5 else 0.0)
            gray = gray * alpha + paper * (1 - alpha)
        array = gray
    if array.ndim != 2:
        raise ValueError(f"expected a gray (H, W) or colour (H, W, 3|4) image, got shape {array.shape}")
    return np.clip(array, 0.0, 1.0)
