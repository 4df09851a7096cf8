"""SGD and Adam against their twins; He and Glorot initialisers."""
from __future__ import annotations

import numpy as np
import pytest

import reference as ref
from cnnstudio.engine import SGD, Adam, glorot_init, he_init

SHAPES = [(3, 2, 3, 3), (3,), (5, 7)]


def params_and_gradient_steps(seed, steps):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return params, grads


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.05)])
def test_sgd_steps_match_twin(momentum, weight_decay):
    params, grads = params_and_gradient_steps(0, steps=5)
    twin = [p.astype(np.float64) for p in params]
    velocity = [np.zeros_like(p) for p in twin]
    sgd = SGD(lr=0.1, momentum=momentum, weight_decay=weight_decay)

    for g in grads:
        sgd.step(params, g)
        ref.sgd_step(twin, g, velocity, 0.1, momentum, weight_decay)

    for p, t in zip(params, twin):
        assert p.dtype == np.float32
        ref.assert_close(p, t, rtol=1e-5, atol=1e-6)
    for v, t in zip(sgd.velocity, velocity):
        ref.assert_close(v, t, rtol=1e-5, atol=1e-6)


def test_sgd_first_step_by_hand():
    p, g = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.5], np.float32)
    sgd = SGD(lr=0.1, momentum=0.9, weight_decay=0.1)
    sgd.step([p], [g])   # v = g + 0.1 p = [0.6, 0.3]; p -= 0.1 v
    np.testing.assert_allclose(p, [0.94, -2.03], rtol=1e-6)
    sgd.step([p], [g])   # v = 0.9 v + g + 0.1 p = [0.54 + 0.594, 0.27 + 0.297]
    np.testing.assert_allclose(p, [0.94 - 0.1134, -2.03 - 0.0567], rtol=1e-6)


@pytest.mark.parametrize("lr, weight_decay", [(1e-3, 0.0), (1e-2, 0.0), (1e-2, 0.1)])
def test_adam_steps_match_twin(lr, weight_decay):
    params, grads = params_and_gradient_steps(1, steps=6)
    twin = [p.astype(np.float64) for p in params]
    state = ref.AdamState(m=[np.zeros_like(p) for p in twin], v=[np.zeros_like(p) for p in twin])
    adam = Adam(lr=lr, weight_decay=weight_decay)

    for g in grads:
        adam.step(params, g)
        ref.adam_step(twin, g, state, lr, weight_decay=weight_decay)

    assert adam.t == state.t == 6
    for p, t, start in zip(params, twin, params_and_gradient_steps(1, steps=6)[0]):
        assert p.dtype == np.float32
        assert np.abs(p - start).max() > lr  # the steps did move the parameters
        ref.assert_close(p, t, rtol=1e-6, atol=1e-4 * lr)  # float32 error relative to the step size
    for m, t in zip(adam.m, state.m):
        ref.assert_close(m, t, rtol=1e-5, atol=1e-7)


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient():
    p = np.array([0.5, 0.5, 0.5], np.float32)
    Adam(lr=0.01).step([p], [np.array([3.0, -0.2, 1e-3], np.float32)])
    np.testing.assert_allclose(p, [0.49, 0.51, 0.49], rtol=1e-5)


def test_adam_weight_decay_is_decoupled():
    """With a zero gradient the moments stay zero and only p -= lr * wd * p acts (AdamW), not an L2 gradient."""
    p = np.array([2.0, -4.0], np.float32)
    Adam(lr=0.1, weight_decay=0.5).step([p], [np.zeros(2, np.float32)])
    np.testing.assert_allclose(p, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-6)


def test_he_init_is_seeded_and_has_variance_two_over_fan_in():
    shape, fan_in = (64, 16, 3, 3), 16 * 9
    w = he_init(np.random.default_rng(7), shape, fan_in)
    np.testing.assert_array_equal(w, he_init(np.random.default_rng(7), shape, fan_in))
    assert not np.array_equal(w, he_init(np.random.default_rng(8), shape, fan_in))
    assert w.shape == shape and w.dtype == np.float32
    # 9216 samples: the sample variance is within 1.5% (one sigma) of 2 / fan_in
    assert w.var() == pytest.approx(ref.he_std(fan_in) ** 2, rel=0.06)
    assert abs(w.mean()) < 4 * ref.he_std(fan_in) / np.sqrt(w.size)


def test_glorot_init_is_seeded_and_uniform_within_the_limit():
    shape, fan_in, fan_out = (120, 80), 80, 120
    w = glorot_init(np.random.default_rng(3), shape, fan_in, fan_out)
    np.testing.assert_array_equal(w, glorot_init(np.random.default_rng(3), shape, fan_in, fan_out))
    assert not np.array_equal(w, glorot_init(np.random.default_rng(4), shape, fan_in, fan_out))
    limit = ref.glorot_limit(fan_in, fan_out)
    assert w.shape == shape and w.dtype == np.float32
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit   # fills the whole interval
    assert w.var() == pytest.approx(limit ** 2 / 3, rel=0.05)
    assert abs(w.mean()) < 4 * limit / np.sqrt(3 * w.size)
