"""conv2d forward and backward against the NumPy twin, over random shapes, strides and paddings."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import conv2d_backward, conv2d_forward, maxpool2d_forward
from cnnstudio.engine.conv import PARALLEL_MIN_BATCH


@dataclass
class ConvCase:
    x: np.ndarray        # (N, Ci, H, W) float32
    weight: np.ndarray   # (Co, Ci, K, K) float32
    bias: np.ndarray     # (Co,) float32
    grad_y: np.ndarray   # (N, Co, Ho, Wo) float32
    stride: int
    padding: int | str


@st.composite
def conv_cases(draw) -> ConvCase:
    """A valid convolution: batch 1..5, channels 1..4, H, W 1..16, K 1..11, S 1..4, P 0..K-1 or "same"."""
    N = draw(st.integers(1, 5))
    Ci, Co = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    K = draw(st.integers(1, 11))
    stride = draw(st.integers(1, 4))
    padding = draw(st.one_of(st.just("same"), st.integers(0, K - 1)))
    # Draw only sizes the kernel fits in (K <= W + 2P): nearly every raw 1..16 draw
    # would be rejected for K = 11, P = 0.
    smallest = 1 if padding == "same" else max(1, K - 2 * padding)
    H, W = draw(st.integers(smallest, 16)), draw(st.integers(smallest, 16))
    Ho, _, _ = ref.conv_padding(H, K, stride, padding)
    Wo, _, _ = ref.conv_padding(W, K, stride, padding)
    assume(Ho >= 1 and Wo >= 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return ConvCase(x=rng.uniform(-1, 1, (N, Ci, H, W)).astype(np.float32),
                    weight=rng.uniform(-1, 1, (Co, Ci, K, K)).astype(np.float32),
                    bias=rng.uniform(-1, 1, Co).astype(np.float32),
                    grad_y=rng.uniform(-1, 1, (N, Co, Ho, Wo)).astype(np.float32),
                    stride=stride, padding=padding)


@given(conv_cases())
def test_forward_matches_twin(case):
    y = conv2d_forward(case.x, case.weight, case.bias, stride=case.stride, padding=case.padding)

    assert y.dtype == np.float32
    expected = ref.conv2d_forward(case.x, case.weight, case.bias, case.stride, case.padding)
    magnitude = ref.conv2d_forward(np.abs(case.x), np.abs(case.weight), np.abs(case.bias), case.stride, case.padding)
    ref.assert_close(y, expected, magnitude)


@given(conv_cases())
def test_backward_matches_twin(case):
    gx, gw, gb = conv2d_backward(case.x, case.weight, case.grad_y, stride=case.stride, padding=case.padding)

    assert gx.dtype == gw.dtype == gb.dtype == np.float32
    expected = ref.conv2d_backward(case.x, case.weight, case.grad_y, case.stride, case.padding)
    magnitude = ref.conv2d_backward(np.abs(case.x), np.abs(case.weight), np.abs(case.grad_y), case.stride,
                                    case.padding)
    for got, want, scale in zip((gx, gw, gb), expected, magnitude):
        ref.assert_close(got, want, scale)


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 2), (2, 1), (3, "same"), (1, "same")])
def test_parallel_batch_equals_images_one_by_one(stride, padding):
    """A batch of >= PARALLEL_MIN_BATCH runs in parallel; one image at a time runs serially."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (PARALLEL_MIN_BATCH + 1, 2, 9, 7)).astype(np.float32)
    weight = rng.uniform(-1, 1, (3, 2, 4, 4)).astype(np.float32)
    bias = rng.uniform(-1, 1, 3).astype(np.float32)

    y = conv2d_forward(x, weight, bias, stride, padding)
    grad_y = rng.uniform(-1, 1, y.shape).astype(np.float32)
    gx, gw, gb = conv2d_backward(x, weight, grad_y, stride, padding)

    singles = [conv2d_backward(x[n:n + 1], weight, grad_y[n:n + 1], stride, padding) for n in range(len(x))]
    np.testing.assert_array_equal(y, np.concatenate([conv2d_forward(x[n:n + 1], weight, bias, stride, padding)
                                                     for n in range(len(x))]))
    np.testing.assert_allclose(gx, np.concatenate([s[0] for s in singles]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gw, sum(s[1] for s in singles), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gb, sum(s[2] for s in singles), rtol=1e-5, atol=1e-5)


def test_public_api_contract():
    """The documented calls, with their default stride 1 and padding 0."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 10, 8)).astype(np.float32)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)

    y = conv2d_forward(x, weight, bias, stride=1, padding=0)
    assert y.shape == (2, 4, 8, 6) and y.dtype == np.float32
    np.testing.assert_array_equal(conv2d_forward(x, weight, bias), y)

    gx, gw, gb = conv2d_backward(x, weight, np.ones_like(y), stride=1, padding=0)
    assert (gx.shape, gw.shape, gb.shape) == (x.shape, weight.shape, bias.shape)
    assert gx.dtype == gw.dtype == gb.dtype == np.float32
    np.testing.assert_allclose(gb, np.full(4, 2 * 8 * 6), rtol=1e-6)  # d(sum y)/d bias = number of outputs

    pooled = maxpool2d_forward(x, size=2, stride=2)
    assert isinstance(pooled, tuple)
    assert pooled[0].shape == (2, 3, 5, 4) and pooled[0].dtype == np.float32


def test_float64_input_is_converted_to_float32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 1, 5, 5))
    weight = rng.standard_normal((1, 1, 3, 3))
    y = conv2d_forward(x, weight, np.zeros(1), stride=2, padding=1)
    assert y.dtype == np.float32
    ref.assert_close(y, ref.conv2d_forward(x, weight, np.zeros(1), 2, 1))


def test_cross_correlation_not_convolution():
    """A kernel with a single 1 at its top-left copies the pixel at the window's top-left (no flip)."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    top_left = np.array([[[[1, 0], [0, 0]]]], dtype=np.float32)
    np.testing.assert_array_equal(conv2d_forward(x, top_left, np.zeros(1)), x[:, :, :3, :3])


def test_hand_computed_padding_and_stride():
    """3x3 box filter, padding 1, stride 2 on a 4x4 image of 0..15 (sums worked out by hand)."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    box = np.ones((1, 1, 3, 3), dtype=np.float32)
    # Windows centred on (0,0), (0,2), (2,0), (2,2) of the image; padding zeros add nothing.
    expected = np.array([[0 + 1 + 4 + 5, 1 + 2 + 3 + 5 + 6 + 7],
                         [4 + 5 + 8 + 9 + 12 + 13, 5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15]], dtype=np.float32)
    np.testing.assert_array_equal(conv2d_forward(x, box, np.array([0.5], np.float32), stride=2, padding=1)[0, 0],
                                  expected + 0.5)


@pytest.mark.parametrize("size, kernel, stride, out, before, after", [
    (5, 3, 1, 5, 1, 1), (5, 2, 1, 5, 0, 1), (6, 3, 2, 3, 0, 1), (7, 3, 2, 4, 1, 1), (8, 1, 4, 2, 0, 0),
    (3, 11, 1, 3, 5, 5), (1, 4, 3, 1, 1, 2)])
def test_same_padding_output_and_split(size, kernel, stride, out, before, after):
    assert ref.conv_padding(size, kernel, stride, "same") == (out, before, after)
    x = np.random.default_rng(4).standard_normal((1, 1, size, size)).astype(np.float32)
    weight = np.random.default_rng(5).standard_normal((1, 1, kernel, kernel)).astype(np.float32)
    y = conv2d_forward(x, weight, np.zeros(1), stride=stride, padding="same")
    assert y.shape == (1, 1, out, out)
    ref.assert_close(y, ref.conv2d_forward(x, weight, np.zeros(1), stride, "same"))


def test_same_padding_puts_the_odd_zero_after():
    """K = 2, "same": one zero column/row after, none before, so the bottom-right tap reads x[i+1, j+1]."""
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    bottom_right = np.array([[[[0, 0], [0, 1]]]], dtype=np.float32)
    expected = np.array([[5, 6, 0], [8, 9, 0], [0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(conv2d_forward(x, bottom_right, np.zeros(1), padding="same")[0, 0], expected)
