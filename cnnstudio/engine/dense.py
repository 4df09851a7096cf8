"""Flatten, the dense (fully connected) layer, and softmax with cross-entropy.

Dense weights are (units, inputs): y = x @ weight.T + bias.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel


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
    """(N, C, H, W) -> (N, C*H*W), row-major (channel, then row, then column)."""
    return np.ascontiguousarray(x, dtype=np.float32).reshape(x.shape[0], -1)


def dense_forward(x, weight, bias):
    """x (N, D), weight (U, D), bias (U,) -> (N, U) float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"dense: x {x.shape} does not fit weight {weight.shape}. Fix: flatten x to (N, {weight.shape[1]}).")
    return _dense_forward(x, np.ascontiguousarray(weight, dtype=np.float32), np.ascontiguousarray(bias, dtype=np.float32))


def dense_backward(x, weight, grad_y):
    """Gradients (gx (N, D), gw (U, D), gb (U,)) of a dense layer."""
    return _dense_backward(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(weight, dtype=np.float32),
                           np.ascontiguousarray(grad_y, dtype=np.float32))


def softmax(logits):
    """Softmax over the last axis of (N, K) or (K,) logits."""
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    return _softmax(logits.reshape(-1, logits.shape[-1])).reshape(logits.shape)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of (N, K) logits against integer labels (N,).

    Returns ``(loss, grad_logits)``; the loss is a Python float (NaN if the logits are).
    """
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if labels.shape != (logits.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) >= logits.shape[1]:
        raise ValueError(f"cross-entropy: labels must be {logits.shape[0]} integers in 0..{logits.shape[1] - 1}.")
    loss, grad = _softmax_cross_entropy(logits, labels)
    return float(loss), grad
