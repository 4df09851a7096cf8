"""Occlusion maps and receptive fields."""
import numpy as np
import pytest

from cnnstudio.engine import Network
from cnnstudio.lessons.ann_vs_cnn import cnn_layers, one_engine_thread, train_steps
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.lessons.occlusion import field_growth, field_sizes, occlusion_map, patch_positions


@pytest.fixture(scope="module")
def trained():
    train, test = load_mnist_5k()
    network = Network(cnn_layers(), seed=0)
    with one_engine_thread():
        for _ in train_steps(network, train.images[::2], train.labels[::2], epochs=2, lr=4e-3):
            pass
    return network, test


def test_occluding_the_digit_lowers_the_predicted_class_probability(trained):
    network, test = trained
    lowered = 0
    for digit in range(10):
        image = test.images[np.flatnonzero(test.labels == digit)[0], 0]
        result = occlusion_map(network, image, patch=8, stride=2)
        assert result.target == int(np.argmax(network.predict_proba(image[None, None])))
        ink = np.array([[image[r:r + 8, c:c + 8].sum() for c in range(0, 21, 2)] for r in range(0, 21, 2)])
        r, c = np.unravel_index(np.argmax(result.drop), result.drop.shape)
        # the worst patch sits on the digit; hiding empty paper changes nothing
        if result.largest_drop > 0.1 and ink[r, c] > 2:
            lowered += 1
        np.testing.assert_allclose(result.drop[ink == 0], 0, atol=1e-6)
        assert result.pixel_drop.shape == image.shape
    assert lowered >= 7


def test_patch_positions_cover_the_edge():
    assert patch_positions(28, 6, 4) == [0, 4, 8, 12, 16, 20, 22]


def test_receptive_field_grows_layer_by_layer():
    network = Network(seed=0)
    assert field_sizes(network) == [("conv 1", 3), ("pool 1", 4), ("conv 2", 8), ("pool 2", 10)]
    growth = field_growth(network, 1, "pooled", 3, 3)
    assert [step.label for step in growth] == ["input", "conv 1", "pool 1", "conv 2", "pool 2"]
    assert growth[0].rect.height == 10 and growth[-1].rect.height == 1
