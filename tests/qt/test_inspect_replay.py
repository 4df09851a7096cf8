"""The training replay tab: training records a timeline; the slider, keys, the loss plot and Play replay it;
"Compare with now" shows the present beside it; it follows strokes, survives a save and load, and never
changes the user's network."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.qt.inspection.replay_images import first_kernels, kernel_pixels, symmetric_top
from cnnstudio.qt.inspection.replay_view import EMPTY_TEXT, ReplayView

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def small_data():
    train, test = load_mnist_5k()
    return (Digits(train.images[::13], train.labels[::13], "small train"),
            Digits(test.images[::5], test.labels[::5], "small test"))


@pytest.fixture
def trained(qtbot, tmp_path, monkeypatch, small_data):
    """A window on an untrained default network, a drawn 7, the replay tab shown, one short epoch trained."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from cnnstudio.qt.main_window import MainWindow

    window = MainWindow(Playground(Network(seed=1)))
    qtbot.addWidget(window)
    window.resize(1400, 1000)
    window.show()
    qtbot.waitExposed(window)
    window.draw_sample_digit(7)
    window.inspect_dock.show_tab("replay_view")
    view = window.inspect_dock.views["replay_view"]
    assert isinstance(view, ReplayView) and view.objectName() == "inspectReplay"
    qtbot.waitUntil(lambda: view.status.text() == EMPTY_TEXT)  # nothing recorded yet, and it says so
    panel = window.training.panel
    panel._mnist = small_data
    panel.epochs_spin.setValue(1)
    panel.controller.worker.runner.weights_interval = 0.0  # weights after every step: a snapshot per step
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.slider.maximum() == len(view.recorder) - 1 > 0)
    yield window, view
    panel.controller.shutdown()


def click_slider_at(qtbot, slider, fraction: float) -> None:
    x = round(fraction * (slider.width() - 1))
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(x, slider.height() // 2))


def kernels_shown(view) -> np.ndarray:
    return view.past_panel.kernels.image.image.copy()


def test_training_records_one_snapshot_per_step_from_step_zero(trained):
    window, view = trained
    steps = window.training.panel.history.data["step"]
    assert view.recorder.steps == list(range(int(steps[-1]) + 1))  # 385 digits / 32 = 13 steps, and step 0
    assert view.slider.value() == view.slider.maximum()  # it follows the newest
    assert view.step_label.text().startswith(f"step {int(steps[-1])} of {int(steps[-1])}")
    final = window.playground.network.get_state()
    np.testing.assert_array_equal(view.recorder.state_at(-1)[0], final[0])


def test_the_slider_mouse_and_keys_replay_past_steps(qtbot, trained):
    window, view = trained
    user_weights = window.playground.network.get_state()
    at_end_kernels, at_end_probabilities = kernels_shown(view), view.past_panel.bars.probabilities.copy()
    view.slider.setFocus()
    click_slider_at(qtbot, view.slider, 0.0)  # a click on the groove left of the handle pages toward step 0
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    assert view.slider.value() == 0 and view.step == 0
    start = Network(seed=1)  # the weights the run started from
    np.testing.assert_array_equal(kernels_shown(view), kernel_pixels(first_kernels(start), symmetric_top(
        first_kernels(start))))
    assert view.past_panel.kernels.title.text.startswith("layer 1 kernels")
    assert not np.array_equal(kernels_shown(view), at_end_kernels)
    np.testing.assert_allclose(view.past_panel.bars.probabilities, start.forward_maps(window.playground.input)
                               .probabilities, atol=1e-3)
    assert not np.allclose(view.past_panel.bars.probabilities, at_end_probabilities, atol=1e-3)
    qtbot.keyClick(view.slider, Qt.Key.Key_Right)
    assert view.step == 1 and view.step_label.text().startswith("step 1 of")
    qtbot.keyClick(view.slider, Qt.Key.Key_End)
    assert view.step == view.recorder.steps[-1]
    np.testing.assert_array_equal(kernels_shown(view), at_end_kernels)
    for index in range(len(view.recorder)):  # the replay runs on a copy: the user's network never moves
        view.select(index)
    for a, b in zip(window.playground.network.params, user_weights):
        np.testing.assert_array_equal(a, b)


def test_clicking_the_loss_plot_and_playing_move_the_step(qtbot, trained):
    _, view = trained
    plot = view.loss_plot
    box = plot.getPlotItem().getViewBox()
    target = view.recorder.steps[len(view.recorder) // 2]
    scene_point = box.mapViewToScene(QPointF(target, 1.0))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.mapFromScene(scene_point))
    qtbot.waitUntil(lambda: view.step == target)
    assert view.marker.value() == target
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    qtbot.mouseClick(view.play_button, Qt.MouseButton.LeftButton)
    assert view.play_button.text().endswith("Pause")
    qtbot.waitUntil(lambda: view.index == len(view.recorder) - 1, timeout=10_000)
    qtbot.waitUntil(lambda: view.play_button.text().endswith("Play"))


def test_compare_with_now_shows_the_present_beside_the_past(qtbot, trained):
    window, view = trained
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    assert not view.now_panel.isVisible()
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    assert view.now_panel.isVisible() and view.past_panel.heading.text() == "then · step 0"
    np.testing.assert_array_equal(view.now_panel.bars.probabilities, window.playground.trace.probabilities)
    assert not np.allclose(view.now_panel.bars.probabilities, view.past_panel.bars.probabilities, atol=1e-3)
    assert not np.array_equal(view.now_panel.kernels.image.image, kernels_shown(view))
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    assert not view.now_panel.isVisible()


def test_the_replay_follows_the_drawing_while_shown_and_catches_up_when_shown_again(qtbot, trained):
    window, view = trained
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    before = view.past_panel.bars.probabilities.copy()
    window.canvas_model.clear()  # as the Clear button does
    qtbot.waitUntil(lambda: not np.allclose(view.past_panel.bars.probabilities, before))
    np.testing.assert_array_equal(view.past_trace.input, window.playground.input)
    window.inspect_dock.hide()
    shown = view.past_trace
    window.draw_sample_digit(3)
    qtbot.wait(20)
    assert view.past_trace is shown  # hidden: no work
    window.inspect_dock.show_tab("replay_view")
    qtbot.waitUntil(lambda: view.past_trace is not shown)
    np.testing.assert_array_equal(view.past_trace.input, window.playground.input)


def test_the_timeline_survives_saving_and_loading_the_model(qtbot, trained, tmp_path):
    window, view = trained
    panel = window.training.panel
    steps = view.recorder.steps
    assert panel.save_model(tmp_path / "replayed.cnnmodel")
    panel.reset_weights(confirm=False)
    qtbot.waitUntil(lambda: view.slider.maximum() == 0 and view.status.text() == EMPTY_TEXT)
    assert panel.load_model(tmp_path / "replayed.cnnmodel")
    qtbot.waitUntil(lambda: view.slider.maximum() == len(steps) - 1)
    assert view.recorder.steps == steps
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    start = Network(seed=1)
    np.testing.assert_allclose(view.past_panel.bars.probabilities,
                               start.forward_maps(window.playground.input).probabilities, atol=1e-3)


def test_a_damaged_replay_is_reported_in_the_tab(qtbot, trained, tmp_path):
    window, view = trained
    panel = window.training.panel
    path = tmp_path / "damaged.cnnmodel"
    panel.save_model(path)
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["replay"] = arrays["replay"][:-50]
    with open(path, "wb") as out:
        np.savez_compressed(out, **arrays)
    assert panel.load_model(path)
    qtbot.waitUntil(lambda: "training replay is damaged" in view.status.text())
    assert view.status.isVisible() and "Fix:" in view.status.text()


def test_a_network_without_conv_layers_and_a_new_architecture(qtbot, trained):
    from cnnstudio.engine import DenseSpec

    window, view = trained
    window.playground.set_network(Network([DenseSpec(units=10)], seed=0))  # as the architecture editor does
    qtbot.waitUntil(lambda: len(view.recorder) == 0 and view.status.text() == EMPTY_TEXT)
    panel = window.training.panel
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.slider.maximum() > 0)
    assert "need a conv layer" in view.status.text()
    assert view.past_panel.bars.probabilities is not None
    view.stop()


def test_new_snapshots_keep_a_past_step_in_place_and_the_newest_followed(qtbot, trained):
    window, view = trained
    qtbot.keyClick(view.slider, Qt.Key.Key_Home)
    for _ in range(3):
        qtbot.keyClick(view.slider, Qt.Key.Key_Right)
    assert view.step == 3
    recorder, state = view.recorder, window.playground.network.get_state()
    for step in range(recorder.steps[-1] + 1, 300):  # the recorder thins its snapshots as a long run would
        recorder.add(step, state)
    qtbot.waitUntil(lambda: view.slider.maximum() == len(recorder) - 1)
    assert recorder.interval > 1 and view.step == recorder.steps[recorder.nearest(3)]
    assert view.slider.value() == recorder.nearest(3)
    qtbot.keyClick(view.slider, Qt.Key.Key_End)
    recorder.add(300, state)
    qtbot.waitUntil(lambda: view.step == 300)


def test_following_the_newest_snapshot_reuses_the_playgrounds_maps_but_never_after_a_hand_edit(qtbot, trained):
    """While training runs the tab shows the newest snapshot: its weights are the playground's, so its maps are
    the playground's own (no second forward pass on the GUI thread); any other weights get their own pass."""
    window, view = trained
    playground = window.playground
    assert view.index == len(view.recorder) - 1 and view.past_trace is playground.trace
    view.select(0)
    assert view.past_trace is not playground.trace
    start = view.past_trace.stages[0].activation.copy()
    view.select(len(view.recorder) - 1)
    assert view.past_trace is playground.trace
    playground.set_kernel_cell(0, 0, 0, 1, 1, 3.0)  # the present is no longer the newest snapshot
    qtbot.waitUntil(lambda: view.past_trace is not playground.trace)
    newest = playground.network.copy()
    newest.set_state(view.recorder.state_at(-1))
    expected = newest.forward_maps(playground.input).stages[0].activation
    np.testing.assert_array_equal(view.past_trace.stages[0].activation, expected)
    assert not np.array_equal(expected, playground.trace.stages[0].activation)
    assert not np.array_equal(start, expected)
