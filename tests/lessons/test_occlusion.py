"""Occlusion maps and receptive fields."""
import re

import numpy as np
import pytest

from cnnstudio.engine import Network
from cnnstudio.lessons.ann_vs_cnn import cnn_layers, lesson_trainer, one_engine_thread
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.lessons.occlusion import field_growth, field_sizes, occlusion_map, patch_positions


@pytest.fixture(scope="module")
def trained():
    train, test = load_mnist_5k()
    network = Network(cnn_layers(), seed=0)
    with one_engine_thread():
        lesson_trainer(network, train.images[::2], train.labels[::2], epochs=2, learning_rate=4e-3).run()
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


@pytest.mark.parametrize("network, image, words", [
    (Network(seed=0), np.zeros((3, 28, 28), np.float32), ["(3, 28, 28)", "grayscale"]),
    (Network(seed=0), np.zeros((2, 1, 28, 28), np.float32), ["(2, 1, 28, 28)", "one grey image"]),
    (Network(seed=0), np.zeros((64, 48), np.float32), ["64x48", "28x28", "resize"]),
    (Network(input_shape=(3, 28, 28), seed=0), np.zeros((3, 28, 28), np.float32), ["3 channels", "one-channel"]),
])
def test_an_input_that_does_not_fit_is_refused(network, image, words):
    with pytest.raises(ValueError) as refused:
        occlusion_map(network, image)
    message = str(refused.value)
    assert message.startswith("occlusion_map: ") and "Fix: " in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize("arguments, word", [({"patch": 0}, "patch = 0"), ({"stride": 1.5}, "stride = 1.5"),
                                              ({"target": 10}, "target = 10")])
def test_impossible_patch_stride_or_target_is_refused(arguments, word):
    with pytest.raises(ValueError, match=rf"{re.escape(word)}.*Fix"):
        occlusion_map(Network(seed=0), np.zeros((28, 28), np.float32), **arguments)


def test_a_one_channel_image_with_its_channel_axis_is_accepted():
    network, image = Network(seed=0), np.random.default_rng(0).random((28, 28), dtype=np.float32)
    np.testing.assert_array_equal(occlusion_map(network, image[None], patch=14, stride=14).drop,
                                  occlusion_map(network, image, patch=14, stride=14).drop)
