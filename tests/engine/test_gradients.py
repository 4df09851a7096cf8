"""Finite-difference gradient checks, in float64, for every layer and for a whole small network.

For each layer the scalar loss is ``sum(layer(inputs) * R)`` with a fixed random
``R`` (so the upstream gradient is ``R``).  Its central differences, computed on
the float64 twin, are the ground truth for

- the twin's own analytic backward (float64: must agree to ~1e-7), and
- the engine's float32 backward (must agree to ENGINE_TOLERANCE).

Inputs are float32 values (so engine and twin see the same numbers) kept away
from the kinks of ReLU and max pooling, where a difference quotient straddles
two branches and means nothing.
"""
from __future__ import annotations

import numpy as np
import pytest

import reference as ref
from cnnstudio.engine import (ConvSpec, DenseSpec, Network, activation_backward, activation_forward,
                              avgpool2d_backward, avgpool2d_forward, conv2d_backward, dense_backward,
                              maxpool2d_backward, maxpool2d_forward, softmax_cross_entropy)

TWIN_TOLERANCE = 1e-7     # float64 analytic vs float64 central differences
ENGINE_TOLERANCE = 1e-3   # float32 analytic vs float64 central differences


def float32_values(rng, low, high, shape) -> np.ndarray:
    """float64 array holding float32-representable values, so both sides see identical inputs."""
    return rng.uniform(low, high, shape).astype(np.float32).astype(np.float64)


def check(name, engine_grad, twin_grad, numeric_grad):
    engine_error = ref.relative_error(engine_grad, numeric_grad)
    twin_error = ref.relative_error(twin_grad, numeric_grad)
    assert np.linalg.norm(numeric_grad) > 0, f"{name}: the numeric gradient is zero, the check would be empty"
    assert twin_error < TWIN_TOLERANCE, f"{name}: twin backward off by {twin_error:.2e}"
    assert engine_error < ENGINE_TOLERANCE, f"{name}: engine backward off by {engine_error:.2e}"


@pytest.mark.parametrize("kernel, stride, padding", [
    (3, 1, 0), (3, 1, 1), (3, 2, 1), (5, 3, 2), (1, 2, 0), (2, 1, "same"), (4, 2, "same"), (3, 3, "same")])
def test_conv(kernel, stride, padding):
    rng = np.random.default_rng(10)
    x = float32_values(rng, -1, 1, (2, 2, 7, 6))
    weight = float32_values(rng, -1, 1, (3, 2, kernel, kernel))
    bias = float32_values(rng, -1, 1, 3)
    y_shape = ref.conv2d_forward(x, weight, bias, stride, padding).shape
    R = float32_values(rng, -1, 1, y_shape)

    def loss():
        return np.sum(ref.conv2d_forward(x, weight, bias, stride, padding) * R)

    numeric = [ref.numeric_gradient(loss, a) for a in (x, weight, bias)]
    twin = ref.conv2d_backward(x, weight, R, stride, padding)
    engine = conv2d_backward(x.astype(np.float32), weight.astype(np.float32), R.astype(np.float32), stride, padding)
    for name, e, t, n in zip(("x", "weight", "bias"), engine, twin, numeric):
        check(f"conv {name}", e, t, n)


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "tanh", "sigmoid", "none"])
def test_activation(kind):
    rng = np.random.default_rng(11)
    # |x| in [0.1, 3]: at least 0.1 from the ReLU kink
    x = float32_values(rng, 0.1, 3, (2, 3, 4, 5)) * rng.choice([-1.0, 1.0], (2, 3, 4, 5))
    R = float32_values(rng, -1, 1, x.shape)

    numeric = ref.numeric_gradient(lambda: np.sum(ref.activation_forward(x, kind) * R), x)
    x32 = x.astype(np.float32)
    engine = activation_backward(x32, activation_forward(x32, kind), R.astype(np.float32), kind)
    check(kind, engine, ref.activation_backward(x, R, kind), numeric)


def distinct_values(rng, shape) -> np.ndarray:
    """Values 0.01 apart in random order: no max-pool window holds a near-tie."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1.0).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_maxpool(size, stride):
    rng = np.random.default_rng(12)
    x = distinct_values(rng, (2, 3, 7, 8))
    y, winner = ref.maxpool2d_forward(x, size, stride)
    R = float32_values(rng, -1, 1, y.shape)

    numeric = ref.numeric_gradient(lambda: np.sum(ref.maxpool2d_forward(x, size, stride)[0] * R), x)
    _, engine_winner = maxpool2d_forward(x.astype(np.float32), size, stride)
    engine = maxpool2d_backward(R.astype(np.float32), engine_winner, x.shape)
    check("max pool", engine, ref.maxpool2d_backward(R, winner, x.shape), numeric)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_avgpool(size, stride):
    rng = np.random.default_rng(13)
    x = float32_values(rng, -1, 1, (2, 3, 7, 8))
    R = float32_values(rng, -1, 1, ref.avgpool2d_forward(x, size, stride).shape)

    numeric = ref.numeric_gradient(lambda: np.sum(ref.avgpool2d_forward(x, size, stride) * R), x)
    # the forward must run too: pooling checks its arguments there
    avgpool2d_forward(x.astype(np.float32), size, stride)
    engine = avgpool2d_backward(R.astype(np.float32), x.shape, size, stride)
    check("avg pool", engine, ref.avgpool2d_backward(R, x.shape, size, stride), numeric)


def test_dense():
    rng = np.random.default_rng(14)
    x, weight, bias = float32_values(rng, -1, 1, (3, 7)), float32_values(rng, -1, 1, (4, 7)), \
        float32_values(rng, -1, 1, 4)
    R = float32_values(rng, -1, 1, (3, 4))

    def loss():
        return np.sum(ref.dense_forward(x, weight, bias) * R)

    numeric = [ref.numeric_gradient(loss, a) for a in (x, weight, bias)]
    engine = dense_backward(x.astype(np.float32), weight.astype(np.float32), R.astype(np.float32))
    for name, e, t, n in zip(("x", "weight", "bias"), engine, ref.dense_backward(x, weight, R), numeric):
        check(f"dense {name}", e, t, n)


def test_softmax_cross_entropy():
    rng = np.random.default_rng(15)
    logits = float32_values(rng, -3, 3, (5, 6))
    labels = rng.integers(0, 6, 5)

    numeric = ref.numeric_gradient(lambda: ref.softmax_cross_entropy(logits, labels)[0], logits)
    engine_loss, engine = softmax_cross_entropy(logits.astype(np.float32), labels)
    twin_loss, twin = ref.softmax_cross_entropy(logits, labels)
    assert engine_loss == pytest.approx(twin_loss, rel=1e-6)
    check("softmax cross-entropy", engine, twin, numeric)


NETWORKS = {
    "conv-relu-max, conv-tanh-avg same, dense": dict(
        input_shape=(1, 8, 8),
        layers=[ConvSpec(filters=3, kernel=3, padding=1, activation="relu", pool="max"),
                ConvSpec(filters=4, kernel=3, padding="same", activation="tanh", pool="avg"),
                DenseSpec(units=5)]),
    "strided leaky conv, sigmoid conv overlapping max, two dense": dict(
        input_shape=(2, 9, 9),
        layers=[ConvSpec(filters=2, kernel=4, stride=2, padding=1, activation="leaky_relu", pool="none"),
                ConvSpec(filters=3, kernel=2, padding=0, activation="sigmoid", pool="max", pool_size=2,
                         pool_stride=1),
                DenseSpec(units=6, activation="relu"),
                DenseSpec(units=3)]),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_whole_network(name):
    """Network.loss_and_grads against central differences of the float64 twin network's loss."""
    network = Network(seed=0, **NETWORKS[name])
    rng = np.random.default_rng(16)
    for p in network.params:  # own values (non-zero biases too), independent of the initialiser
        p[...] = rng.uniform(-0.6, 0.6, p.shape)
    x = float32_values(rng, 0, 1, (4,) + network.input_shape)  # 4 images: the parallel path
    labels = rng.integers(0, network.num_classes, 4)
    params = [p.astype(np.float64) for p in network.params]

    loss, grads, logits = network.loss_and_grads(x.astype(np.float32), labels)

    twin_loss, twin_grads, twin_logits = ref.network_loss_and_grads(network.layers, params, x, labels)
    assert loss == pytest.approx(twin_loss, rel=1e-5)
    ref.assert_close(logits, twin_logits)
    assert len(grads) == len(params)
    for k, (p, engine_grad, twin_grad) in enumerate(zip(params, grads, twin_grads)):
        assert engine_grad.shape == p.shape and engine_grad.dtype == np.float32
        numeric = ref.numeric_gradient(lambda: ref.network_loss(network.layers, params, x, labels), p)
        check(f"{'weight' if k % 2 == 0 else 'bias'} of layer {k // 2 + 1}", engine_grad, twin_grad, numeric)
