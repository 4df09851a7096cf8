"""2-D convolution (cross-correlation, as PyTorch's ``conv2d``), forward and backward.

Layout: batches ``(N, C, H, W)``, weights ``(Co, Ci, KH, KW)``, float32, row-major.

Stride 1 (every conv of the default network) runs on conv_wide.py's "tall wide rows":
a batch is cut into work items of a few images (``chunk_size``), each convolved in
one set of long vectorised loops, in parallel over the items.  Other strides use a
direct loop per image.  Weight gradients are summed per work item and then over
the items, both in a fixed order, so results never depend on the thread count.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel, parallel_kernel, prange
from .checks import array_shape, expect_ndim, expect_shape, float32_array, refuse, whole_number
from .conv_wide import backward_tall, forward_tall, pack_weights, tall_scratch
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
def chunk_size(N):
    """Images per work item of a batch of N.

    Fixed by N alone, not by the thread count: each work item sums its images' weight
    gradients in order and the items are summed in order, so every bit of a gradient is the
    same whatever the threads and their scheduling.
    """
    return min(8, max(1, (N + 3) // 4))


@kernel
def add_in_order(parts, total):
    """total (flat) = parts[0] + parts[1] + ..., in that order (a loop: ``a += b`` on slices allocates)."""
    flat = total.reshape(-1)
    flat[:] = 0.0
    n = flat.size
    for k in range(parts.shape[0]):
        part = parts[k].reshape(-1)
        for p in range(n):
            flat[p] += part[p]


@kernel
def forward_images(x, weight, packed, bias, stride, pad_top, pad_left, first, last, y):
    """y[n] for n in first..last-1: the tall stride-1 loops (``packed`` = pack_weights(weight, False)) or the direct loop."""
    Ci, H, W = x.shape[1], x.shape[2], x.shape[3]
    Co, _, KH, KW = weight.shape
    Ho, Wo = y.shape[2], y.shape[3]
    if stride == 1:
        xp, acc, _, _, _ = tall_scratch(last - first, Ci, H, W, Co, KH, KW, pad_top, pad_left, Ho, Wo, False)
        forward_tall(x[first:last], packed, bias, KH, KW, pad_top, pad_left, xp, acc, y[first:last])
    else:
        for n in range(first, last):
            _conv_forward_image(x[n], weight, bias, stride, pad_top, pad_left, Ho, Wo, y[n])


@kernel
def backward_images(x, weight, packed_flip, grad_y, stride, pad_top, pad_left, need_gx, first, last, gx, gw, gb):
    """Add the weight and bias gradients of images first..last-1 to gw, gb (in order); gx[n] if need_gx."""
    Ci, H, W = x.shape[1], x.shape[2], x.shape[3]
    Co, _, KH, KW = weight.shape
    Ho, Wo = grad_y.shape[2], grad_y.shape[3]
    if stride == 1:
        xp, _, gyw, gyp, accx = tall_scratch(last - first, Ci, H, W, Co, KH, KW, pad_top, pad_left, Ho, Wo, True)
        backward_tall(x[first:last], packed_flip, grad_y[first:last], KH, KW, pad_top, pad_left, need_gx, xp, gyw,
                      gyp, accx, gx[first:last], gw, gb)
    else:
        for n in range(first, last):
            _conv_backward_image(x[n], weight, grad_y[n], stride, pad_top, pad_left, need_gx, gx[n], gw, gb)


@kernel
def _conv_forward_serial(x, weight, bias, stride, pad_top, pad_left, Ho, Wo):
    y = np.empty((x.shape[0], weight.shape[0], Ho, Wo), dtype=np.float32)
    forward_images(x, weight, pack_weights(weight, False), bias, stride, pad_top, pad_left, 0, x.shape[0], y)
    return y


@parallel_kernel
def _conv_forward_parallel(x, weight, bias, stride, pad_top, pad_left, Ho, Wo):
    N = x.shape[0]
    y = np.empty((N, weight.shape[0], Ho, Wo), dtype=np.float32)
    packed = pack_weights(weight, False)
    size = chunk_size(N)
    for chunk in prange((N + size - 1) // size):
        forward_images(x, weight, packed, bias, stride, pad_top, pad_left, chunk * size, min(N, chunk * size + size),
                       y)
    return y


@kernel
def _conv_backward_serial(x, weight, grad_y, stride, pad_top, pad_left):
    gx = np.empty_like(x)
    gw = np.zeros_like(weight)
    gb = np.zeros(weight.shape[0], dtype=np.float32)
    backward_images(x, weight, pack_weights(weight, True), grad_y, stride, pad_top, pad_left, True, 0, x.shape[0],
                    gx, gw, gb)
    return gx, gw, gb


@parallel_kernel
def _conv_backward_parallel(x, weight, grad_y, stride, pad_top, pad_left):
    N = x.shape[0]
    Co, Ci, KH, KW = weight.shape
    gx = np.empty_like(x)
    packed_flip = pack_weights(weight, True)
    size = chunk_size(N)
    chunks = (N + size - 1) // size
    gw_each = np.zeros((chunks, Co, Ci, KH, KW), dtype=np.float32)  # private per work item, summed in order
    gb_each = np.zeros((chunks, Co), dtype=np.float32)
    for chunk in prange(chunks):
        backward_images(x, weight, packed_flip, grad_y, stride, pad_top, pad_left, True, chunk * size,
                        min(N, chunk * size + size), gx, gw_each[chunk], gb_each[chunk])
    gw = np.empty_like(weight)
    gb = np.empty(Co, dtype=np.float32)
    add_in_order(gw_each, gw)
    add_in_order(gb_each, gb)
    return gx, gw, gb


@kernel
def _all_finite(values):
    """Whether no value is NaN or infinite; a vectorised count, faster than np.isfinite(x).all()."""
    largest = np.float32(np.finfo(np.float32).max)
    bad = 0
    for p in range(values.size):
        bad += 0 if abs(values[p]) <= largest else 1  # NaN fails every comparison
    return bad == 0


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
    if not _all_finite(x.reshape(-1)):
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
