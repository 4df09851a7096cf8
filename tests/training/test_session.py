"""The Qt-free training session: its state machine, locks, curves and hand edits, driven inline (no threads)."""
from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.training import InlineDriver, TrainingSession, TrainingSettings


@pytest.fixture(scope="module")
def data():
    train, test = load_mnist_5k()
    return _take(train, 200), _take(test, 50)


def _take(digits, n):
    from cnnstudio.io.datasets import Digits
    rows = np.random.default_rng(0).permutation(len(digits))[:n]
    return Digits(digits.images[rows], digits.labels[rows], digits.name)


@pytest.fixture
def setup(data):
    playground = Playground(Network(seed=1))
    driver = InlineDriver()
    session = TrainingSession(playground, driver)
    heard = []
    for name in ("state_changed", "paused", "diverged", "finished", "locks_changed"):
        getattr(session.events, name).connect(lambda *args, name=name: heard.append((name, *args)))
    return playground, driver, session, heard


SETTINGS = TrainingSettings(epochs=1, batch_size=20)


def test_start_runs_steps_and_the_weights_reach_the_playground(setup, data):
    playground, driver, session, heard = setup
    before = playground.network.get_state()
    session.start(SETTINGS, *data)
    assert session.state == "running" and ("state_changed", "running") in heard
    driver.advance(3)
    assert len(session.history) == 3 and session.weights_applied >= 1
    assert not np.array_equal(playground.network.weight(0), before[0])
    driver.advance(100)  # 200 digits / 20 = 10 steps: the run ends
    assert session.state == "idle" and ("finished",) in heard and not session.has_session
    assert len(session.history) == 10


def test_pause_then_resume_before_the_pause_is_answered_keeps_running():
    """Pause and Resume within milliseconds: the worker's late 'paused' must not leave the session paused."""
    class LateDriver(InlineDriver):  # takes commands only when asked, like a busy worker thread
        def __init__(self):
            super().__init__()
            self.queue = []

        def _send(self, command, payload=None):
            token = next(self._tokens)
            self.queue.append((command, payload, token))
            return token

        def take(self):
            while self.queue:
                self.runner.obey(*self.queue.pop(0))

    train, test = load_mnist_5k()
    playground = Playground(Network(seed=1))
    driver = LateDriver()
    session = TrainingSession(playground, driver)
    session.start(TrainingSettings(epochs=1), _take(train, 200), _take(test, 20))
    driver.take()
    for _ in range(20):
        session.pause()
        session.resume()
    assert session.state == "running"
    driver.take()  # the worker now answers twenty pauses, then resumes
    assert session.state == "running" and driver.runner.running


def test_a_pause_is_answered_even_when_the_worker_was_already_paused(setup, data):
    playground, driver, session, heard = setup
    session.start(SETTINGS, *data, paused=True)
    session.state = "running"  # as if a resume were lost: the session waits for an answer to its pause
    session.pause()
    assert session.state == "paused"


def test_stepping_once_trains_one_batch_and_pauses(setup, data):
    playground, driver, session, heard = setup
    session.start(SETTINGS, *data, paused=True)
    session.step_once()
    assert len(session.history) == 1 and session.state == "paused" and ("paused",) in heard


def test_locks_keep_kernels_and_follow_the_architecture(setup, data):
    playground, driver, session, heard = setup
    kernel = playground.network.weight(0)[2].copy()
    session.set_locked(0, 2, True)
    assert session.is_locked(0, 2) and ("locks_changed",) in heard
    session.start(SETTINGS, *data)
    driver.advance(100)
    np.testing.assert_array_equal(playground.network.weight(0)[2], kernel)
    session.set_locked(1, 15, True)
    playground.set_conv_settings(1, filters=4)  # filter 16 of conv 2 is gone, and so is its lock
    assert session.locked == {(0, 2)}


def test_a_hand_edit_while_paused_reaches_the_trainer_on_resume(setup, data):
    playground, driver, session, heard = setup
    session.start(SETTINGS, *data, paused=True)
    session.step_once()
    playground.set_kernel_cell(0, 0, 0, 1, 1, 5.0)
    session.resume()
    assert driver.runner.trainer.network.weight(0)[0, 0, 1, 1] != 0  # the trainer took the edited weights
    driver.advance(1)
    assert abs(playground.network.weight(0)[0, 0, 1, 1] - 5.0) < 0.1  # one Adam step moves it very little


def test_a_diverging_run_pauses_on_good_weights(setup, data):
    playground, driver, session, heard = setup
    session.start(TrainingSettings(epochs=1, batch_size=20, optimizer="sgd", learning_rate=10.0), *data)
    driver.advance(100)
    assert any(name == "diverged" for name, *_ in heard)
    assert session.state == "paused" and session.has_session
    assert all(np.isfinite(p).all() for p in playground.network.params)


def test_stop_ends_the_run_and_ignores_what_the_old_run_still_sends(setup, data):
    playground, driver, session, heard = setup
    session.start(SETTINGS, *data)
    driver.advance(2)
    session.stop()
    assert session.state == "idle" and heard.count(("finished",)) == 1
    weights = playground.network.get_state()
    session.driver_weights([p + 1 for p in weights], None)  # a late report of the stopped run
    np.testing.assert_array_equal(playground.network.weight(0), weights[0])
