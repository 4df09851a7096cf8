"""The playground's kernel gradients: handed over with trained weights, forgotten with the weights they belong to."""
from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.engine import Network
from cnnstudio.core.playground import Playground


class Recorder:
    """Every playground event, in order, as (name, args)."""

    def __init__(self, playground):
        self.seen = []
        for name in ("kernels_changed", "architecture_changed", "gradients_changed"):
            getattr(playground.events, name).connect(lambda *args, name=name: self.seen.append((name, args)))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


@pytest.fixture
def playground():
    return Playground(Network(seed=0))


def some_gradients(network, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {layer: rng.standard_normal(network.weight(layer).shape).astype(np.float32)
            for layer in range(len(network.conv_specs))}


def test_trained_weights_bring_their_gradients(playground):
    events = Recorder(playground)
    state, gradients = Network(seed=1).get_state(), some_gradients(playground.network)
    assert playground.kernel_gradients == {}
    playground.set_weights(state, gradients)
    assert sorted(playground.kernel_gradients) == [0, 1]
    for layer, gradient in gradients.items():
        np.testing.assert_array_equal(playground.kernel_gradients[layer], gradient)
        assert playground.kernel_gradients[layer] is not gradient  # a copy: the sender may reuse its arrays
    # announced once, before the weights, so a view repaints once for both
    assert events.names()[0] == "gradients_changed" and events.names().count("gradients_changed") == 1
    assert "kernels_changed" in events.names()


def test_weights_without_gradients_forget_the_old_ones(playground):
    playground.set_weights(playground.network.get_state(), some_gradients(playground.network))
    events = Recorder(playground)
    playground.set_weights(Network(seed=3).get_state())  # e.g. Reset: fresh random weights
    assert playground.kernel_gradients == {}
    assert events.names().count("gradients_changed") == 1
    events.seen.clear()
    playground.set_weights(Network(seed=4).get_state())  # nothing known, nothing new: no event
    assert "gradients_changed" not in events.names()


def test_a_gradient_that_does_not_fit_is_refused(playground):
    good = some_gradients(playground.network)
    playground.set_kernel_gradients(good)
    with pytest.raises(ValueError, match="does not fit conv layer 2"):
        playground.set_kernel_gradients({0: good[0], 1: np.zeros((16, 8, 5, 5), np.float32)})
    with pytest.raises(ValueError, match="does not fit"):
        playground.set_kernel_gradients({2: np.zeros((10, 784), np.float32)})  # the dense layer has no kernels
    np.testing.assert_array_equal(playground.kernel_gradients[1], good[1])  # unchanged


def test_a_new_architecture_forgets_the_gradients_after_announcing_itself(playground):
    playground.set_kernel_gradients(some_gradients(playground.network))
    events = Recorder(playground)
    seen_during_relayout = []  # what a view re-laying out finds
    playground.events.architecture_changed.connect(
        lambda: seen_during_relayout.append(dict(playground.kernel_gradients)))
    playground.set_conv_settings(0, filters=4)
    assert playground.kernel_gradients == {} and seen_during_relayout == [{}]
    assert events.names() == ["architecture_changed", "gradients_changed"]

    playground.set_kernel_gradients(some_gradients(playground.network))
    playground.undo()
    assert playground.kernel_gradients == {}
    playground.set_kernel_gradients(some_gradients(playground.network))
    playground.set_network(Network(seed=5))  # a loaded model
    assert playground.kernel_gradients == {}


def test_reset_kernels_forgets_the_gradients_of_the_layers_it_resets(playground):
    playground.set_kernel_gradients(some_gradients(playground.network))
    playground.reset_kernels(1)
    assert sorted(playground.kernel_gradients) == [0]
    playground.reset_kernels()
    assert playground.kernel_gradients == {}


def test_a_hand_edit_keeps_the_gradients(playground):
    gradients = some_gradients(playground.network)
    playground.set_kernel_gradients(gradients)
    events = Recorder(playground)
    playground.set_kernel_cell(0, 1, 0, 1, 1, 0.5)
    assert "gradients_changed" not in events.names()
    np.testing.assert_array_equal(playground.kernel_gradients[0], gradients[0])


@pytest.mark.parametrize("value", [1e39, -1e39, float("nan"), float("inf")])
def test_weights_float32_cannot_hold_are_refused_and_nothing_changes(value):
    playground = Playground()
    before = [p.copy() for p in playground.network.params]
    trace = playground.trace
    with pytest.raises(ValueError, match="finite float32"):
        playground.set_kernel_cell(0, 0, 0, 1, 1, value)
    with pytest.raises(ValueError, match="finite float32"):
        playground.set_bias(0, 0, value)
    with pytest.raises(ValueError, match="finite float32"):
        playground.set_kernel(0, 0, np.full((3, 3), value))
    for p, b in zip(playground.network.params, before):
        np.testing.assert_array_equal(p, b)
    assert playground.trace is trace  # nothing recomputed


def test_a_finite_edit_is_stored_as_float32():
    playground = Playground()
    playground.set_kernel_cell(0, 2, 0, 1, 1, 0.1)
    assert playground.network.weight(0)[2, 0, 1, 1] == np.float32(0.1)


# ---------------------------------------------------------------- edges and undo

def test_set_input_refuses_bad_images_and_keeps_the_old_one(playground):
    good = np.zeros((28, 28), np.float32)
    playground.set_input(good)
    for bad, words in ((np.zeros((3, 28, 28)), "1-channel"), (np.full((28, 28), np.nan), "NaN"),
                       (np.zeros((2, 2)), "Fix"), ("text", "array of numbers"), (np.zeros((1, 1, 28, 28)), "shape")):
        with pytest.raises(ValueError, match=words):
            playground.set_input(bad)
        assert playground.input.shape == (1, 28, 28)
    playground.set_input(np.zeros((64, 64)))  # a photo: only the conv stages run
    assert not playground.input_fits_network


def test_set_kernel_refuses_a_single_channel_kernel_for_a_multi_channel_layer(playground):
    before = playground.network.weight(1)[0].copy()
    with pytest.raises(ValueError, match=r"takes a kernel of shape \(8, 3, 3\).*channel=0\.\.7"):
        playground.set_kernel(1, 0, np.ones((3, 3)))
    np.testing.assert_array_equal(playground.network.weight(1)[0], before)
    playground.set_kernel(1, 0, np.ones((3, 3)), channel=2)
    assert (playground.network.weight(1)[0, 2] == 1).all() and (playground.network.weight(1)[0, 1] == before[1]).all()
    for args, words in (((5, 0, np.ones((3, 3))), "no conv layer 6"), ((0, 8, np.ones((1, 3, 3))), "no filter 9"),
                        ((1, 0, np.ones((3, 3)), 8), "no channel 9")):
        with pytest.raises(ValueError, match=words):
            playground.set_kernel(*args)
    with pytest.raises(ValueError, match="no cell"):
        playground.set_kernel_cell(0, 0, 0, 3, 0, 1.0)


def test_one_undo_stack_takes_back_kernel_edits_settings_and_loads_in_order(playground):
    original = playground.network.get_state()
    playground.set_kernel_cell(0, 1, 0, 1, 1, 2.0)
    playground.set_kernel_cell(0, 1, 0, 1, 1, 3.0)  # the same cell again: still one step
    playground.set_bias(0, 2, 0.5)
    playground.set_conv_settings(0, filters=4)
    playground.set_network(Network(seed=5))
    assert playground.undo_stack.undo_text == "model load"
    assert playground.undo() == "model load" and playground.network.layers[0].filters == 4
    assert playground.undo() == "settings change" and playground.network.layers[0].filters == 8
    assert playground.undo() == "kernel edit" and playground.network.bias(0)[2] == original[1][2]
    assert playground.undo() == "kernel edit"
    assert all(np.array_equal(a, b) for a, b in zip(original, playground.network.params))
    assert playground.undo() is None


def test_undoing_a_settings_change_restores_the_reference_weights_too(playground):
    reference = [p.copy() for p in playground.reference_state]
    playground.set_network(Network(seed=5))  # a load: its weights become the reference
    playground.set_conv_settings(0, filters=4)
    playground.undo()
    playground.undo()
    assert all(np.array_equal(a, b) for a, b in zip(reference, playground.reference_state))


def test_the_undo_stack_is_bounded(playground):
    for k in range(playground.undo_stack.limit + 30):
        playground.set_bias(0, k % 8, float(k))
    assert len(playground.undo_stack) == playground.undo_stack.limit
