"""The training worker and its controller: commands between steps, copies across threads, locks, divergence."""
from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from PySide6.QtCore import QObject, QThread, Signal, Slot

from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.core.playground import Playground
from cnnstudio.training import GRADIENT_SMOOTHING, Trainer, TrainingSettings
from cnnstudio.qt.training.worker import TrainingController, TrainingWorker

TIMEOUT_MS = 60_000  # generous: the first run may load the engine's compiled kernels from disk


@pytest.fixture(scope="module")
def small_data():
    """About 300 training digits (every class) and 200 test digits."""
    train, test = load_mnist_5k()
    return (Digits(train.images[::13], train.labels[::13], "small train"),
            Digits(test.images[::5], test.labels[::5], "small test"))


class GuiSide(QObject):
    """Receives the worker's signals on the GUI thread (queued) and re-emits them there, as a view would.

    NOTE: ``qtbot.waitSignal`` directly on a worker signal would run pytest-qt's callback in the
    worker thread, which then stops a GUI-thread timer from the wrong thread.
    """

    progress = Signal(object)
    weights = Signal(object)
    paused = Signal()
    diverged = Signal(str)
    finished = Signal()

    def __init__(self, worker):
        super().__init__()
        self.kernel_gradients = []  # what came with each ``weights``
        worker.progress.connect(self._progress)
        worker.weights.connect(self._weights)
        worker.paused.connect(self._paused)
        worker.diverged.connect(self._diverged)
        worker.finished.connect(self._finished)

    @Slot(object)
    def _progress(self, progress):
        self.progress.emit(progress)

    @Slot(object, object)
    def _weights(self, state, kernel_gradients):
        self.kernel_gradients.append(kernel_gradients)
        self.weights.emit(state)

    @Slot()
    def _paused(self):
        self.paused.emit()

    @Slot(str)
    def _diverged(self, message):
        self.diverged.emit(message)

    @Slot()
    def _finished(self):
        self.finished.emit()


@pytest.fixture
def worker_thread(qtbot):
    """A TrainingWorker living in its own QThread, and its GUI side; the thread is ended (never terminated) after."""
    thread = QThread()
    worker = TrainingWorker()
    worker.moveToThread(thread)
    thread.finished.connect(worker.deleteLater)  # deleted in its own thread, not by Python's garbage collector
    gui = GuiSide(worker)
    thread.start()
    yield worker, gui
    worker.stop()
    thread.quit()
    assert thread.wait(10_000), "the worker thread did not end"


@pytest.fixture
def controller(qtbot):
    playground = Playground(Network(seed=1))
    controller = TrainingController(playground)
    yield controller
    controller.shutdown()


def settings(**changes) -> TrainingSettings:
    values = dict(batch_size=32, epochs=1, learning_rate=3e-3)
    values.update(changes)
    return TrainingSettings(**values)


def test_worker_starts_pauses_steps_once_and_stops(qtbot, worker_thread, small_data):
    worker, gui = worker_thread
    trainer = Trainer(Network(seed=0), *small_data, settings(epochs=3))
    steps, weights = [], []
    gui.progress.connect(lambda progress: steps.append(progress.step))
    gui.weights.connect(weights.append)

    with qtbot.waitSignal(gui.progress, timeout=TIMEOUT_MS):
        worker.start(trainer)
    with qtbot.waitSignal(gui.paused, timeout=TIMEOUT_MS):
        worker.pause()
    # Signals arrive in order: once ``paused`` is in, every step before it has been reported.
    done = len(steps)
    assert steps == list(range(1, done + 1))
    assert done < trainer.total_steps

    with qtbot.waitSignal(gui.paused, timeout=TIMEOUT_MS):
        worker.step_once()
    assert steps[-1] == done + 1 and len(steps) == done + 1
    # a single step always shows its weights, as copies (not the trainer's own arrays)
    assert weights and all(a is not b for a, b in zip(weights[-1], trainer.network.params))
    np.testing.assert_array_equal(weights[-1][0], trainer.network.params[0])

    with qtbot.waitSignal(gui.finished, timeout=TIMEOUT_MS):
        worker.stop()
    assert len(steps) == done + 1  # nothing ran after the stop
    assert worker.thread().isRunning()  # the thread was not killed; the fixture ends it


def test_each_weights_shipment_carries_the_smoothed_kernel_gradients(qtbot, worker_thread, small_data):
    worker, gui = worker_thread
    train = Digits(small_data[0].images[:64], small_data[0].labels[:64], "64 digits")
    network = Network(seed=0)
    # one batch holds every digit, so each step's gradient does not depend on the shuffling
    trainer = Trainer(network, train, small_data[1], settings(batch_size=64, epochs=5))
    starts, states = [network.copy()], []
    gui.weights.connect(states.append)
    worker.start_paused(trainer)
    for _ in range(3):
        with qtbot.waitSignal(gui.paused, timeout=TIMEOUT_MS):
            worker.step_once()
        starts.append(Network(network.layers, network.input_shape))
        starts[-1].set_state(states[-1])  # the next step starts from the weights just shipped
    assert len(gui.kernel_gradients) == 3
    engine = [start.loss_and_grads(train.images, train.labels)[1] for start in starts[:3]]
    for step, shipped in enumerate(gui.kernel_gradients, start=1):
        assert sorted(shipped) == [0, 1]  # the conv layers
        for layer, gradient in shipped.items():
            expected = ref.smoothed_gradient([grads[2 * layer] for grads in engine[:step]], GRADIENT_SMOOTHING)
            np.testing.assert_allclose(gradient, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    with qtbot.waitSignal(gui.finished, timeout=TIMEOUT_MS):
        worker.stop()


def test_worker_runs_to_the_end(qtbot, worker_thread, small_data):
    worker, gui = worker_thread
    trainer = Trainer(Network(seed=0), *small_data, settings())
    last = []
    gui.progress.connect(last.append)
    with qtbot.waitSignal(gui.finished, timeout=TIMEOUT_MS):
        worker.start(trainer)
    assert last[-1].finished and last[-1].step == trainer.total_steps
    assert last[-1].test_accuracy is not None


def test_training_updates_the_playground_weights_and_feature_maps(qtbot, controller, small_data):
    playground = controller.playground
    playground.set_input(small_data[1].images[0, 0])
    before_weights = playground.network.get_state()
    before_maps = playground.trace.stages[0].activation.copy()
    traces = []
    playground.events.activations_changed.connect(traces.append)

    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.start(settings(epochs=2), *small_data)

    assert controller.state == "idle"
    assert controller.weights_applied >= 1
    assert traces, "the feature maps were never recomputed while training"
    assert not np.array_equal(playground.network.weight(0), before_weights[0])
    assert not np.array_equal(playground.trace.stages[0].activation, before_maps)


def test_locked_kernels_stay_exactly_as_set(qtbot, controller, small_data):
    playground = controller.playground
    controller.set_locked(0, 2, True)
    controller.set_locked(1, 5, True)
    before = playground.network.get_state()
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.start(settings(weight_decay=0.01), *small_data)
    network = playground.network
    np.testing.assert_array_equal(network.weight(0)[2], before[0][2])
    np.testing.assert_array_equal(network.bias(0)[2], before[1][2])
    np.testing.assert_array_equal(network.weight(1)[5], before[2][5])
    assert not np.array_equal(network.weight(0)[3], before[0][3])  # the others learned


def test_a_kernel_edited_and_locked_during_a_pause_keeps_the_edit(qtbot, controller, small_data):
    playground = controller.playground
    controller.start(settings(epochs=2), *small_data, paused=True)
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
        controller.step_once()
    assert controller.state == "paused"
    edge = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    playground.set_kernel(0, 1, edge, channel=0)
    controller.set_locked(0, 1, True)
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.resume()
    np.testing.assert_array_equal(playground.network.weight(0)[1, 0], edge)


def test_a_diverging_run_says_why_pauses_and_goes_back_to_the_last_good_weights(qtbot, controller, small_data):
    playground = controller.playground
    before = playground.network.get_state()
    messages, steps, finished = [], [], []
    controller.diverged.connect(messages.append)
    controller.progress.connect(lambda progress: steps.append(progress.step))
    controller.finished.connect(lambda: finished.append(True))
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
        controller.start(settings(optimizer="adam", learning_rate=10.0, epochs=3), *small_data)
    assert messages and "diverged" in messages[0] and "learning rate" in messages[0]
    assert controller.state == "paused" and controller.has_session and not finished
    for now, then in zip(playground.network.params, before):
        np.testing.assert_array_equal(now, then)

    # the paused session goes on: a single step begins a new pass from the reverted weights
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
        controller.step_once()
    assert steps[-1] == 1 and len(messages) == 1
    assert not np.array_equal(playground.network.weight(0), before[0])
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.stop()
    assert controller.state == "idle" and finished == [True]


def test_the_worker_pauses_on_a_divergence_and_resumes_with_a_new_pass(qtbot, worker_thread, small_data):
    worker, gui = worker_thread
    network = Network(seed=0)
    before = network.get_state()
    trainer = Trainer(network, *small_data, settings(learning_rate=10.0))
    diverged, finished, shipped = [], [], []
    gui.diverged.connect(diverged.append)
    gui.finished.connect(lambda: finished.append(True))
    gui.weights.connect(shipped.append)
    with qtbot.waitSignal(gui.paused, timeout=TIMEOUT_MS):
        worker.start(trainer)
    assert len(diverged) == 1 and not finished
    for now, then in zip(shipped[-1], before):  # the last weights shipped are the reverted ones
        np.testing.assert_array_equal(now, then)
    with qtbot.waitSignal(gui.paused, timeout=TIMEOUT_MS):
        worker.resume()  # the same learning rate diverges again, from the same weights
    assert len(diverged) == 2 and not finished
    with qtbot.waitSignal(gui.finished, timeout=TIMEOUT_MS):
        worker.stop()


def test_a_new_architecture_stops_training(qtbot, controller, small_data):
    with qtbot.waitSignal(controller.progress, timeout=TIMEOUT_MS):
        controller.start(settings(epochs=50), *small_data)
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.playground.set_conv_settings(0, filters=4)
    assert controller.state == "idle" and not controller.has_session
    # weights of the old run that were still on their way must not reach the new network
    qtbot.wait(50)
    assert controller.playground.network.weight(0).shape[0] == 4


def test_the_workers_reports_reach_the_session_on_the_gui_thread(qtbot, small_data):
    """Every report of the worker thread is handled on the GUI thread, which alone touches the playground and views."""
    import threading

    from cnnstudio.core.playground import Playground
    from cnnstudio.qt.training.worker import TrainingController

    controller = TrainingController(Playground(Network(seed=1)))
    session, threads = controller.session, set()
    for name in ("driver_progress", "driver_weights", "driver_paused", "driver_finished"):
        original = getattr(session, name)
        setattr(session, name, lambda *args, original=original: (threads.add(threading.current_thread()),
                                                                 original(*args)))
    try:
        with qtbot.waitSignal(controller.finished, timeout=60_000):
            controller.start(settings(epochs=1), *small_data)
    finally:
        controller.shutdown()
    assert threads == {threading.main_thread()}
