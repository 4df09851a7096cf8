"""Slow, obvious NumPy twins of every engine kernel, in float64 (colours: uint8).

Each twin is written straight from the maths, one output position at a time,
so it can be read against a textbook and trusted; the engine's fast Numba
kernels are tested against it (like stumpy's ``tests/naive.py``).  Nothing here
imports the engine: a twin shares no code with what it checks (the network
twins only read the fields of a network's ConvSpec / DenseSpec list).

Layouts follow the engine: batches ``(N, C, H, W)``, conv weights
``(Co, Ci, K, K)``, dense weights ``(units, inputs)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

LEAKY_SLOPE = 0.01


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------- convolution

def conv_padding(size: int, kernel: int, stride: int, padding: int | str) -> tuple[int, int, int]:
    """(output size, zeros before, zeros after) of one axis.

    An int P puts P zeros on both sides: output = floor((W - K + 2P) / S) + 1.
    ``"same"`` gives output = ceil(W / S) with total padding
    max((out - 1) * S + K - W, 0), the odd zero going after (as PyTorch/TensorFlow).
    """
    if padding == "same":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return out, total // 2, total - total // 2
    return (size - kernel + 2 * padding) // stride + 1, padding, padding


def pad(x, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Zeros around the last two axes of x."""
    x = _f64(x)
    padded = np.zeros(x.shape[:-2] + (x.shape[-2] + top + bottom, x.shape[-1] + left + right))
    padded[..., top:top + x.shape[-2], left:left + x.shape[-1]] = x
    return padded


def _conv_frame(x_shape, weight_shape, stride, padding):
    _, _, H, W = x_shape
    _, _, KH, KW = weight_shape
    Ho, top, bottom = conv_padding(H, KH, stride, padding)
    Wo, left, right = conv_padding(W, KW, stride, padding)
    return Ho, Wo, (top, bottom, left, right)


def conv2d_forward(x, weight, bias, stride=1, padding=0) -> np.ndarray:
    """Cross-correlation: y[n, co, i, j] = b[co] + sum(w[co] * xpad[n, :, i*S:i*S+K, j*S:j*S+K])."""
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    N = x.shape[0]
    Co, _, KH, KW = weight.shape
    Ho, Wo, pads = _conv_frame(x.shape, weight.shape, stride, padding)
    xpad = pad(x, *pads)
    y = np.zeros((N, Co, Ho, Wo))
    for n in range(N):
        for co in range(Co):
            for i in range(Ho):
                for j in range(Wo):
                    window = xpad[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
                    y[n, co, i, j] = bias[co] + np.sum(weight[co] * window)
    return y


def conv2d_backward(x, weight, grad_y, stride=1, padding=0):
    """(gx, gw, gb): every output cell sends grad_y back to the window it saw and to the kernel."""
    x, weight, grad_y = _f64(x), _f64(weight), _f64(grad_y)
    N, _, H, W = x.shape
    Co, _, KH, KW = weight.shape
    Ho, Wo, (top, bottom, left, right) = _conv_frame(x.shape, weight.shape, stride, padding)
    xpad = pad(x, top, bottom, left, right)
    gxpad = np.zeros_like(xpad)
    gw = np.zeros_like(weight)
    gb = np.zeros(Co)
    for n in range(N):
        for co in range(Co):
            for i in range(Ho):
                for j in range(Wo):
                    g = grad_y[n, co, i, j]
                    rows = slice(i * stride, i * stride + KH)
                    cols = slice(j * stride, j * stride + KW)
                    gw[co] += g * xpad[n, :, rows, cols]
                    gxpad[n, :, rows, cols] += g * weight[co]
                    gb[co] += g
    gx = gxpad[:, :, top:top + H, left:left + W]
    return gx, gw, gb


# ---------------------------------------------------------------- activations

def activation_forward(x, kind="relu") -> np.ndarray:
    x = _f64(x)
    if kind == "relu":
        return np.where(x > 0, x, 0.0)
    if kind == "leaky_relu":
        return np.where(x > 0, x, LEAKY_SLOPE * x)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if kind == "none":
        return x.copy()
    raise ValueError(f"unknown activation {kind!r}")


def activation_backward(x, grad_y, kind="relu") -> np.ndarray:
    """grad_y * f'(x), the derivative written from the forward input x."""
    x, grad_y = _f64(x), _f64(grad_y)
    if kind == "relu":
        slope = np.where(x > 0, 1.0, 0.0)
    elif kind == "leaky_relu":
        slope = np.where(x > 0, 1.0, LEAKY_SLOPE)
    elif kind == "tanh":
        slope = 1.0 / np.cosh(x) ** 2
    elif kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-x))
        slope = s * (1.0 - s)
    elif kind == "none":
        slope = np.ones_like(x)
    else:
        raise ValueError(f"unknown activation {kind!r}")
    return grad_y * slope


# ---------------------------------------------------------------- pooling

def pool_output_size(size: int, window: int, stride: int) -> int:
    return (size - window) // stride + 1


def maxpool2d_forward(x, size=2, stride=2):
    """(y, winner): each window's maximum and its flat index row * W + col; the first maximum wins a tie."""
    x = _f64(x)
    N, C, H, W = x.shape
    Ho, Wo = pool_output_size(H, size, stride), pool_output_size(W, size, stride)
    y = np.zeros((N, C, Ho, Wo))
    winner = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    at = int(np.argmax(window))  # row-major scan: the first maximum
                    ki, kj = divmod(at, size)
                    y[n, c, i, j] = window[ki, kj]
                    winner[n, c, i, j] = (i * stride + ki) * W + (j * stride + kj)
    return y, winner


def maxpool2d_backward(grad_y, winner, x_shape) -> np.ndarray:
    grad_y = _f64(grad_y)
    N, C, H, W = x_shape
    gx = np.zeros((N, C, H * W))
    for n in range(N):
        for c in range(C):
            for i in range(grad_y.shape[2]):
                for j in range(grad_y.shape[3]):
                    gx[n, c, winner[n, c, i, j]] += grad_y[n, c, i, j]
    return gx.reshape(N, C, H, W)


def avgpool2d_forward(x, size=2, stride=2) -> np.ndarray:
    x = _f64(x)
    N, C, H, W = x.shape
    Ho, Wo = pool_output_size(H, size, stride), pool_output_size(W, size, stride)
    y = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            y[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].mean(axis=(2, 3))
    return y


def avgpool2d_backward(grad_y, x_shape, size=2, stride=2) -> np.ndarray:
    grad_y = _f64(grad_y)
    gx = np.zeros(x_shape)
    for i in range(grad_y.shape[2]):
        for j in range(grad_y.shape[3]):
            gx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += \
                grad_y[:, :, i, j, None, None] / (size * size)
    return gx


# ---------------------------------------------------------------- dense, softmax, loss

def flatten(x) -> np.ndarray:
    """(N, C, H, W) -> (N, C*H*W): channel, then row, then column."""
    x = _f64(x)
    return x.reshape(x.shape[0], -1)


def dense_forward(x, weight, bias) -> np.ndarray:
    """y[n, u] = b[u] + sum_d w[u, d] * x[n, d]."""
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    y = np.zeros((x.shape[0], weight.shape[0]))
    for n in range(x.shape[0]):
        for u in range(weight.shape[0]):
            y[n, u] = bias[u] + np.dot(weight[u], x[n])
    return y


def dense_backward(x, weight, grad_y):
    x, weight, grad_y = _f64(x), _f64(weight), _f64(grad_y)
    gx = np.zeros_like(x)
    gw = np.zeros_like(weight)
    for n in range(x.shape[0]):
        for u in range(weight.shape[0]):
            gx[n] += grad_y[n, u] * weight[u]
            gw[u] += grad_y[n, u] * x[n]
    return gx, gw, grad_y.sum(axis=0)


def softmax(logits) -> np.ndarray:
    z = _f64(logits)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """(mean over the batch of -log softmax(logits)[label], its gradient (softmax - onehot) / N)."""
    z = _f64(logits)
    N = z.shape[0]
    p = softmax(z)
    loss = -np.mean([math.log(p[n, labels[n]]) for n in range(N)])
    grad = p.copy()
    for n in range(N):
        grad[n, labels[n]] -= 1.0
    return float(loss), grad / N


# ---------------------------------------------------------------- optimizers and initialisers

def sgd_step(params, grads, velocity, lr, momentum, weight_decay) -> None:
    """In place: v = momentum * v + (g + wd * p); p -= lr * v."""
    for p, g, v in zip(params, grads, velocity):
        v *= momentum
        v += g + weight_decay * p
        p -= lr * v


@dataclass
class AdamState:
    m: list
    v: list
    t: int = 0


def adam_step(params, grads, state: AdamState, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0) -> None:
    """In place: Adam moments with bias correction, weight decay applied to p directly (AdamW)."""
    state.t += 1
    for p, g, m, v in zip(params, grads, state.m, state.v):
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** state.t)
        v_hat = v / (1 - beta2 ** state.t)
        p -= lr * (m_hat / (np.sqrt(v_hat) + eps) + weight_decay * p)


def smoothed_gradient(gradients, smoothing=0.9) -> np.ndarray:
    """The bias-corrected moving average of ``gradients`` (one array per step, oldest first), written as a sum:

    sum_k (1 - s) s^(t-1-k) g_k / (1 - s^t)   (Adam's m_hat after t steps).
    """
    t = len(gradients)
    total = sum((1 - smoothing) * smoothing ** (t - 1 - k) * _f64(g) for k, g in enumerate(gradients))
    return total / (1 - smoothing ** t)


def he_std(fan_in: int) -> float:
    """He (Kaiming) normal: standard deviation sqrt(2 / fan_in)."""
    return math.sqrt(2.0 / fan_in)


def glorot_limit(fan_in: int, fan_out: int) -> float:
    """Glorot (Xavier) uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    return math.sqrt(6.0 / (fan_in + fan_out))


# ---------------------------------------------------------------- a whole network

@dataclass
class Stage:
    """One conv stage's maps for a batch, each (N, filters, height, width)."""

    input: np.ndarray
    conv: np.ndarray
    activation: np.ndarray
    pooled: np.ndarray
    winner: np.ndarray | None


@dataclass
class Trace:
    """Every map of a batch's forward pass."""

    stages: list[Stage]
    flat: np.ndarray | None
    dense_inputs: list[np.ndarray] = field(default_factory=list)
    dense_pre: list[np.ndarray] = field(default_factory=list)
    dense: list[np.ndarray] = field(default_factory=list)
    logits: np.ndarray | None = None
    probabilities: np.ndarray | None = None


def network_trace(layers, params, x, conv_only=False) -> Trace:
    """Run a batch (N, C, H, W) through conv stages (conv -> activation -> pool), dense layers and softmax.

    ``layers`` are the network's ConvSpec/DenseSpec list, ``params`` its
    ``[w0, b0, w1, b1, ...]``.  With ``conv_only`` the dense part is skipped.
    """
    h = _f64(x)
    stages = []
    k = 0
    for k, spec in enumerate(layers):
        if spec.kind != "conv":
            break
        conv = conv2d_forward(h, params[2 * k], params[2 * k + 1], spec.stride, spec.padding)
        activated = activation_forward(conv, spec.activation)
        winner = None
        if spec.pool == "max":
            pooled, winner = maxpool2d_forward(activated, spec.pool_size, spec.pool_stride)
        elif spec.pool == "avg":
            pooled = avgpool2d_forward(activated, spec.pool_size, spec.pool_stride)
        else:
            pooled = activated
        stages.append(Stage(h, conv, activated, pooled, winner))
        h = pooled
    if conv_only:
        return Trace(stages, None)
    trace = Trace(stages, flatten(h))
    h = trace.flat
    for k in range(len(stages), len(layers)):
        z = dense_forward(h, params[2 * k], params[2 * k + 1])
        trace.dense_inputs.append(h)
        trace.dense_pre.append(z)
        h = activation_forward(z, layers[k].activation)
        trace.dense.append(h)
    trace.logits = h
    trace.probabilities = softmax(h)
    return trace


def network_forward(layers, params, x) -> np.ndarray:
    """Logits (N, classes) of a batch."""
    return network_trace(layers, params, x).logits


def network_loss(layers, params, x, labels) -> float:
    """Mean cross-entropy of a batch: the function whose gradient ``loss_and_grads`` returns."""
    return softmax_cross_entropy(network_forward(layers, params, x), labels)[0]


def network_loss_and_grads(layers, params, x, labels):
    """(loss, grads matching params, logits), by backpropagation through the twins above."""
    trace = network_trace(layers, params, x)
    loss, grad = softmax_cross_entropy(trace.logits, labels)
    return loss, _network_backward(layers, params, trace, grad), trace.logits


def network_grad_magnitudes(layers, params, x, labels):
    """The scale of float32 rounding in each gradient cell: the backward pass run on absolute values.

    Every cell of a gradient is a sum of products; this is the sum of their
    absolute values (all activation slopes are >= 0), so a gradient that is
    small only because its terms cancel is still compared at the terms' scale.
    """
    trace = network_trace(layers, params, x)
    _, grad = softmax_cross_entropy(trace.logits, labels)
    return _network_backward(layers, params, trace, grad, absolute=True)


def _network_backward(layers, params, trace, grad, absolute=False):
    size = np.abs if absolute else (lambda a: a)
    grads = [None] * len(params)
    grad = size(grad)
    n_conv = len(trace.stages)
    for k in range(len(layers) - 1, n_conv - 1, -1):
        d = k - n_conv
        grad = activation_backward(trace.dense_pre[d], grad, layers[k].activation)
        grad, grads[2 * k], grads[2 * k + 1] = dense_backward(size(trace.dense_inputs[d]), size(params[2 * k]), grad)
    for k in range(n_conv - 1, -1, -1):
        spec, stage = layers[k], trace.stages[k]
        grad = grad.reshape(stage.pooled.shape)
        if spec.pool == "max":
            grad = maxpool2d_backward(grad, stage.winner, stage.activation.shape)
        elif spec.pool == "avg":
            grad = avgpool2d_backward(grad, stage.activation.shape, spec.pool_size, spec.pool_stride)
        grad = activation_backward(stage.conv, grad, spec.activation)
        grad, grads[2 * k], grads[2 * k + 1] = conv2d_backward(size(stage.input), size(params[2 * k]), grad,
                                                               spec.stride, spec.padding)
    return grads


def network_input_gradient(layers, params, x, grad_logits=None, stage=None, grad_activation=None):
    """d objective / d x (N, C, H, W) and d objective / d each crossed stage's activation maps.

    The objective is sum(grad_logits * logits), or sum(grad_activation * stage ``stage``'s activation maps).
    Returns ``(gx, {k: grad of stage k's activation maps})``.
    """
    trace = network_trace(layers, params, x)
    n_conv = len(trace.stages)
    activation_grads = {}
    if grad_logits is not None:
        grad = _f64(grad_logits)
        for k in range(len(layers) - 1, n_conv - 1, -1):
            d = k - n_conv
            grad = activation_backward(trace.dense_pre[d], grad, layers[k].activation)
            grad, _, _ = dense_backward(trace.dense_inputs[d], params[2 * k], grad)
        top = n_conv - 1
    else:
        top = stage
    for k in range(top, -1, -1):
        spec, st = layers[k], trace.stages[k]
        if grad_logits is None and k == stage:
            grad = _f64(grad_activation)
        else:
            grad = grad.reshape(st.pooled.shape)
            if spec.pool == "max":
                grad = maxpool2d_backward(grad, st.winner, st.activation.shape)
            elif spec.pool == "avg":
                grad = avgpool2d_backward(grad, st.activation.shape, spec.pool_size, spec.pool_stride)
        activation_grads[k] = grad
        grad = activation_backward(st.conv, grad, spec.activation)
        grad, _, _ = conv2d_backward(st.input, params[2 * k], grad, spec.stride, spec.padding)
    return grad.reshape(np.shape(x)), activation_grads


# ---------------------------------------------------------------- colouring maps

def colorize_maps(maps, levels, lut, out_shape, pitch, columns=1) -> np.ndarray:
    """Map f's value v takes lut[round((v - low) / (high - low) * (n - 1))], clipped; NaN takes lut[0].

    Its tile starts at row (f // columns) * pitch[0], column (f % columns) * pitch[1] of
    a zeroed (rows, cols, 4) uint8 image; v - low is taken in float32, as the engine does.
    """
    maps, levels, lut = np.asarray(maps, np.float32), np.asarray(levels, np.float32), np.asarray(lut, np.uint8)
    out = np.zeros(tuple(out_shape) + (4,), np.uint8)
    top = len(lut) - 1
    for f, (low, high) in enumerate(levels):
        span = float(high - low)
        r0, c0 = (f // columns) * pitch[0], (f % columns) * pitch[1]
        for (i, j), v in np.ndenumerate(maps[f]):
            t = float(v - low) * (top / span) if span > 0 else 0.0
            t = min(t, top) if t >= 0 else 0.0  # NaN fails t >= 0
            out[r0 + i, c0 + j] = lut[math.floor(t + 0.5)]
    return out


# ---------------------------------------------------------------- finite differences

def numeric_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e) - f(x - h e)) / 2h of a scalar f, perturbing x in place (float64)."""
    assert x.dtype == np.float64 and x.flags.c_contiguous, "perturb a contiguous float64 array in place"
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for k in range(flat_x.size):
        saved = flat_x[k]
        flat_x[k] = saved + h
        up = f()
        flat_x[k] = saved - h
        down = f()
        flat_x[k] = saved
        flat_g[k] = (up - down) / (2 * h)
    return grad


def relative_error(actual, expected) -> float:
    """||actual - expected|| / max(||actual|| + ||expected||, tiny): 0 is perfect, 1 is unrelated."""
    actual, expected = _f64(actual), _f64(expected)
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(actual) + np.linalg.norm(expected), 1e-30))


# ---------------------------------------------------------------- comparing float32 results with the twins

def assert_close(actual, expected, magnitude=None, rtol=1e-4, atol=1e-5) -> None:
    """Assert a float32 engine result matches a float64 twin, cell by cell.

    A cell may be off by ``rtol * |expected| + atol * magnitude``.  Pass as
    ``magnitude`` the same twin run on absolute values, i.e. the sum of |terms|
    that float32 rounding errors scale with; by default it is ``1 + |expected|``
    (an absolute floor of ``atol`` for values of order 1).
    """
    actual, expected = np.asarray(actual), _f64(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    magnitude = 1.0 + np.abs(expected) if magnitude is None else _f64(magnitude)
    error = np.abs(_f64(actual) - expected)
    bound = rtol * np.abs(expected) + atol * magnitude
    bad = ~(error <= bound)  # also catches NaN
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, error - bound, -np.inf)), bad.shape)
        raise AssertionError(f"{int(bad.sum())} of {bad.size} cells differ; worst at {worst}: "
                             f"got {actual[worst]!r}, expected {expected[worst]!r} (allowed error {bound[worst]:.3g})")
