"""Pause and Resume pressed in rapid pairs on the real Qt training controller (worker thread and all):
the state shown always matches what the worker does, and a last Pause is obeyed within a second.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cnnstudio.core.playground import Playground  # noqa: E402
from cnnstudio.engine import Network  # noqa: E402
from cnnstudio.io.datasets import Digits, load_mnist_5k  # noqa: E402
from cnnstudio.qt.training.panel import QtTrainingPanel  # noqa: E402
from cnnstudio.qt.training.worker import TrainingController  # noqa: E402
from cnnstudio.training import TrainingSettings  # noqa: E402

PAIRS = 100
TIMEOUT_MS = 60_000  # the first step may compile the training kernels


@pytest.fixture(scope="module")
def small_data():
    train, test = load_mnist_5k()
    return (Digits(train.images[::13], train.labels[::13], "small train"),
            Digits(test.images[::50], test.labels[::50], "small test"))


@pytest.fixture
def controller(qtbot, small_data):
    controller = TrainingController(Playground(Network(seed=1)))
    steps = []
    controller.progress.connect(lambda progress: steps.append(progress.step))
    controller.steps = steps
    controller.start(TrainingSettings(epochs=10_000), *small_data)  # far more than the test lasts
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=TIMEOUT_MS)
    yield controller
    controller.shutdown()


def keeps_training(qtbot, controller, more: int = 20) -> None:
    """Progress still arrives: ``more`` further steps within the timeout."""
    seen = len(controller.steps)
    qtbot.waitUntil(lambda: len(controller.steps) >= seen + more, timeout=TIMEOUT_MS)


def pauses_for_good(qtbot, controller) -> None:
    """A pause pressed now ends "paused" within a second, and no progress arrives after it."""
    controller.pause()
    qtbot.waitUntil(lambda: controller.state == "paused", timeout=1000)
    seen = len(controller.steps)
    qtbot.wait(500)
    assert controller.state == "paused" and len(controller.steps) == seen
    assert controller.worker.runner.mode == "paused"


@pytest.mark.parametrize("events_every", [0, 1, 3], ids=["no-events", "events-each-pair", "events-every-3"])
def test_rapid_pause_resume_pairs_end_running_and_a_last_pause_holds(qtbot, controller, events_every):
    for pair in range(PAIRS):
        controller.pause()
        controller.resume()
        if events_every and pair % events_every == 0:
            QApplication.processEvents()  # the worker's answers to earlier pairs arrive in between
    assert controller.state == "running"
    keeps_training(qtbot, controller)
    assert controller.state == "running" and controller.worker.runner.mode == "running"
    pauses_for_good(qtbot, controller)

    controller.resume()  # and it goes on after that
    keeps_training(qtbot, controller)
    pauses_for_good(qtbot, controller)


def test_rapid_pairs_with_waits_of_a_few_milliseconds(qtbot, controller):
    for pair in range(PAIRS):
        controller.pause()
        qtbot.wait(pair % 4)  # 0..3 ms: a pause answered before, during or after the resume
        controller.resume()
    keeps_training(qtbot, controller)
    assert controller.state == "running"
    pauses_for_good(qtbot, controller)


def test_the_panel_button_pressed_200_times_shows_what_the_worker_does(qtbot, small_data):
    panel = QtTrainingPanel(Playground(Network(seed=1)), mnist=small_data)
    qtbot.addWidget(panel)
    panel.epochs_spin.setValue(500)
    steps = []
    panel.controller.progress.connect(lambda progress: steps.append(progress.step))
    try:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(steps) >= 3, timeout=TIMEOUT_MS)
        for _ in range(PAIRS):
            qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # Pause
            qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # Resume
        seen = len(steps)
        qtbot.waitUntil(lambda: len(steps) >= seen + 20, timeout=TIMEOUT_MS)
        assert panel.controller.state == "running" and panel.start_button.text() == "Pause"

        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.controller.state == "paused", timeout=1000)
        seen = len(steps)
        qtbot.wait(500)
        assert len(steps) == seen and panel.start_button.text() == "Resume"
    finally:
        panel.controller.shutdown()
