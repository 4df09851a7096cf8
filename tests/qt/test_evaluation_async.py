"""The Evaluate tab and the Start button never freeze the window: evaluating 10,000 test images and reading a
large data set run in worker threads, their results come back through signals, and closing ends them cleanly.
"""
from __future__ import annotations

import gzip
import os
import shutil
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMainWindow, QPushButton

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network
from cnnstudio.io import catalog
from cnnstudio.io.catalog import load_mnist_full
from cnnstudio.io.datasets import MNIST_FULL_PATH, DatasetError, Digits, load_mnist_5k
from cnnstudio.qt.training import data_loader, eval_worker
from cnnstudio.qt.training.dock import TrainingDock
from cnnstudio.qt.training.evaluation_view import QtEvaluationView
from cnnstudio.qt.training.format import sentence
from cnnstudio.qt.training.panel import ERROR_COLOUR, QtTrainingPanel
from cnnstudio.training import evaluate

TIMEOUT_MS = 60_000
MAX_GAP_MS = 250  # a frozen GUI thread shows a gap as long as the work (0.5-2 s); a live one ticks every 10 ms


@pytest.fixture(scope="module")
def small_data():
    train, test = load_mnist_5k()
    return (Digits(train.images[::13], train.labels[::13], "MNIST full (train)"),
            Digits(test.images[::5], test.labels[::5], "MNIST full (test)"))


class Ticks:
    """A 10 ms timer on the GUI thread: the gaps between its ticks while ``busy()`` is true."""

    def __init__(self, busy):
        self.busy, self.gaps, self._last = busy, [], None
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self):
        now = time.perf_counter()
        if self._last is not None and self.busy():
            self.gaps.append(1e3 * (now - self._last))
        self._last = now

    def stop(self):
        self.timer.stop()
        return max(self.gaps, default=0.0), len(self.gaps)


def click_later(qtbot, ms: int, record):
    """A button clicked ``ms`` from now by a real mouse event; ``record()`` runs when the GUI thread handles it."""
    button = QPushButton("Elsewhere in the window")
    qtbot.addWidget(button)
    button.show()
    button.clicked.connect(record)
    QTimer.singleShot(ms, lambda: qtbot.mouseClick(button, Qt.MouseButton.LeftButton))
    return button


def slow(function, seconds: float, started: threading.Event | None = None, calls: list | None = None):
    """``function`` after ``seconds`` of sleep (the GIL released, as the engine's kernels do)."""
    def wrapped(*args, **kwargs):
        if calls is not None:
            calls.append(args)
        if started is not None:
            started.set()
        time.sleep(seconds)
        return function(*args, **kwargs)
    return wrapped


# ---------------------------------------------------------------------------------------------- evaluation
def test_evaluating_ten_thousand_images_keeps_the_gui_live_and_matches_evaluate(qtbot):
    network = Network(seed=2)
    test = load_mnist_full()[1]
    view = QtEvaluationView(Playground(network), lambda: test)
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    clicks = []
    click_later(qtbot, 60, lambda: clicks.append(view.busy))
    ticks = Ticks(lambda: view.busy)
    started = time.perf_counter()
    with qtbot.waitSignal(view.evaluated, timeout=TIMEOUT_MS):
        assert view.evaluate()
        assert view.busy and view.evaluation is None  # returned at once; the results come later
        qtbot.waitUntil(lambda: view.busy_label.isVisible(), timeout=TIMEOUT_MS)
        assert view.busy_label.text() == "Evaluating 10,000 test images…" and view.busy_bar.isVisible()
    seconds = time.perf_counter() - started
    largest, count = ticks.stop()
    print(f"\n10,000 test images evaluated in {seconds:.2f} s off the GUI thread; largest GUI-thread gap "
          f"{largest:.0f} ms over {count} ticks")
    assert clicks == [True]  # the click was handled while the evaluation ran
    assert count >= 10 and largest < MAX_GAP_MS
    assert not view.busy and not view.busy_label.isVisible()

    expected = evaluate(network, test)
    shown = view.evaluation
    assert shown.accuracy == expected.accuracy and shown.loss == expected.loss
    for name in ("confusion", "predictions", "probabilities"):
        np.testing.assert_array_equal(getattr(shown, name), getattr(expected, name))
    np.testing.assert_array_equal(view.matrix.confusion, expected.confusion)
    assert f"{expected.accuracy:.1%}" in view.accuracy_label.text() and "10,000" in view.accuracy_label.text()


def test_the_previous_results_stay_greyed_while_new_ones_are_computed(qtbot, monkeypatch):
    _, test = load_mnist_5k()
    view = QtEvaluationView(Playground(Network(seed=2)), lambda: test)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.evaluated, timeout=TIMEOUT_MS):
        view.evaluate()
    before = view.matrix.confusion.copy()
    monkeypatch.setattr(eval_worker, "evaluate", slow(evaluate, 0.8))
    view.evaluate()
    qtbot.waitUntil(lambda: view.busy_label.isVisible(), timeout=TIMEOUT_MS)
    assert view.busy_label.text() == "Evaluating 1,000 test images…"
    assert not view.results.isEnabled() and not view.accuracy_label.isEnabled()  # greyed, still there
    np.testing.assert_array_equal(view.matrix.confusion, before)
    assert view.worst_gallery.count() > 0
    view.grab().save("/tmp/work/evaluation_busy.png")
    with qtbot.waitSignal(view.evaluated, timeout=TIMEOUT_MS):
        pass
    assert view.results.isEnabled() and view.accuracy_label.isEnabled()


@pytest.mark.parametrize("stale_run", ["cancelled between batches", "finished, then dropped"])
def test_a_network_change_mid_way_drops_the_stale_result_and_evaluates_again(qtbot, monkeypatch, stale_run):
    playground = Playground(Network(seed=2))
    _, test = load_mnist_5k()
    view = QtEvaluationView(playground, lambda: test)
    qtbot.addWidget(view)
    started, calls = threading.Event(), []
    if stale_run == "cancelled between batches":
        fake = slow(evaluate, 0.5, started, calls)
    else:  # ignores the cancelling network: runs to its end on the weights it was given
        fake = slow(lambda network, digits, **kw: evaluate(network.network, digits, **kw), 0.5, started, calls)
    monkeypatch.setattr(eval_worker, "evaluate", fake)
    shown = []
    view.evaluated.connect(lambda: shown.append(view.evaluation))
    view.evaluate()
    assert started.wait(10)
    new_weights = Network(seed=7).get_state()
    playground.set_weights(new_weights)  # while the first evaluation runs
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=TIMEOUT_MS)  # started again, on the new weights
    qtbot.waitUntil(lambda: not view.busy, timeout=TIMEOUT_MS)
    qtbot.wait(100)  # a stale result would have arrived by now
    assert len(shown) == 1  # only the fresh result was shown
    expected = evaluate(Network(seed=7), test)
    np.testing.assert_array_equal(shown[0].probabilities, expected.probabilities)
    assert shown[0].accuracy == expected.accuracy


def test_while_training_runs_new_weights_do_not_restart_an_evaluation(qtbot, monkeypatch):
    playground = Playground(Network(seed=2))
    _, test = load_mnist_5k()
    view = QtEvaluationView(playground, lambda: test)
    qtbot.addWidget(view)
    calls = []
    monkeypatch.setattr(eval_worker, "evaluate", slow(evaluate, 0.3, calls=calls))
    view.set_training(True)
    with qtbot.waitSignal(view.evaluated, timeout=TIMEOUT_MS):
        view.evaluate()
        for seed in range(3, 8):  # weights arriving from training, faster than an evaluation
            playground.set_weights(Network(seed=seed).get_state())
            qtbot.wait(30)
    assert len(calls) == 1 and view.evaluation is not None


@pytest.mark.parametrize("kind", ["bare window", "main window"])
def test_closing_the_window_mid_evaluation_ends_the_thread_cleanly(qtbot, qtlog, tmp_path, monkeypatch, small_data,
                                                                    kind):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    started = threading.Event()
    monkeypatch.setattr(eval_worker, "evaluate", slow(evaluate, 0.5, started))
    if kind == "main window":  # as the app closes it (closeEvent, then deletion)
        from cnnstudio.qt.main_window import MainWindow
        window = MainWindow(Playground(Network(seed=1)))
        dock = window.training
    else:  # a bare window holding the dock, so only the training side is under test
        window = QMainWindow()
        dock = TrainingDock(Playground(Network(seed=1)), CanvasModel(), parent=window)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.panel._mnist = small_data
    window.show()
    assert dock.evaluation.evaluate()
    assert started.wait(10) and dock.evaluation.busy
    ended = []
    dock.evaluation.computer.destroyed.connect(lambda: ended.append(True))
    window.close()
    window.deleteLater()
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert not [record for record in qtlog.records if "QThread" in record.message]


# ---------------------------------------------------------------------------------------------- loading at Start
@pytest.fixture
def panel(qtbot, small_data):
    """A panel whose large sets are read by a slow fake loader (``panel.loads`` counts its calls)."""
    panel = QtTrainingPanel(Playground(Network(seed=1)), mnist=small_data)
    qtbot.addWidget(panel)
    panel.resize(1000, 560)
    panel.epochs_spin.setValue(1)
    panel.show()
    yield panel
    panel.controller.shutdown()


@pytest.fixture
def slow_loader(monkeypatch, small_data):
    loads = []
    monkeypatch.setattr(data_loader, "make_dataset", slow(lambda settings: small_data, 0.6, calls=loads))
    return loads


def count_runs(monkeypatch, controller) -> list:
    runs = []
    start = controller.start
    monkeypatch.setattr(controller, "start", lambda *args, **kwargs: (runs.append(args), start(*args, **kwargs)))
    return runs


def test_start_reads_a_large_set_off_the_gui_thread_and_a_second_press_starts_nothing(qtbot, monkeypatch, panel,
                                                                                       slow_loader):
    runs = count_runs(monkeypatch, panel.controller)
    panel.data_combo.setCurrentIndex(panel.data_combo.findData("mnist-full"))
    clicks = []
    click_later(qtbot, 100, lambda: clicks.append(panel.loading))
    ticks = Ticks(lambda: panel.loading is not None)
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert panel.start_button.text() == "Loading MNIST full…" and not panel.start_button.isEnabled()
        assert not panel.step_button.isEnabled() and panel.controller.state == "idle"
        panel.grab().save("/tmp/work/start_loading.png")
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # pressed again: disabled
        assert panel.start()  # and asked again in code: it is already coming
        panel.step()
    largest, count = ticks.stop()
    assert clicks == ["MNIST full"]  # the window answered a click while the data was read
    assert count >= 10 and largest < MAX_GAP_MS
    assert len(slow_loader) == 1 and len(runs) == 1
    assert panel.start_button.text() == "Start" and panel.start_button.isEnabled()
    assert panel.datasets_ready("mnist-full") and panel.datasets()[0].name == "MNIST full (train)"


def test_changing_the_data_while_it_loads_cancels_the_start(qtbot, monkeypatch, panel, slow_loader):
    runs = count_runs(monkeypatch, panel.controller)
    panel.data_combo.setCurrentIndex(panel.data_combo.findData("mnist-full"))
    with qtbot.waitSignal(panel.data_ready, timeout=TIMEOUT_MS):
        assert panel.start()
        assert panel.loading == "MNIST full"
        panel.data_combo.setCurrentIndex(panel.data_combo.findData("mnist"))
        assert panel.loading is None and panel.start_button.text() == "Start"
        assert "Start cancelled" in panel.status_label.text()
    qtbot.wait(50)
    assert runs == [] and panel.controller.state == "idle"


def test_a_load_error_arrives_as_the_same_one_line_message(qtbot, monkeypatch, panel):
    error = DatasetError("mnist_full.npz is damaged (BadZipFile: truncated). Fix: reinstall CNN Studio")

    def damaged(settings):
        raise error
    monkeypatch.setattr(data_loader, "make_dataset", slow(damaged, 0.3))
    panel.data_combo.setCurrentIndex(panel.data_combo.findData("mnist-full"))
    with qtbot.waitSignal(panel.data_ready, timeout=TIMEOUT_MS):
        assert panel.start()
    assert panel.status_label.text() == sentence(error) and ERROR_COLOUR in panel.status_label.styleSheet()
    assert panel.controller.state == "idle" and panel.start_button.isEnabled()


def test_the_evaluation_says_loading_then_evaluates_the_large_set(qtbot, tmp_path, monkeypatch, small_data,
                                                                  slow_loader):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    dock = TrainingDock(Playground(Network(seed=1)), CanvasModel())
    qtbot.addWidget(dock)
    dock.panel.data_combo.setCurrentIndex(dock.panel.data_combo.findData("mnist-full"))
    dock.tabs.setCurrentIndex(1)  # Evaluate
    view = dock.evaluation
    with qtbot.waitSignal(view.evaluated, timeout=TIMEOUT_MS):
        dock.show()
        qtbot.waitUntil(lambda: view.busy_label.isVisible(), timeout=TIMEOUT_MS)
        assert view.busy_label.text() == "Loading MNIST full…" and dock.panel.controller.state == "idle"
    assert view.digits is small_data[1] and len(slow_loader) == 1


def test_closing_the_window_while_loading_ends_the_thread_cleanly(qtbot, qtlog, tmp_path, monkeypatch, small_data):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    started = threading.Event()
    monkeypatch.setattr(data_loader, "make_dataset", slow(lambda settings: small_data, 0.5, started))
    window = QMainWindow()
    dock = TrainingDock(Playground(Network(seed=1)), CanvasModel(), parent=window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    panel = dock.panel
    panel.data_combo.setCurrentIndex(panel.data_combo.findData("mnist-full"))
    window.show()
    assert panel.start() and started.wait(10)
    ended = []
    panel.loader.destroyed.connect(lambda: ended.append(True))
    window.close()
    window.deleteLater()
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert not [record for record in qtlog.records if "QThread" in record.message]


# ---------------------------------------------------------------------------------------------- the catalog
def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(">u1").tobytes()))


def test_the_catalog_says_whether_a_set_is_in_memory_without_reading_it(tmp_path):
    """Qt-free (here beside its one user): ``*_loaded`` answers from the cache's keys, reading nothing."""
    copies = [tmp_path / f"mnist_full_{k}.npz" for k in range(3)]
    for copy in copies:
        shutil.copyfile(MNIST_FULL_PATH, copy)
    assert not catalog.mnist_full_loaded(copies[0])
    catalog.load_mnist_full(copies[0])
    assert catalog.mnist_full_loaded(copies[0])
    info = copies[0].stat()
    os.utime(copies[0], ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))  # a changed file is read again
    assert not catalog.mnist_full_loaded(copies[0])
    catalog.load_mnist_full(copies[1])
    catalog.load_mnist_full(copies[2])  # two kept: the oldest goes
    assert catalog.mnist_full_loaded(copies[2]) and catalog.mnist_full_loaded(copies[1])
    assert not catalog.mnist_full_loaded(copies[0]) and not catalog.mnist_full_loaded(tmp_path / "missing.npz")

    rng = np.random.default_rng(0)
    for name, shape in zip(catalog.FASHION_FILES, ((12, 28, 28), (12,), (6, 28, 28), (6,))):
        _write_idx(tmp_path / name, rng.integers(0, 10 if len(shape) == 1 else 256, shape))
    assert not catalog.fashion_mnist_loaded(tmp_path) and not catalog.fashion_mnist_loaded(tmp_path / "none")
    train, test = catalog.load_fashion_mnist(tmp_path)
    assert len(train) == 12 and len(test) == 6 and catalog.fashion_mnist_loaded(tmp_path)
