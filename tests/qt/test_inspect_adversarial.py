"""The Adversarial tab, driven with the mouse in the main window: target, method, epsilon, Apply, Ctrl+Z."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from inspect_mouse import choose, drag_slider, draw_on_canvas
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cnnstudio.inspection.adversarial import pgd
from cnnstudio.io.datasets import load_mnist_5k


@lru_cache(maxsize=1)
def a_test_zero() -> np.ndarray:
    """A real MNIST test digit (a 0, the shipped model is sure of it)."""
    digits = load_mnist_5k()[1]
    return digits.images[np.flatnonzero(digits.labels == 0)[0], 0]


@pytest.fixture
def view(qtbot, window):
    window.canvas_model.load_network_image(a_test_zero())
    window.flush_updates()
    window.inspect_dock.show_tab("adversarial_view")
    view = window.inspect_dock.views["adversarial_view"]
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.nudge is not None)
    return view


def settle(view) -> None:
    QApplication.processEvents()
    QApplication.processEvents()


def test_the_view_is_the_adversarial_tab(view):
    assert view.objectName() == "inspectAdversarial"
    assert type(view).__name__ == "AdversarialView"


def test_target_method_and_epsilon_chosen_with_the_mouse_make_the_nudge(qtbot, window, view):
    choose(qtbot, view.target_box, 3)
    choose(qtbot, view.method_box, "pgd")
    assert view.steps_box.isEnabled()
    drag_slider(qtbot, view.epsilon_slider, 20)
    assert view.epsilon_slider.value() == 20
    assert view.epsilon_label.text() == "0.20"
    qtbot.waitUntil(lambda: view.nudge.target == 3 and view.nudge.method == "PGD" and view.nudge.epsilon == 0.2)
    nudge = view.nudge
    expected = pgd(window.playground.network, window.playground.input, 3, 0.2, view.steps_box.value())
    np.testing.assert_array_equal(nudge.image, expected.image)
    assert nudge.original_prediction == 0 and nudge.reached
    # the bars show both predictions; the words say how little changed
    np.testing.assert_allclose(view.before_bars.opts["height"], nudge.original_probabilities)
    np.testing.assert_allclose(view.after_bars.opts["height"], nudge.probabilities)
    assert "now seen as 3" in view.info.text()
    assert f"changed {nudge.changed_share:.0%} of pixels, by at most 0.20" in view.info.text()
    # the perturbation is shown amplified: its full colour is +-epsilon
    assert view.perturbation_view.levels == (-0.2, 0.2)
    assert "±0.20" in view.perturbation_view.caption


def test_fgsm_hides_the_steps_and_is_weaker_than_pgd(qtbot, view):
    choose(qtbot, view.target_box, 6)
    choose(qtbot, view.method_box, "fgsm")
    qtbot.waitUntil(lambda: view.nudge.method == "FGSM" and view.nudge.target == 6)
    assert not view.steps_box.isEnabled()
    fgsm_target = view.nudge.probabilities[6]
    choose(qtbot, view.method_box, "pgd")
    qtbot.waitUntil(lambda: view.nudge.method == "PGD")
    assert view.nudge.probabilities[6] > fgsm_target


def test_epsilon_zero_changes_nothing_and_cannot_be_applied(qtbot, view):
    drag_slider(qtbot, view.epsilon_slider, 0)
    qtbot.waitUntil(lambda: view.nudge.epsilon == 0.0)
    assert not view.nudge.perturbation.any()
    assert "changed no pixel" in view.info.text()
    assert not view.apply_button.isEnabled()


def test_apply_puts_the_nudged_image_where_the_network_sees_it_and_ctrl_z_takes_it_back(qtbot, window, view):
    choose(qtbot, view.target_box, 2)
    choose(qtbot, view.method_box, "pgd")
    qtbot.waitUntil(lambda: view.nudge.target == 2 and view.nudge.method == "PGD")
    nudged = view.nudge.image.copy()
    before = window.playground.input.copy()
    assert window.canvas_model.mnist_framing  # framing on: the nudge must not be framed again
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    window.flush_updates()
    np.testing.assert_allclose(window.playground.input, nudged, atol=1e-6)
    assert window.playground.trace.probabilities.argmax() == 2
    np.testing.assert_allclose(window.canvas_model.image, nudged[0], atol=1e-6)
    qtbot.keyClick(window.kernel_editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    window.flush_updates()
    np.testing.assert_allclose(window.playground.input, before, atol=1e-6)


def test_the_nudge_follows_every_stroke(qtbot, window, view):
    first = view.nudge.image.copy()
    draw_on_canvas(window, [(4, 4), (4, 20), (20, 20)])
    window.flush_updates()
    qtbot.waitUntil(lambda: not np.array_equal(view.nudge.image, first))
    np.testing.assert_allclose(view.nudge.image - view.nudge.perturbation, window.playground.input, atol=1e-6)


def test_a_hidden_view_does_not_compute(qtbot, window, view):
    window.inspect_dock.show_tab("space_view")
    qtbot.waitUntil(lambda: not view.isVisible())
    shown = view.nudge
    draw_on_canvas(window, [(2, 2), (2, 25)])
    window.flush_updates()
    settle(view)
    assert view.nudge is shown
    window.inspect_dock.show_tab("adversarial_view")  # shown again: it catches up
    qtbot.waitUntil(lambda: view.nudge is not shown)


def test_an_input_of_another_size_is_explained_not_nudged(qtbot, window, view):
    window.canvas_model.set_size(64)
    window.flush_updates()
    qtbot.waitUntil(lambda: view.nudge is None)
    assert "network's size" in view.info.text()
    assert not view.apply_button.isEnabled()
