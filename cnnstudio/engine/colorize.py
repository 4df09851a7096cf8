"""Colour a stack of maps through a lookup table and tile them into one image, in one Numba call.

The feature-map panels repaint every map of every stage on each pen stroke, so
this loop runs compiled; the layout (where each map goes) and the colour ranges
are decided by the caller (``cnnstudio.render.mosaic``).
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel
from .checks import expect_ndim, expect_shape, float32_array, refuse, whole_number


@kernel
def _colorize_maps(maps, levels, lut, pitch_y, pitch_x, columns, out):
    """out[tile of f] = lut[round((maps[f] - low) / (high - low) * (n - 1))], clipped; NaN gets lut[0]."""
    F, H, W = maps.shape
    top = lut.shape[0] - 1
    for f in range(F):
        r0 = (f // columns) * pitch_y
        c0 = (f % columns) * pitch_x
        low = levels[f, 0]
        span = levels[f, 1] - low
        scale = top / span if span > 0 else 0.0
        for i in range(H):
            for j in range(W):
                t = (maps[f, i, j] - low) * scale
                if not t >= 0.0:  # below the range, or NaN
                    t = 0.0
                elif t > top:
                    t = top
                entry = int(t + 0.5)
                for ch in range(4):
                    out[r0 + i, c0 + j, ch] = lut[entry, ch]


def colorize_maps(maps, levels, lut, out, pitch, columns: int = 1) -> np.ndarray:
    """Colour each map of ``maps`` through ``lut`` and write it as one tile of ``out``, in place.

    Map f's value v becomes ``lut[round((v - low) / (high - low) * (n - 1))]``, clipped to
    the table (NaN and values below ``low`` take ``lut[0]``; a range of zero width too).
    Map f's top-left pixel goes to row ``(f // columns) * pitch[0]``, column
    ``(f % columns) * pitch[1]`` of ``out``; pixels between tiles are left as they are.

    Parameters
    ----------
    maps : (F, H, W) float32
    levels : (F, 2) float32, each map's (low, high)
    lut : (n, 4) uint8 colours, n >= 1 (RGBA, or BGRA for Qt's byte order)
    out : (rows, cols, 4) uint8, C-contiguous and writable, large enough for every tile
    pitch : (rows, cols) from one tile's top-left pixel to the next's, at least (H, W)
    columns : tiles per row of the grid, >= 1

    Returns
    -------
    out
    """
    where = "colorize_maps"
    maps = float32_array(maps, "maps", where)
    expect_ndim(maps, 3, "maps", where, "(F, H, W)", "stack the maps along a first axis, e.g. maps[None] for one")
    F, H, W = maps.shape
    levels = float32_array(levels, "levels", where)
    expect_shape(levels, (F, 2), "levels", where, "pass one (low, high) row per map")
    lut = np.ascontiguousarray(lut, dtype=np.uint8)
    if lut.ndim != 2 or lut.shape[0] < 1 or lut.shape[1] != 4:
        refuse(where, f"lut has shape {lut.shape}, expected (n, 4) with n >= 1", "pass a table of RGBA colours")
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.ndim != 3 or out.shape[2] != 4 \
            or not out.flags.c_contiguous or not out.flags.writeable:
        seen = f"{out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        refuse(where, f"out is a {seen}, but it is painted in place and must be a writable, C-contiguous uint8 "
                      f"array (rows, cols, 4)", "pass np.zeros((rows, cols, 4), np.uint8)")
    columns = whole_number(columns, "columns", where)
    try:
        pitch_y, pitch_x = (int(v) for v in pitch)
    except (TypeError, ValueError):
        refuse(where, f"pitch = {pitch!r} must be two integers (rows, cols)", f"pass at least ({H}, {W})")
    if pitch_y < H or pitch_x < W:
        refuse(where, f"pitch {(pitch_y, pitch_x)} is smaller than a {H}x{W} map, so tiles would overlap",
               f"pass a pitch of at least ({H}, {W})")
    if F:
        needed = ((F - 1) // columns * pitch_y + H, (min(columns, F) - 1) * pitch_x + W)
        if needed[0] > out.shape[0] or needed[1] > out.shape[1]:
            refuse(where, f"out has shape {out.shape}, but {F} maps of {H}x{W} in {columns} column(s) with pitch "
                          f"{(pitch_y, pitch_x)} need at least {needed + (4,)}", "make out larger, or use more columns")
    _colorize_maps(maps, levels, lut, pitch_y, pitch_x, columns, out)
    return out
