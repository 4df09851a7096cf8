"""The digit space: last-hidden-layer features against the NumPy twin, the PCA against NumPy's covariance
eigenvectors, axes that keep their sign between fits, and points where the projection puts them."""
from __future__ import annotations

import importlib.util
from functools import lru_cache

import numpy as np
import pytest

import reference as ref
from cnnstudio.engine import ConvSpec, DenseSpec, Network, last_hidden_features
from cnnstudio.inspection.digit_space import Pca, digit_space, embedding_available, fit_pca, pick_digits
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model


@lru_cache(maxsize=1)
def shipped():
    return load_model(DEFAULT_MODEL_PATH).network


@lru_cache(maxsize=1)
def mnist_test():
    return load_mnist_5k()[1]


ARCHITECTURES = {
    "conv then the output layer": [ConvSpec(4, 3, padding=1), ConvSpec(6, 3, padding=0, pool="avg"), DenseSpec(7)],
    "a hidden dense layer": [ConvSpec(4, 3, padding=1, activation="tanh"), DenseSpec(12, activation="relu"),
                             DenseSpec(5)],
    "no conv layer": [DenseSpec(9, activation="sigmoid"), DenseSpec(3)],
    "only the output layer": [DenseSpec(4)],
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_features_are_the_twins_input_of_the_last_dense_layer(name):
    layers = ARCHITECTURES[name]
    network = Network(layers, (1, 10, 10), seed=3)
    x = np.random.default_rng(0).random((7, 1, 10, 10)).astype(np.float32)
    trace = ref.network_trace(network.layers, network.params, x)
    want = trace.dense_inputs[-1]  # the flattened maps, or the last hidden dense layer's output
    hidden_dense = sum(isinstance(s, DenseSpec) for s in layers) > 1
    np.testing.assert_array_equal(want, trace.dense[-2] if hidden_dense else trace.flat)
    got = last_hidden_features(network, x, batch_size=3)  # several chunks
    assert got.shape == (7, network.weight(-1).shape[1]) and got.dtype == np.float32
    ref.assert_close(got, want)


def test_features_of_the_shipped_model_are_its_flattened_last_maps():
    images = mnist_test().images[:5]
    got = last_hidden_features(shipped(), images)
    for image, row in zip(images, got):
        np.testing.assert_allclose(row, shipped().forward_maps(image).flat, rtol=1e-5, atol=1e-5)


def test_features_of_no_images_are_an_empty_table():
    assert last_hidden_features(shipped(), np.zeros((0, 1, 28, 28), np.float32)).shape == (0, 784)


def covariance_axes(features):
    values, vectors = np.linalg.eigh(np.cov(np.asarray(features, np.float64).T))
    order = np.argsort(values)[::-1]
    return vectors[:, order[:2]].T, values[order[:2]] / values.sum()


@pytest.mark.parametrize("shape", [(300, 60), (40, 5), (1000, 784)])
def test_the_pca_axes_are_the_covariance_eigenvectors(shape):
    rng = np.random.default_rng(shape[1])
    scales = np.linspace(3.0, 0.2, shape[1])  # distinct variances: the axes are well defined
    features = rng.normal(size=shape) * scales + rng.normal(size=shape[1]) * 5
    pca = fit_pca(features)
    axes, explained = covariance_axes(features)
    np.testing.assert_allclose(np.abs(np.sum(pca.axes * axes, axis=1)), 1.0, atol=1e-8)
    np.testing.assert_allclose(pca.explained, explained, rtol=1e-8)
    np.testing.assert_allclose(pca.mean, features.mean(axis=0))
    np.testing.assert_allclose(np.linalg.norm(pca.axes, axis=1), 1.0)


def test_the_pca_of_real_features_matches_numpy():
    digits = mnist_test()
    features = last_hidden_features(shipped(), digits.images[pick_digits(digits.labels)])
    pca = fit_pca(features)
    axes, explained = covariance_axes(features)
    np.testing.assert_allclose(np.abs(np.sum(pca.axes * axes, axis=1)), 1.0, atol=1e-8)
    np.testing.assert_allclose(pca.explained, explained, rtol=1e-6)


def test_the_axes_keep_their_sign_from_one_fit_to_the_next():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 30)) * np.linspace(2, 0.1, 30)
    first = fit_pca(features)
    # a slightly changed set (as after a training step), then the previous axes turned around
    second = fit_pca(features + rng.normal(scale=0.01, size=features.shape), previous=first)
    assert np.all(np.sum(second.axes * first.axes, axis=1) > 0.99)
    flipped = Pca(first.mean, -first.axes, first.explained)
    third = fit_pca(features, previous=flipped)
    np.testing.assert_allclose(third.axes, -first.axes, atol=1e-6)  # iterative axes: to ~1e-7
    # without a previous fit, the same data always gives the same signs
    np.testing.assert_allclose(fit_pca(features).axes, first.axes, atol=1e-12)


def test_a_digit_is_placed_where_the_scatter_shows_it():
    digits = mnist_test()
    picks = pick_digits(digits.labels, total=200, per_class=20)
    space = digit_space(shipped(), digits.images[picks])
    assert space.points.shape == (200, 2)
    for k in (0, 57, 199):
        np.testing.assert_allclose(space.place(shipped(), digits.images[picks[k]]), space.points[k],
                                   rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(space.pca.project(space.features), space.points)


def test_the_space_follows_the_previous_one_after_a_weight_change():
    digits = mnist_test()
    images = digits.images[pick_digits(digits.labels, total=300, per_class=30)]
    network = shipped().copy()
    before = digit_space(network, images)
    network.params[0] += np.random.default_rng(0).normal(0, 0.01, network.params[0].shape).astype(np.float32)
    after = digit_space(network, images, previous=before)
    assert np.all(np.sum(after.pca.axes * before.pca.axes, axis=1) > 0)
    assert not np.allclose(after.points, before.points)  # the points moved with the weights


def test_pick_digits_takes_a_hundred_of_each_class_when_it_can():
    labels = mnist_test().labels
    picks = pick_digits(labels)
    assert picks.size == 1000 and np.unique(picks).size == 1000
    assert np.all(np.bincount(labels[picks], minlength=10) == 100)
    np.testing.assert_array_equal(pick_digits(labels), picks)


def test_pick_digits_fills_up_from_the_larger_classes():
    labels = np.array([0] * 5 + [1] * 300 + [2] * 300)
    picks = pick_digits(labels, total=250, per_class=100)
    assert picks.size == 250
    counts = np.bincount(labels[picks], minlength=3)
    assert counts[0] == 5 and counts[1] >= 100 and counts[2] >= 100
    assert pick_digits(labels[:3], total=1000).size == 3


def test_fit_pca_refuses_too_few_digits():
    with pytest.raises(ValueError, match="Fix:"):
        fit_pca(np.zeros((1, 4)))


def test_projection_refuses_features_of_another_network():
    pca = fit_pca(np.random.default_rng(0).normal(size=(10, 4)))
    with pytest.raises(ValueError, match="Fix:"):
        pca.project(np.zeros((2, 5)))


def test_tsne_is_offered_only_when_scikit_learn_is_installed():
    available, reason = embedding_available("t-SNE")
    assert available == (importlib.util.find_spec("sklearn") is not None)
    if not available:
        assert "scikit-learn" in reason
