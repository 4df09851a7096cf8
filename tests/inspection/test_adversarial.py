"""Adversarial nudges (FGSM, PGD) against a NumPy twin, and what they promise: inside the epsilon ball
and [0, 1], PGD stronger than FGSM on the shipped model, epsilon 0 changes nothing."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.inspection.adversarial import GREY_LEVEL, change_measures, fgsm, pgd
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model


@lru_cache(maxsize=1)
def shipped():
    return load_model(DEFAULT_MODEL_PATH).network


@lru_cache(maxsize=1)
def mnist_test():
    return load_mnist_5k()[1]


def small_network(seed: int) -> Network:
    """A smooth (tanh) network on 8x8 inputs, so every pixel's gradient has a clear sign."""
    layers = [ConvSpec(filters=3, kernel=3, padding=1, activation="tanh", pool="avg"), DenseSpec(units=5)]
    network = Network(layers, (1, 8, 8), seed=seed)
    rng = np.random.default_rng(seed)
    for p in network.params:
        p[...] += rng.normal(0, 0.2, p.shape).astype(np.float32)  # biases too, so nothing is symmetric
    return network


def twin_loss_gradient(network, x: np.ndarray, target: int) -> np.ndarray:
    """d(-log p_target)/dx by central finite differences of the float64 twin network."""
    x64 = np.array(x, dtype=np.float64)[None]

    def loss():
        return -np.log(ref.network_trace(network.layers, network.params, x64).probabilities[0, target])

    return ref.numeric_gradient(loss, x64, h=1e-5)[0]


def twin_sign_step(x, gradient, step, low, high):
    return np.clip(x - step * np.sign(gradient), low, high)


def decisive(gradient) -> np.ndarray:
    """Pixels whose gradient sign float32 rounding cannot flip."""
    return np.abs(gradient) > 1e-4 * np.abs(gradient).max()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fgsm_is_the_twins_sign_step_against_the_loss_gradient(seed):
    network = small_network(seed)
    rng = np.random.default_rng(seed)
    x = rng.random((1, 8, 8)).astype(np.float32)
    x[0, 0, :4] = (0.0, 1.0, 0.0, 1.0)  # pixels at the edges of [0, 1]: the clip must hold them in
    target = int(rng.integers(5))
    epsilon = 0.15
    gradient = twin_loss_gradient(network, x, target)
    expected = twin_sign_step(x.astype(np.float64), gradient, epsilon, 0.0, 1.0)
    nudge = fgsm(network, x, target, epsilon)
    mask = decisive(gradient)
    assert mask.mean() > 0.9
    np.testing.assert_allclose(nudge.image[mask], expected[mask], atol=1e-6)
    # the step raises the target's probability (the sign is toward the target, not away from it)
    assert nudge.probabilities[target] > nudge.original_probabilities[target]


@pytest.mark.parametrize("seed", [4, 5])
def test_pgd_is_the_twins_projected_sign_walk(seed):
    network = small_network(seed)
    rng = np.random.default_rng(seed)
    x = rng.random((1, 8, 8)).astype(np.float32)
    target, epsilon, steps, step_size = int(rng.integers(5)), 0.2, 3, 0.08
    low, high = np.clip(x - epsilon, 0, 1), np.clip(x + epsilon, 0, 1)
    walk = x.astype(np.float64)
    for _ in range(steps):
        gradient = twin_loss_gradient(network, walk.astype(np.float32), target)
        assert decisive(gradient).all(), "an ambiguous sign would make the comparison meaningless"
        walk = twin_sign_step(walk, gradient, step_size, low, high)
    nudge = pgd(network, x, target, epsilon, steps, step_size)
    np.testing.assert_allclose(nudge.image, walk, atol=1e-6)
    np.testing.assert_allclose(nudge.perturbation, walk - x, atol=1e-6)
    assert nudge.probabilities[target] > nudge.original_probabilities[target]


@settings(max_examples=25)
@given(st.integers(0, 999), st.integers(0, 9), st.floats(0.0, 0.5), st.sampled_from(["fgsm", "pgd"]))
def test_the_nudge_stays_inside_the_epsilon_ball_and_the_pixel_range(index, target, epsilon, method):
    image = mnist_test().images[index]
    nudge = fgsm(shipped(), image, target, epsilon) if method == "fgsm" else pgd(shipped(), image, target, epsilon, 5)
    assert nudge.image.shape == image.shape and nudge.image.dtype == np.float32
    assert nudge.image.min() >= 0.0 and nudge.image.max() <= 1.0
    assert np.abs(nudge.perturbation).max(initial=0) <= epsilon + 1e-6
    np.testing.assert_allclose(nudge.perturbation, nudge.image - image, atol=1e-7)
    assert nudge.linf <= epsilon + 1e-6
    np.testing.assert_allclose(nudge.probabilities.sum(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(nudge.probabilities, shipped().predict_proba(nudge.image[None])[0], rtol=1e-5)


def test_pgd_reaches_the_target_more_often_than_fgsm_on_the_shipped_model():
    digits = mnist_test()
    rng = np.random.default_rng(0)
    picks = rng.choice(len(digits), 30, replace=False)
    fgsm_hits = pgd_hits = 0
    for k, index in enumerate(picks):
        target = (int(digits.labels[index]) + 1 + k % 9) % 10  # never the true class
        fgsm_hits += fgsm(shipped(), digits.images[index], target, 0.2).reached
        pgd_hits += pgd(shipped(), digits.images[index], target, 0.2, steps=20).reached
    assert pgd_hits > fgsm_hits
    assert pgd_hits >= 0.8 * len(picks)


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_epsilon_zero_changes_nothing(method):
    image = mnist_test().images[3]
    nudge = fgsm(shipped(), image, 5, 0.0) if method == "fgsm" else pgd(shipped(), image, 5, 0.0, 10)
    np.testing.assert_array_equal(nudge.image, image)
    assert not nudge.perturbation.any()
    assert (nudge.linf, nudge.l2, nudge.changed_share) == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(nudge.probabilities, nudge.original_probabilities, rtol=1e-6)
    assert nudge.describe() == "changed no pixel"


def test_change_measures_count_pixels_past_one_grey_level():
    original = np.zeros((1, 4, 4), np.float32)
    nudged = original.copy()
    nudged[0, 0, 0] = 0.3
    nudged[0, 1, 1] = -0.4
    nudged[0, 2, 2] = GREY_LEVEL / 2  # invisible: not counted as changed
    linf, l2, share = change_measures(original, nudged)
    assert linf == pytest.approx(0.4)
    assert l2 == pytest.approx(np.sqrt(0.3 ** 2 + 0.4 ** 2 + (GREY_LEVEL / 2) ** 2))
    assert share == pytest.approx(2 / 16)


def test_the_description_says_how_little_changed():
    nudge = fgsm(shipped(), mnist_test().images[0], 2, 0.1)
    assert nudge.describe().startswith(f"changed {nudge.changed_share:.0%} of pixels, by at most 0.10")


@pytest.mark.parametrize("call, words", [
    (lambda n, x: fgsm(n, x, 10, 0.1), "target = 10"),
    (lambda n, x: fgsm(n, x, -1, 0.1), "target = -1"),
    (lambda n, x: fgsm(n, x, 1, -0.1), "epsilon = -0.1"),
    (lambda n, x: fgsm(n, x, 1, float("nan")), "epsilon = nan"),
    (lambda n, x: pgd(n, x, 1, 0.1, 0), "steps = 0"),
    (lambda n, x: pgd(n, x, 1, 0.1, 5, float("inf")), "step_size = inf"),
    (lambda n, x: fgsm(n, np.zeros((1, 64, 64)), 1, 0.1), "does not fit"),
    (lambda n, x: fgsm(n, np.full((1, 28, 28), np.nan), 1, 0.1), "NaN"),
])
def test_bad_arguments_are_refused_with_a_fix(call, words):
    with pytest.raises(ValueError, match="Fix:") as err:
        call(shipped(), mnist_test().images[0])
    assert words in str(err.value)
