"""Training off the GUI thread: a worker thread that runs the session's ``StepRunner``, and the controller.

The Qt-free parts live in cnnstudio/training: ``StepRunner`` (training/runner.py) takes
commands between steps and advances one step at a time; ``TrainingSession``
(training/session.py) holds the locks, the state machine and the curves.  This module only
puts them on threads:

- ``TrainingWorker`` lives in a ``QThread``; commands (any thread) are queued with a token
  and taken between two steps; a 0 ms timer gives the thread's event loop a turn between
  steps, so nothing is ever killed mid-step.  Only copies cross threads.
- ``TrainingController`` sits on the GUI thread: it owns the worker's thread, forwards the
  worker's reports to the session (queued, in order), and re-emits the session's events as
  Qt signals for the views.
"""
from __future__ import annotations

import threading
from collections import deque

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from cnnstudio.training.runner import WEIGHTS_PER_SECOND, DriverCommands, StepRunner
from cnnstudio.training.session import TrainingSession

__all__ = ["TrainingController", "TrainingWorker", "WEIGHTS_PER_SECOND"]


class TrainingWorker(QObject, DriverCommands):
    """Runs a ``StepRunner`` in the thread it is moved to, one trainer (session) at a time.

    The engine's parallel kernels get every core but one when called from that thread, so
    the GUI thread always has a core of its own.

    Commands (``start``, ``start_paused``, ``resume``, ``pause``, ``step_once``, ``stop``,
    ``set_state``, ``set_locked``) may be called from any thread: each queues a request, wakes
    the worker and returns the request's token (1, 2, ...).  Signals (queued to the receiver):

    - ``progress(Progress)``     after every step
    - ``weights(list, dict)``    copies of every parameter and the smoothed kernel gradients
      (``Trainer.kernel_gradients()``), at most 15 times a second while running, and always after
      a pause, a single step, the end or a divergence
    - ``paused(int)``            the worker waits for a command; the token of the last command it took
    - ``diverged(str)``          the loss became NaN or infinite: the trainer went back to its last good
      weights (emitted just before) and the session pauses (``paused`` follows); ``resume`` or
      ``step_once`` then begins a new pass of the same trainer from those weights
    - ``error(str)``             a step raised; the session is over (``finished`` follows)
    - ``finished()``             the session ended: exactly once per session, and its last signal
    """

    progress = Signal(object)
    weights = Signal(object, object)
    paused = Signal(int)
    diverged = Signal(str)
    error = Signal(str)
    finished = Signal()
    _wake = Signal()

    def __init__(self, weights_per_second: float = WEIGHTS_PER_SECOND, parent=None):
        super().__init__(parent)
        self.runner = StepRunner(_SignalReport(self), weights_per_second)
        self._requests: deque = deque()
        self._lock = threading.Lock()
        self._tokens = 0
        self._wake.connect(self._take_requests, Qt.ConnectionType.QueuedConnection)
        # A 0 ms timer gives the event loop a turn between two steps; it moves with the worker.
        self._next_step = QTimer(self)
        self._next_step.setSingleShot(True)
        self._next_step.setInterval(0)
        self._next_step.timeout.connect(self._advance)

    @property
    def trainer(self):
        return self.runner.trainer

    # ------------------------------------------------------------------ commands (any thread): DriverCommands
    def _send(self, command: str, payload=None) -> int:
        with self._lock:
            self._tokens += 1
            token = self._tokens
            self._requests.append((command, payload, token))
        self._wake.emit()
        return token

    # ------------------------------------------------------------------ the worker's thread
    @Slot()
    def _take_requests(self) -> None:
        while True:
            with self._lock:
                if not self._requests:
                    break
                command, payload, token = self._requests.popleft()
            if command in ("start", "start_paused"):
                _leave_a_core_for_the_gui()
            self.runner.obey(command, payload, token)
        self._schedule()

    @Slot()
    def _advance(self) -> None:
        self.runner.advance()
        self._schedule()

    def _schedule(self) -> None:
        if self.runner.running:
            self._next_step.start()
        else:
            self._next_step.stop()


class _SignalReport:
    """The runner's reports as the worker's signals.

    NOTE: each report looks the signal up afresh (``worker.progress.emit(...)``) instead of keeping bound
    ``emit`` methods: kept ones, called from the worker thread, corrupted reference counts in PySide6 6.11
    and crashed the GUI thread now and then.
    """

    def __init__(self, worker: TrainingWorker):
        self.worker = worker

    def progress(self, progress) -> None:
        self.worker.progress.emit(progress)

    def weights(self, state, kernel_gradients) -> None:
        self.worker.weights.emit(state, kernel_gradients)

    def paused(self, token: int) -> None:
        self.worker.paused.emit(token)

    def diverged(self, message: str) -> None:
        self.worker.diverged.emit(message)

    def error(self, message: str) -> None:
        self.worker.error.emit(message)

    def finished(self) -> None:
        self.worker.finished.emit()


class TrainingController(QObject):
    """Runs a ``TrainingSession`` of ``playground`` on a worker thread; its events as Qt signals (GUI thread).

    One worker lives in one thread for the controller's lifetime.  ``session`` holds the state
    ("idle", "running", "pausing", "paused"), the locks and the curves; the commands below are
    the session's.  Signals: ``state_changed(str)``, ``paused()``, ``progress(Progress)``,
    ``diverged(str)``, ``error(str)``, ``finished()``, ``locks_changed()``, ``history_changed()``.
    """

    state_changed = Signal(str)
    paused = Signal()
    progress = Signal(object)
    diverged = Signal(str)
    error = Signal(str)
    finished = Signal()
    locks_changed = Signal()
    history_changed = Signal()

    def __init__(self, playground, trainer_factory=None, session: TrainingSession | None = None, parent=None):
        super().__init__(parent)
        self.playground = playground
        self._thread = QThread(self)
        self._thread.setObjectName("trainingThread")
        self.worker = TrainingWorker()
        self.worker.moveToThread(self._thread)
        # deleted in its own thread as the thread ends, never from the GUI thread while it may be stepping
        self._thread.finished.connect(self.worker.deleteLater)
        self.session = session or TrainingSession(playground, trainer_factory=trainer_factory)
        self.session.set_driver(self.worker)
        s = self.session
        # NOTE: the worker's reports reach the session through this QObject's slots, so they are queued to the
        # GUI thread; a signal connected straight to a plain Python method runs it in the emitting (worker)
        # thread, which then touched the playground and the views from there and corrupted memory.
        self.worker.progress.connect(self._progress_from_worker)
        self.worker.weights.connect(self._weights_from_worker)
        self.worker.paused.connect(self._paused_from_worker)
        self.worker.diverged.connect(self._diverged_from_worker)
        self.worker.error.connect(self._error_from_worker)
        self.worker.finished.connect(self._finished_from_worker)
        for name in ("state_changed", "paused", "progress", "diverged", "error", "finished", "locks_changed",
                     "history_changed"):
            getattr(s.events, name).connect(getattr(self, name).emit)
        self._thread.start()

    # ------------------------------------------------------------------ from the worker (queued, in order)
    @Slot(object)
    def _progress_from_worker(self, progress) -> None:
        self.session.driver_progress(progress)

    @Slot(object, object)
    def _weights_from_worker(self, state, kernel_gradients) -> None:
        self.session.driver_weights(state, kernel_gradients)

    @Slot(int)
    def _paused_from_worker(self, token: int) -> None:
        self.session.driver_paused(token)

    @Slot(str)
    def _diverged_from_worker(self, message: str) -> None:
        self.session.driver_diverged(message)

    @Slot(str)
    def _error_from_worker(self, message: str) -> None:
        self.session.driver_error(message)

    @Slot()
    def _finished_from_worker(self) -> None:
        self.session.driver_finished()

    # ------------------------------------------------------------------ the session's state and commands
    @property
    def state(self) -> str:
        return self.session.state

    @property
    def locked(self) -> frozenset:
        return self.session.locked

    @property
    def settings(self):
        return self.session.settings

    @property
    def has_session(self) -> bool:
        return self.session.has_session

    @property
    def weights_applied(self) -> int:
        return self.session.weights_applied

    def start(self, settings, train, test, paused: bool = False) -> None:
        """Begin a run on a copy of the playground's network (``ValueError`` if the trainer refuses)."""
        self.session.start(settings, train, test, paused)

    def resume(self) -> None:
        self.session.resume()

    def pause(self) -> None:
        self.session.pause()

    def step_once(self) -> None:
        self.session.step_once()

    def stop(self) -> None:
        self.session.stop()

    def set_locked(self, layer: int, filter: int, locked: bool) -> None:
        self.session.set_locked(layer, filter, locked)

    def is_locked(self, layer: int, filter: int) -> bool:
        return self.session.is_locked(layer, filter)

    def shutdown(self) -> None:
        """End the session and the thread (the window is going); waits at most for the step under way.

        Quiet: no signal is emitted, so no view runs while the window's widgets are being deleted.
        """
        self.session.shutdown()
        self._thread.quit()
        self._thread.wait()


def _leave_a_core_for_the_gui() -> None:
    """Let the engine's parallel kernels use every core but one when called from this (the worker's) thread."""
    from cnnstudio.engine import set_engine_threads, training_threads
    set_engine_threads(training_threads())
