"""``to_gray``: the one place a decoded picture becomes the canvas's gray, for the window and ``predict`` alike.

Luma is ITU-R 601; transparent pixels are laid on paper chosen from the ink
(white under dark ink, black under light ink).  The parity of the two real
paths (canvas view and command line, from PNG files) is in
tests/qt/test_canvas_view.py.
"""
import numpy as np
import pytest

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.imaging.gray import to_gray


def ink_on_transparent(ink_rgb, size=16) -> np.ndarray:
    """uint8 RGBA: a filled square of ``ink_rgb`` on fully transparent pixels that are white underneath."""
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = 255  # what many editors store under alpha 0: it must not show
    rgba[4:12, 6:10, :3] = ink_rgb
    rgba[4:12, 6:10, 3] = 255
    return rgba


def test_colour_becomes_601_luma_for_uint8_and_float_alike():
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 120, 40]]], np.uint8)
    expected = np.array([[0.299, 0.587, 0.114, (0.299 * 200 + 0.587 * 120 + 0.114 * 40) / 255]], np.float32)
    gray = to_gray(pixels)
    assert gray.dtype == np.float32 and gray.shape == (1, 4)
    np.testing.assert_allclose(gray, expected, atol=1e-6)
    np.testing.assert_allclose(to_gray(pixels / 255.0), expected, atol=1e-6)


def test_an_opaque_alpha_channel_changes_nothing():
    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((9, 7), 255, np.uint8)])
    np.testing.assert_array_equal(to_gray(rgba), to_gray(rgb))


def test_light_ink_on_transparent_gets_black_paper():
    gray = to_gray(ink_on_transparent((255, 255, 255)))
    assert gray[8, 8] == 1.0 and gray[0, 0] == 0.0 and gray.sum() == 32


def test_dark_ink_on_transparent_gets_white_paper():
    gray = to_gray(ink_on_transparent((0, 0, 0)))
    assert gray[8, 8] == 0.0 and gray[0, 0] == 1.0 and gray.sum() == 16 * 16 - 32


def test_ink_drawn_in_alpha_alone_is_blended_with_the_paper():
    rgba = np.zeros((4, 4, 4), np.uint8)  # black ink whose strength is only in alpha (anti-aliased edges)
    rgba[..., 3] = [[0, 51, 102, 255]] * 4
    np.testing.assert_allclose(to_gray(rgba)[0], [1.0, 0.8, 0.6, 0.0], atol=1e-6)
    rgba[..., :3] = 255  # the same strokes in white lie on black paper
    np.testing.assert_allclose(to_gray(rgba)[0], [0.0, 0.2, 0.4, 1.0], atol=1e-6)


def test_gray_input_passes_through():
    gray = np.random.default_rng(1).random((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(to_gray(gray), gray)
    np.testing.assert_array_equal(to_gray(to_gray(gray)), gray)


def test_a_nan_alpha_is_refused():
    rgba = np.ones((3, 3, 4), np.float32)
    rgba[1, 1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        to_gray(rgba)


def test_a_white_digit_on_transparent_reaches_the_network():
    ink = CanvasModel(112)
    ink.stamp_sample_digit(7)
    rgba = np.zeros((112, 112, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = np.round(ink.image * 255).astype(np.uint8)
    canvas = CanvasModel()
    canvas.load_image(rgba)
    drawn = CanvasModel()
    drawn.load_image(ink.image)
    np.testing.assert_allclose(canvas.network_input(), drawn.network_input(), atol=0.01)
    assert canvas.network_input().sum() > 50


def test_a_fully_transparent_picture_loads_as_an_empty_canvas():
    canvas = CanvasModel()
    canvas.stamp_sample_digit(3)
    canvas.load_image(np.zeros((10, 10, 4), np.uint8))
    assert canvas.is_empty and canvas.can_undo
