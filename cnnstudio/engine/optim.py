"""Optimizers (SGD with momentum, Adam; both with weight decay) and initialisers.

Optimizers update a list of float32 parameter arrays in place from a matching
list of gradients and keep their state (velocities, moments) per parameter.
Weight decay is L2 added to the gradient for SGD and decoupled (AdamW) for Adam.
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .checks import array_shape, expect_shape, float32_array, refuse, writable


@kernel
def _sgd_step(param, grad, velocity, lr, momentum, weight_decay):
    p, g, v = param.reshape(-1), grad.reshape(-1), velocity.reshape(-1)
    for k in range(p.size):
        gk = g[k] + weight_decay * p[k]
        v[k] = momentum * v[k] + gk
        p[k] -= lr * v[k]


@kernel
def _adam_step(param, grad, m, v, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay,
               correction1, correction2):
    # 1 - beta is passed in, computed in float64: 1 - float32(0.999) is off by 1e-5 relative.
    p, g, mm, vv = param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1)
    for k in range(p.size):
        mm[k] = beta1 * mm[k] + one_minus_beta1 * g[k]
        vv[k] = beta2 * vv[k] + one_minus_beta2 * g[k] * g[k]
        m_hat = mm[k] / correction1
        v_hat = vv[k] / correction2
        p[k] -= lr * (m_hat / (np.sqrt(v_hat) + eps) + weight_decay * p[k])


def _checked_pairs(params, grads, state, where) -> list[tuple[np.ndarray, np.ndarray]]:
    """(param, grad) pairs after checking that the lists match each other and the optimizer's state.

    ``state`` is one list of per-parameter buffers (velocities, moments), or None before the first step.
    """
    params, grads = list(params), list(grads)
    if len(grads) != len(params):
        refuse(where, f"params has {len(params)} arrays but grads has {len(grads)}",
               "pass one gradient per parameter, in the same order (as Network.loss_and_grads returns them)")
    pairs = []
    for k, (p, g) in enumerate(zip(params, grads)):
        writable(p, f"params[{k}]", where)
        g = float32_array(g, f"grads[{k}]", where)
        expect_shape(g, p.shape, f"grads[{k}]", where, f"pass the gradient of params[{k}], of the same shape")
        pairs.append((p, g))
    if state is not None and (len(state) != len(params) or any(s.shape != p.shape for s, p in zip(state, params))):
        seen = [tuple(s.shape) for s in state]
        refuse(where, f"this optimizer has state for parameters of shapes {seen}, but params now has shapes "
                      f"{[tuple(p.shape) for p in params]}",
               "use a new optimizer for a network of another architecture")
    return pairs


class SGD:
    """SGD with momentum: v = momentum * v + (g + wd * p); p -= lr * v."""

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity: list[np.ndarray] | None = None

    def step(self, params, grads):
        """Update ``params`` (list of writable float32 arrays) in place from ``grads`` (one per param, same shapes)."""
        pairs = _checked_pairs(params, grads, self.velocity, "SGD.step")
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p, _ in pairs]
        for (p, g), v in zip(pairs, self.velocity):
            _sgd_step(p, g, v, np.float32(self.lr), np.float32(self.momentum), np.float32(self.weight_decay))


class Adam:
    """Adam (Kingma & Ba) with decoupled weight decay."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.lr, self.beta1, self.beta2, self.eps, self.weight_decay = lr, beta1, beta2, eps, weight_decay
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def step(self, params, grads):
        """Update ``params`` (list of writable float32 arrays) in place from ``grads`` (one per param, same shapes)."""
        pairs = _checked_pairs(params, grads, self.m, "Adam.step")
        if self.m is None:
            self.m = [np.zeros_like(p) for p, _ in pairs]
            self.v = [np.zeros_like(p) for p, _ in pairs]
        self.t += 1
        c1 = np.float32(1 - self.beta1 ** self.t)
        c2 = np.float32(1 - self.beta2 ** self.t)
        for (p, g), m, v in zip(pairs, self.m, self.v):
            _adam_step(p, g, m, v, np.float32(self.lr), np.float32(self.beta1), np.float32(self.beta2),
                       np.float32(1 - self.beta1), np.float32(1 - self.beta2), np.float32(self.eps),
                       np.float32(self.weight_decay), c1, c2)


def _check_init(rng, shape, fans, where) -> tuple[int, ...]:
    if not isinstance(rng, np.random.Generator):
        refuse(where, f"rng has type {type(rng).__name__}, expected a numpy.random.Generator",
               "pass np.random.default_rng(seed)")
    shape = array_shape((shape,) if isinstance(shape, (int, np.integer)) else shape, "shape", where,
                        fix="pass the weight array's shape, e.g. (Co, Ci, K, K)")
    for name, value in fans:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            example = "Ci * K * K for a conv" if name == "fan_in" else "Co * K * K for a conv"
            refuse(where, f"{name} = {value!r} must be an integer >= 1",
                   f"pass the number of {'inputs' if name == 'fan_in' else 'outputs'} of one unit, e.g. {example}")
    return shape


def he_init(rng: np.random.Generator, shape, fan_in: int) -> np.ndarray:
    """He (Kaiming) normal: N(0, 2 / fan_in), for ReLU layers; float32 array of ``shape``."""
    shape = _check_init(rng, shape, (("fan_in", fan_in),), "he_init")
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)


def glorot_init(rng: np.random.Generator, shape, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot (Xavier) uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)), for tanh/sigmoid/linear layers.

    Returns a float32 array of ``shape``.
    """
    shape = _check_init(rng, shape, (("fan_in", fan_in), ("fan_out", fan_out)), "glorot_init")
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)
