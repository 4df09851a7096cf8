"""The mosaic: maps tiled exactly, colours centred on zero, the documented levels, and the way back."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnstudio.render.mosaic import (DIVERGING_LUT, GRAY_LUT, LUT_SIZE, MIN_RANGE, SEQUENTIAL_LUT, MosaicLayout,
                                    build_mosaic, colormap_lut, mosaic_levels, paint_mosaic, stage_is_signed)

WHITE = [255, 255, 255, 255]


def colour_of(value, low, high, lut):
    """The slow, obvious twin of the kernel: one value through the lookup table."""
    t = np.clip((value - low) / (high - low), 0.0, 1.0)
    return lut[np.floor(t * (len(lut) - 1) + 0.5).astype(int)]


def random_maps(rng, count=5, height=6, width=4, signed=True):
    maps = rng.normal(size=(count, height, width)).astype(np.float32)
    return maps if signed else np.maximum(maps, 0)


# ---------------------------------------------------------------- layout

def test_layout_stacks_maps_in_one_column_with_gaps():
    layout = MosaicLayout(count=8, height=28, width=28, gap=2)
    assert layout.shape == (8 * 28 + 7 * 2, 28)
    assert layout.origin(0) == (0, 0)
    assert layout.origin(3) == (3 * 30, 0)
    assert layout.to_mosaic(3, 5, 7) == (95, 7)


def test_layout_can_wrap_into_columns():
    layout = MosaicLayout(count=5, height=3, width=4, gap=1, columns=2)
    assert layout.shape == (3 * 4 - 1, 2 * 5 - 1)
    assert layout.origin(3) == (4, 5)
    assert layout.mosaic_position((5.5, 4.2)) == (3, 0, 0)
    assert layout.mosaic_position((5.5, 8.0)) is None  # map 5 does not exist


@given(st.integers(1, 9), st.integers(1, 12), st.integers(1, 12), st.integers(0, 3), st.integers(1, 3), st.data())
def test_mosaic_position_inverts_to_mosaic(count, height, width, gap, columns, data):
    layout = MosaicLayout(count, height, width, gap, columns)
    f = data.draw(st.integers(0, count - 1))
    row, col = data.draw(st.integers(0, height - 1)), data.draw(st.integers(0, width - 1))
    y, x = layout.to_mosaic(f, row, col)
    assert layout.mosaic_position((x + 0.3, y + 0.9)) == (f, row, col)


def test_mosaic_position_is_none_in_gaps_and_outside():
    layout = MosaicLayout(count=3, height=4, width=4, gap=2)
    assert layout.mosaic_position((1, 4)) is None      # first row of the gap under map 0
    assert layout.mosaic_position((1, 5.9)) is None    # last row of that gap
    assert layout.mosaic_position((1, 6)) == (1, 0, 1)
    for point in [(-0.1, 0), (0, -1), (4, 0), (0, 100), (float("nan"), 0)]:
        assert layout.mosaic_position(point) is None


# ---------------------------------------------------------------- colours

def test_diverging_map_is_white_at_zero_blue_below_red_above():
    assert len(DIVERGING_LUT) == LUT_SIZE
    assert DIVERGING_LUT[LUT_SIZE // 2].tolist() == WHITE
    low, high = DIVERGING_LUT[0], DIVERGING_LUT[-1]
    assert low[2] > low[0] and high[0] > high[2]      # blue end, red end
    assert (DIVERGING_LUT[:, 3] == 255).all()


def test_sequential_map_starts_white_and_is_the_red_half_of_the_diverging_one():
    assert SEQUENTIAL_LUT[0].tolist() == WHITE
    np.testing.assert_array_equal(DIVERGING_LUT[LUT_SIZE // 2:], SEQUENTIAL_LUT[::2])
    brightness = SEQUENTIAL_LUT[:, :3].astype(int).sum(axis=1)
    assert (np.diff(brightness) <= 0).all()  # monotone: darker = larger


def test_colormap_is_chosen_by_the_layer_not_the_data():
    assert stage_is_signed("conv", "relu")
    assert not stage_is_signed("activation", "relu") and not stage_is_signed("pooled", "relu")
    assert not stage_is_signed("activation", "sigmoid")
    assert stage_is_signed("activation", "tanh") and stage_is_signed("pooled", "leaky_relu")
    assert stage_is_signed("activation", "none")
    assert colormap_lut(True) is DIVERGING_LUT and colormap_lut(False) is SEQUENTIAL_LUT


def test_zero_paints_white_in_every_scale_mode():
    maps = np.zeros((2, 3, 3), np.float32)
    maps[0, 0, 0], maps[1, 2, 2] = 2.0, -5.0
    for mode in ("map", "layer", "fixed"):
        mosaic = build_mosaic(maps, signed=True, mode=mode, gap=1)
        assert mosaic.rgba[1, 1].tolist() == WHITE                       # a zero of map 0
        assert mosaic.rgba[4 + 0, 0].tolist() == WHITE                   # a zero of map 1


# ---------------------------------------------------------------- tiles

@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("mode", ["map", "layer", "fixed"])
def test_each_tile_is_its_map_through_the_colormap(signed, mode):
    maps = random_maps(np.random.default_rng(1), signed=signed)
    mosaic = build_mosaic(maps, signed=signed, mode=mode, fixed=1.5, gap=2)
    lut = colormap_lut(signed)
    for f in range(len(maps)):
        r0, c0 = mosaic.layout.origin(f)
        tile = mosaic.rgba[r0:r0 + 6, c0:c0 + 4]
        low, high = mosaic.levels[f]
        np.testing.assert_array_equal(tile, colour_of(maps[f], low, high, lut))


def test_gaps_are_transparent():
    mosaic = build_mosaic(random_maps(np.random.default_rng(2)), signed=True, gap=2)
    for f in range(4):
        gap_rows = mosaic.rgba[mosaic.layout.origin(f)[0] + 6:mosaic.layout.origin(f + 1)[0]]
        assert gap_rows.shape[0] == 2 and (gap_rows == 0).all()


def test_bgra_byte_order_swaps_red_and_blue_only():
    maps = random_maps(np.random.default_rng(3))
    layout = MosaicLayout(5, 6, 4, 2)
    levels = mosaic_levels(maps, True, "layer")
    rgba = paint_mosaic(maps, layout, levels, True)
    bgra = paint_mosaic(maps, layout, levels, True, byte_order="bgra")
    np.testing.assert_array_equal(bgra, rgba[..., [2, 1, 0, 3]])


def test_a_custom_lut_paints_the_input_gray():
    image = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    rgba = paint_mosaic(image, MosaicLayout(1, 1, 3), [[0.0, 1.0]], lut=GRAY_LUT)
    assert rgba[0, 0].tolist() == WHITE and rgba[0, 2].tolist() == [0, 0, 0, 255]
    assert 120 <= rgba[0, 1, 0] <= 135


def test_maps_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        paint_mosaic(np.zeros((2, 3, 3)), MosaicLayout(3, 3, 3), np.ones((3, 2)))


# ---------------------------------------------------------------- levels

def test_levels_per_map_per_layer_and_fixed():
    maps = np.zeros((3, 2, 2), np.float32)
    maps[0, 0, 0], maps[1, 1, 1], maps[2, 0, 1] = 2.0, -4.0, 0.5
    np.testing.assert_allclose(mosaic_levels(maps, True, "map"), [[-2, 2], [-4, 4], [-0.5, 0.5]])
    np.testing.assert_allclose(mosaic_levels(maps, True, "layer"), [[-4, 4]] * 3)
    np.testing.assert_allclose(mosaic_levels(maps, True, "fixed", fixed=3.0), [[-3, 3]] * 3)
    relu = np.maximum(maps, 0)
    np.testing.assert_allclose(mosaic_levels(relu, False, "map"), [[0, 2], [0, MIN_RANGE], [0, 0.5]])
    np.testing.assert_allclose(mosaic_levels(relu, False, "layer"), [[0, 2]] * 3)
    np.testing.assert_allclose(mosaic_levels(relu, False, "fixed", fixed=3.0), [[0, 3]] * 3)


def test_an_all_zero_map_gets_a_small_range_not_a_division_by_zero():
    levels = mosaic_levels(np.zeros((2, 3, 3)), True, "map")
    np.testing.assert_allclose(levels, [[-MIN_RANGE, MIN_RANGE]] * 2)


def test_unknown_scale_mode_is_refused():
    with pytest.raises(ValueError, match="scale mode"):
        mosaic_levels(np.zeros((1, 2, 2)), True, "global")


def test_values_beyond_a_fixed_range_saturate():
    maps = np.array([[[-10.0, 10.0]]], np.float32)
    mosaic = build_mosaic(maps, signed=True, mode="fixed", fixed=1.0)
    assert mosaic.rgba[0, 0].tolist() == DIVERGING_LUT[0].tolist()
    assert mosaic.rgba[0, 1].tolist() == DIVERGING_LUT[-1].tolist()
