"""colorize_maps against its twin, and the rule that only the engine compiles kernels."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import colorize_maps

PACKAGE = Path(__file__).resolve().parents[2] / "cnnstudio"


@given(count=st.integers(1, 6), height=st.integers(1, 5), width=st.integers(1, 5), columns=st.integers(1, 4),
       gap=st.integers(0, 3), lut_size=st.sampled_from([1, 2, 9, 257]), seed=st.integers(0, 2**32 - 1))
def test_colorize_maps_equals_the_twin(count, height, width, columns, gap, lut_size, seed):
    rng = np.random.default_rng(seed)
    maps = rng.normal(0, 2, (count, height, width)).astype(np.float32)
    maps.flat[rng.integers(0, maps.size)] = np.nan  # NaN takes the first colour
    high = rng.uniform(-0.5, 3, count).astype(np.float32)  # some ranges empty or reversed: scale 0
    levels = np.stack([-high if seed % 2 else np.zeros(count, np.float32), high], axis=1)
    lut = rng.integers(0, 256, (lut_size, 4)).astype(np.uint8)
    pitch = (height + gap, width + gap)
    rows = -(-count // columns)
    shape = (rows * pitch[0] + 1, min(columns, count) * pitch[1] + 2)  # a margin the tiles must not touch

    out = np.zeros(shape + (4,), np.uint8)
    returned = colorize_maps(maps, levels, lut, out, pitch, columns)

    assert returned is out
    np.testing.assert_array_equal(out, ref.colorize_maps(maps, levels, lut, shape, pitch, columns))


def test_values_outside_the_range_are_clipped_to_the_ends_of_the_table():
    lut = np.arange(3 * 4, dtype=np.uint8).reshape(3, 4)
    out = np.zeros((1, 5, 4), np.uint8)
    colorize_maps([[[-5.0, 0.0, 0.5, 1.0, 7.0]]], [[0.0, 1.0]], lut, out, (1, 5))
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 4, 8, 8])


def test_nothing_outside_the_engine_imports_its_jit_module():
    pattern = re.compile(r"engine\._jit|engine import _jit|from \._jit|from \.\._jit")
    offenders = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                 if path.parent.name != "engine" and pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
