"""Flatten, the dense (fully connected) layer, and softmax with cross-entropy.

Dense weights are (units, inputs): y = x @ weight.T + bias.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel
from .checks import expect_ndim, expect_shape, float32_array, integer_array, refuse


@kernel
def _dense_forward(x, weight, bias):
    N, D = x.shape
    U = weight.shape[0]
    y = np.empty((N, U), dtype=np.float32)
    for n in range(N):
        for u in range(U):
            s = np.float32(0.0)
            for d in range(D):
                s += weight[u, d] * x[n, d]
            y[n, u] = s + bias[u]
    return y


@kernel
def _dense_backward(x, weight, grad_y):
    N, D = x.shape
    U = weight.shape[0]
    gx = np.zeros((N, D), dtype=np.float32)
    gw = np.zeros((U, D), dtype=np.float32)
    gb = np.zeros(U, dtype=np.float32)
    for n in range(N):
        for u in range(U):
            g = grad_y[n, u]
            gb[u] += g
            for d in range(D):
                gx[n, d] += g * weight[u, d]
                gw[u, d] += g * x[n, d]
    return gx, gw, gb


@kernel
def _softmax(logits):
    """Row-wise softmax with the max subtracted first (no overflow)."""
    N, K = logits.shape
    p = np.empty((N, K), dtype=np.float32)
    for n in range(N):
        top = logits[n, 0]
        for k in range(K):
            top = max(top, logits[n, k])
        s = np.float32(0.0)
        for k in range(K):
            p[n, k] = np.exp(logits[n, k] - top)
            s += p[n, k]
        for k in range(K):
            p[n, k] /= s
    return p


@kernel
def _softmax_cross_entropy(logits, labels):
    """Mean cross-entropy via log-sum-exp, and its gradient (softmax - onehot) / N."""
    N, K = logits.shape
    grad = np.empty((N, K), dtype=np.float32)
    loss = 0.0
    for n in range(N):
        top = logits[n, 0]
        for k in range(K):
            top = max(top, logits[n, k])
        s = 0.0
        for k in range(K):
            s += np.exp(np.float64(logits[n, k] - top))
        log_z = top + np.log(s)
        loss += log_z - logits[n, labels[n]]
        for k in range(K):
            grad[n, k] = np.exp(logits[n, k] - log_z) / N
        grad[n, labels[n]] -= np.float32(1.0) / N
    return loss / N, grad


def flatten(x):
    """(N, C, H, W) -> (N, C*H*W) float32, row-major (channel, then row, then column).

    Any x with a batch axis and at least one more is accepted: (N, ...) -> (N, D).
    """
    x = float32_array(x, "x", "flatten")
    if x.ndim < 2:
        refuse("flatten", f"x has shape {x.shape}, expected a batch (N, C, H, W)",
               "add a batch axis, e.g. x[None] for one image")
    return x.reshape(x.shape[0], -1)


def _check_dense(x, weight, where):
    expect_ndim(weight, 2, "weight", where, "(units, inputs)", "pass one row of weights per unit")
    if x.ndim != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"dense: x {x.shape} does not fit weight {weight.shape}. "
                         f"Fix: flatten x to (N, {weight.shape[1]}).")


def dense_forward(x, weight, bias):
    """y = x @ weight.T + bias.

    Parameters
    ----------
    x : (N, D) float32
    weight : (U, D) float32
    bias : (U,) float32

    Returns
    -------
    y : (N, U) float32
    """
    where = "dense_forward"
    x, weight, bias = float32_array(x, "x", where), float32_array(weight, "weight", where), \
        float32_array(bias, "bias", where)
    _check_dense(x, weight, where)
    expect_shape(bias, (weight.shape[0],), "bias", where, f"pass one bias per unit, {weight.shape[0]} values")
    return _dense_forward(x, weight, bias)


def dense_backward(x, weight, grad_y):
    """Gradients of a dense layer.

    Parameters
    ----------
    x : (N, D) float32, the forward input
    weight : (U, D) float32
    grad_y : (N, U) float32

    Returns
    -------
    gx : (N, D), gw : (U, D), gb : (U,), all float32
    """
    where = "dense_backward"
    x, weight, grad_y = float32_array(x, "x", where), float32_array(weight, "weight", where), \
        float32_array(grad_y, "grad_y", where)
    _check_dense(x, weight, where)
    expect_shape(grad_y, (x.shape[0], weight.shape[0]), "grad_y", where,
                 "pass the gradient of the output of dense_forward(x, weight, bias), shape (N, units)")
    return _dense_backward(x, weight, grad_y)


def _check_logits(logits, where, ndims):
    if logits.ndim not in ndims or logits.shape[-1] < 1:
        layouts = " or ".join({1: "(K,)", 2: "(N, K)"}[n] for n in ndims)
        refuse(where, f"logits has shape {logits.shape}, expected {layouts} with at least one class (K >= 1)",
               "pass one row of class scores per image")


def softmax(logits):
    """Softmax over the last axis of (N, K) or (K,) logits; float32, same shape."""
    logits = float32_array(logits, "logits", "softmax")
    _check_logits(logits, "softmax", (1, 2))
    return _softmax(logits.reshape(-1, logits.shape[-1])).reshape(logits.shape)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of (N, K) logits against integer labels (N,) in 0..K-1.

    Returns ``(loss, grad_logits)``; the loss is a Python float (NaN if the logits are),
    ``grad_logits`` (N, K) float32.
    """
    where = "softmax_cross_entropy"
    logits = float32_array(logits, "logits", where)
    _check_logits(logits, where, (2,))
    N, K = logits.shape
    labels = integer_array(labels, "labels", where)
    if labels.shape != (N,) or labels.min(initial=0) < 0 or labels.max(initial=0) >= K:
        seen = f"shape {labels.shape}" + (f", values {labels.min()}..{labels.max()}" if labels.size else "")
        raise ValueError(f"cross-entropy: labels must be {N} integers in 0..{K - 1}, one per row of logits; "
                         f"got {seen}. Fix: pass the class index of each row.")
    if N == 0:
        refuse(where, "logits has no rows (N = 0): the mean loss of an empty batch is undefined",
               "pass at least one row")
    loss, grad = _softmax_cross_entropy(logits, labels)
    return float(loss), grad
