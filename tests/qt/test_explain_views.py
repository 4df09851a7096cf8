"""Explain mode, driven as a learner does: buttons, keys, the scrubber and the Lessons menu."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.model.ann_vs_cnn import ANN_LAYERS, cnn_layers
from cnnstudio.model.lessons import LESSONS, sample_digit_image
from cnnstudio.model.playground import Playground
from cnnstudio.qt.ann_vs_cnn_view import AnnVsCnnView
from cnnstudio.qt.explain_view import ExplainView, OcclusionView, ReceptiveFieldView
from cnnstudio.qt.xo_view import XOView


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


@pytest.mark.parametrize("phase", ["activation", "pool", "flatten", "dense", "softmax"])
def test_every_phase_shows_its_step(qtbot, digit, phase):
    playground = Playground(Network(seed=0))
    playground.set_input(digit)
    view = ExplainView(playground)
    qtbot.addWidget(view)
    view.phase_box.setCurrentIndex(view.phase_box.findData(phase))
    view.phase_box.activated.emit(view.phase_box.currentIndex())
    assert view.model.phase == phase
    assert view.description.text()
    if phase == "softmax":
        view.model.go_to(view.model.count - 1)
        np.testing.assert_allclose(view.shown_feature_map()[0], playground.trace.probabilities, atol=1e-5)


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
    from cnnstudio.qt.lessons_menu import install_explain_mode
    from cnnstudio.qt.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    panel = getattr(window, "explain_panel", None) or install_explain_mode(window)
    menu = window.lessons_menu
    assert menu.title().replace("&", "") == "Lessons"
    actions = [a for a in menu.actions() if a.data()]
    assert [a.data() for a in actions] == [lesson.key for lesson in LESSONS]
    for action, lesson in zip(actions, LESSONS):
        action.trigger()
        window.flush_updates()
        assert panel.lesson is lesson and lesson.title in panel.banner.text()
        if lesson.panel != "maps":
            assert panel.tabs.currentWidget().objectName() == lesson.panel
        spec = window.playground.network.conv_specs[0]
        assert spec.stride == lesson.settings.get("stride", 1)
        for filter, name in lesson.kernels:
            assert window.playground.network.bias(0)[filter] == 0
    assert window.explain_dock.isVisibleTo(window)
