"""Stride-1 convolution on "wide rows": the fast path of conv.py and of the network's fused stages.

Layout ("tall"): the G images of a work item are stacked vertically, one flat
row per channel.  Input image g, row i, column j sits at flat
``(pad_top + g * S + i) * R + pad_left + j``, zeros everywhere else, with

- the row stride ``R = W + max(pad_left, pad_right)``: a window running off
  the right edge of a row continues into the left padding of the next, which
  is zero too;
- ``S = H + max(pad_top, pad_bottom)`` rows per image: the zero rows between
  two images are the bottom padding of one and the top padding of the next.

The output is computed on the same strides: output (g, i, j) is flat
``p = (g * S + i) * R + j`` and tap (ki, kj) reads input flat
``p + ki * R + kj``, so every tap is one contiguous, vectorisable loop over all
G images at once (the extra rows and columns are computed and dropped, about
7% more work at 14x14; a loop per image would pay its start-up 4-8 times).

The inner loops keep four output channels and up to nine taps in registers:
each input load feeds 4 fused multiply-adds and each accumulator is loaded
and stored once per nine taps, so the loops run at the FMA units' rate
instead of the load/store ports'.  Weights are packed once per batch into
blocks of four output channels, ``(ceil(Co / 4), Ci, 4, KH * KW)``, zeros past
the last channel.

The input gradient of a stride-1 convolution is itself a stride-1
correlation (of the output gradient, padded by ``K - 1 - pad``, with the
kernel rotated by 180 degrees and the channel axes swapped), so it runs on
the same loops.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def pack_weights(weight, flip):
    """Weights (Co, Ci, KH, KW) in blocks of four output channels: (ceil(Co / 4), Ci, 4, KH * KW).

    With ``flip`` the roles swap for the input gradient: blocks of four input channels over the
    output channels, each kernel rotated by 180 degrees: (ceil(Ci / 4), Co, 4, KH * KW).
    """
    Co, Ci, KH, KW = weight.shape
    A, B = (Ci, Co) if flip else (Co, Ci)
    packed = np.zeros(((A + 3) // 4, B, 4, KH * KW), dtype=np.float32)
    for a in range(A):
        for b in range(B):
            for ki in range(KH):
                for kj in range(KW):
                    if flip:
                        packed[a // 4, b, a % 4, ki * KW + kj] = weight[b, a, KH - 1 - ki, KW - 1 - kj]
                    else:
                        packed[a // 4, b, a % 4, ki * KW + kj] = weight[a, b, ki, kj]
    return packed


@kernel
def run_length(rows, R):
    """How many wide-row outputs the loops compute for ``rows`` rows: rows * R rounded up to 32.

    A multiple of the vector width (and of LLVM's two-vector unrolling), so no loop ends in a
    scalar remainder; the few extra outputs are dropped like the extra columns.
    """
    return (rows * R + 31) // 32 * 32


@kernel
def tall_geometry(H, W, KH, KW, pad_top, pad_left, Ho, Wo):
    """(R, S): row stride of the wide rows and rows per image of the tall layout (see the module docstring)."""
    pad_right = Wo - 1 + KW - W - pad_left
    pad_bottom = Ho - 1 + KH - H - pad_top
    return W + max(pad_left, pad_right), H + max(pad_top, pad_bottom)


@kernel
def pad_tall(x, pad_top, pad_left, R, S, xp):
    """Write images x (G, C, H, W) into xp (C, length) in the tall layout, zeros everywhere else."""
    G, C, H, W = x.shape
    # NOTE: flat unsigned indices and plain loops: Numba's slice assignment is 5x slower here
    target = xp.reshape(-1)
    length = np.uint64(xp.shape[1])
    for p in range(target.size):
        target[p] = 0.0
    for g in range(G):
        source = x[g].reshape(-1)
        for c in range(C):
            for i in range(H):
                to = np.uint64(c) * length + np.uint64((pad_top + g * S + i) * R + pad_left)
                at = np.uint64((c * H + i) * W)
                for j in range(W):
                    target[to + np.uint64(j)] = source[at + np.uint64(j)]


@kernel
def untall(acc, S, R, y):
    """y[g, a, i, j] = acc[a, (g * S + i) * R + j] for y (G, A, Ho, Wo): drop the extra rows and columns.

    """
    G, A, Ho, Wo = y.shape
    source = acc.reshape(-1)
    target = y.reshape(-1)
    length = np.uint64(acc.shape[1])
    # Rows are copied Wo rounded up to 16 at a time (whole vectors, no scalar tail): the values
    # written past a row's end land in the next row, which is copied later and overwrites them.
    # Rows near the end (followed by another work item's images) are copied exactly.
    span = (Wo + 15) // 16 * 16
    for g in range(G):
        for a in range(A):
            for i in range(Ho):
                at = np.uint64(a) * length + np.uint64((g * S + i) * R)
                to = np.uint64(((g * A + a) * Ho + i) * Wo)
                fits = to + np.uint64(span) <= np.uint64(target.size) and at + np.uint64(span) <= np.uint64(source.size)
                count = span if fits else Wo
                for j in range(count):
                    target[to + np.uint64(j)] = source[at + np.uint64(j)]


# NOTE: the loops below index the whole arrays with unsigned flat offsets instead of taking
# slices: a slice costs two reference-count updates (atomic, through a function pointer),
# which added a quarter to these short loops; a signed index would cost a wraparound check
# per element and keep LLVM from vectorising.

@kernel
def _taps9(acc, a0, xp, b, R, L, packed, block):
    """acc[a0 + r, p] += sum over the 3x3 taps t of w[r, t] * xp[b, p + (t // 3) * R + t % 3], for p < L."""
    w = packed
    k = block
    w00, w01, w02, w03, w04, w05, w06, w07, w08 = w[k, b, 0, 0], w[k, b, 0, 1], w[k, b, 0, 2], w[k, b, 0, 3], \
        w[k, b, 0, 4], w[k, b, 0, 5], w[k, b, 0, 6], w[k, b, 0, 7], w[k, b, 0, 8]
    w10, w11, w12, w13, w14, w15, w16, w17, w18 = w[k, b, 1, 0], w[k, b, 1, 1], w[k, b, 1, 2], w[k, b, 1, 3], \
        w[k, b, 1, 4], w[k, b, 1, 5], w[k, b, 1, 6], w[k, b, 1, 7], w[k, b, 1, 8]
    w20, w21, w22, w23, w24, w25, w26, w27, w28 = w[k, b, 2, 0], w[k, b, 2, 1], w[k, b, 2, 2], w[k, b, 2, 3], \
        w[k, b, 2, 4], w[k, b, 2, 5], w[k, b, 2, 6], w[k, b, 2, 7], w[k, b, 2, 8]
    w30, w31, w32, w33, w34, w35, w36, w37, w38 = w[k, b, 3, 0], w[k, b, 3, 1], w[k, b, 3, 2], w[k, b, 3, 3], \
        w[k, b, 3, 4], w[k, b, 3, 5], w[k, b, 3, 6], w[k, b, 3, 7], w[k, b, 3, 8]
    one, two, r1, r2 = np.uint64(1), np.uint64(2), np.uint64(R), np.uint64(2 * R)
    c, o0 = np.uint64(b), np.uint64(a0)
    o1, o2, o3 = o0 + one, o0 + two, o0 + np.uint64(3)
    for p in range(L):
        q = np.uint64(p)
        v0, v1, v2 = xp[c, q], xp[c, q + one], xp[c, q + two]
        v3, v4, v5 = xp[c, q + r1], xp[c, q + r1 + one], xp[c, q + r1 + two]
        v6, v7, v8 = xp[c, q + r2], xp[c, q + r2 + one], xp[c, q + r2 + two]
        # three short chains per channel, not one of nine: the FMAs' latency would bound the loop
        acc[o0, q] += (w00 * v0 + w01 * v1 + w02 * v2) + (w03 * v3 + w04 * v4 + w05 * v5) + \
            (w06 * v6 + w07 * v7 + w08 * v8)
        acc[o1, q] += (w10 * v0 + w11 * v1 + w12 * v2) + (w13 * v3 + w14 * v4 + w15 * v5) + \
            (w16 * v6 + w17 * v7 + w18 * v8)
        acc[o2, q] += (w20 * v0 + w21 * v1 + w22 * v2) + (w23 * v3 + w24 * v4 + w25 * v5) + \
            (w26 * v6 + w27 * v7 + w28 * v8)
        acc[o3, q] += (w30 * v0 + w31 * v1 + w32 * v2) + (w33 * v3 + w34 * v4 + w35 * v5) + \
            (w36 * v6 + w37 * v7 + w38 * v8)


@kernel
def _taps3(acc, a0, xp, b, off, L, packed, block, t):
    """acc[a0 + r, p] += sum_{k < 3} w[r, t + k] * xp[b, p + off + k]: three neighbouring taps of one kernel row."""
    w, k = packed, block
    w00, w01, w02 = w[k, b, 0, t], w[k, b, 0, t + 1], w[k, b, 0, t + 2]
    w10, w11, w12 = w[k, b, 1, t], w[k, b, 1, t + 1], w[k, b, 1, t + 2]
    w20, w21, w22 = w[k, b, 2, t], w[k, b, 2, t + 1], w[k, b, 2, t + 2]
    w30, w31, w32 = w[k, b, 3, t], w[k, b, 3, t + 1], w[k, b, 3, t + 2]
    c, o0, d = np.uint64(b), np.uint64(a0), np.uint64(off)
    o1, o2, o3 = o0 + np.uint64(1), o0 + np.uint64(2), o0 + np.uint64(3)
    for p in range(L):
        q = np.uint64(p) + d
        v0, v1, v2 = xp[c, q], xp[c, q + np.uint64(1)], xp[c, q + np.uint64(2)]
        q = np.uint64(p)
        acc[o0, q] += w00 * v0 + w01 * v1 + w02 * v2
        acc[o1, q] += w10 * v0 + w11 * v1 + w12 * v2
        acc[o2, q] += w20 * v0 + w21 * v1 + w22 * v2
        acc[o3, q] += w30 * v0 + w31 * v1 + w32 * v2


@kernel
def _taps1(acc, a0, xp, b, off, L, packed, block, t):
    """acc[a0 + r, p] += w[r, t] * xp[b, p + off]: one tap."""
    w0, w1, w2, w3 = packed[block, b, 0, t], packed[block, b, 1, t], packed[block, b, 2, t], packed[block, b, 3, t]
    c, o0, d = np.uint64(b), np.uint64(a0), np.uint64(off)
    o1, o2, o3 = o0 + np.uint64(1), o0 + np.uint64(2), o0 + np.uint64(3)
    for p in range(L):
        q = np.uint64(p)
        v = xp[c, q + d]
        acc[o0, q] += w0 * v
        acc[o1, q] += w1 * v
        acc[o2, q] += w2 * v
        acc[o3, q] += w3 * v


@kernel
def conv_wide(xp, packed, bias, A, KH, KW, R, L, acc):
    """acc[a, p] = bias[a] + sum_b,ki,kj packed[a // 4, b, a % 4, ki * KW + kj] * xp[b, p + ki * R + kj], p < L.

    xp (B, >= L + (KH - 1) * R + KW - 1) on wide rows, packed from ``pack_weights``, bias (A,),
    acc (4 * ceil(A / 4), >= L); rows past A get zeros.
    """
    blocks, B = packed.shape[0], packed.shape[1]
    for block in range(blocks):
        a0 = 4 * block
        for r in range(4):
            value = bias[a0 + r] if a0 + r < A else np.float32(0.0)
            for p in range(L):
                acc[a0 + r, p] = value
        for b in range(B):
            if KH == 3 and KW == 3:
                _taps9(acc, a0, xp, b, R, L, packed, block)
                continue
            for ki in range(KH):
                kj = 0
                while kj + 3 <= KW:
                    _taps3(acc, a0, xp, b, ki * R + kj, L, packed, block, ki * KW + kj)
                    kj += 3
                while kj < KW:
                    _taps1(acc, a0, xp, b, ki * R + kj, L, packed, block, ki * KW + kj)
                    kj += 1


@kernel
def _grad3(gyw, a0, xp, b, off, L):
    """The twelve sums gyw[a0 + r] . xp[b, off + k:off + k + L] for r < 4, k < 3 (weight gradients of three taps)."""
    c, o0, d = np.uint64(b), np.uint64(a0), np.uint64(off)
    o1, o2, o3 = o0 + np.uint64(1), o0 + np.uint64(2), o0 + np.uint64(3)
    t00 = t01 = t02 = t10 = t11 = t12 = t20 = t21 = t22 = t30 = t31 = t32 = np.float32(0.0)
    for p in range(L):
        q = np.uint64(p)
        v0, v1, v2 = xp[c, q + d], xp[c, q + d + np.uint64(1)], xp[c, q + d + np.uint64(2)]
        g0, g1, g2, g3 = gyw[o0, q], gyw[o1, q], gyw[o2, q], gyw[o3, q]
        t00 += g0 * v0
        t01 += g0 * v1
        t02 += g0 * v2
        t10 += g1 * v0
        t11 += g1 * v1
        t12 += g1 * v2
        t20 += g2 * v0
        t21 += g2 * v1
        t22 += g2 * v2
        t30 += g3 * v0
        t31 += g3 * v1
        t32 += g3 * v2
    return t00, t01, t02, t10, t11, t12, t20, t21, t22, t30, t31, t32


@kernel
def _grad1(gyw, a0, xp, b, off, L):
    """The four sums gyw[a0 + r] . xp[b, off:off + L] (weight gradients of one tap)."""
    c, o0, d = np.uint64(b), np.uint64(a0), np.uint64(off)
    o1, o2, o3 = o0 + np.uint64(1), o0 + np.uint64(2), o0 + np.uint64(3)
    t0 = t1 = t2 = t3 = np.float32(0.0)
    for p in range(L):
        q = np.uint64(p)
        v = xp[c, q + d]
        t0 += gyw[o0, q] * v
        t1 += gyw[o1, q] * v
        t2 += gyw[o2, q] * v
        t3 += gyw[o3, q] * v
    return t0, t1, t2, t3


@kernel
def weight_grad_wide(xp, gyw, Co, KH, KW, R, L, gw):
    """gw[co, ci, ki, kj] += sum_p gyw[co, p] * xp[ci, p + ki * R + kj] for p < L.

    gyw (4 * ceil(Co / 4), >= L) is the output gradient on the same wide rows as xp, zero in
    the extra columns and in the rows past Co.
    """
    Ci = xp.shape[0]
    for a0 in range(0, Co, 4):
        block = min(4, Co - a0)
        for ci in range(Ci):
            for ki in range(KH):
                kj = 0
                while kj + 3 <= KW:
                    sums = _grad3(gyw, a0, xp, ci, ki * R + kj, L)
                    for b in range(block):
                        for k in range(3):
                            gw[a0 + b, ci, ki, kj + k] += sums[3 * b + k]
                    kj += 3
                while kj < KW:
                    sums1 = _grad1(gyw, a0, xp, ci, ki * R + kj, L)
                    for b in range(block):
                        gw[a0 + b, ci, ki, kj] += sums1[b]
                    kj += 1


@kernel
def tall_scratch(G, Ci, H, W, Co, KH, KW, pad_top, pad_left, Ho, Wo, need_grad):
    """Work arrays of one thread for ``forward_tall`` / ``backward_tall`` on up to G images.

    Returns (xp, acc, gyw, gyp, accx); the last three are empty unless ``need_grad``.
    """
    R, S = tall_geometry(H, W, KH, KW, pad_top, pad_left, Ho, Wo)
    L = run_length((G - 1) * S + Ho, R)
    xp = np.empty((Ci, L + (KH - 1) * R + KW), dtype=np.float32)
    acc = np.empty((4 * ((Co + 3) // 4), L + 16), dtype=np.float32)  # 16 more for untall
    if not need_grad:
        empty = np.empty((0, 0), dtype=np.float32)
        return xp, acc, empty, empty, empty
    R2, S2 = tall_geometry(Ho, Wo, KH, KW, KH - 1 - pad_top, KW - 1 - pad_left, H, W)
    L2 = run_length((G - 1) * S2 + H, R2)
    gyw = np.empty((4 * ((Co + 3) // 4), L), dtype=np.float32)
    gyp = np.empty((Co, L2 + (KH - 1) * R2 + KW), dtype=np.float32)
    accx = np.empty((4 * ((Ci + 3) // 4), L2 + 16), dtype=np.float32)
    return xp, acc, gyw, gyp, accx


@kernel
def forward_tall(x, packed, bias, KH, KW, pad_top, pad_left, xp, acc, y):
    """y (G, Co, Ho, Wo) = stride-1 correlation of images x (G, Ci, H, W) plus bias; xp, acc from ``tall_scratch``."""
    G, _, H, W = x.shape
    Co, Ho, Wo = y.shape[1], y.shape[2], y.shape[3]
    R, S = tall_geometry(H, W, KH, KW, pad_top, pad_left, Ho, Wo)
    pad_tall(x, pad_top, pad_left, R, S, xp)
    conv_wide(xp, packed, bias, Co, KH, KW, R, run_length((G - 1) * S + Ho, R), acc)
    untall(acc, S, R, y)


@kernel
def backward_tall(x, packed_flip, grad_y, KH, KW, pad_top, pad_left, need_gx, xp, gyw, gyp, accx, gx, gw, gb):
    """Add the weight and bias gradients of images x (G, Ci, H, W) to gw, gb; if need_gx, write gx (G, Ci, H, W).

    grad_y (G, Co, Ho, Wo), packed_flip = ``pack_weights(weight, True)``; work arrays from
    ``tall_scratch``.  The images are summed in one loop, in a fixed order.
    """
    G, Ci, H, W = x.shape
    Co, Ho, Wo = grad_y.shape[1], grad_y.shape[2], grad_y.shape[3]
    R, S = tall_geometry(H, W, KH, KW, pad_top, pad_left, Ho, Wo)
    L = run_length((G - 1) * S + Ho, R)
    pad_tall(x, pad_top, pad_left, R, S, xp)
    # grad_y on the same tall layout, zero in the extra rows, columns and channels
    target = gyw.reshape(-1)
    for p in range(target.size):
        target[p] = 0.0
    length = np.uint64(gyw.shape[1])
    for g in range(G):
        for co in range(Co):
            total = np.float32(0.0)
            for i in range(Ho):
                to = np.uint64(co) * length + np.uint64((g * S + i) * R)
                for j in range(Wo):
                    v = grad_y[g, co, i, j]
                    target[to + np.uint64(j)] = v
                    total += v
            gb[co] += total
    weight_grad_wide(xp, gyw, Co, KH, KW, R, L, gw)
    if not need_gx:
        return
    # the input gradient: grad_y padded by K - 1 - pad, correlated with the rotated kernels
    pad_top2, pad_left2 = KH - 1 - pad_top, KW - 1 - pad_left
    R2, S2 = tall_geometry(Ho, Wo, KH, KW, pad_top2, pad_left2, H, W)
    pad_tall(grad_y, pad_top2, pad_left2, R2, S2, gyp)
    conv_wide(gyp, packed_flip, np.zeros(Ci, dtype=np.float32), Ci, KH, KW, R2, run_length((G - 1) * S2 + H, R2),
              accx)
    untall(accx, S2, R2, gx)
