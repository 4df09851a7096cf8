"""2-D convolution (cross-correlation, as PyTorch's ``conv2d``), forward and backward.

Layout: batches ``(N, C, H, W)``, weights ``(Co, Ci, KH, KW)``, float32, row-major.

For stride 1 the kernels use a "wide row" trick: the zero-padded input of one
channel is kept as one flat row of width ``Wp``, and the output is computed on
that same width, so the innermost loop runs contiguously over ``Ho * Wp``
values (long, vectorisable rows) instead of ``Wo`` (7 or 14 at MNIST sizes).
The last ``Wp - Wo`` columns of each wide output row are discarded.  Other
strides use a direct loop.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel, parallel_kernel, prange
from .checks import array_shape, expect_ndim, expect_shape, float32_array, refuse, whole_number
from .shapes import resolve_padding


@kernel
def _pad_image(x, pad_top, pad_left, Hp, Wp, extra):
    """Zero-padded copy of one image (C, H, W) as flat rows (C, Hp * Wp + extra).

    Input cells that fall outside the region the window reaches are dropped.
    """
    C, H, W = x.shape
    xp = np.zeros((C, Hp * Wp + extra), dtype=np.float32)
    for c in range(C):
        for i in range(H):
            pi = i + pad_top
            if pi < 0 or pi >= Hp:
                continue
            for j in range(W):
                pj = j + pad_left
                if 0 <= pj < Wp:
                    xp[c, pi * Wp + pj] = x[c, i, j]
    return xp


@kernel
def _conv_forward_image(x, weight, bias, stride, pad_top, pad_left, Ho, Wo, y):
    """y[co] = bias[co] + sum_ci,ki,kj weight[co,ci,ki,kj] * xpad[ci, i*S+ki, j*S+kj] for one image."""
    Co, Ci, KH, KW = weight.shape
    Hp = (Ho - 1) * stride + KH
    Wp = (Wo - 1) * stride + KW
    xp = _pad_image(x, pad_top, pad_left, Hp, Wp, KW)
    if stride == 1:
        # Four output channels at a time share each load of the shifted input row.
        L = Ho * Wp
        acc = np.empty((4, L), dtype=np.float32)
        for c0 in range(0, Co, 4):
            block = min(4, Co - c0)
            for b in range(4):
                acc[b, :] = bias[c0 + b] if b < block else np.float32(0.0)
            acc0, acc1, acc2, acc3 = acc[0], acc[1], acc[2], acc[3]
            for ci in range(Ci):
                for ki in range(KH):
                    for kj in range(KW):
                        w0 = weight[c0, ci, ki, kj]
                        w1 = weight[c0 + 1, ci, ki, kj] if block > 1 else np.float32(0.0)
                        w2 = weight[c0 + 2, ci, ki, kj] if block > 2 else np.float32(0.0)
                        w3 = weight[c0 + 3, ci, ki, kj] if block > 3 else np.float32(0.0)
                        off = ki * Wp + kj
                        # a slice, not xp[ci, off + p]: a possibly negative index would make Numba
                        # emit a wraparound check per element and LLVM would not vectorise the loop
                        x_shifted = xp[ci, off:off + L]
                        for p in range(L):
                            v = x_shifted[p]
                            acc0[p] += w0 * v
                            acc1[p] += w1 * v
                            acc2[p] += w2 * v
                            acc3[p] += w3 * v
            for b in range(block):
                for i in range(Ho):
                    for j in range(Wo):
                        y[c0 + b, i, j] = acc[b, i * Wp + j]
    else:
        for co in range(Co):
            y[co, :, :] = bias[co]
            for ci in range(Ci):
                for ki in range(KH):
                    for kj in range(KW):
                        w = weight[co, ci, ki, kj]
                        for i in range(Ho):
                            row = (i * stride + ki) * Wp + kj
                            for j in range(Wo):
                                y[co, i, j] += w * xp[ci, row + j * stride]


@kernel
def _conv_forward_serial(x, weight, bias, stride, pad_top, pad_left, Ho, Wo):
    y = np.empty((x.shape[0], weight.shape[0], Ho, Wo), dtype=np.float32)
    for n in range(x.shape[0]):
        _conv_forward_image(x[n], weight, bias, stride, pad_top, pad_left, Ho, Wo, y[n])
    return y


@parallel_kernel
def _conv_forward_parallel(x, weight, bias, stride, pad_top, pad_left, Ho, Wo):
    y = np.empty((x.shape[0], weight.shape[0], Ho, Wo), dtype=np.float32)
    for n in prange(x.shape[0]):
        _conv_forward_image(x[n], weight, bias, stride, pad_top, pad_left, Ho, Wo, y[n])
    return y


@kernel
def _conv_backward_image(x, weight, grad_y, stride, pad_top, pad_left, need_gx, gx, gw, gb):
    """Accumulate one image's weight and bias gradients into gw, gb; if need_gx, write its input gradient gx."""
    Co, Ci, KH, KW = weight.shape
    _, Ho, Wo = grad_y.shape
    C, H, W = x.shape
    Hp = (Ho - 1) * stride + KH
    Wp = (Wo - 1) * stride + KW
    xp = _pad_image(x, pad_top, pad_left, Hp, Wp, KW)
    gxp = np.zeros_like(xp)
    if stride == 1:
        # Four output channels at a time, as in _conv_forward_image: each shifted input row is
        # loaded once for four weight gradients, and the input gradient row is updated once
        # with four terms.
        L = Ho * Wp
        gy = np.zeros((4, L), dtype=np.float32)  # grad_y on the wide rows, zero in the discarded columns
        for c0 in range(0, Co, 4):
            block = min(4, Co - c0)
            gy[:, :] = 0.0
            for b in range(block):
                total = np.float32(0.0)
                for i in range(Ho):
                    for j in range(Wo):
                        gy[b, i * Wp + j] = grad_y[c0 + b, i, j]
                        total += grad_y[c0 + b, i, j]
                gb[c0 + b] += total
            gy0, gy1, gy2, gy3 = gy[0], gy[1], gy[2], gy[3]
            for ci in range(Ci):
                for ki in range(KH):
                    for kj in range(KW):
                        off = ki * Wp + kj
                        x_shifted = xp[ci, off:off + L]  # slices vectorise, see _conv_forward_image
                        s0 = s1 = s2 = s3 = np.float32(0.0)
                        for p in range(L):
                            v = x_shifted[p]
                            s0 += gy0[p] * v
                            s1 += gy1[p] * v
                            s2 += gy2[p] * v
                            s3 += gy3[p] * v
                        gw[c0, ci, ki, kj] += s0
                        if block > 1:
                            gw[c0 + 1, ci, ki, kj] += s1
                        if block > 2:
                            gw[c0 + 2, ci, ki, kj] += s2
                        if block > 3:
                            gw[c0 + 3, ci, ki, kj] += s3
                        if need_gx:
                            w0 = weight[c0, ci, ki, kj]
                            w1 = weight[c0 + 1, ci, ki, kj] if block > 1 else np.float32(0.0)
                            w2 = weight[c0 + 2, ci, ki, kj] if block > 2 else np.float32(0.0)
                            w3 = weight[c0 + 3, ci, ki, kj] if block > 3 else np.float32(0.0)
                            gx_shifted = gxp[ci, off:off + L]
                            for p in range(L):
                                gx_shifted[p] += w0 * gy0[p] + w1 * gy1[p] + w2 * gy2[p] + w3 * gy3[p]
    else:
        for co in range(Co):
            total = np.float32(0.0)
            for i in range(Ho):
                for j in range(Wo):
                    total += grad_y[co, i, j]
            gb[co] += total
            for ci in range(Ci):
                for ki in range(KH):
                    for kj in range(KW):
                        w = weight[co, ci, ki, kj]
                        s = np.float32(0.0)
                        for i in range(Ho):
                            row = (i * stride + ki) * Wp + kj
                            for j in range(Wo):
                                g = grad_y[co, i, j]
                                s += g * xp[ci, row + j * stride]
                                if need_gx:
                                    gxp[ci, row + j * stride] += w * g
                        gw[co, ci, ki, kj] += s
    if not need_gx:
        return
    for c in range(C):
        for i in range(H):
            pi = i + pad_top
            for j in range(W):
                pj = j + pad_left
                if 0 <= pi < Hp and 0 <= pj < Wp:
                    gx[c, i, j] = gxp[c, pi * Wp + pj]
                else:
                    gx[c, i, j] = 0.0


@kernel
def _conv_backward_serial(x, weight, grad_y, stride, pad_top, pad_left):
    gx = np.empty_like(x)
    gw = np.zeros_like(weight)
    gb = np.zeros(weight.shape[0], dtype=np.float32)
    for n in range(x.shape[0]):
        _conv_backward_image(x[n], weight, grad_y[n], stride, pad_top, pad_left, True, gx[n], gw, gb)
    return gx, gw, gb


@parallel_kernel
def _conv_backward_parallel(x, weight, grad_y, stride, pad_top, pad_left):
    N = x.shape[0]
    Co, Ci, KH, KW = weight.shape
    gx = np.empty_like(x)
    gw_each = np.zeros((N, Co, Ci, KH, KW), dtype=np.float32)  # one private buffer per image, summed once
    gb_each = np.zeros((N, Co), dtype=np.float32)
    for n in prange(N):
        _conv_backward_image(x[n], weight, grad_y[n], stride, pad_top, pad_left, True, gx[n], gw_each[n],
                             gb_each[n])
    gw = np.zeros_like(weight)
    gb = np.zeros(Co, dtype=np.float32)
    for n in range(N):
        gw += gw_each[n]
        gb += gb_each[n]
    return gx, gw, gb


# Below this batch size a parallel loop costs more in thread wake-ups than it saves.
PARALLEL_MIN_BATCH = 4


def conv_geometry(x_shape, weight_shape, stride, padding):
    """(Ho, Wo, pad_top, pad_left) of a convolution.

    Parameters
    ----------
    x_shape : (N, Ci, H, W)
    weight_shape : (Co, Ci, KH, KW)
    stride : int >= 1
    padding : int in 0..K-1 or ``"same"``
    """
    _, _, H, W = array_shape(x_shape, "x_shape", "conv_geometry", 4)
    _, _, KH, KW = array_shape(weight_shape, "weight_shape", "conv_geometry", 4)
    return _geometry(H, W, KH, KW, stride, padding)


def _geometry(H, W, KH, KW, stride, padding):
    stride = whole_number(stride, "stride S", "conv2d", fix="use stride 1 to 4")
    if padding != "same":
        K = max(KH, KW)
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0 or padding >= K:
            raise ValueError(f"conv2d: padding P = {padding!r} must be an integer with 0 <= P < K = {K}, or 'same'. "
                             f"Fix: use a padding between 0 and {K - 1}.")
    Ho, pad_h = resolve_padding(H, KH, stride, padding)
    Wo, pad_w = resolve_padding(W, KW, stride, padding)
    return Ho, Wo, pad_h.before, pad_w.before


def _check_args(x, weight, stride, padding, where):
    expect_ndim(x, 4, "x", where, "(N, Ci, H, W)", "add a batch axis, e.g. x[None] for one image (Ci, H, W)")
    expect_ndim(weight, 4, "weight", where, "(Co, Ci, K, K)", "pass one (Ci, K, K) kernel per filter, stacked")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: x has {x.shape[1]} channels but the weight expects {weight.shape[1]}. "
                         f"Fix: make weight.shape[1] equal the number of input channels.")
    if min(weight.shape[2:]) < 1:
        refuse(where, f"weight has shape {weight.shape}, an empty kernel", "use kernels of at least 1x1")
    Ho, Wo, pad_top, pad_left = _geometry(x.shape[2], x.shape[3], weight.shape[2], weight.shape[3], stride, padding)
    if Ho < 1 or Wo < 1:
        raise ValueError(f"conv2d: kernel {weight.shape[2]}x{weight.shape[3]} is larger than the padded input "
                         f"{x.shape[2]}x{x.shape[3]} (padding {padding}). Fix: use a smaller kernel or more padding.")
    return Ho, Wo, pad_top, pad_left


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """Cross-correlate a batch with a bank of kernels.

    Parameters
    ----------
    x : (N, Ci, H, W) float32
    weight : (Co, Ci, K, K) float32
    bias : (Co,) float32
    stride : int >= 1
    padding : int in 0..K-1 (zeros on every side) or ``"same"`` (output = ceil(W / S))

    Returns
    -------
    y : (N, Co, Ho, Wo) float32, Ho = (H - K + 2P) // S + 1
    """
    where = "conv2d_forward"
    x, weight, bias = float32_array(x, "x", where), float32_array(weight, "weight", where), \
        float32_array(bias, "bias", where)
    Ho, Wo, pad_top, pad_left = _check_args(x, weight, stride, padding, where)
    expect_shape(bias, (weight.shape[0],), "bias", where, f"pass one bias per filter, {weight.shape[0]} values")
    if not np.isfinite(x).all():
        raise ValueError("conv2d: the input contains NaN or infinite values. Fix: pass finite pixel values.")
    run = _conv_forward_parallel if x.shape[0] >= PARALLEL_MIN_BATCH else _conv_forward_serial
    return run(x, weight, bias, int(stride), pad_top, pad_left, Ho, Wo)


def conv2d_backward(x, weight, grad_y, stride=1, padding=0):
    """Gradients of a convolution.

    Parameters
    ----------
    x : (N, Ci, H, W) float32, the forward input
    weight : (Co, Ci, K, K) float32
    grad_y : (N, Co, Ho, Wo) float32, gradient of the loss with respect to the output

    Returns
    -------
    gx : (N, Ci, H, W), gw : (Co, Ci, K, K), gb : (Co,), all float32
    """
    where = "conv2d_backward"
    x, weight, grad_y = float32_array(x, "x", where), float32_array(weight, "weight", where), \
        float32_array(grad_y, "grad_y", where)
    Ho, Wo, pad_top, pad_left = _check_args(x, weight, stride, padding, where)
    if grad_y.shape != (x.shape[0], weight.shape[0], Ho, Wo):
        raise ValueError(f"conv2d_backward: grad_y has shape {grad_y.shape}, expected "
                         f"{(x.shape[0], weight.shape[0], Ho, Wo)}. Fix: pass the gradient of the output of "
                         f"conv2d_forward with these same x, weight, stride and padding.")
    run = _conv_backward_parallel if x.shape[0] >= PARALLEL_MIN_BATCH else _conv_backward_serial
    return run(x, weight, grad_y, int(stride), pad_top, pad_left)


@kernel
def _im2col_image(x, KH, KW, stride, pad_top, pad_left, Ho, Wo):
    """Patches of one image (C, H, W) as columns: (C*KH*KW, Ho*Wo), zeros where the window is on padding.

    weight.reshape(Co, -1) @ columns is then the convolution without bias (a small GEMM
    that NumPy's BLAS runs faster than any loop we could write for one image).
    """
    C, H, W = x.shape
    columns = np.zeros((C * KH * KW, Ho * Wo), dtype=np.float32)
    # NOTE: flat unsigned indices: with signed ones Numba checks every index for wraparound,
    # which triples the time of this copy.
    source = x.reshape(-1)
    target = columns.reshape(-1)
    for kj in range(KW):
        # output columns j whose input column j*S + kj - pad_left lies inside the image
        j_lo = max(0, (pad_left - kj + stride - 1) // stride)
        j_hi = min(Wo, (W - 1 + pad_left - kj) // stride + 1)
        for c in range(C):
            for ki in range(KH):
                t = (c * KH + ki) * KW + kj
                for i in range(Ho):
                    r = i * stride + ki - pad_top
                    if r < 0 or r >= H:
                        continue
                    to = np.uint64(t * Ho * Wo + i * Wo + j_lo)
                    at = np.uint64((c * H + r) * W + j_lo * stride + kj - pad_left)
                    for j in range(j_hi - j_lo):
                        target[to + np.uint64(j)] = source[at + np.uint64(j * stride)]
    return columns
