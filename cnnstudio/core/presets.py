"""Classic image kernels to try in the playground, at any kernel size 1..11.

NumPy only.  ``PRESETS`` maps a display name to ``make(size) -> (size, size)
float32``; ``preset_kernel(name, size)`` looks one up and ``presets_for(size)``
lists the ones that make sense at a size (a 1x1 kernel cannot find an edge).

The engine computes a cross-correlation (as every deep-learning "conv" does),
so a kernel is read as it is drawn: Sobel x ``[-1, 0, 1]`` answers positively
where the image gets brighter to the right.  A kernel of even size has its
centre at ``(size - 1) // 2``, where ``padding="same"`` puts the output pixel.

The 3x3 kernels are the textbook ones.  Larger sizes:

- identity, line detectors: the same shape, drawn across the whole kernel;
- box and Gaussian blur: the same idea, wider (Gaussian sigma = size / 6);
- Sobel / Prewitt: the smoothing and the derivative grown to the size (the
  5x5 Sobel is OpenCV's up to scale), scaled so that a unit step edge gives
  the same answer as at 3x3;
- emboss, outline: the same pattern grown, scaled to the 3x3's range;
- sharpen, Laplacian: the 3x3 in the middle of zeros (they are 3x3 operators).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

MIN_SIZE = 1
MAX_SIZE = 11


def _centre(size: int) -> int:
    return (size - 1) // 2


def _embed(kernel3, size: int) -> np.ndarray:
    """A small kernel placed with its centre on the kernel's centre, zeros around it."""
    kernel3 = np.asarray(kernel3, dtype=np.float32)
    out = np.zeros((size, size), dtype=np.float32)
    offset = _centre(size) - _centre(kernel3.shape[0])
    out[offset:offset + kernel3.shape[0], offset:offset + kernel3.shape[1]] = kernel3
    return out


def _binomial(n: int) -> np.ndarray:
    """Row n of Pascal's triangle as a length-n vector: the discrete Gaussian ([1, 2, 1] for n = 3)."""
    row = np.ones(1)
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def _scale_step_response(kernel: np.ndarray, target: float) -> np.ndarray:
    """Scale a derivative kernel so that its positive half sums to ``target`` (its answer to a unit step edge)."""
    positive = kernel[kernel > 0].sum()
    return (kernel * (target / positive)).astype(np.float32)


# ---------------------------------------------------------------- the kernels

def identity(size: int) -> np.ndarray:
    """A single 1 at the centre: the feature map is the input."""
    out = np.zeros((size, size), dtype=np.float32)
    out[_centre(size), _centre(size)] = 1.0
    return out


def box_blur(size: int) -> np.ndarray:
    """Every weight 1 / size^2: the average of the window."""
    return np.full((size, size), 1.0 / (size * size), dtype=np.float32)


def gaussian_blur(size: int) -> np.ndarray:
    """A bell-shaped average summing to 1: [[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16 at 3x3, sigma = size / 6 above."""
    if size == 3:
        row = _binomial(3)
    else:
        sigma = size / 6.0
        x = np.arange(size) - (size - 1) / 2.0
        row = np.exp(-0.5 * (x / sigma) ** 2)
    kernel = np.outer(row, row)
    return (kernel / kernel.sum()).astype(np.float32)


def sharpen(size: int) -> np.ndarray:
    """The pixel, plus how much it stands out from its four neighbours."""
    return _embed([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], size)


def sobel_x(size: int) -> np.ndarray:
    """Brighter to the right is positive: [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] at 3x3 (finds vertical edges)."""
    smooth = _binomial(size)
    derivative = np.convolve(_binomial(size - 1), [-1.0, 1.0])  # the difference [-1, 1], smoothed: [-1, 0, 1] at 3
    return _scale_step_response(np.outer(smooth, derivative), 4.0)


def sobel_y(size: int) -> np.ndarray:
    """Brighter downwards is positive: Sobel x transposed (finds horizontal edges)."""
    return np.ascontiguousarray(sobel_x(size).T)


def prewitt_x(size: int) -> np.ndarray:
    """Like Sobel x without the extra weight on the middle row: [[-1, 0, 1]] * 3 at 3x3."""
    ramp = np.arange(size) - (size - 1) / 2.0
    return _scale_step_response(np.outer(np.ones(size), ramp), 3.0)


def prewitt_y(size: int) -> np.ndarray:
    """Prewitt x transposed."""
    return np.ascontiguousarray(prewitt_x(size).T)


def laplacian(size: int) -> np.ndarray:
    """Four neighbours minus four times the centre: zero on flat regions and even slopes, strong on lines and dots."""
    return _embed([[0, 1, 0], [1, -4, 1], [0, 1, 0]], size)


def emboss(size: int) -> np.ndarray:
    """A diagonal gradient plus the pixel, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]] at 3x3: strokes look raised."""
    c = (size - 1) / 2.0
    i, j = np.mgrid[0:size, 0:size]
    kernel = ((i - c) + (j - c)) * (2.0 / (size - 1))
    return (kernel + identity(size)).astype(np.float32)


def outline(size: int) -> np.ndarray:
    """The centre against all its neighbours: [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]] at 3x3."""
    n = size * size
    kernel = (n * identity(size) - 1.0) * (8.0 / (n - 1))
    return kernel.astype(np.float32)


def diagonal_line(size: int) -> np.ndarray:
    """The study note's "\\" detector: 1 on the main diagonal, [[1, 0, 0], [0, 1, 0], [0, 0, 1]] at 3x3."""
    return np.eye(size, dtype=np.float32)


def anti_diagonal_line(size: int) -> np.ndarray:
    """The "/" detector: 1 on the anti-diagonal."""
    return np.ascontiguousarray(np.fliplr(np.eye(size, dtype=np.float32)))


def horizontal_line(size: int) -> np.ndarray:
    """1 along the middle row: answers to horizontal strokes."""
    out = np.zeros((size, size), dtype=np.float32)
    out[_centre(size), :] = 1.0
    return out


def vertical_line(size: int) -> np.ndarray:
    """1 along the middle column: answers to vertical strokes."""
    return np.ascontiguousarray(horizontal_line(size).T)


# ---------------------------------------------------------------- the table

# name -> (make, smallest size where it makes sense)
_TABLE: dict[str, tuple[Callable[[int], np.ndarray], int]] = {
    "identity": (identity, 1),
    "box blur": (box_blur, 1),
    "Gaussian blur": (gaussian_blur, 1),
    "sharpen": (sharpen, 3),
    "Sobel x": (sobel_x, 2),
    "Sobel y": (sobel_y, 2),
    "Prewitt x": (prewitt_x, 2),
    "Prewitt y": (prewitt_y, 2),
    "Laplacian": (laplacian, 3),
    "emboss": (emboss, 3),
    "outline": (outline, 3),
    "diagonal line \\": (diagonal_line, 2),
    "anti-diagonal line /": (anti_diagonal_line, 2),
    "horizontal line": (horizontal_line, 2),
    "vertical line": (vertical_line, 2),
}

PRESETS: dict[str, Callable[[int], np.ndarray]] = {name: make for name, (make, _) in _TABLE.items()}
"""Display name -> ``make(size)`` returning a (size, size) float32 kernel, in menu order."""


def min_size(name: str) -> int:
    """The smallest kernel size at which preset ``name`` makes sense."""
    return _TABLE[name][1]


def presets_for(size: int) -> list[str]:
    """Names of the presets that make sense for a ``size`` x ``size`` kernel, in menu order."""
    return [name for name, (_, smallest) in _TABLE.items() if smallest <= size]


def preset_kernel(name: str, size: int) -> np.ndarray:
    """The (size, size) float32 kernel of preset ``name``.

    Raises ``ValueError`` for an unknown name, a size outside 1..11, or a size
    too small for the preset (e.g. a 1x1 Sobel).
    """
    if name not in _TABLE:
        raise ValueError(f"unknown preset {name!r}. Fix: choose one of {', '.join(_TABLE)}.")
    if isinstance(size, bool) or int(size) != size or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"kernel size {size!r} is outside {MIN_SIZE}..{MAX_SIZE}.")
    make, smallest = _TABLE[name]
    if size < smallest:
        raise ValueError(f"the {name} preset needs a kernel of at least {smallest}x{smallest}, "
                         f"this one is {size}x{size}. Fix: enlarge the kernel or choose another preset.")
    return make(int(size))


def random_kernel(rng: np.random.Generator, size: int, fan_in: int) -> np.ndarray:
    """A fresh (size, size) float32 kernel drawn as He initialisation does: N(0, 2 / fan_in).

    ``fan_in`` is the number of inputs of one output (channels * size * size).
    """
    return (rng.standard_normal((size, size)) * np.sqrt(2.0 / max(int(fan_in), 1))).astype(np.float32)
