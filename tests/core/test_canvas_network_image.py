"""CanvasModel.load_network_image: an image already in the network's pixels (a data set digit, an adversarial
nudge) goes on the canvas as one undo step, and the network sees exactly it, MNIST framing or not."""
from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.imaging.framing import mnist_frame


def a_nudged_digit() -> np.ndarray:
    """A digit with faint noise everywhere: framing it again would shrink it to fit the noise's box."""
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1.0
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, image.shape).astype(np.float32)
    return np.clip(image + noise, 0.0, 1.0)


def test_reframing_would_change_the_image():
    image = a_nudged_digit()
    assert np.abs(mnist_frame(image) - image).max() > 0.5  # why the canvas must not frame it again


@pytest.mark.parametrize("framing", [True, False])
def test_the_network_sees_exactly_the_loaded_image(framing):
    canvas = CanvasModel()
    canvas.set_mnist_framing(framing)
    image = a_nudged_digit()
    canvas.load_network_image(image)
    np.testing.assert_array_equal(canvas.image, image)
    np.testing.assert_array_equal(canvas.network_input(), image)
    assert canvas.framing() is None  # the network's pixels are the drawing's


def test_loading_is_one_undo_step_and_undo_redo_keep_what_the_network_sees():
    canvas = CanvasModel()
    canvas.stamp_sample_digit(3)
    drawn, framed = canvas.image.copy(), canvas.network_input()
    events = []
    canvas.events.image_changed.connect(lambda: events.append("image"))
    image = a_nudged_digit()
    canvas.load_network_image(image)
    assert events == ["image"]
    canvas.undo()
    np.testing.assert_array_equal(canvas.image, drawn)
    np.testing.assert_array_equal(canvas.network_input(), framed)  # the drawing is framed as before
    canvas.redo()
    np.testing.assert_array_equal(canvas.network_input(), image)


def test_strokes_on_a_loaded_image_are_seen_as_drawn_and_undo_alone():
    canvas = CanvasModel()
    image = a_nudged_digit()
    canvas.load_network_image(image)
    canvas.begin_stroke(3, 3)
    canvas.stroke_to(8, 3)
    canvas.end_stroke()
    np.testing.assert_array_equal(canvas.network_input(), canvas.image)  # not framed
    canvas.undo()
    np.testing.assert_array_equal(canvas.network_input(), image)


def test_clear_or_a_new_image_brings_framing_back():
    canvas = CanvasModel()
    canvas.load_network_image(a_nudged_digit())
    canvas.clear()
    canvas.stamp_sample_digit(1)
    assert canvas.framing() is not None


def test_a_network_image_of_another_size_switches_the_canvas_size():
    canvas = CanvasModel(size=128)
    sizes = []
    canvas.events.size_changed.connect(lambda: sizes.append(canvas.size))
    canvas.load_network_image(a_nudged_digit()[None])  # (1, H, W) is taken too
    assert canvas.size == 28 and sizes == [28]
    canvas.undo()
    assert canvas.size == 128


@pytest.mark.parametrize("bad", [np.zeros((28, 20)), np.zeros((3, 28, 28)), np.full((28, 28), np.nan),
                                 np.zeros((30, 30))])
def test_a_bad_image_is_refused_and_nothing_changes(bad):
    canvas = CanvasModel()
    canvas.stamp_sample_digit(2)
    before = canvas.image.copy()
    with pytest.raises(ValueError, match="Fix:"):
        canvas.load_network_image(bad)
    np.testing.assert_array_equal(canvas.image, before)
