"""Max and average pooling, forward and backward, against the NumPy twin."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward


@st.composite
def pool_cases(draw):
    """(x, grad_y, size, stride) with a window that fits: size <= H, W."""
    N, C = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    size, stride = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    H, W = draw(st.integers(size, 16)), draw(st.integers(size, 16))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Few distinct levels, so windows often hold ties: the first maximum must win.
    x = rng.integers(-3, 4, (N, C, H, W)).astype(np.float32) if draw(st.booleans()) \
        else rng.standard_normal((N, C, H, W)).astype(np.float32)
    Ho, Wo = ref.pool_output_size(H, size, stride), ref.pool_output_size(W, size, stride)
    return x, rng.uniform(-1, 1, (N, C, Ho, Wo)).astype(np.float32), size, stride


@given(pool_cases())
def test_maxpool_matches_twin(case):
    x, grad_y, size, stride = case
    y, winner = maxpool2d_forward(x, size, stride)
    gx = maxpool2d_backward(grad_y, winner, x.shape)

    want_y, want_winner = ref.maxpool2d_forward(x, size, stride)
    assert y.dtype == gx.dtype == np.float32
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(winner, want_winner)
    ref.assert_close(gx, ref.maxpool2d_backward(grad_y, want_winner, x.shape), rtol=1e-6, atol=1e-6)


@given(pool_cases())
def test_avgpool_matches_twin(case):
    x, grad_y, size, stride = case
    y = avgpool2d_forward(x, size, stride)
    gx = avgpool2d_backward(grad_y, x.shape, size, stride)

    assert y.dtype == gx.dtype == np.float32
    ref.assert_close(y, ref.avgpool2d_forward(x, size, stride),
                     ref.avgpool2d_forward(np.abs(x), size, stride), rtol=1e-5, atol=1e-6)
    ref.assert_close(gx, ref.avgpool2d_backward(grad_y, x.shape, size, stride),
                     ref.avgpool2d_backward(np.abs(grad_y), x.shape, size, stride), rtol=1e-5, atol=1e-6)


def test_first_maximum_wins_a_tie_and_gets_the_gradient():
    x = np.array([[[[1, 5, 5, 0],
                    [5, 2, 0, 0],
                    [7, 7, 3, 9],
                    [7, 7, 9, 9]]]], dtype=np.float32)
    y, winner = maxpool2d_forward(x, size=2, stride=2)
    np.testing.assert_array_equal(y[0, 0], [[5, 5], [7, 9]])
    np.testing.assert_array_equal(winner[0, 0], [[1, 2], [8, 11]])  # flat row * 4 + col of the first maximum

    gx = maxpool2d_backward(np.ones_like(y), winner, x.shape)
    expected = np.zeros((4, 4), dtype=np.float32)
    expected.flat[[1, 2, 8, 11]] = 1
    np.testing.assert_array_equal(gx[0, 0], expected)


def test_overlapping_windows_add_their_gradients():
    """Size 3, stride 1: the centre pixel wins every window and collects every gradient."""
    x = np.zeros((1, 1, 4, 4), dtype=np.float32)
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = 1.0
    x[0, 0, 2, 2] = 2.0
    y, winner = maxpool2d_forward(x, size=3, stride=1)
    gx = maxpool2d_backward(np.ones_like(y), winner, x.shape)
    assert gx[0, 0, 2, 2] == 4.0 and gx.sum() == 4.0

    gx_avg = avgpool2d_backward(np.ones((1, 1, 2, 2), np.float32), x.shape, size=3, stride=1)
    np.testing.assert_allclose(gx_avg[0, 0, 1:3, 1:3], np.full((2, 2), 4 / 9), rtol=1e-6)
    np.testing.assert_allclose(gx_avg[0, 0, 0, 0], 1 / 9, rtol=1e-6)


def test_pool_window_must_fit_the_map():
    with pytest.raises(ValueError, match=r"window 5 is larger than the 4x6 map.*Fix.*at most 4"):
        maxpool2d_forward(np.zeros((1, 1, 4, 6), np.float32), size=5, stride=1)
    with pytest.raises(ValueError, match=r"size 2 and stride 0 must be at least 1.*Fix"):
        avgpool2d_forward(np.zeros((1, 1, 4, 4), np.float32), size=2, stride=0)
