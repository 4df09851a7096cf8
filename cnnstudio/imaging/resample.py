"""Resizing grey images: area average when shrinking, bilinear when enlarging."""
from __future__ import annotations

import numpy as np


def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights: area averaging when shrinking, bilinear when enlarging."""
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    if n_out <= n_in:
        # output pixel i covers input [i * step, (i + 1) * step); weight = overlap / step
        step = n_in / n_out
        edges = np.arange(n_out + 1) * step
        for i in range(n_out):
            lo, hi = edges[i], edges[i + 1]
            for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
                weights[i, j] = (min(hi, j + 1) - max(lo, j)) / step
    else:
        centres = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        left = np.minimum(np.floor(centres).astype(int), n_in - 1)
        right = np.minimum(left + 1, n_in - 1)
        frac = centres - left
        weights[np.arange(n_out), left] += 1 - frac
        weights[np.arange(n_out), right] += frac
    return weights


def resample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D image to ``shape`` (area average down, bilinear up), float32."""
    rows = _resample_matrix(image.shape[0], shape[0])
    cols = _resample_matrix(image.shape[1], shape[1])
    return (rows @ image.astype(np.float64) @ cols.T).astype(np.float32)


def fit_into(image: np.ndarray, size: int) -> np.ndarray:
    """Scale ``image`` so its longer side is ``size`` and centre it on a black ``(size, size)`` square."""
    h, w = image.shape
    scale = size / max(h, w)
    fh, fw = max(1, round(h * scale)), max(1, round(w * scale))
    out = np.zeros((size, size), dtype=np.float32)
    top, left = (size - fh) // 2, (size - fw) // 2
    out[top:top + fh, left:left + fw] = resample(image, (fh, fw))
    return out
