"""The fused conv-stage kernels: convolution, activation and pooling of a batch in one Numba call.

A training batch runs each conv stage over work items of a few images in parallel (``prange``); the
work items depend only on the batch size, so gradient sums keep a fixed order whatever the threads.
Used by ``network.Network``; private to the engine.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel, parallel_kernel, prange
from .activations import _activation_backward_flat, _activation_forward_flat
from .conv import add_in_order, backward_images, chunk_size, forward_images
from .conv_wide import pack_weights
from .dense import _dense_forward
from .pooling import _pool_image


@kernel
def _stage_forward_images(x, weight, packed, bias, stride, pad_top, pad_left, act, alpha, pool, pool_size,
                          pool_stride, first, last, conv, activated, pooled, winner):
    """Images first..last-1 through conv -> activation -> pool, writing every intermediate map.

    The convolution runs on all of them at once (conv.forward_images); packed = pack_weights(weight, False).
    """
    forward_images(x, weight, packed, bias, stride, pad_top, pad_left, first, last, conv)
    for n in range(first, last):
        _activation_forward_flat(conv[n].reshape(-1), act, alpha, activated[n].reshape(-1))
        if pool:
            _pool_image(activated[n], pool, pool_size, pool_stride, pooled[n], winner[n])


@kernel
def _stage_finish_image(conv, bias, act, alpha, pool, pool_size, pool_stride, Hq, Wq):
    """Add the bias to a bias-free convolution (in place), then activation and pooling.

    Returns (activated, pooled, winner); without pooling, pooled is activated.
    """
    C, H, W = conv.shape
    flat = conv.reshape(-1)
    n = H * W
    for c in range(C):
        b = bias[c]
        plane = flat[c * n:(c + 1) * n]
        for p in range(n):  # a loop, not "plane += b", which Numba compiles with a temporary array
            plane[p] += b
    activated = np.empty_like(conv)
    _activation_forward_flat(flat, act, alpha, activated.reshape(-1))
    if pool == 0:
        return activated, activated, np.zeros((C, 0, 0), dtype=np.int64)
    pooled = np.empty((C, Hq, Wq), dtype=np.float32)
    winner = np.zeros((C, Hq, Wq), dtype=np.int64)
    _pool_image(activated, pool, pool_size, pool_stride, pooled, winner)
    return activated, pooled, winner


@kernel
def _dense_layer_image(h, weight, bias, act, alpha):
    """One dense layer and its activation on one flattened vector (D,) -> (units,)."""
    z = _dense_forward(h.reshape(1, -1), weight, bias)
    a = np.empty_like(z)
    _activation_forward_flat(z.reshape(-1), act, alpha, a.reshape(-1))
    return a.reshape(-1)


@kernel
def _stage_forward_serial(x, weight, bias, stride, pad_top, pad_left, act, alpha, pool, pool_size, pool_stride,
                          conv, activated, pooled, winner):
    _stage_forward_images(x, weight, pack_weights(weight, False), bias, stride, pad_top, pad_left, act, alpha, pool,
                          pool_size, pool_stride, 0, x.shape[0], conv, activated, pooled, winner)


@parallel_kernel
def _stage_forward_parallel(x, weight, bias, stride, pad_top, pad_left, act, alpha, pool, pool_size, pool_stride,
                            conv, activated, pooled, winner):
    N = x.shape[0]
    packed = pack_weights(weight, False)
    size = chunk_size(N)
    for chunk in prange((N + size - 1) // size):
        _stage_forward_images(x, weight, packed, bias, stride, pad_top, pad_left, act, alpha, pool, pool_size,
                              pool_stride, chunk * size, min(N, chunk * size + size), conv, activated, pooled, winner)


@kernel
def _stage_backward_image(conv, activated, winner, grad_pooled, act, alpha, pool, pool_size, pool_stride,
                          grad_conv):
    """One image's gradient back through pool -> activation: grad_conv (C, Ho, Wo), written in place."""
    C = conv.shape[0]
    grad_conv[:, :, :] = 0.0
    if pool == 1:
        Hq, Wq = grad_pooled.shape[1], grad_pooled.shape[2]
        for c in range(C):
            flat = grad_conv[c].reshape(-1)
            for i in range(Hq):
                for j in range(Wq):
                    flat[winner[c, i, j]] += grad_pooled[c, i, j]
    elif pool == 2:
        Hq, Wq = grad_pooled.shape[1], grad_pooled.shape[2]
        scale = np.float32(1.0 / (pool_size * pool_size))
        for c in range(C):
            for i in range(Hq):
                for j in range(Wq):
                    g = grad_pooled[c, i, j] * scale
                    for ki in range(pool_size):
                        for kj in range(pool_size):
                            grad_conv[c, i * pool_stride + ki, j * pool_stride + kj] += g
    else:
        grad_conv[:, :, :] = grad_pooled
    flat = grad_conv.reshape(-1)  # the activation's backward in place: each element reads only itself
    _activation_backward_flat(conv.reshape(-1), activated.reshape(-1), flat, act, alpha, flat)


@kernel
def _stage_backward_images(x, weight, packed_flip, stride, pad_top, pad_left, act, alpha, pool, pool_size,
                           pool_stride, conv, activated, winner, grad_pooled, need_gx, first, last, grad_conv, gx, gw,
                           gb):
    """Backward through pool -> activation -> conv for images first..last-1, their gradients summed in order."""
    for n in range(first, last):
        _stage_backward_image(conv[n], activated[n], winner[n], grad_pooled[n], act, alpha, pool, pool_size,
                              pool_stride, grad_conv[n])
    backward_images(x, weight, packed_flip, grad_conv, stride, pad_top, pad_left, need_gx, first, last, gx, gw, gb)


@parallel_kernel
def _stage_backward_parallel(x, weight, stride, pad_top, pad_left, act, alpha, pool, pool_size, pool_stride,
                             conv, activated, winner, grad_pooled, need_gx):
    N = x.shape[0]
    Co, Ci, KH, KW = weight.shape
    gx = np.empty_like(x) if need_gx else np.zeros_like(x)
    packed_flip = pack_weights(weight, True)
    grad_conv = np.empty_like(conv)
    size = chunk_size(N)  # fixed by N, so the sums below never depend on the threads
    chunks = (N + size - 1) // size
    gw_each = np.zeros((chunks, Co, Ci, KH, KW), dtype=np.float32)  # private per work item, summed in order
    gb_each = np.zeros((chunks, Co), dtype=np.float32)
    for chunk in prange(chunks):
        _stage_backward_images(x, weight, packed_flip, stride, pad_top, pad_left, act, alpha, pool, pool_size,
                               pool_stride, conv, activated, winner, grad_pooled, need_gx, chunk * size,
                               min(N, chunk * size + size), grad_conv, gx, gw_each[chunk], gb_each[chunk])
    gw = np.empty_like(weight)
    gb = np.empty(Co, dtype=np.float32)
    add_in_order(gw_each, gw)
    add_in_order(gb_each, gb)
    return gx, gw, gb
