"""Optimizers (SGD with momentum, Adam; both with weight decay) and initialisers.

Optimizers update a list of float32 parameter arrays in place from a matching
list of gradients and keep their state (velocities, moments) per parameter.
Weight decay is L2 added to the gradient for SGD and decoupled (AdamW) for Adam.
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import kernel


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


class SGD:
    """SGD with momentum: v = momentum * v + (g + wd * p); p -= lr * v."""

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity: list[np.ndarray] | None = None

    def step(self, params, grads):
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocity):
            _sgd_step(p, g, v, np.float32(self.lr), np.float32(self.momentum), np.float32(self.weight_decay))


class Adam:
    """Adam (Kingma & Ba) with decoupled weight decay."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.lr, self.beta1, self.beta2, self.eps, self.weight_decay = lr, beta1, beta2, eps, weight_decay
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        c1 = np.float32(1 - self.beta1 ** self.t)
        c2 = np.float32(1 - self.beta2 ** self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            _adam_step(p, g, m, v, np.float32(self.lr), np.float32(self.beta1), np.float32(self.beta2),
                       np.float32(1 - self.beta1), np.float32(1 - self.beta2), np.float32(self.eps),
                       np.float32(self.weight_decay), c1, c2)


def he_init(rng: np.random.Generator, shape, fan_in: int) -> np.ndarray:
    """He (Kaiming) normal: N(0, 2 / fan_in), for ReLU layers."""
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)


def glorot_init(rng: np.random.Generator, shape, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot (Xavier) uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)), for tanh/sigmoid/linear layers."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)
