"""Attribution maps against slow NumPy twins (tests/reference.py) and finite differences; integrated
gradients' completeness on the shipped model with real digits and on random networks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import ConvSpec, DenseSpec, Network, validate_layers
from cnnstudio.engine.shapes import ACTIVATIONS
from cnnstudio.imaging.resample import resample
from cnnstudio.inspection import attribution as attr
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model
from cnnstudio.lessons.occlusion import occlusion_map


@st.composite
def networks(draw, max_stages=3):
    """A small random network: 1..max_stages conv stages (kernels, paddings, strides, pools), dense layers."""
    input_shape = (draw(st.integers(1, 2)), draw(st.integers(6, 14)), draw(st.integers(6, 14)))
    layers = []
    for _ in range(draw(st.integers(1, max_stages))):
        kernel = draw(st.integers(1, 4))
        layers.append(ConvSpec(filters=draw(st.integers(1, 4)), kernel=kernel, stride=draw(st.integers(1, 2)),
                               padding=draw(st.one_of(st.just("same"), st.integers(0, kernel - 1))),
                               activation=draw(st.sampled_from(ACTIVATIONS)),
                               pool=draw(st.sampled_from(["max", "avg", "none"])),
                               pool_size=draw(st.integers(1, 2)), pool_stride=draw(st.integers(1, 2))))
    if draw(st.booleans()):
        layers.append(DenseSpec(units=draw(st.integers(2, 6)), activation=draw(st.sampled_from(ACTIVATIONS))))
    layers.append(DenseSpec(units=draw(st.integers(2, 5))))
    try:
        validate_layers(input_shape, layers)
    except ValueError:
        assume(False)  # a kernel or pool window that no longer fits after the stages before it
    network = Network(layers=layers, input_shape=input_shape, seed=draw(st.integers(0, 1000)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for bias in network.params[1::2]:
        bias[...] = rng.uniform(-0.3, 0.3, bias.shape)
    image = rng.uniform(0, 1, input_shape).astype(np.float32)
    return network, image, rng


def _twin_gradient(network, x, target):
    """d logit_target / d x by the twin's backpropagation, float64, x (N, C, H, W)."""
    onehot = np.zeros((len(x), network.num_classes))
    onehot[:, target] = 1
    return ref.network_input_gradient(network.layers, network.params, x.astype(np.float64), onehot)


def _close(got, want, rtol=1e-3):
    scale = np.abs(want).max() + 1e-6
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-4 * scale)


@pytest.fixture(scope="module")
def shipped():
    return load_model(DEFAULT_MODEL_PATH).network


@pytest.fixture(scope="module")
def digits():
    return load_mnist_5k()[1]


# ---------------------------------------------------------------- saliency

@settings(max_examples=15)
@given(networks(), st.data())
def test_saliency_is_the_finite_difference_gradient_of_the_twin(case, data):
    network, image, _ = case
    target = data.draw(st.integers(0, network.num_classes - 1))
    result = attr.saliency(network, image, target)
    x64 = image[None].astype(np.float64)
    numeric = ref.numeric_gradient(lambda: ref.network_forward(network.layers, network.params, x64)[0, target], x64)
    assert result.gradient.dtype == np.float32 and result.map.shape == image.shape[1:]
    _close(result.gradient, numeric[0])
    _close(result.map, np.abs(numeric[0]).max(axis=0))
    assert not result.signed and result.levels == (0.0, pytest.approx(float(result.map.max())))
    assert result.target == target and result.predicted == int(np.argmax(network.forward(image[None])[0]))


def test_the_target_is_the_predicted_class_by_default(shipped, digits):
    image = digits.images[7]
    predicted = int(np.argmax(shipped.forward(image[None])[0]))
    for method in attr.METHODS:
        result = attr.attribute(method, shipped, image)
        assert result.target == result.predicted == predicted
        assert result.map.shape == (28, 28) and result.map.dtype == np.float32 and np.isfinite(result.map).all()


# ---------------------------------------------------------------- SmoothGrad

@settings(max_examples=15)
@given(networks(), st.integers(1, 6), st.floats(0.0, 0.3), st.integers(0, 99))
def test_smoothgrad_is_the_mean_twin_gradient_over_the_same_noise(case, samples, noise, seed):
    network, image, _ = case
    result = attr.smoothgrad(network, image, 0, samples=samples, noise=noise, seed=seed)
    noisy = image[None] + attr.smoothgrad_noise(image.shape, samples, noise, seed)
    want = _twin_gradient(network, noisy, 0)[0].mean(axis=0)
    _close(result.gradient, want)
    _close(result.map, want.sum(axis=0))
    assert result.signed and result.levels[0] == -result.levels[1]


def test_smoothgrad_noise_is_seeded_and_has_the_asked_spread():
    a = attr.smoothgrad_noise((1, 28, 28), 32, 0.15, seed=4)
    np.testing.assert_array_equal(a, attr.smoothgrad_noise((1, 28, 28), 32, 0.15, seed=4))
    assert not np.array_equal(a, attr.smoothgrad_noise((1, 28, 28), 32, 0.15, seed=5))
    assert a.std() == pytest.approx(0.15, rel=0.02)


# ---------------------------------------------------------------- integrated gradients

def test_integrated_gradients_are_complete_on_the_shipped_model_with_real_digits(shipped, digits):
    """sum(attributions) = score(x) - score(blank) within 1%, for the first 30 test digits (predicted class)."""
    blank = np.zeros((1, 1, 28, 28))
    errors = []
    for image in digits.images[:30]:
        result = attr.integrated_gradients(shipped, image)
        # the score change from the twin, not from the function under test
        change = (ref.network_forward(shipped.layers, shipped.params, image[None].astype(np.float64))
                  - ref.network_forward(shipped.layers, shipped.params, blank))[0, result.target]
        assert result.score_change == pytest.approx(change, rel=1e-4, abs=1e-4)
        assert result.total == pytest.approx(float(result.map.sum(dtype=np.float64)), rel=1e-4, abs=1e-4)
        errors.append(abs(result.total - change) / abs(change))
        assert result.completeness_error == pytest.approx(errors[-1], rel=1e-2, abs=1e-4)
        assert (result.map[image[0] == 0] == 0).all(), "a blank pixel (= the baseline) gets no attribution"
    assert max(errors) <= 0.01, f"completeness errors {np.round(errors, 4)}"


def test_integrated_gradients_equal_the_twin_trapezoid_rule(shipped, digits):
    image = digits.images[2]
    result = attr.integrated_gradients(shipped, image, target=5, steps=8, tolerance=0.0, max_steps=32)
    assert result.steps == 32  # doubled 8 -> 16 -> 32, then stopped at max_steps
    alphas = np.arange(33) / 32
    grads, _ = _twin_gradient(shipped, alphas[:, None, None, None] * image[None], 5)
    weights = np.full(33, 1 / 32)
    weights[[0, -1]] = 1 / 64
    _close(result.gradient, image * np.tensordot(weights, grads, axes=1))


@settings(max_examples=25)
@given(networks())
def test_integrated_gradients_are_complete_on_random_networks(case):
    network, image, _ = case
    x64 = image[None].astype(np.float64)
    scores = ref.network_forward(network.layers, network.params, x64)[0]
    blank_scores = ref.network_forward(network.layers, network.params, np.zeros_like(x64))[0]
    target = int(np.argmax(np.abs(scores - blank_scores)))  # the class whose score the image moves most
    change = scores[target] - blank_scores[target]
    result = attr.integrated_gradients(network, image, target)
    # within 1%, plus float32 rounding of the scores when they barely move
    bound = 0.01 * abs(change) + 1e-5 * (1 + abs(scores[target]) + abs(blank_scores[target]))
    assert abs(result.total - change) <= bound, (result.total, change, result.steps)


def test_integrated_gradients_from_another_baseline(shipped, digits):
    image, baseline = digits.images[0], digits.images[1]
    result = attr.integrated_gradients(shipped, image, baseline=baseline)
    scores = shipped.forward(np.stack([image, baseline]))[:, result.target]
    assert result.score_change == pytest.approx(float(scores[0] - scores[1]), rel=1e-4)
    assert result.completeness_error <= 0.01


# ---------------------------------------------------------------- Grad-CAM

@settings(max_examples=20)
@given(networks(), st.data())
def test_grad_cam_is_the_twins_weighted_maps(case, data):
    network, image, _ = case
    stage = data.draw(st.integers(0, len(network.conv_specs) - 1))
    target = data.draw(st.integers(0, network.num_classes - 1))
    result = attr.grad_cam(network, image, target, stage)
    trace = ref.network_trace(network.layers, network.params, image[None].astype(np.float64))
    _, activation_grads = _twin_gradient(network, image[None], target)
    maps, grads = trace.stages[stage].activation[0], activation_grads[stage][0]
    want = np.maximum(np.tensordot(grads.mean(axis=(1, 2)), maps, axes=1), 0)
    _close(result.cam, want)
    assert result.map.shape == image.shape[1:] and (result.map >= 0).all()
    _close(result.map, np.maximum(resample(want, image.shape[1:]), 0))
    assert result.stage == stage and result.filter_weights.shape == (network.conv_specs[stage].filters,)


def test_grad_cam_defaults_to_the_last_conv_stage(shipped, digits):
    result = attr.grad_cam(shipped, digits.images[0])
    assert result.stage == 1 and result.cam.shape == (14, 14)
    assert attr.conv_stage_names(shipped) == ["conv 1 (8 maps 28×28)", "conv 2 (16 maps 14×14)"]


def test_grad_cam_without_a_conv_layer_says_it_needs_one():
    network = Network([DenseSpec(6, "relu"), DenseSpec(3)], input_shape=(1, 8, 8), seed=0)
    with pytest.raises(ValueError, match="no conv layer.*Fix: add a conv layer"):
        attr.grad_cam(network, np.zeros((8, 8), np.float32))
    results = attr.attribute_all(network, np.ones((8, 8), np.float32))
    assert isinstance(results["grad_cam"][0], str) and "no conv layer" in results["grad_cam"][0]
    for method in ("saliency", "smoothgrad", "integrated_gradients", "occlusion"):
        assert results[method][0].map.shape == (8, 8), method  # the others still work


# ---------------------------------------------------------------- occlusion (the lesson's, reused)

def test_occlusion_is_the_lessons_occlusion_map(shipped, digits):
    image = digits.images[4]
    result = attr.occlusion(shipped, image, target=3)
    lesson = occlusion_map(shipped, image[0], attr.OCCLUSION_PATCH, attr.OCCLUSION_STRIDE, target=3)
    np.testing.assert_array_equal(result.map, lesson.pixel_drop.astype(np.float32))
    assert result.target == 3 and result.signed and result.occlusion.baseline == pytest.approx(lesson.baseline)


def test_occlusion_of_a_colour_network_gives_its_reason_and_the_others_still_work():
    network = Network([ConvSpec(filters=2, kernel=3, padding=1), DenseSpec(3)], input_shape=(3, 8, 8), seed=1)
    results = attr.attribute_all(network, np.random.default_rng(0).uniform(0, 1, (3, 8, 8)))
    assert "channels" in results["occlusion"][0]
    assert all(results[m][0].map.shape == (8, 8) for m in attr.METHODS if m != "occlusion")


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, message", [
    (lambda n: attr.saliency(n, np.zeros((20, 20))), "takes \\(1, 28, 28\\).*Fix: resize"),
    (lambda n: attr.saliency(n, np.full((28, 28), np.nan)), "NaN.*Fix"),
    (lambda n: attr.smoothgrad(n, np.zeros((28, 28)), 10), "target = 10.*Fix"),
    (lambda n: attr.smoothgrad(n, np.zeros((28, 28)), samples=0), "samples.*Fix"),
    (lambda n: attr.integrated_gradients(n, np.zeros((28, 28)), steps=0), "steps.*Fix"),
    (lambda n: attr.grad_cam(n, np.zeros((28, 28)), stage=2), "stages 0..1.*Fix"),
    (lambda n: attr.attribute("lime", n, np.zeros((28, 28))), "unknown method.*Fix"),
])
def test_bad_input_is_refused_with_a_fix(shipped, call, message):
    with pytest.raises(ValueError, match=message):
        call(shipped)
