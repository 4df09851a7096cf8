"""Network.input_gradients (what attribution, activation maximisation and adversarial nudges use) and dropout,
against the NumPy twin and finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import ConvSpec, DenseSpec, Network
from test_network import images, networks


def _close(got, want):
    scale = np.abs(want).max() + 1e-6
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * scale)


@settings(max_examples=40)
@given(networks(), st.integers(1, 3))
def test_gradient_of_a_class_score_equals_the_twin(case, n):
    network, rng = case
    x = images(rng, network, n)
    grad_logits = rng.normal(size=(n, network.num_classes)).astype(np.float32)
    result = network.input_gradients(x, grad_logits)
    want, stage_grads = ref.network_input_gradient(network.layers, network.params, x, grad_logits)
    assert result.input.shape == x.shape and result.input.dtype == np.float32
    _close(result.input, want)
    for k, grad in stage_grads.items():
        _close(result.maps["activation", k], grad)
    ref.assert_close(result.logits, ref.network_forward(network.layers, network.params, x))
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, rtol=1e-5)


@settings(max_examples=40)
@given(networks(), st.data())
def test_gradient_of_a_stage_activation_equals_the_twin(case, data):
    network, rng = case
    stage = data.draw(st.integers(0, len(network.conv_specs) - 1))
    x = images(rng, network, 2)
    g = network.geometry()[stage]
    seed = rng.normal(size=(2, g.filters, g.height, g.width)).astype(np.float32)
    result = network.input_gradients(x, stage=stage, grad_activation=seed)
    want, _ = ref.network_input_gradient(network.layers, network.params, x, stage=stage, grad_activation=seed)
    _close(result.input, want)
    assert len(result.activations) == len(network.conv_specs)


def test_gradient_matches_finite_differences_of_a_class_logit():
    network = Network(seed=3)
    rng = np.random.default_rng(3)
    x = images(rng, network, 1)
    onehot = np.zeros((1, 10), np.float32)
    onehot[0, 4] = 1

    x64 = x.astype(np.float64)
    numeric = ref.numeric_gradient(lambda: ref.network_forward(network.layers, network.params, x64)[0, 4], x64)
    got = network.input_gradients(x, onehot).input
    _close(got, numeric)


def test_a_network_without_conv_layers_has_an_input_gradient_of_the_input_shape():
    network = Network([DenseSpec(5, "tanh"), DenseSpec(3)], input_shape=(1, 4, 4), seed=1)
    x = images(np.random.default_rng(0), network, 2)
    grad = np.eye(3, dtype=np.float32)[[0, 2]]
    result = network.input_gradients(x, grad)
    want, _ = ref.network_input_gradient(network.layers, network.params, x, grad)
    assert result.input.shape == (2, 1, 4, 4)
    _close(result.input, want)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one"),
    ({"grad_logits": np.zeros((1, 10)), "stage": 0}, "exactly one"),
    ({"stage": 5, "grad_activation": np.zeros((1, 8, 28, 28))}, "stages 0..1"),
    ({"stage": 0, "grad_activation": np.zeros((1, 8, 14, 14))}, "grad_activation"),
    ({"grad_logits": np.zeros((1, 9))}, "grad_logits"),
])
def test_bad_objectives_are_refused_with_a_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Network().input_gradients(np.zeros((1, 1, 28, 28), np.float32), **kwargs)


def test_input_gradients_change_no_weight():
    network = Network(seed=2)
    before = network.get_state()
    network.input_gradients(np.ones((1, 1, 28, 28), np.float32), np.ones((1, 10), np.float32))
    for a, b in zip(before, network.params):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- dropout

def _dropout_network():
    return Network([ConvSpec(filters=2, kernel=3, padding=1), DenseSpec(6, "relu", dropout=0.5), DenseSpec(3)],
                   input_shape=(1, 6, 6), seed=4)


def test_dropout_is_off_without_a_generator_and_in_every_forward():
    network = _dropout_network()
    x = images(np.random.default_rng(1), network, 3)
    labels = np.array([0, 1, 2])
    loss, grads, logits = network.loss_and_grads(x, labels)
    twin_loss, twin_grads, twin_logits = ref.network_loss_and_grads(network.layers, network.params, x, labels)
    assert loss == pytest.approx(twin_loss, rel=1e-5)
    ref.assert_close(network.forward(x), twin_logits)


def test_dropout_gradients_are_those_of_the_masked_network():
    """With a generator, the loss and gradients are exactly those of the network whose dropped inputs are 0
    and whose kept ones are doubled (rate 0.5): checked by finite differences on that function."""
    network = _dropout_network()
    rng = np.random.default_rng(2)
    x = images(rng, network, 2)
    labels = np.array([1, 2])
    loss, grads, _ = network.loss_and_grads(x, labels, np.random.default_rng(9))
    # the same mask, drawn again from the same seed
    mask = (np.random.default_rng(9).random((2, 2 * 3 * 3), dtype=np.float32) >= 0.5) * np.float32(2.0)
    assert 0 < mask.mean() < 2  # some inputs dropped, some kept

    def masked_loss(params):
        trace = ref.network_trace(network.layers[:1] + network.layers[1:], params, x, conv_only=True)
        h = trace.stages[0].pooled.reshape(2, -1) * mask
        h = ref.activation_forward(ref.dense_forward(h, params[2], params[3]), "relu")
        return ref.softmax_cross_entropy(ref.dense_forward(h, params[4], params[5]), labels)[0]

    params = [p.astype(np.float64) for p in network.params]
    assert loss == pytest.approx(masked_loss(params), rel=1e-5)
    for k in range(len(params)):
        numeric = ref.numeric_gradient(lambda: masked_loss(params), params[k])
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-3, atol=1e-5)
    assert not np.allclose(grads[2], network.loss_and_grads(x, labels)[1][2])  # the mask mattered
