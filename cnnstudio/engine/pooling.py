"""Max and average pooling over (N, C, H, W), any window size and stride, no padding.

Max pooling records, for every output cell, the flat index (row * W + col) of
the winning input cell in its plane; the backward pass routes the gradient
there (the first maximum wins a tie, as in PyTorch).
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel
from .checks import array_shape, expect_ndim, expect_shape, float32_array, integer_array, refuse
from .shapes import conv_output_size

POOL_CODES = {"none": 0, "max": 1, "avg": 2}


@kernel
def _maxpool_2x2_image(source, C, H, W, Ho, Wo, pooled, won):
    """The common case, 2x2 windows with stride 2, without branches (so it pipelines and vectorises).

    Same result as the general loop: the first maximum in the order top-left,
    top-right, bottom-left, bottom-right wins a tie.
    """
    for c in range(C):
        for i in range(Ho):
            top = np.uint64(c * H * W + 2 * i * W)  # flat index of the window row pair in source
            out = np.uint64((c * Ho + i) * Wo)
            for j in range(Wo):
                k = top + np.uint64(2 * j)
                a = source[k]
                b = source[k + np.uint64(1)]
                d = source[k + np.uint64(W)]
                e = source[k + np.uint64(W + 1)]
                best = max(max(a, b), max(d, e))
                at = 2 * i * W + 2 * j  # index within the plane
                at = at if a == best else (at + 1 if b == best else (at + W if d == best else at + W + 1))
                pooled[out + np.uint64(j)] = best
                won[out + np.uint64(j)] = at


@kernel
def _pool_image(x, code, size, stride, y, winner):
    """Pool every plane of one image x (C, H, W) into y (C, Ho, Wo); code 1 = max, 2 = average.

    For max pooling, winner (C, Ho, Wo) gets the flat index (row * W + col) of each
    window's maximum in its plane (the first one on ties).
    """
    C, H, W = x.shape
    Ho, Wo = y.shape[1], y.shape[2]
    # NOTE: flat unsigned indices: with signed ones Numba checks every index for wraparound.
    source = x.reshape(-1)
    pooled = y.reshape(-1)
    won = winner.reshape(-1)
    if code == 1 and size == 2 and stride == 2:
        _maxpool_2x2_image(source, C, H, W, Ho, Wo, pooled, won)
        return
    scale = np.float32(1.0 / (size * size))
    for c in range(C):
        plane = np.uint64(c * H * W)
        for i in range(Ho):
            for j in range(Wo):
                out = np.uint64((c * Ho + i) * Wo + j)
                top_left = np.uint64(i * stride * W + j * stride)
                if code == 1:
                    at = top_left
                    best = source[plane + at]
                    for ki in range(size):
                        row = top_left + np.uint64(ki * W)
                        for kj in range(size):
                            v = source[plane + row + np.uint64(kj)]
                            if v > best:
                                best = v
                                at = row + np.uint64(kj)
                    pooled[out] = best
                    won[out] = at
                else:
                    total = np.float32(0.0)
                    for ki in range(size):
                        row = plane + top_left + np.uint64(ki * W)
                        for kj in range(size):
                            total += source[row + np.uint64(kj)]
                    pooled[out] = total * scale


@kernel
def _pool_forward(x, code, size, stride, y, winner):
    """Pool a batch x (N, C, H, W) into y (N, C, Ho, Wo), see _pool_image."""
    for n in range(x.shape[0]):
        _pool_image(x[n], code, size, stride, y[n], winner[n] if code == 1 else winner[0])


@kernel
def _maxpool_backward(grad_y, winner, H, W):
    N, C, Ho, Wo = grad_y.shape
    gx = np.zeros((N, C, H, W), dtype=np.float32)
    for n in range(N):
        for c in range(C):
            flat = gx[n, c].reshape(-1)
            for i in range(Ho):
                for j in range(Wo):
                    flat[winner[n, c, i, j]] += grad_y[n, c, i, j]
    return gx


@kernel
def _avgpool_backward(grad_y, size, stride, H, W):
    N, C, Ho, Wo = grad_y.shape
    gx = np.zeros((N, C, H, W), dtype=np.float32)
    scale = np.float32(1.0 / (size * size))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    g = grad_y[n, c, i, j] * scale
                    for ki in range(size):
                        for kj in range(size):
                            gx[n, c, i * stride + ki, j * stride + kj] += g
    return gx


def pool_output_shape(x_shape, size, stride):
    N, C, H, W = x_shape
    return N, C, conv_output_size(H, size, stride), conv_output_size(W, size, stride)


def _check_window(size, stride, where):
    for name, value in (("size", size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            refuse(where, f"pool {name} = {value!r} must be an integer", "use size 2, stride 2")
    if size < 1 or stride < 1:
        raise ValueError(f"pooling: size {size} and stride {stride} must be at least 1. Fix: use size 2, stride 2.")
    return int(size), int(stride)


def _check_pool(x, size, stride, where):
    expect_ndim(x, 4, "x", where, "(N, C, H, W)", "add a batch axis, e.g. x[None] for one image (C, H, W)")
    size, stride = _check_window(size, stride, where)
    if size > x.shape[2] or size > x.shape[3]:
        raise ValueError(f"pooling: window {size} is larger than the {x.shape[2]}x{x.shape[3]} map. "
                         f"Fix: use a window of at most {min(x.shape[2], x.shape[3])}.")
    return size, stride


def _check_grad(grad_y, x_shape, where):
    expect_ndim(grad_y, 4, "grad_y", where, "(N, C, Ho, Wo)", "pass the gradient of the pooled output")
    x_shape = array_shape(x_shape, "x_shape", where, 4)
    if grad_y.shape[:2] != x_shape[:2]:
        refuse(where, f"grad_y has shape {grad_y.shape} but x_shape is {x_shape}: the batch and channel axes "
                      f"differ", "pass the shape of the forward input x as x_shape")
    return x_shape


def maxpool2d_forward(x, size=2, stride=2):
    """Max pooling, no padding.

    Parameters
    ----------
    x : (N, C, H, W) float32
    size, stride : window side and step, ints >= 1, size <= H and W

    Returns
    -------
    y : (N, C, Ho, Wo) float32, Ho = (H - size) // stride + 1
    winner : (N, C, Ho, Wo) int64, flat index (row * W + col) in each input plane
    """
    x = float32_array(x, "x", "maxpool2d_forward")
    size, stride = _check_pool(x, size, stride, "maxpool2d_forward")
    shape = pool_output_shape(x.shape, size, stride)
    y = np.empty(shape, dtype=np.float32)
    winner = np.empty(shape, dtype=np.int64)
    _pool_forward(x, 1, size, stride, y, winner)
    return y, winner


def maxpool2d_backward(grad_y, winner, x_shape):
    """Route each output gradient to the input cell that won its window.

    grad_y and winner (N, C, Ho, Wo) as from :func:`maxpool2d_forward`, x_shape (N, C, H, W);
    returns gx (N, C, H, W) float32.
    """
    where = "maxpool2d_backward"
    grad_y = float32_array(grad_y, "grad_y", where)
    N, C, H, W = _check_grad(grad_y, x_shape, where)
    winner = integer_array(winner, "winner", where)
    expect_shape(winner, grad_y.shape, "winner", where, "pass the winner array that maxpool2d_forward returned")
    if winner.size and (winner.min() < 0 or winner.max() >= H * W):
        refuse(where, f"winner holds indices {winner.min()}..{winner.max()}, but a {H}x{W} plane has only "
                      f"0..{H * W - 1}", "pass the winner array that maxpool2d_forward returned for this x_shape")
    return _maxpool_backward(grad_y, winner, H, W)


def avgpool2d_forward(x, size=2, stride=2):
    """Average pooling, no padding: (N, C, H, W) -> (N, C, Ho, Wo) float32, Ho = (H - size) // stride + 1."""
    x = float32_array(x, "x", "avgpool2d_forward")
    size, stride = _check_pool(x, size, stride, "avgpool2d_forward")
    shape = pool_output_shape(x.shape, size, stride)
    y = np.empty(shape, dtype=np.float32)
    _pool_forward(x, 2, size, stride, y, np.empty((1, 1, 1, 1), dtype=np.int64))
    return y


def avgpool2d_backward(grad_y, x_shape, size=2, stride=2):
    """Spread each output gradient evenly over its window.

    grad_y (N, C, Ho, Wo) must be the shape :func:`avgpool2d_forward` gives for x_shape, size
    and stride; returns gx (N, C, H, W) float32.
    """
    where = "avgpool2d_backward"
    grad_y = float32_array(grad_y, "grad_y", where)
    x_shape = _check_grad(grad_y, x_shape, where)
    size, stride = _check_window(size, stride, where)
    if size > x_shape[2] or size > x_shape[3]:
        refuse(where, f"window {size} is larger than the {x_shape[2]}x{x_shape[3]} map of x_shape",
               "pass the size and stride of the forward pass")
    expect_shape(grad_y, pool_output_shape(x_shape, size, stride), "grad_y", where,
                 "pass the gradient of avgpool2d_forward's output for this x_shape, size and stride")
    return _avgpool_backward(grad_y, size, stride, x_shape[2], x_shape[3])
