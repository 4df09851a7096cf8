"""The pictures of the training replay, as B, G, R, A pixels: the first layer's kernels and each stage's maps.

Plain NumPy over ``cnnstudio.render.mosaic`` (no Qt): the replay view paints what these return
with ``BgraImageItem``.  Past and present share one colour range (``shared_levels``) so that a
colour means the same value on both sides of "Compare with now".
"""
from __future__ import annotations

import math

import numpy as np

from cnnstudio.render.mosaic import MIN_RANGE, MosaicLayout, paint_mosaic, stage_is_signed

STAGE_GAP = 8   # transparent pixels between two stages' mosaics
MAP_GAP = 1     # between two maps of a stage


def grid_columns(count: int) -> int:
    """Columns of a near-square grid of ``count`` tiles (8 -> 3, 16 -> 4)."""
    return max(1, math.ceil(math.sqrt(count)))


def first_kernels(network) -> np.ndarray | None:
    """The first conv layer's kernels as (F, K, K) float32 (the mean over input channels), None without one."""
    if not network.conv_specs:
        return None
    weight = network.weight(0)
    return np.ascontiguousarray(weight.mean(axis=1) if weight.shape[1] > 1 else weight[:, 0], dtype=np.float32)


def symmetric_top(*arrays) -> float:
    """The largest finite magnitude of ``arrays`` (at least 1e-6): a diverging range ±top."""
    tops = [float(np.abs(a[np.isfinite(a)]).max()) for a in arrays if a is not None and np.isfinite(a).any()]
    return max(tops + [1e-6])


def kernel_pixels(kernels: np.ndarray, top: float) -> np.ndarray:
    """(rows, cols, 4) uint8 B, G, R, A of ``kernels`` (F, K, K) in a near-square grid, blue - white - red over ±top."""
    count, size = kernels.shape[0], kernels.shape[1]
    layout = MosaicLayout(count, size, kernels.shape[2], gap=1, columns=grid_columns(count))
    levels = np.tile(np.array([[-top, top]], dtype=np.float32), (count, 1))
    return paint_mosaic(kernels, layout, levels, signed=True, byte_order="bgra")


def stage_tops(traces, network) -> list[float]:
    """One colour range top per conv stage, over the activation maps of every trace given (None traces skipped)."""
    tops = []
    for k in range(len(network.conv_specs)):
        maps = [t.stages[k].activation for t in traces if t is not None and k < len(t.stages)]
        tops.append(max(MIN_RANGE, symmetric_top(*maps)))
    return tops


def maps_pixels(trace, network, tops) -> np.ndarray:
    """(rows, cols, 4) uint8 B, G, R, A: each stage's activation maps as a near-square mosaic, stages left to right.

    Signed stages (tanh, leaky ReLU, none) are blue - white - red over ±top, ReLU and sigmoid
    white - red over [0, top], as the feature-map panel paints them.
    """
    tiles = []
    for stage, spec, top in zip(trace.stages, network.conv_specs, tops):
        maps = stage.activation
        signed = stage_is_signed("activation", spec.activation)
        layout = MosaicLayout(maps.shape[0], maps.shape[1], maps.shape[2], gap=MAP_GAP,
                              columns=grid_columns(maps.shape[0]))
        low = -top if signed else 0.0
        levels = np.tile(np.array([[low, top]], dtype=np.float32), (maps.shape[0], 1))
        tiles.append(paint_mosaic(maps, layout, levels, signed=signed, byte_order="bgra"))
    return side_by_side(tiles)


def side_by_side(tiles: list[np.ndarray], gap: int = STAGE_GAP) -> np.ndarray:
    """Images (h, w, 4) placed left to right, tops aligned, ``gap`` transparent columns between them."""
    if not tiles:
        return np.zeros((1, 1, 4), dtype=np.uint8)
    height = max(t.shape[0] for t in tiles)
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    out = np.zeros((height, width, 4), dtype=np.uint8)
    left = 0
    for tile in tiles:
        out[:tile.shape[0], left:left + tile.shape[1]] = tile
        left += tile.shape[1] + gap
    return out
