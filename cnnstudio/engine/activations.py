"""Activations, forward and backward: ReLU, leaky ReLU, tanh, sigmoid (and identity).

Kernels work on flat float32 arrays; the public functions accept any shape.
Activation codes are small ints so fused kernels can take them as arguments.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel
from .checks import expect_shape, float32_array, refuse

ACTIVATION_CODES = {"none": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sigmoid": 4}
LEAKY_SLOPE = 0.01


@kernel
def _activation_forward_flat(x, code, alpha, y):
    # One loop per kind (not one branch per element) so LLVM can vectorise each.
    # NOTE: written as "not (x <= 0)" so NaN passes through, as np.maximum does: a diverging
    # run must show up in the loss, not vanish behind the ReLU.
    if code == 1:  # np.maximum(x, 0)
        for p in range(x.size):
            y[p] = x[p] if not x[p] <= 0 else np.float32(0.0)
    elif code == 2:  # np.where(x > 0, x, alpha * x), NaN kept
        for p in range(x.size):
            y[p] = x[p] if not x[p] <= 0 else alpha * x[p]
    elif code == 3:
        for p in range(x.size):
            y[p] = np.tanh(x[p])
    elif code == 4:  # 1 / (1 + exp(-x)), written so exp never overflows
        for p in range(x.size):
            v = x[p]
            if v >= 0:
                y[p] = np.float32(1.0) / (np.float32(1.0) + np.exp(-v))
            else:
                e = np.exp(v)
                y[p] = e / (np.float32(1.0) + e)
    else:
        for p in range(x.size):
            y[p] = x[p]


@kernel
def _activation_backward_flat(x, y, grad_y, code, alpha, gx):
    for p in range(x.size):
        g = grad_y[p]
        if code == 1:
            gx[p] = g if x[p] > 0 else np.float32(0.0)
        elif code == 2:
            gx[p] = g if x[p] > 0 else alpha * g
        elif code == 3:
            gx[p] = g * (np.float32(1.0) - y[p] * y[p])
        elif code == 4:
            gx[p] = g * y[p] * (np.float32(1.0) - y[p])
        else:
            gx[p] = g


def activation_code(kind: str, where: str = "activation") -> int:
    try:
        return ACTIVATION_CODES[kind]
    except (KeyError, TypeError):
        refuse(where, f"kind: unknown activation {kind!r}", f"choose one of {', '.join(ACTIVATION_CODES)}")


def _slope(alpha, where: str) -> np.float32:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        refuse(where, f"alpha = {alpha!r} must be a number", "pass the leaky ReLU slope as a float, e.g. 0.01")
    return np.float32(alpha)


def activation_forward(x, kind="relu", alpha=LEAKY_SLOPE):
    """Apply an activation elementwise.

    Parameters
    ----------
    x : float32 array of any shape
    kind : one of ``ACTIVATION_CODES``
    alpha : slope of leaky ReLU for x <= 0

    Returns
    -------
    y : new float32 array of x's shape
    """
    code = activation_code(kind, "activation_forward")
    x = float32_array(x, "x", "activation_forward")
    y = np.empty_like(x)
    _activation_forward_flat(x.reshape(-1), code, _slope(alpha, "activation_forward"), y.reshape(-1))
    return y


def activation_backward(x, y, grad_y, kind="relu", alpha=LEAKY_SLOPE):
    """Gradient with respect to the input, given the forward input x and output y.

    x, y and grad_y share one shape (any); returns gx of that shape, float32.
    """
    where = "activation_backward"
    code = activation_code(kind, where)
    x, y, grad_y = float32_array(x, "x", where), float32_array(y, "y", where), float32_array(grad_y, "grad_y", where)
    expect_shape(y, x.shape, "y", where, "pass the output of activation_forward(x) for this same x")
    expect_shape(grad_y, x.shape, "grad_y", where, "pass the gradient with respect to y, one value per element of x")
    gx = np.empty_like(x)
    _activation_backward_flat(x.reshape(-1), y.reshape(-1), grad_y.reshape(-1), code, _slope(alpha, where),
                              gx.reshape(-1))
    return gx


def relu_forward(x):
    """max(x, 0) elementwise: a new float32 array of x's shape."""
    return activation_forward(float32_array(x, "x", "relu_forward"), "relu")


def relu_backward(x, grad_y):
    """grad_y where x > 0, else 0; x and grad_y share one shape."""
    where = "relu_backward"
    x, grad_y = float32_array(x, "x", where), float32_array(grad_y, "grad_y", where)
    expect_shape(grad_y, x.shape, "grad_y", where,
                 "pass the gradient with respect to relu(x), one value per element of x")
    return activation_backward(x, x, grad_y, "relu")
