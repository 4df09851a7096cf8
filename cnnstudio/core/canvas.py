"""The drawing canvas: the pixels a person draws, with undo, image loading and MNIST framing.

Qt-free (NumPy only; cnnstudio/imaging makes pictures gray, resizes and frames
them).  Views send commands and listen to past-tense events, all emitted
without arguments (read the new state from the model):

- ``image_changed()``      ``image`` changed (while drawing: after every stroke segment)
- ``history_changed()``    ``can_undo`` / ``can_redo`` may have changed
- ``size_changed()``       ``size`` changed (digit mode 28, image mode 64..256)
- ``brush_size_changed()`` ``brush_size`` changed
- ``mnist_framing_changed()`` ``mnist_framing`` was switched

Coordinates are in image pixels as floats: ``x`` is the column and ``y`` the
row, and pixel ``(row, col)`` covers ``[row, row + 1) x [col, col + 1)``, so
its centre is at ``(row + 0.5, col + 0.5)``.  The image is float32 in [0, 1]
with light strokes (1.0) on black (0.0), as in MNIST.
"""
from __future__ import annotations

import weakref

import numpy as np

from cnnstudio.base.events import EventGroup
from cnnstudio.imaging.framing import MNIST_SIZE, Framing, mnist_framing
from cnnstudio.imaging.gray import to_gray
from cnnstudio.imaging.resample import fit_into, resample

DIGIT_SIZE = MNIST_SIZE
IMAGE_SIZES = (64, 128, 256)  # the sizes the UI offers for image mode
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 64, 256
DEFAULT_BRUSH_SIZE = 2.6  # pixels at 28 x 28 (scaled with the canvas): framed samples average ~0.11, MNIST 0.13
MAX_HISTORY = 100  # undo steps kept (a 256 x 256 step costs 256 KB)


class CanvasModel:
    """A square gray image drawn with a soft round brush, with stroke-wise undo.

    Parameters
    ----------
    size : int
        28 for digit mode, or 64..256 for image mode.
    """

    def __init__(self, size: int = DIGIT_SIZE):
        _check_size(size)
        self.events = EventGroup("image_changed", "history_changed", "size_changed",
                                 "brush_size_changed", "mnist_framing_changed")
        self.image = np.zeros((size, size), dtype=np.float32)
        self.mnist_framing = True  # drawn digits then look like the training data
        # The brush is stored relative to the canvas so it keeps its look when the size changes.
        self._brush_fraction = DEFAULT_BRUSH_SIZE / DIGIT_SIZE
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._stroke_before: np.ndarray | None = None  # the image when the open stroke began
        self._stroke_erase = False
        self._last_point: tuple[float, float] | None = None
        self._network_input: np.ndarray | None = None  # cache, dropped whenever the image changes
        self._framing: Framing | None = None  # how that input maps to the drawing (with the cache)
        # images put here in the network's own pixels (load_network_image), and their undo copies: never framed
        self._network_space: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    # -- state
    @property
    def size(self) -> int:
        return self.image.shape[0]

    @property
    def is_digit_mode(self) -> bool:
        return self.size == DIGIT_SIZE

    @property
    def brush_size(self) -> float:
        """Brush diameter in image pixels (about 2.2 at 28 x 28)."""
        return self._brush_fraction * self.size

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def is_empty(self) -> bool:
        return not self.image.any()

    @property
    def is_drawing(self) -> bool:
        """True between ``begin_stroke`` and ``end_stroke``."""
        return self._stroke_before is not None

    # -- strokes
    def begin_stroke(self, x: float, y: float, erase: bool = False) -> None:
        """Start a stroke at column ``x``, row ``y``; it paints (or erases) a dot there."""
        if self.is_drawing:
            self.end_stroke()
        self._stroke_before = self.image.copy()
        self._mark_network_space(self._stroke_before, self._is_network_space(self.image))
        self._stroke_erase = erase
        self._last_point = (float(x), float(y))
        self._paint_segment(self._last_point, self._last_point)

    def stroke_to(self, x: float, y: float) -> None:
        """Continue the open stroke with a straight segment to ``(x, y)``."""
        if not self.is_drawing:
            return
        point = (float(x), float(y))
        self._paint_segment(self._last_point, point)
        self._last_point = point

    def end_stroke(self) -> None:
        """Close the stroke: the whole stroke becomes one undo step (if it changed anything)."""
        if not self.is_drawing:
            return
        before, self._stroke_before, self._last_point = self._stroke_before, None, None
        if not np.array_equal(before, self.image):
            self._push_history(before)

    def _paint_segment(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Max-composite a soft capsule from ``start`` to ``end`` (the limit of densely stamped dots).

        Below 1 px the capsule could pass between pixel centres and leave dots (or, erasing, nothing):
        there the stroke is the thinnest line the pixel grid can show, 1 px wide and anti-aliased (ink
        falls from 1 on the line to 0 one pixel away), so every pixel the stroke crosses gets ink.
        """
        # full ink inside, a smoothstep rim (about one pixel at 28 x 28) centred on the brush's edge
        softness = 0.35 * self.brush_size
        thin = self.brush_size < 1.0
        outer = 1.0 if thin else self.brush_size / 2 + softness / 2
        (x0, y0), (x1, y1) = start, end
        n = self.size
        c0, c1 = int(np.floor(min(x0, x1) - outer)), int(np.ceil(max(x0, x1) + outer))
        r0, r1 = int(np.floor(min(y0, y1) - outer)), int(np.ceil(max(y0, y1) + outer))
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, n), min(r1, n)
        if c0 >= c1 or r0 >= r1:
            return
        # distance from every pixel centre in the box to the segment
        py = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        px = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else np.clip(((px - x0) * dx + (py - y0) * dy) / length2, 0.0, 1.0)
        distance = np.hypot(px - (x0 + t * dx), py - (y0 + t * dy))
        ink = np.clip(1.0 - distance, 0.0, 1.0).astype(np.float32) if thin else _smoothstep((outer - distance) / softness)
        region = self.image[r0:r1, c0:c1]
        if self._stroke_erase:
            np.minimum(region, 1.0 - ink, out=region)
        else:
            np.maximum(region, ink, out=region)
        self._image_edited()

    def stamp_sample_digit(self, digit: int | str = 3) -> None:
        """Draw a plausible handwritten ``digit`` (0-9) through the stroke API, one undo step per stroke."""
        for stroke in sample_digit_strokes(digit, self.size):
            self.begin_stroke(*stroke[0])
            for x, y in stroke[1:]:
                self.stroke_to(x, y)
            self.end_stroke()

    # -- whole-image commands (each one undo step)
    def clear(self) -> None:
        """Erase everything (undoable)."""
        self._finish_stroke()
        if self.is_empty:
            return
        self._replace_image(np.zeros_like(self.image))

    def set_size(self, size: int) -> None:
        """Switch between digit mode (28) and image mode (64..256), resampling the drawing (undoable)."""
        _check_size(size)
        self._finish_stroke()
        if size == self.size:
            return
        self._replace_image(resample(self.image, (size, size)))

    def load_image(self, array) -> None:
        """Put a decoded image on the canvas (undoable), fitted with its aspect ratio kept.

        ``array`` is gray ``(H, W)``, RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)``, float in
        [0, 1] or integer in [0, 255], made gray by ``to_gray``.  In digit mode a
        dark-on-light image (mean > 0.5) is inverted to MNIST's light on dark and its
        background lifted to black.
        """
        gray = to_gray(array)
        if gray.size == 0:
            raise ValueError("the image is empty")
        if self.is_digit_mode:
            if gray.mean() > 0.5:
                gray = 1.0 - gray
            # paper photographed is never quite white: make the background black, the ink full
            background, ink = np.median(gray), gray.max()
            if ink - background > 0.1:
                gray = np.clip((gray - background) / (ink - background), 0.0, 1.0)
        self._finish_stroke()
        self._replace_image(fit_into(gray, self.size))

    def load_network_image(self, image) -> None:
        """Put an image that is already what the network should see on the canvas (one undo step).

        ``image`` is gray ``(H, W)`` (or ``(1, H, W)``) in [0, 1], e.g. a digit from the data set or an
        adversarially nudged input.  MNIST framing is skipped for it (it is framed already: framing it
        again would rescale it by its faintest pixels), so ``network_input()`` returns it unchanged, also
        after strokes drawn on it, until the canvas is cleared or another image is loaded.  A square
        image of another size than the canvas changes the canvas size (28: digit mode).
        """
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 3 and image.shape[0] == 1:
            image = image[0]
        if image.ndim != 2 or image.shape[0] != image.shape[1] or not np.isfinite(image).all():
            raise ValueError(f"a network image must be a square (H, W) array of finite values, got shape "
                             f"{image.shape}. Fix: pass the network's one-channel input, e.g. 28x28.")
        if image.shape[0] != DIGIT_SIZE and not MIN_IMAGE_SIZE <= image.shape[0] <= MAX_IMAGE_SIZE:
            raise ValueError(f"a network image of {image.shape[0]}x{image.shape[0]} does not fit the canvas. "
                             f"Fix: pass a {DIGIT_SIZE}x{DIGIT_SIZE} image (or {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE}).")
        self._finish_stroke()
        image = np.clip(image, 0.0, 1.0)
        self._mark_network_space(image, True)
        self._replace_image(image)

    def _mark_network_space(self, image: np.ndarray, on: bool) -> None:
        if on:
            self._network_space[id(image)] = image

    def _is_network_space(self, image: np.ndarray) -> bool:
        return self._network_space.get(id(image)) is image

    def undo(self) -> None:
        self._finish_stroke()
        if self._undo:
            self._redo.append(self.image)
            self._restore(self._undo.pop())

    def redo(self) -> None:
        self._finish_stroke()
        if self._redo:
            self._undo.append(self.image)
            self._restore(self._redo.pop())

    # -- options
    def set_brush_size(self, pixels: float) -> None:
        """Brush diameter in pixels of the current size (clamped to 0.5 .. size / 4)."""
        pixels = float(np.clip(pixels, 0.5, self.size / 4))
        fraction = pixels / self.size
        if np.isclose(fraction, self._brush_fraction, rtol=1e-9, atol=0):
            return
        self._brush_fraction = fraction
        self.events.brush_size_changed.emit()

    def set_mnist_framing(self, on: bool) -> None:
        """Show the network the drawing framed as MNIST did (digit mode only)."""
        on = bool(on)
        if on == self.mnist_framing:
            return
        self.mnist_framing = on
        self._network_input = None
        self.events.mnist_framing_changed.emit()
        # what the network sees changed although the drawing did not
        self.events.image_changed.emit()

    # -- what the network sees
    def network_input(self) -> np.ndarray:
        """The image the network sees, float32 ``(size, size)``.

        The drawing itself, or, with MNIST framing on in digit mode, the drawing's
        box scaled to fit 20 x 20 and centred in 28 x 28 by its centre of mass.
        """
        self._frame()
        return self._network_input.copy()

    def framing(self) -> Framing | None:
        """How the network input maps to the drawing, or None when they are the same pixels
        (framing off, image mode, or nothing drawn)."""
        self._frame()
        return self._framing

    def _frame(self) -> None:
        if self._network_input is None:
            if self.mnist_framing and self.is_digit_mode and not self._is_network_space(self.image):
                self._network_input, self._framing = mnist_framing(self.image)
            else:
                self._network_input, self._framing = self.image.copy(), None

    # -- internals
    def _finish_stroke(self) -> None:
        if self.is_drawing:
            self.end_stroke()

    def _image_edited(self) -> None:
        self._network_input = None
        self.events.image_changed.emit()

    def _replace_image(self, image: np.ndarray) -> None:
        before = self.image
        self._set_image(np.ascontiguousarray(image, dtype=np.float32))
        self._push_history(before)

    def _push_history(self, before: np.ndarray) -> None:
        self._undo.append(before)
        del self._undo[:-MAX_HISTORY]
        self._redo.clear()
        self.events.history_changed.emit()

    def _restore(self, image: np.ndarray) -> None:
        self._set_image(image)
        self.events.history_changed.emit()

    def _set_image(self, image: np.ndarray) -> None:
        resized = image.shape != self.image.shape
        self.image = image
        if resized:
            self.events.size_changed.emit()
            self.events.brush_size_changed.emit()
        self._image_edited()


def _check_size(size: int) -> None:
    if size != DIGIT_SIZE and not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise ValueError(f"canvas size must be {DIGIT_SIZE} (digit) or {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE} "
                         f"(image), not {size}")


def _smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


# -- sample digits
# Control points in a unit box (x right, y down); a repeated point is a sharp corner.
_DIGIT_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [[(0.55, 0.02), (0.2, 0.15), (0.06, 0.5), (0.2, 0.88), (0.52, 0.99), (0.84, 0.84),
           (0.94, 0.48), (0.8, 0.12), (0.5, 0.03), (0.36, 0.1)]],
    "1": [[(0.3, 0.2), (0.56, 0.0), (0.56, 0.0), (0.52, 0.5), (0.48, 1.0)]],
    "2": [[(0.1, 0.26), (0.3, 0.04), (0.62, 0.02), (0.86, 0.2), (0.78, 0.45), (0.45, 0.72),
           (0.08, 0.98), (0.08, 0.98), (0.5, 0.95), (0.94, 0.97)]],
    "3": [[(0.12, 0.14), (0.45, 0.0), (0.8, 0.1), (0.8, 0.34), (0.42, 0.48), (0.42, 0.48),
           (0.82, 0.6), (0.88, 0.84), (0.52, 1.0), (0.1, 0.88)]],
    "4": [[(0.6, 0.0), (0.32, 0.36), (0.06, 0.66), (0.06, 0.66), (0.5, 0.65), (0.95, 0.64)],
          [(0.72, 0.3), (0.7, 0.65), (0.68, 1.0)]],
    "5": [[(0.86, 0.02), (0.86, 0.02), (0.28, 0.04), (0.28, 0.04), (0.2, 0.44), (0.2, 0.44),
           (0.55, 0.38), (0.86, 0.6), (0.8, 0.9), (0.45, 1.0), (0.1, 0.88)]],
    "6": [[(0.78, 0.02), (0.4, 0.22), (0.16, 0.6), (0.3, 0.96), (0.66, 0.96), (0.8, 0.7),
           (0.55, 0.5), (0.2, 0.64)]],
    "7": [[(0.08, 0.06), (0.5, 0.03), (0.92, 0.04), (0.92, 0.04), (0.66, 0.45), (0.42, 1.0)]],
    "8": [[(0.78, 0.14), (0.5, 0.01), (0.22, 0.14), (0.3, 0.36), (0.55, 0.5), (0.85, 0.72),
           (0.62, 0.98), (0.2, 0.9), (0.22, 0.66), (0.52, 0.48), (0.76, 0.3), (0.78, 0.14)]],
    "9": [[(0.8, 0.18), (0.5, 0.02), (0.18, 0.18), (0.28, 0.44), (0.72, 0.38), (0.82, 0.22),
           (0.82, 0.22), (0.76, 0.6), (0.64, 1.0)]],
}


def _catmull_rom(points: np.ndarray, samples_per_span: int) -> np.ndarray:
    """A smooth curve through ``points`` (N, 2)."""
    if len(points) < 3:
        return np.linspace(points[0], points[-1], samples_per_span + 1)
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, 1, samples_per_span, endpoint=False)[:, None]
    curve = []
    for p0, p1, p2, p3 in zip(padded[:-3], padded[1:-2], padded[2:-1], padded[3:]):
        curve.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                            + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
    curve.append(points[-1:])
    return np.vstack(curve)


def sample_digit_strokes(digit: int | str = 3, size: int = DIGIT_SIZE) -> list[np.ndarray]:
    """Polylines ``(N, 2)`` of ``(x, y)`` image coordinates that write ``digit`` (0-9) on a canvas of ``size``.

    The digit fills about 70 % of the canvas height, slightly slanted like handwriting.
    """
    key = str(digit)
    if key not in _DIGIT_STROKES:
        raise ValueError(f"no sample for digit {digit!r}; choose 0-9")
    height, width = 0.68 * size, 0.46 * size
    top, left = (size - height) / 2, (size - width) / 2
    strokes = []
    for control in _DIGIT_STROKES[key]:
        control = np.asarray(control, dtype=np.float64)
        # split at repeated points: each piece is smooth, the joins are corners
        repeats = [i for i in range(1, len(control)) if np.allclose(control[i], control[i - 1])]
        corners = [0, *repeats, len(control)]
        samples = max(8, size // 8)  # short straight segments at every canvas size
        pieces = [_catmull_rom(control[a:b], samples) for a, b in zip(corners[:-1], corners[1:]) if b > a]
        unit = np.vstack(pieces)
        x = left + (unit[:, 0] + 0.12 * (0.5 - unit[:, 1])) * width  # a slight forward slant
        y = top + unit[:, 1] * height
        strokes.append(np.column_stack([x, y]))
    return strokes
