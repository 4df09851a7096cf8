"""Network: seeding, the live one-image path (forward_maps) and the batch path, against the twin network."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import ConvSpec, DenseSpec, Network, default_layers, resolve_padding, validate_layers
from cnnstudio.engine.shapes import ACTIVATIONS


def assert_grads_close(grads, network, x, labels):
    """Engine gradients (float32) against the twin's (float64), one array per parameter.

    float32 rounding scales with the sum of |terms| behind a gradient cell (the
    twin's backward on absolute values), and forward rounding (e.g. in a softmax
    probability near 1) spreads over the whole array: a cell may be off by
    1e-4 of its own sum of |terms| plus 1e-4 of the largest one in its array.
    """
    _, twin_grads, _ = ref.network_loss_and_grads(network.layers, network.params, x, labels)
    magnitudes = ref.network_grad_magnitudes(network.layers, network.params, x, labels)
    assert len(grads) == len(network.params)
    for k, (got, want, magnitude) in enumerate(zip(grads, twin_grads, magnitudes)):
        assert got.shape == network.params[k].shape and got.dtype == np.float32, k
        ref.assert_close(got, want, magnitude + magnitude.max(), rtol=1e-4, atol=1e-4)


@st.composite
def networks(draw, max_side=12):
    """A small valid network: 1..2 conv stages (any kernel, stride, padding, activation, pool), 1..2 dense layers."""
    input_shape = (draw(st.integers(1, 3)), draw(st.integers(3, max_side)), draw(st.integers(3, max_side)))
    layers = []
    for _ in range(draw(st.integers(1, 2))):
        kernel = draw(st.integers(1, 5))
        layers.append(ConvSpec(filters=draw(st.integers(1, 4)), kernel=kernel, stride=draw(st.integers(1, 3)),
                               padding=draw(st.one_of(st.just("same"), st.integers(0, kernel - 1))),
                               activation=draw(st.sampled_from(ACTIVATIONS)),
                               pool=draw(st.sampled_from(["max", "avg", "none"])),
                               pool_size=draw(st.integers(1, 3)), pool_stride=draw(st.integers(1, 3))))
    for _ in range(draw(st.integers(0, 1))):
        layers.append(DenseSpec(units=draw(st.integers(1, 8)), activation=draw(st.sampled_from(ACTIVATIONS))))
    layers.append(DenseSpec(units=draw(st.integers(2, 5))))
    try:
        validate_layers(input_shape, layers)
    except ValueError:
        assume(False)  # e.g. a kernel or pool window that no longer fits after the first stage
    network = Network(layers=layers, input_shape=input_shape, seed=draw(st.integers(0, 1000)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for p in network.params[1::2]:  # non-zero biases, so their handling is checked too
        p[...] = rng.uniform(-0.3, 0.3, p.shape)
    return network, rng


def images(rng, network, n) -> np.ndarray:
    return rng.uniform(0, 1, (n,) + network.input_shape).astype(np.float32)


# ---------------------------------------------------------------- seeding

def test_same_seed_same_params_other_seed_other_params():
    a, b, c = Network(seed=3), Network(seed=3), Network(seed=4)
    assert len(a.params) == 2 * len(a.layers)
    for pa, pb in zip(a.params, b.params):
        np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(a.weight(0), c.weight(0))


def test_params_have_the_layer_shapes():
    network = Network()  # 1x28x28 -> 8 3x3 -> pool -> 16 3x3 -> pool -> dense 10
    assert [p.shape for p in network.params] == [(8, 1, 3, 3), (8,), (16, 8, 3, 3), (16,), (10, 16 * 7 * 7), (10,)]
    assert all(p.dtype == np.float32 for p in network.params)
    assert all(not b.any() for b in network.params[1::2])  # biases start at zero
    assert network.weight(1) is network.params[2] and network.bias(2) is network.params[5]
    assert network.weight_counts() == [80, 1168, 7850]


# ---------------------------------------------------------------- the live path: forward_maps

def check_trace_against_twin(trace, network, image, fits=True):
    twin = ref.network_trace(network.layers, network.params, image[None], conv_only=not fits)
    reports = validate_layers(image.shape, network.layers if fits else network.conv_specs + [DenseSpec(1)])
    assert len(trace.stages) == len(network.conv_specs)
    for k, (spec, stage, want) in enumerate(zip(network.conv_specs, trace.stages, twin.stages)):
        H, W = reports[k].input_shape[1:]
        Ho, _ = resolve_padding(H, spec.kernel, spec.stride, spec.padding)
        Wo, _ = resolve_padding(W, spec.kernel, spec.stride, spec.padding)
        assert stage.conv.shape == stage.activation.shape == (spec.filters, Ho, Wo)
        assert stage.pooled.shape == reports[k].output_shape
        ref.assert_close(stage.conv, want.conv[0])
        ref.assert_close(stage.activation, want.activation[0])
        ref.assert_close(stage.pooled, want.pooled[0])
        if spec.pool == "max":
            # the winner may differ only between values equal to float32 precision
            picked = np.take_along_axis(want.activation[0].reshape(spec.filters, -1),
                                        stage.winner.reshape(spec.filters, -1), axis=1)
            ref.assert_close(picked.reshape(stage.pooled.shape), want.pooled[0])
    if not fits:
        assert trace.flat is None and trace.logits is None and trace.probabilities is None and trace.dense == []
        return
    assert trace.flat.shape == (int(np.prod(reports[len(trace.stages) - 1].output_shape)),)
    ref.assert_close(trace.flat, twin.flat[0])
    assert [d.shape for d in trace.dense] == [(s.units,) for s in network.dense_specs]
    for got, want in zip(trace.dense, twin.dense):
        ref.assert_close(got, want[0])
    ref.assert_close(trace.logits, twin.logits[0])
    ref.assert_close(trace.probabilities, twin.probabilities[0], rtol=1e-4, atol=1e-6)
    assert trace.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_forward_maps_of_the_default_network_equal_the_twin():
    network = Network(seed=1)
    image = np.random.default_rng(0).uniform(0, 1, (1, 28, 28)).astype(np.float32)
    trace = network.forward_maps(image)
    check_trace_against_twin(trace, network, image)
    assert [s.pooled.shape for s in trace.stages] == [(8, 14, 14), (16, 7, 7)]
    assert trace.logits.shape == trace.probabilities.shape == (10,)
    np.testing.assert_array_equal(trace.input, image)


def test_forward_maps_takes_a_two_dimensional_image_for_one_channel():
    network = Network(seed=1)
    image = np.random.default_rng(1).uniform(0, 1, (28, 28)).astype(np.float32)
    np.testing.assert_array_equal(network.forward_maps(image).logits, network.forward_maps(image[None]).logits)


def test_forward_maps_on_a_larger_image_returns_only_the_stage_maps():
    network = Network(seed=2)
    image = np.random.default_rng(2).uniform(0, 1, (1, 64, 80)).astype(np.float32)
    trace = network.forward_maps(image)
    assert [s.conv.shape for s in trace.stages] == [(8, 64, 80), (16, 32, 40)]
    assert [s.pooled.shape for s in trace.stages] == [(8, 32, 40), (16, 16, 20)]
    check_trace_against_twin(trace, network, image, fits=False)
    # and the network's own size still works afterwards
    check_trace_against_twin(network.forward_maps(image[:, :28, :28]), network, image[:, :28, :28])


def test_forward_maps_refuses_the_wrong_number_of_channels():
    with pytest.raises(ValueError, match=r"takes 1 channel\(s\).*Fix: convert the image to grayscale"):
        Network().forward_maps(np.zeros((3, 28, 28), np.float32))


@given(networks())
def test_forward_maps_of_random_networks_equal_the_twin(case):
    network, rng = case
    image = images(rng, network, 1)[0]
    check_trace_against_twin(network.forward_maps(image), network, image)


# ---------------------------------------------------------------- the batch path

@pytest.mark.parametrize("n, batch_size", [(1, 256), (3, 256), (4, 256), (7, 3), (9, 4)])
def test_forward_on_a_batch_equals_stacked_forward_maps_logits(n, batch_size):
    network = Network(seed=5)
    x = images(np.random.default_rng(n), network, n)
    logits = network.forward(x, batch_size=batch_size)
    assert logits.shape == (n, 10) and logits.dtype == np.float32
    stacked = np.stack([network.forward_maps(image).logits for image in x])
    np.testing.assert_allclose(logits, stacked, rtol=1e-5, atol=1e-5)
    ref.assert_close(logits, ref.network_forward(network.layers, network.params, x))
    probabilities = network.predict_proba(x, batch_size=batch_size)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities, np.stack([network.forward_maps(image).probabilities for image in x]),
                               rtol=1e-4, atol=1e-6)


def test_forward_of_an_empty_batch():
    assert Network().forward(np.zeros((0, 1, 28, 28), np.float32)).shape == (0, 10)


@given(networks(), st.integers(1, 5))
def test_forward_and_loss_and_grads_of_random_networks_equal_the_twin(case, n):
    network, rng = case
    x = images(rng, network, n)
    labels = rng.integers(0, network.num_classes, n)
    twin_loss, _, twin_logits = ref.network_loss_and_grads(network.layers, network.params, x, labels)

    ref.assert_close(network.forward(x), twin_logits)
    loss, grads, logits = network.loss_and_grads(x, labels)

    assert loss == pytest.approx(twin_loss, rel=1e-5, abs=1e-6)
    ref.assert_close(logits, twin_logits)
    assert_grads_close(grads, network, x, labels)


def test_loss_and_grads_of_the_default_network_equal_the_twin():
    network = Network(seed=6)
    rng = np.random.default_rng(6)
    x, labels = images(rng, network, 5), rng.integers(0, 10, 5)
    loss, grads, _ = network.loss_and_grads(x, labels)
    assert loss == pytest.approx(ref.network_loss(network.layers, network.params, x, labels), rel=1e-5)
    assert_grads_close(grads, network, x, labels)


@pytest.mark.parametrize("labels", [[10, 0], [-1, 0]])
def test_loss_and_grads_refuses_labels_out_of_range(labels):
    """Like softmax_cross_entropy, the training step must refuse a label that is not a class index.

    The bad label sits in the first row so that, while unchecked, Numba's unchecked
    indexing reads and writes the next row instead of past the buffers' ends.
    """
    network = Network(input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="labels"):
        network.loss_and_grads(np.zeros((2, 1, 8, 8), np.float32), np.array(labels))


def test_loss_and_grads_changes_neither_params_nor_input():
    network = Network(seed=8)
    x = images(np.random.default_rng(8), network, 4)
    before, x_before = network.get_state(), x.copy()
    network.loss_and_grads(x, np.arange(4))
    for p, saved in zip(network.params, before):
        np.testing.assert_array_equal(p, saved)
    np.testing.assert_array_equal(x, x_before)


def test_input_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match=r"does not fit this network, which takes \(N, 1, 28, 28\).*Fix: resize"):
        Network().forward(np.zeros((2, 1, 27, 28), np.float32))


def test_state_round_trip_and_copy():
    network = Network(seed=7)
    state = network.get_state()
    twin = network.copy()
    for p in network.params:
        p += 1.0
    for saved, copied in zip(state, twin.params):
        np.testing.assert_array_equal(saved, copied)  # the copy owns its weights
    network.set_state(state)
    for p, saved in zip(network.params, state):
        np.testing.assert_array_equal(p, saved)
    with pytest.raises(ValueError, match="do not fit"):
        Network(layers=default_layers()[1:], input_shape=(8, 14, 14)).set_state(state)
