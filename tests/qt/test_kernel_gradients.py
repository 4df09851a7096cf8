"""Gradients on the kernel editor: while training, each weight shows which way backpropagation pushes it."""
from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QGuiApplication, QRegion
from PySide6.QtWidgets import QApplication

from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.core.playground import Playground
from cnnstudio.training import GRADIENT_SMOOTHING, TrainingSettings
from cnnstudio.qt.panels.kernel_editor import DOWN, UP, QtKernelEditor
from cnnstudio.qt.training.panel import QtTrainingPanel
from cnnstudio.qt.training.worker import TrainingController

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def digits():
    """96 training digits (every class) and 100 test digits."""
    train, test = load_mnist_5k()
    return (Digits(train.images[::13][:96], train.labels[::13][:96], "96 digits"),
            Digits(test.images[::10], test.labels[::10], "100 test digits"))


@pytest.fixture
def playground(digits):
    playground = Playground(Network(seed=1))
    playground.set_input(digits[1].images[0, 0])
    return playground


@pytest.fixture
def controller(qtbot, playground):
    controller = TrainingController(playground)
    yield controller
    controller.shutdown()


@pytest.fixture
def editor(qtbot, playground):
    editor = QtKernelEditor(playground)
    qtbot.addWidget(editor)
    editor.resize(560, 620)  # cells big enough for the printed values
    editor.show()
    qtbot.waitExposed(editor)
    return editor


def train_steps(qtbot, controller, digits, steps: int) -> list[Network]:
    """Train ``steps`` single steps (Step, as a learner would); return the networks each step started from.

    One batch holds every training digit, so a step's gradient does not depend on the shuffling.
    """
    train, test = digits
    if not controller.has_session:
        controller.start(TrainingSettings(batch_size=len(train), epochs=50), train, test, paused=True)
    starts = []
    for _ in range(steps):
        starts.append(controller.playground.network.copy())
        with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
            controller.step_once()
    return starts


def engine_average(starts, digits, layer: int) -> np.ndarray:
    """What the engine computes: each step's gradient for ``layer``'s kernels, averaged as the trainer defines it."""
    train = digits[0]
    gradients = [start.loss_and_grads(train.images, train.labels)[1][2 * layer] for start in starts]
    return ref.smoothed_gradient(gradients, GRADIENT_SMOOTHING)


def close_to(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-3 * float(np.abs(expected).max()))


def pixels(widget):
    return widget.grab().toImage()


def cell_pixels(image, rect: QRect):
    return image.copy(rect)


def some_gradients(network, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {layer: rng.standard_normal(network.weight(layer).shape).astype(np.float32)
            for layer in range(len(network.conv_specs))}


class Paints(QObject):
    """The regions a widget painted since this was installed, one per paint event."""

    def __init__(self, widget):
        super().__init__()
        self.regions = []
        widget.installEventFilter(self)

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Paint:
            self.regions.append(QRegion(event.region()))
        return False


# ---------------------------------------------------------------- training -> the editor

def test_after_a_few_steps_the_editor_holds_the_engines_smoothed_gradients(qtbot, controller, editor, digits):
    playground = controller.playground
    assert editor.gradients is None and not editor.gradients_check.isEnabled()
    assert editor.gradients_check.isChecked()  # on by default: they show as soon as training brings some

    starts = train_steps(qtbot, controller, digits, 3)

    conv1 = engine_average(starts, digits, 0)
    close_to(playground.kernel_gradients[0], conv1)
    close_to(editor.gradients, conv1[:, 0])
    assert editor.gradients_check.isEnabled()
    editor.select_layer(1)
    editor.select_channel(3)
    close_to(editor.gradients, engine_average(starts, digits, 1)[:, 3])


def test_the_glyphs_change_the_pixels_and_the_toggle_hides_them(qtbot, controller, editor, digits):
    train_steps(qtbot, controller, digits, 2)
    shown = pixels(editor.grid)
    qtbot.mouseClick(editor.gradients_check, Qt.MouseButton.LeftButton)
    assert not editor.gradients_check.isChecked() and editor.gradients is None
    hidden = pixels(editor.grid)
    assert hidden != shown
    qtbot.mouseClick(editor.gradients_check, Qt.MouseButton.LeftButton)
    assert pixels(editor.grid) == shown
    controller.playground.set_kernel_gradients(None)  # none known: the grid is what the toggle left
    assert pixels(editor.grid) == hidden and not editor.gradients_check.isEnabled()


def test_a_glyph_points_the_way_the_update_pushes_the_weight(qtbot, editor, playground):
    gradients = {layer: np.zeros_like(g) for layer, g in some_gradients(playground.network).items()}
    gradients[0][2, 0, 1, 1] = -1.0  # filter 3, the middle weight: the update raises it
    gradients[0][5, 0, 0, 2] = 0.5   # filter 6, top right: the update lowers it
    before = pixels(editor.grid)
    playground.set_kernel_gradients(gradients)
    after = pixels(editor.grid)
    for (f, i, j), up in (((2, 1, 1), True), ((5, 0, 2), False)):
        rect = editor.cell_rect(f, i, j)
        old, new = cell_pixels(before, rect), cell_pixels(after, rect)
        rows = [y for y in range(rect.height()) for x in range(rect.width()) if old.pixel(x, y) != new.pixel(x, y)]
        assert rows, "no glyph drawn"
        in_upper_half = np.mean(rows) < rect.height() / 2
        assert in_upper_half == up  # a triangle above the value when it rises, below when it falls
    untouched = editor.cell_rect(0, 0, 0)
    assert cell_pixels(before, untouched) == cell_pixels(after, untouched)  # no push, no glyph
    assert "pushes it up" in editor.grid._tooltip(2, 1, 1) and UP in editor.grid._tooltip(2, 1, 1)
    assert "pushes it down" in editor.grid._tooltip(5, 0, 2) and DOWN in editor.grid._tooltip(5, 0, 2)


def test_the_readout_names_the_push_under_the_mouse(qtbot, editor, playground):
    gradients = some_gradients(playground.network)
    gradients[0][2, 0, 1, 2] = -0.0123
    playground.set_kernel_gradients(gradients)
    qtbot.mouseMove(editor.grid, editor.cell_rect(0, 0, 0).center())  # the pointer may already be on the target
    qtbot.mouseMove(editor.grid, editor.cell_rect(2, 1, 2).center())
    qtbot.waitUntil(lambda: "gradient" in editor.readout.text(), timeout=1000)
    assert editor.readout.text().endswith(f"{UP} gradient \u22120.012")
    gradients[0][2, 0, 1, 2] = 0.5
    playground.set_kernel_gradients(gradients)  # follows the model while pointed at
    assert editor.readout.text().endswith(f"{DOWN} gradient +0.5")


# ---------------------------------------------------------------- forgotten with the weights they belong to

def test_reset_clears_the_gradients(qtbot, controller, editor, digits):
    panel = QtTrainingPanel(controller.playground, controller=controller, mnist=digits)
    qtbot.addWidget(panel)
    train_steps(qtbot, controller, digits, 1)
    assert editor.gradients is not None
    assert panel.reset_weights(confirm=False)
    assert editor.gradients is None and not editor.gradients_check.isEnabled()
    assert controller.playground.kernel_gradients == {}


def test_a_new_architecture_clears_the_gradients(qtbot, controller, editor, digits):
    train_steps(qtbot, controller, digits, 1)
    assert editor.gradients is not None
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.playground.set_conv_settings(0, filters=4)
    assert editor.gradients is None and editor.grid.filters == 4
    assert controller.playground.kernel_gradients == {} and not editor.gradients_check.isEnabled()
    qtbot.wait(50)  # a shipment of the stopped run still on its way must not bring them back
    assert editor.gradients is None


# ---------------------------------------------------------------- the partial repaints stay partial

def test_an_edit_with_gradients_shown_repaints_only_its_cell(editor, playground):
    playground.set_kernel_gradients(some_gradients(playground.network))
    QApplication.processEvents()
    paints = Paints(editor.grid)
    kernels = np.abs(playground.network.weight(0)[:, 0])
    f, i, j = (int(k) for k in np.unravel_index(np.argmin(kernels), kernels.shape))  # far from the scale's end
    playground.set_kernel_cell(0, f, 0, i, j, float(playground.network.weight(0)[f, 0, i, j]) + 1e-3)
    QApplication.processEvents()
    assert paints.regions == [QRegion(editor.cell_rect(f, i, j))]


def test_a_gradient_shipment_repaints_the_grid_once(editor, playground):
    QApplication.processEvents()
    paints = Paints(editor.grid)
    playground.set_weights(Network(seed=7).get_state(), some_gradients(playground.network))  # as training does
    QApplication.processEvents()
    assert paints.regions == [QRegion(editor.grid.rect())]


def test_no_glyph_work_without_gradients(qtbot, editor, playground, monkeypatch):
    calls = []
    original = editor.grid._paint_push
    monkeypatch.setattr(editor.grid, "_paint_push", lambda *args: (calls.append(args), original(*args)))
    qtbot.mouseClick(editor.grid, Qt.MouseButton.LeftButton, pos=editor.cell_rect(1, 1, 1).center())
    editor.grid.repaint()
    assert calls == []
    playground.set_kernel_gradients(some_gradients(playground.network))
    editor.grid.repaint()
    calls.clear()
    qtbot.mouseClick(editor.grid, Qt.MouseButton.LeftButton, pos=editor.cell_rect(1, 1, 1).center())
    editor.grid.repaint(editor.cell_rect(1, 1, 1))
    assert len(calls) == 1  # the clicked cell's glyph alone


def test_the_partial_repaints_with_gradients_show_what_a_full_repaint_shows(qtbot, editor, playground):
    if QGuiApplication.platformName() != "offscreen":
        pytest.skip("reads the window's backing store through the offscreen screen")
    playground.set_kernel_gradients(some_gradients(playground.network))
    for f, i, j, button in ((1, 0, 0, Qt.LeftButton), (6, 2, 1, Qt.RightButton), (3, 1, 1, Qt.LeftButton)):
        qtbot.mouseClick(editor.grid, button, pos=editor.cell_rect(f, i, j).center())
    qtbot.mouseMove(editor.grid, editor.cell_rect(4, 1, 2).center())
    playground.set_kernel_gradients(some_gradients(playground.network, seed=1))
    playground.set_kernel_cell(0, 7, 0, 2, 2, 0.0)
    QApplication.processEvents()
    full = editor.grab().toImage()
    on_screen = editor.screen().grabWindow(editor.winId()).toImage().convertToFormat(full.format())
    assert on_screen == full


# ---------------------------------------------------------------- in the window

def test_the_windows_step_button_brings_gradients_and_reset_takes_them_away(qtbot, tmp_path, monkeypatch, digits):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from cnnstudio.qt.main_window import MainWindow

    window = MainWindow(Playground(Network(seed=1)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    panel = window.training.panel
    panel._mnist = digits
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    assert window.kernel_editor.gradients is not None
    assert window.kernel_editor.gradients.shape == (8, 3, 3)
    panel.reset_weights(confirm=False)
    assert window.kernel_editor.gradients is None
    panel.controller.shutdown()
