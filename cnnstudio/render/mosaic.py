"""Tile a stack of feature maps into one coloured RGBA mosaic, ready to paint.

Painting 72 small images costs far more than painting 6 large ones (PERFORMANCE.md,
"Painting the maps"), so each stage of a conv layer (convolution, activation, pooled)
becomes one image.

Layout
------
The F maps of a stage are stacked in one column, filter 0 at the top, with ``gap``
transparent pixels between them (``columns`` > 1 wraps them into a grid, row by row).
Putting the conv | activation | pooled mosaics of a layer side by side therefore
gives one row of panels per filter.

Colours
-------
Signed maps (convolution outputs, tanh, leaky ReLU, no activation) use a diverging
blue - white - red map, white at exactly 0; non-negative maps (ReLU, sigmoid, and
their pooled maps) use a sequential white - red map.  The red half of the diverging
map *is* the sequential map, so a value has the same colour before and after ReLU:
ReLU visibly just wipes out the blue.

Scale modes (CNN Explainer's local / module / global)
-----------------------------------------------------
``"map"``    each map its own range: +-max|v| (signed) or [0, max v] (non-negative)
``"layer"``  one such range for all the maps of the stage
``"fixed"``  +-``fixed`` (signed) or [0, ``fixed``] (non-negative)

A range never shrinks below ``MIN_RANGE``, so a map that is nearly flat (an empty
canvas leaves only the biases, a few hundredths) paints nearly white rather than
blowing its tiny values up to full colour.  Maps of a drawn digit reach 1 to 10.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstudio.engine import colorize_maps

SCALE_MODES = ("map", "layer", "fixed")
DEFAULT_FIXED_RANGE = 3.0
MIN_RANGE = 0.25
LUT_SIZE = 257  # odd, so that 0 of a symmetric range lands exactly on the middle entry

# ColorBrewer "Blues" and "Reds" (9 classes), lightest entry replaced by pure white.
_BLUES = ("#ffffff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
_REDS = ("#ffffff", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15", "#67000d")


def _ramp(hex_colors, size: int) -> np.ndarray:
    """(size, 4) uint8 RGBA, linear interpolation through ``hex_colors``."""
    anchors = np.array([[int(h[k:k + 2], 16) for k in (1, 3, 5)] for h in hex_colors], dtype=np.float64)
    where = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, size)
    rgb = np.stack([np.interp(t, where, anchors[:, c]) for c in range(3)], axis=1)
    rgba = np.full((size, 4), 255, dtype=np.uint8)
    rgba[:, :3] = np.round(rgb).astype(np.uint8)
    return rgba


SEQUENTIAL_LUT = _ramp(_REDS, LUT_SIZE)
DIVERGING_LUT = np.concatenate([_ramp(_BLUES, LUT_SIZE // 2 + 1)[::-1], _ramp(_REDS, LUT_SIZE // 2 + 1)[1:]])
GRAY_LUT = _ramp(("#ffffff", "#000000"), LUT_SIZE)  # darker = more: for probabilities on paper
# The network's own polarity, as the canvas shows it: 0 (background) black, 1 (ink) white. Every view of an
# image the network sees uses it, so a digit looks the same in the canvas, the maps and the lessons.
INK_LUT = _ramp(("#000000", "#ffffff"), LUT_SIZE)
for _lut in (SEQUENTIAL_LUT, DIVERGING_LUT, GRAY_LUT, INK_LUT):
    _lut.flags.writeable = False
_BGRA = {id(_lut): np.ascontiguousarray(_lut[:, [2, 1, 0, 3]]) for _lut in (SEQUENTIAL_LUT, DIVERGING_LUT, GRAY_LUT, INK_LUT)}

_NON_NEGATIVE_ACTIVATIONS = ("relu", "sigmoid")


def colormap_lut(signed: bool) -> np.ndarray:
    """The (LUT_SIZE, 4) uint8 RGBA table: diverging for signed maps, sequential otherwise."""
    return DIVERGING_LUT if signed else SEQUENTIAL_LUT


def stage_is_signed(kind: str, activation: str) -> bool:
    """Whether maps of ``kind`` ("conv", "activation", "pooled") after ``activation`` can be negative.

    Decided by the layer, not by the data, so a map keeps its colormap while the drawing changes.
    """
    if kind == "conv":
        return True
    return activation not in _NON_NEGATIVE_ACTIVATIONS


@dataclass(frozen=True)
class MosaicLayout:
    """Where each map of a stack sits in the mosaic (all in mosaic pixels).

    Map ``f`` occupies rows ``origin(f)[0] .. + height - 1`` and columns
    ``origin(f)[1] .. + width - 1``; everything else is gap.
    """

    count: int
    height: int
    width: int
    gap: int = 2
    columns: int = 1

    @property
    def rows(self) -> int:
        return -(-self.count // self.columns)

    @property
    def pitch(self) -> tuple[int, int]:
        """Distance (rows, cols) from one map's top-left pixel to the next map's."""
        return self.height + self.gap, self.width + self.gap

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the whole mosaic."""
        columns = min(self.columns, self.count)
        return self.rows * self.pitch[0] - self.gap, columns * self.pitch[1] - self.gap

    def origin(self, filter: int) -> tuple[int, int]:
        """(row, col) in the mosaic of map ``filter``'s top-left pixel."""
        return (filter // self.columns) * self.pitch[0], (filter % self.columns) * self.pitch[1]

    def to_mosaic(self, filter: int, row: int, col: int) -> tuple[int, int]:
        """(row, col) in the mosaic of cell (row, col) of map ``filter``."""
        r0, c0 = self.origin(filter)
        return r0 + row, c0 + col

    def mosaic_position(self, point) -> tuple[int, int, int] | None:
        """The map cell (filter, row, col) under ``point``, or None in a gap or outside.

        ``point`` is (x, y) in mosaic pixel coordinates, x along columns, as
        pyqtgraph gives an ImageItem's local coordinates; fractions are floored.
        """
        x, y = float(point[0]), float(point[1])
        if not (x >= 0 and y >= 0):  # also rejects NaN
            return None
        grid_row, row = divmod(int(y), self.pitch[0])
        grid_col, col = divmod(int(x), self.pitch[1])
        if row >= self.height or col >= self.width or grid_col >= self.columns:
            return None
        filter = grid_row * self.columns + grid_col
        if filter >= self.count:
            return None
        return filter, row, col


@dataclass(frozen=True)
class Mosaic:
    """A painted stack: ``rgba`` (rows, cols, 4) uint8, ``levels`` (F, 2) float32 (low, high) per map."""

    rgba: np.ndarray
    levels: np.ndarray
    layout: MosaicLayout
    signed: bool


def mosaic_levels(maps, signed: bool, mode: str = "layer", fixed: float = DEFAULT_FIXED_RANGE) -> np.ndarray:
    """The colour range (low, high) of each map of ``maps`` (F, H, W): (F, 2) float32.

    Signed maps get a range symmetric around 0, non-negative maps [0, high];
    see the module docstring for the modes.
    """
    if mode not in SCALE_MODES:
        raise ValueError(f"unknown scale mode {mode!r}; choose one of {', '.join(SCALE_MODES)}")
    maps = np.asarray(maps, dtype=np.float32)
    count = maps.shape[0]
    if mode == "fixed":
        high = np.full(count, float(fixed), dtype=np.float32)
    else:
        flat = maps.reshape(count, -1)
        if signed:
            flat = np.abs(flat)
        high = flat.max(axis=1) if flat.shape[1] else np.zeros(count, dtype=np.float32)
        if mode == "layer":
            high = np.full(count, high.max(initial=0.0), dtype=np.float32)
    high = np.maximum(high, np.float32(MIN_RANGE)).astype(np.float32)
    low = -high if signed else np.zeros(count, dtype=np.float32)
    return np.stack([low, high], axis=1)


def paint_mosaic(maps, layout: MosaicLayout, levels, signed: bool = True, lut=None,
                 byte_order: str = "rgba") -> np.ndarray:
    """Tile and colour ``maps`` (F, H, W) into a new (rows, cols, 4) uint8 array; gaps are transparent (all 0).

    ``levels`` (F, 2) gives each map's (low, high); ``lut`` (n, 4) uint8 RGBA overrides
    the colormap chosen by ``signed``.  ``byte_order="bgra"`` writes B, G, R, A, which is
    the memory layout of Qt's ``Format_ARGB32_Premultiplied`` on little-endian machines
    (the format Qt paints fastest; every colour here is opaque, so premultiplying changes nothing).
    """
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    if maps.shape != (layout.count, layout.height, layout.width):
        raise ValueError(f"maps of shape {maps.shape} do not fit a layout of {layout.count} maps of "
                         f"{layout.height}x{layout.width}")
    if byte_order not in ("rgba", "bgra"):
        raise ValueError(f"unknown byte order {byte_order!r}; choose 'rgba' or 'bgra'")
    lut = colormap_lut(signed) if lut is None else lut
    if byte_order == "bgra":
        lut = _BGRA[id(lut)] if id(lut) in _BGRA else np.asarray(lut)[:, [2, 1, 0, 3]]
    rgba = np.zeros(layout.shape + (4,), dtype=np.uint8)
    return colorize_maps(maps, levels, lut, rgba, layout.pitch, layout.columns)


def build_mosaic(maps, signed: bool, mode: str = "layer", fixed: float = DEFAULT_FIXED_RANGE,
                 gap: int = 2, columns: int = 1, layout: MosaicLayout | None = None) -> Mosaic:
    """Levels, layout and RGBA pixels of a stack of maps (F, H, W) in one call."""
    maps = np.asarray(maps, dtype=np.float32)
    if layout is None:
        layout = MosaicLayout(maps.shape[0], maps.shape[1], maps.shape[2], gap, columns)
    levels = mosaic_levels(maps, signed, mode, fixed)
    return Mosaic(paint_mosaic(maps, layout, levels, signed), levels, layout, signed)
