"""Explain mode, driven as a learner does: buttons, keys, the scrubber and the Lessons menu."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QMainWindow, QVBoxLayout, QWidget

from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.lessons.ann_vs_cnn import ANN_LAYERS, cnn_layers
from cnnstudio.lessons.step_through import PHASES
from cnnstudio.lessons.guided import LESSONS, sample_digit_image
from cnnstudio.core.canvas import CanvasModel
from cnnstudio.core.playground import Playground
from cnnstudio.qt.lessons.ann_vs_cnn_view import AnnVsCnnView
from cnnstudio.qt.lessons.dock import ExplainDock
from cnnstudio.qt.lessons.field_view import ReceptiveFieldView
from cnnstudio.qt.lessons.grid_view import EMPTY, GridView, symmetric_levels
from cnnstudio.qt.lessons.occlusion_view import OcclusionView
from cnnstudio.qt.lessons.step_view import ExplainView
from cnnstudio.qt.lessons.xo_view import XOView
from cnnstudio.render.mosaic import DIVERGING_LUT


@pytest.fixture
def digit():
    return sample_digit_image(3)


def strided_playground(digit):
    # (28 - 3 + 2*0) = 25 is odd: stride 2 leaves the last row and column unreached
    playground = Playground(Network([ConvSpec(2, 3, stride=2, padding=0), DenseSpec(10)], seed=0))
    playground.set_input(digit)
    return playground


def test_stepping_fills_every_output_pixel_exactly_once_and_ends_with_the_engine_map(qtbot, digit):
    playground = strided_playground(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    shown = view.shown_feature_map()
    assert np.isfinite(shown).sum() == 1
    span = view.model.span("conv")
    for _ in range(span.count - 1):
        qtbot.mouseClick(view.forward_button, Qt.MouseButton.LeftButton)
        now = view.shown_feature_map()
        new = np.isfinite(now) & ~np.isfinite(shown)
        assert new.sum() == 1 and np.isfinite(shown).sum() == np.isfinite(now).sum() - 1
        shown = now
    np.testing.assert_allclose(shown, playground.trace.stages[0].conv[0], atol=1e-5)
    qtbot.mouseClick(view.forward_button, Qt.MouseButton.LeftButton)
    assert view.model.phase == "activation"


def test_the_asymmetric_slide_is_marked_and_explained(qtbot, digit):
    view = ExplainView(strided_playground(digit))
    qtbot.addWidget(view)
    crosses = view.source.crosses
    expected = np.zeros((28, 28), bool)
    expected[27, :] = expected[:, 27] = True
    np.testing.assert_array_equal(crosses, expected)
    assert not view.warning_label.isHidden()
    assert "slides across the input symmetrically" in view.warning_label.text()


def test_padding_is_drawn_as_a_border_of_zeros(qtbot, digit):
    playground = Playground(Network([ConvSpec(2, 3, padding=1), DenseSpec(10)], seed=0))
    playground.set_input(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    assert view.source.values.shape == (30, 30)
    assert view.source.tint.sum() == 30 * 30 - 28 * 28 and (view.source.values[view.source.tint] == 0).all()
    assert view.warning_label.isHidden()


def test_play_runs_to_the_end_and_the_scrubber_jumps(qtbot, digit):
    view = ExplainView(strided_playground(digit))
    qtbot.addWidget(view)
    view.set_speed(500)
    qtbot.mouseClick(view.play_button, Qt.MouseButton.LeftButton)
    assert view.playing
    qtbot.waitUntil(lambda: view.model.at_end, timeout=20000)
    assert not view.playing
    view.scrubber.setValue(view.model.span("pool").start + 3)
    assert view.model.phase == "pool" and view.target.title.startswith("pooled")
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.model.position == view.model.span("pool").start + 2


@pytest.mark.parametrize("phase, title, says", [
    ("activation", "Activation: every feature-map pixel through the activation",
     r"Conv 1, pixel \(row 1, column 1\): .* so ReLU "),
    ("pool", "Pooling: pick the max value from each window",
     r"Conv 1, pooled pixel \(row 1, column 1\): the 2x2 window at \(row 1, column 1\); max pooling picks the max "
     r"value"),
    ("flatten", "Flatten: the pooled maps unrolled into one vector",
     r"Map 1, row 1: its 7 values become entries 1\.\.7 of the vector"),
    ("dense", "Dense layer: the vector times the weights of each unit",
     r"class 0: the 784 inputs times its 784 weights, summed = .* \(its logit\)\.$"),
    ("softmax", "Softmax: logits become probabilities", r"Class 0: exp\(.* gives probability 0\.\d{3}\.$"),
])
def test_every_phase_shows_its_step(qtbot, digit, phase, title, says):
    playground = Playground(Network(seed=0))
    playground.set_input(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    view.phase_box.setCurrentIndex(view.phase_box.findData(phase))
    view.phase_box.activated.emit(view.phase_box.currentIndex())
    assert view.model.phase == phase
    count = view.model.span(phase).count
    assert view.phase_label.text().startswith(f"{title} <span") and f"(step 1 of {count})" in view.phase_label.text()
    assert re.match(says, view.description.text())
    assert view.description.text() == view.model.describe()
    if phase == "softmax":
        view.model.go_to(view.model.count - 1)
        np.testing.assert_allclose(view.shown_feature_map()[0], playground.trace.probabilities, atol=1e-5)


@pytest.mark.parametrize("pool, title, caption", [("max", "Pooling: pick the max value", "keeps its max value"),
                                                   ("avg", "Pooling: average each window", "keeps its mean")])
def test_the_pool_phase_says_which_pooling_it_does(qtbot, digit, pool, title, caption):
    playground = Playground(Network([ConvSpec(2, 3, padding=1, pool=pool), DenseSpec(10)], seed=0))
    playground.set_input(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    view.phase_box.setCurrentIndex(view.phase_box.findData("pool"))
    view.phase_box.activated.emit(view.phase_box.currentIndex())
    assert view.phase_label.text().startswith(title)
    assert caption in view.target.caption
    other = "average" if pool == "max" else "max value"
    assert other not in view.phase_label.text()


def test_a_kernel_edit_reaches_the_step_through(qtbot, digit):
    playground = strided_playground(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    playground.set_kernel_cell(0, 0, 0, 1, 1, 5.0)
    qtbot.waitUntil(lambda: view.model.kernel[0, 1, 1] == 5.0)
    assert view.kernel.values[1, 1] == 5.0


def test_a_hidden_step_through_catches_up_when_shown(qtbot, digit):
    playground = strided_playground(digit)
    dock = QWidget()  # e.g. the Explain dock, closed: the view must not recompute on every click
    qtbot.addWidget(dock)
    view = ExplainView(playground)
    QVBoxLayout(dock).addWidget(view)
    playground.set_kernel_cell(0, 0, 0, 1, 1, 5.0)
    QApplication.processEvents()
    QApplication.processEvents()
    assert view.model.kernel[0, 1, 1] != 5.0
    dock.show()
    qtbot.waitUntil(lambda: view.model.kernel[0, 1, 1] == 5.0)
    assert view.kernel.values[1, 1] == 5.0


def test_xo_preset_says_x_and_still_x_after_an_arrow_key(qtbot):
    view = XOView()
    qtbot.addWidget(view)
    assert view.lesson.prediction[0] == "X" and "X" in view.verdict.text()
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Left, Qt.Key.Key_Down):
        before = view.lesson.image.copy()
        qtbot.keyClick(view, key)
        assert not np.array_equal(before, view.lesson.image)
        assert view.lesson.prediction[0] == "X" and "X (" in view.verdict.text()
    qtbot.mouseClick(view.o_button, Qt.MouseButton.LeftButton)
    assert view.lesson.prediction[0] == "O"
    # every number is on screen: 6x6 input, 3x3 filter, 4x4 maps, 2x2 pool, 2x4 weights
    assert view.filter_view.values.shape == (3, 3) and view.dense_view.values.shape == (4, 2)


def test_ann_vs_cnn_counts_trains_and_follows_the_arrow_keys(qtbot, digit):
    playground = Playground()
    playground.set_input(digit)
    view = AnnVsCnnView(playground, lambda: playground.input[0], epochs=1, train_size=600, test_size=150)
    qtbot.addWidget(view)
    counts = [int(view.layer_table.item(k, 3).text().replace(",", "")) for k in range(view.layer_table.rowCount())]
    assert counts == Network(ANN_LAYERS).weight_counts() + Network(cnn_layers()).weight_counts()
    with qtbot.waitSignal(view.comparison_ready, timeout=120000):
        qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    comparison = view.comparison
    x, y = view.curves["cnn", "horizontal"].getData()
    np.testing.assert_array_equal(y, comparison.cnn_curves["horizontal"])
    assert len(x) == 9
    before = view.predictions
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.shift == (0, 2)
    np.testing.assert_array_equal(view.drawing_view.values[:, 2:], digit[:, :-2])
    assert not np.allclose(before[0], view.predictions[0])
    assert view.kernel_views[0].values.shape == (3, 3)


def test_deleting_the_ann_vs_cnn_view_while_it_trains_ends_its_thread(qtbot, digit):
    playground = Playground()
    playground.set_input(digit)
    view = AnnVsCnnView(playground, lambda: playground.input[0], epochs=2)  # 4,000 digits: seconds of training
    view.start_training()
    worker = view.worker
    assert worker.isRunning()
    # NOTE: out of the view, so the thread object outlives it and can be looked at; the view still owns the run
    worker.setParent(None)
    try:
        with qtbot.waitSignal(view.destroyed, timeout=5000):
            view.deleteLater()
        assert worker.isFinished()
    finally:
        worker.requestInterruption()
        worker.wait()


def test_closing_the_window_while_ann_vs_cnn_trains_ends_the_thread(qtbot):
    from cnnstudio.qt.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    view = window.explain_panel.view("ann_vs_cnn")
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    worker = view.worker
    assert worker.isRunning()
    window.close()
    assert worker.isFinished()
    assert view.train_button.isEnabled() and "stopped" in view.status.text()


def test_quitting_the_app_while_ann_vs_cnn_trains_exits_cleanly(tmp_path):
    # the learner's way: the app's event loop runs, Train both is pressed, the window is closed
    script = tmp_path / "quit_while_training.py"
    script.write_text(textwrap.dedent("""
        import sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from cnnstudio import app as cnnstudio_app

        qt_app = QApplication(sys.argv[:1])

        def train_then_close():
            window = next(w for w in qt_app.topLevelWidgets() if type(w).__name__ == "MainWindow")
            view = window.explain_panel.view("ann_vs_cnn")
            view.train_button.click()
            assert view.worker.isRunning()
            QTimer.singleShot(200, window.close)

        QTimer.singleShot(0, train_then_close)
        code = cnnstudio_app.run([])
        print("event loop ended", code, flush=True)
    """))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert "QThread: Destroyed while thread" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert "event loop ended 0" in done.stdout


def shown_cell_colour(view: GridView, row: int, col: int) -> QColor:
    image = view.grab().toImage()
    return image.pixelColor((view.cell_rect(row, col).center() * image.devicePixelRatio()).toPoint())


def lut_colour(lut, row: int) -> QColor:
    return QColor(*(int(v) for v in lut[row]))


@pytest.mark.parametrize("levels", [(-1.0, 1.0), (-np.inf, np.inf), (np.nan, np.nan), (-3e38, 3e38)])
def test_a_grid_paints_infinite_values_at_the_ends_and_nan_as_empty(qtbot, levels):
    view = GridView(numbers=False)
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_data(np.array([[-np.inf, 0.0, np.inf], [-1.0, np.nan, 1.0]]), DIVERGING_LUT, levels)
    assert shown_cell_colour(view, 0, 0) == lut_colour(DIVERGING_LUT, 0)
    assert shown_cell_colour(view, 0, 2) == lut_colour(DIVERGING_LUT, -1)
    assert shown_cell_colour(view, 1, 1) == EMPTY
    if levels == (-1.0, 1.0):
        assert shown_cell_colour(view, 1, 0) == lut_colour(DIVERGING_LUT, 0)
        assert shown_cell_colour(view, 0, 1) == lut_colour(DIVERGING_LUT, len(DIVERGING_LUT) // 2)
    assert symmetric_levels(view.values) == (-1.0, 1.0)  # the finite values set the scale


@pytest.mark.parametrize("weight", [1e38, np.inf])
def test_the_step_through_shows_maps_that_overflow(qtbot, digit, weight):
    playground = Playground(Network(seed=0))
    playground.set_input(digit)
    # NOTE: written straight into the network, as a diverged training could: the playground refuses inf itself
    playground.network.weight(0)[0] = weight   # 9 weights of 1e38 on ink: more than float32 holds
    playground.recompute()
    pooled = playground.trace.stages[0].pooled[0]
    assert np.isposinf(pooled).any()
    view = ExplainView(playground)
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.show()
    qtbot.waitExposed(view)
    for stage in (0, 1):  # every phase paints its grids (an IndexError in the colour lookup before)
        view.stage_box.setCurrentIndex(stage)
        for phase in PHASES:
            view.model.go_to_phase(phase)
            view.grab()
    view.model.go_to_phase("conv")
    assert view.channel_box.value() == 1 and view.source.title == "padded map 1 of pool 1"
    np.testing.assert_array_equal(view.source.values[1:-1, 1:-1], pooled)
    row, col = np.argwhere(np.isposinf(pooled))[0]
    assert shown_cell_colour(view.source, row + 1, col + 1) == lut_colour(DIVERGING_LUT, -1)


DENSE_ONLY = ([DenseSpec(16, "relu"), DenseSpec(10)], (1, 28, 28))


def test_a_network_without_conv_layers_gets_a_message_not_a_step_through(qtbot, digit):
    playground = Playground(Network(*DENSE_ONLY))
    playground.set_input(digit)
    view = ExplainView(playground)   # raised ValueError before
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert view.model is None
    assert view.no_conv_label.isVisible() and not view.steps_widget.isVisible()
    assert "no conv layer to step through" in view.no_conv_label.text()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not view.playing


def test_the_step_through_follows_the_network_losing_and_regaining_conv_layers(qtbot, digit):
    playground = Playground(Network(seed=0))
    playground.set_input(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.toggle_play()
    playground.set_network(Network(*DENSE_ONLY))
    qtbot.waitUntil(lambda: view.no_conv_label.isVisible())
    assert view.model is None and not view.playing and not view.steps_widget.isVisible()
    playground.undo()
    qtbot.waitUntil(lambda: view.steps_widget.isVisible())
    assert not view.no_conv_label.isVisible()
    view.model.go_to(view.model.span("conv").stop - 1)
    np.testing.assert_allclose(view.shown_feature_map(), playground.trace.stages[0].conv[0], atol=1e-5)


def test_the_receptive_field_view_says_when_there_is_no_conv_layer(qtbot, digit):
    playground = Playground(Network(*DENSE_ONLY))
    playground.set_input(digit)
    view = ReceptiveFieldView(playground)   # raised IndexError before
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert "no conv layer" in view.summary.text()
    assert not any(v.isVisible() for v in view.views) and not view.map_box.isEnabled()
    playground.set_network(Network(seed=0))
    qtbot.waitUntil(lambda: "input pixels" in view.summary.text())
    assert view.map_box.isEnabled() and view.views[0].isVisible()


def test_lessons_on_a_network_without_conv_layers_say_why_they_cannot_start(qtbot):
    from cnnstudio.qt.main_window import MainWindow

    playground = Playground(Network(*DENSE_ONLY))
    window = MainWindow(playground)
    qtbot.addWidget(window)
    panel = window.explain_panel
    for lesson in LESSONS:
        window.run_lesson(lesson)
        window.flush_updates()
        if lesson.panel in ("xo", "ann_vs_cnn"):   # these bring their own networks
            assert panel.lesson is lesson
        else:
            assert panel.lesson is not lesson
            message = window.statusBar().currentMessage()
            assert f"Lesson '{lesson.title}' cannot start" in message and "has none" in message
    assert playground.network.layers == Network(*DENSE_ONLY).layers
    for lesson in LESSONS:   # shown directly, a step lesson shows the message instead of raising
        panel.show_lesson(lesson)
    assert panel.view("step").model is None and not panel.view("step").no_conv_label.isHidden()


def test_the_input_channel_box_follows_the_stage(qtbot, digit):
    playground = Playground(Network(seed=0))
    playground.set_input(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    view.stage_box.setCurrentIndex(1)
    assert view.channel_box.maximum() == 8 and not view.channel_box.isHidden()
    view.channel_box.setValue(5)
    assert view.source.title == "padded map 5 of pool 1"
    np.testing.assert_allclose(view.source.values[1:-1, 1:-1], playground.trace.stages[0].pooled[4], atol=1e-6)
    view.stage_box.setCurrentIndex(0)
    assert view.channel_box.maximum() == 1 and view.channel_box.isHidden()
    assert view.source.title.startswith("padded input")


def test_receptive_field_grows_when_a_deeper_unit_is_clicked(qtbot, digit):
    playground = Playground(Network(seed=0))
    playground.set_input(digit)
    view = ReceptiveFieldView(playground)
    qtbot.addWidget(view)
    view.resize(1200, 400)
    view.select(1, "pooled", 3, 3)
    assert "10x10 input pixels" in view.summary.text()
    conv1 = view.views[1]
    conv1.resize(200, 200)
    rect = conv1.cell_rect(5, 5)
    qtbot.mouseClick(conv1, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert view.choice == (0, "conv", 5, 5) and "3x3 input pixels" in view.summary.text()


def test_occlusion_view_is_live(qtbot, digit):
    playground = Playground(Network(seed=0))
    playground.set_input(digit)
    view = OcclusionView(playground)
    qtbot.addWidget(view)
    first = view.result
    assert first.probability.shape == (11, 11) and "forward passes" in view.info.text()
    playground.set_input(np.roll(digit, 3, axis=1))
    qtbot.waitUntil(lambda: view.result is not first)
    assert view.input_view.values[5, 3:].tolist() == playground.input[0, 5, 3:].tolist()


def test_each_lesson_loads_from_the_menu(qtbot):
    window = QMainWindow()   # the dock needs no more of a window than this
    qtbot.addWidget(window)
    playground = Playground()
    dock = ExplainDock(playground, CanvasModel(), window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    window.menuBar().addMenu(dock.lessons_menu)
    panel, menu = dock.panel, dock.lessons_menu
    assert menu.title().replace("&", "") == "Lessons"
    actions = [a for a in menu.actions() if a.data()]
    assert [a.data() for a in actions] == [lesson.key for lesson in LESSONS]
    for action, lesson in zip(actions, LESSONS):
        action.trigger()
        assert panel.lesson is lesson and lesson.title in panel.banner.text()
        if lesson.panel != "maps":
            assert panel.tabs.currentWidget().objectName() == lesson.panel
        spec = playground.network.conv_specs[0]
        assert spec.stride == lesson.settings.get("stride", 1)
        for filter, name in lesson.kernels:
            assert playground.network.bias(0)[filter] == 0
    assert dock.isVisibleTo(window)


def test_a_lesson_about_the_feature_maps_links_to_the_window_and_says_so(qtbot):
    dock = ExplainDock(Playground(), CanvasModel())
    qtbot.addWidget(dock)
    sobel = next(lesson for lesson in LESSONS if lesson.panel == "maps")
    with qtbot.waitSignal(dock.message) as said, qtbot.waitSignal(dock.maps_requested):
        dock.run_lesson(sobel)   # its panel is the window's feature maps
    assert said.args == [f"Lesson: {sobel.title}", 6000] and "href='panel:maps'" in dock.panel.banner.text()
