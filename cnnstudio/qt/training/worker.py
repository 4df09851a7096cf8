"""Training off the GUI thread: a worker that drives the model's generator, and the controller that owns it.

The model's ``Trainer.train_steps()`` is a plain generator that knows nothing about
threads.  ``TrainingWorker`` lives in a ``QThread`` and advances it one step per turn
of that thread's event loop, so commands (pause, step, stop, new weights, new locks)
are taken between steps, never in the middle of one, and the thread is never killed.
Only copies cross threads: the worker emits ``Progress`` records and copies of the
weights (with the smoothed gradients of the conv kernels); the GUI thread sends copies
of hand-edited weights back.

``TrainingController`` sits on the GUI thread.  It trains a *copy* of the playground's
network, puts the trained weights into the playground about 15 times a second (so the
kernels, their gradients, feature maps and prediction update while training runs), keeps the set of
locked kernels, stops training when the architecture changes, and hands the trainer
any weight the user edits by hand.
"""
from __future__ import annotations

import threading
import time
from collections import deque

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

WEIGHTS_PER_SECOND = 15  # how often the live panels see new weights while training runs


class TrainingWorker(QObject):
    """Drives a trainer's ``train_steps()`` generator, one session at a time, in the thread it is moved to.

    The engine's parallel kernels get every core but one when called from that thread, so
    the GUI thread always has a core of its own.

    Commands (``start``, ``resume``, ``pause``, ``step_once``, ``stop``, ``set_state``,
    ``set_locked``) may be called from any thread: they queue a request and wake the
    worker, which takes it between two steps.  Signals (queued to the GUI thread):

    - ``progress(Progress)``     after every step
    - ``weights(list, dict)``    copies of every parameter, and of the smoothed gradient of every conv
      layer's kernels (``Trainer.kernel_gradients()``: ``{layer: array}``, or None when none is known),
      at most ``weights_per_second`` times a second while running, and always after a pause, a single
      step, the end or a divergence
    - ``paused()``               the worker stopped stepping and waits for a command
    - ``diverged(str)``          the loss became NaN or infinite: the trainer went back to its last good
      weights (emitted just before) and the session pauses (``paused`` follows).  The diverged run cannot
      go on, so ``resume`` or ``step_once`` begins a new pass of the same trainer from those weights
    - ``error(str)``             a step raised; the session is over (``finished`` follows)
    - ``finished()``             the session ended: every epoch done, error, or ``stop``; exactly once per
      session, and its last signal
    """

    progress = Signal(object)
    weights = Signal(object, object)
    paused = Signal()
    diverged = Signal(str)
    error = Signal(str)
    finished = Signal()
    _wake = Signal()

    def __init__(self, weights_per_second: float = WEIGHTS_PER_SECOND, parent=None):
        super().__init__(parent)
        self.weights_interval = 1.0 / weights_per_second
        self.trainer = None
        self._steps = None
        self._mode = "idle"            # "idle" (no session) | "running" | "paused"; only the worker's thread touches it
        self._requests: deque = deque()
        self._lock = threading.Lock()
        self._last_weights = 0.0
        self._wake.connect(self._take_requests, Qt.ConnectionType.QueuedConnection)
        # A 0 ms timer gives the event loop a turn between two steps; it moves with the worker.
        self._next_step = QTimer(self)
        self._next_step.setSingleShot(True)
        self._next_step.setInterval(0)
        self._next_step.timeout.connect(self._advance)

    # ------------------------------------------------------------------ commands (any thread)
    def start(self, trainer) -> None:
        """Train ``trainer`` (whose network this worker now owns) until paused, stopped or done."""
        self._request("start", trainer)

    def start_paused(self, trainer) -> None:
        """Take ``trainer`` but wait (without a ``paused`` signal) for ``step_once`` or ``resume``."""
        self._request("start_paused", trainer)

    def resume(self) -> None:
        self._request("resume")

    def pause(self) -> None:
        self._request("pause")

    def step_once(self) -> None:
        """Train one mini-batch, then wait (starts nothing if the session is over)."""
        self._request("step")

    def stop(self) -> None:
        """End the session between two steps; ``finished`` follows."""
        self._request("stop")

    def set_state(self, state) -> None:
        """Replace the trained network's weights with ``state`` (a list of array copies) before the next step."""
        self._request("state", state)

    def set_locked(self, locked) -> None:
        """Replace the set of ``(layer, filter)`` kernels training must leave alone."""
        self._request("locked", frozenset(locked))

    def _request(self, command: str, payload=None) -> None:
        with self._lock:
            self._requests.append((command, payload))
        self._wake.emit()

    # ------------------------------------------------------------------ the worker's thread
    @Slot()
    def _take_requests(self) -> None:
        while True:
            with self._lock:
                if not self._requests:
                    break
                command, payload = self._requests.popleft()
            self._obey(command, payload)

    def _obey(self, command: str, payload) -> None:
        if command in ("start", "start_paused"):
            self._finish()  # a session still open ends first (emitting its ``finished``)
            _leave_a_core_for_the_gui()
            self.trainer = payload
            self._steps = payload.train_steps()
            if command == "start":
                self._run()
            else:
                self._mode = "paused"  # quietly: the step that follows reports itself
        elif self._mode == "idle":
            return  # no session: nothing to pause, step, stop or change
        elif command == "resume":
            self._run()
        elif command == "pause" and self._mode == "running":
            self._pause()
        elif command == "step" and self._mode == "paused":
            if self._step():
                self._emit_weights()
                self.paused.emit()
        elif command == "stop":
            self._finish()
        elif command == "state":
            self.trainer.network.set_state(payload)
            self.trainer.set_locked(self.trainer.locked)  # a locked kernel edited by hand stays as edited
        elif command == "locked":
            self.trainer.set_locked(payload)

    def _run(self) -> None:
        self._mode = "running"
        self._next_step.start()

    def _pause(self) -> None:
        self._mode = "paused"
        self._next_step.stop()
        self._emit_weights()
        self.paused.emit()

    @Slot()
    def _advance(self) -> None:
        if self._mode != "running":
            return
        if self._step():
            if time.perf_counter() - self._last_weights >= self.weights_interval:
                self._emit_weights()
            self._next_step.start()

    def _step(self) -> bool:
        """Advance the generator once; False when that ended the session."""
        try:
            progress = next(self._steps)
        except StopIteration:
            self._finish()
            return False
        except Exception as err:  # noqa: BLE001 - a failed step must end the session, not the thread
            self.error.emit(f"Training stopped: {type(err).__name__}: {err}")
            self._finish()
            return False
        self.progress.emit(progress)
        if progress.diverged:
            # The trainer already went back to its last good weights and ended its run: show them, say why,
            # and wait with a fresh pass ready, so the user can resume (or change the settings) from there.
            self._emit_weights()
            self.diverged.emit(progress.message or "Training diverged: the loss became NaN or infinite.")
            self._steps.close()
            self._steps = self.trainer.train_steps()
            self._mode = "paused"
            self._next_step.stop()
            self.paused.emit()
            return False
        if progress.finished:
            self._finish()
            return False
        return True

    def _finish(self) -> None:
        """End the open session, if any: last weights, close the generator, ``finished``."""
        if self._mode == "idle":
            return
        self._next_step.stop()
        self._emit_weights()
        self._steps.close()
        self._mode = "idle"
        self._steps = None
        self.trainer = None
        self.finished.emit()

    def _emit_weights(self) -> None:
        self._last_weights = time.perf_counter()
        # get_state copies every array; kernel_gradients makes new ones
        self.weights.emit(self.trainer.network.get_state(), self.trainer.kernel_gradients())


class TrainingController(QObject):
    """Trains a copy of ``playground.network`` in a worker thread and shows the result live.

    One worker lives in one thread for the controller's lifetime and runs one session
    (one ``Trainer``) at a time.  State, in ``self.state``: "idle" (no session),
    "running", "pausing", "paused".  Signals (GUI thread):

    - ``state_changed(str)``       one of the states above
    - ``paused()``                 the worker waits for a command (after a pause, every single step and a
      divergence)
    - ``progress(Progress)``       every step of the current session
    - ``diverged(str)``            why training paused and went back to the last good weights (``paused``
      follows; ``resume`` then begins a new pass from those weights with the same settings, and a new
      ``start`` uses new ones)
    - ``error(str)``               a step failed; the session is over
    - ``finished()``               the session ended (all epochs, stop, error or a new architecture)
    - ``locks_changed()``          the set of locked kernels changed
    """

    state_changed = Signal(str)
    paused = Signal()
    progress = Signal(object)
    diverged = Signal(str)
    error = Signal(str)
    finished = Signal()
    locks_changed = Signal()

    def __init__(self, playground, trainer_factory=None, parent=None):
        super().__init__(parent)
        self.playground = playground
        self._trainer_factory = trainer_factory or _default_trainer_factory
        self.locked: frozenset = frozenset()
        self.state = "idle"
        self.settings = None
        self.weights_applied = 0      # how many weight copies reached the playground (tests, benchmarks)
        self._live = False            # a session is open and its ``finished`` has not arrived
        self._stale = 0               # stopped sessions whose ``finished`` has not arrived yet
        self._applying_weights = False
        self._edited_while_paused = False

        self._thread = QThread(self)
        self._thread.setObjectName("trainingThread")
        self.worker = TrainingWorker()
        self.worker.moveToThread(self._thread)
        # deleted in its own thread as the thread ends, never from the GUI thread while it may be stepping
        self._thread.finished.connect(self.worker.deleteLater)
        self.worker.progress.connect(self._worker_progress)
        self.worker.weights.connect(self._worker_weights)
        self.worker.paused.connect(self._worker_paused)
        self.worker.diverged.connect(self._worker_diverged)
        self.worker.error.connect(self._worker_error)
        self.worker.finished.connect(self._worker_finished)
        self._thread.start()
        playground.events.kernels_changed.connect(self._kernels_changed)
        playground.events.architecture_changed.connect(self._architecture_changed)

    # ------------------------------------------------------------------ commands
    @property
    def has_session(self) -> bool:
        return self._live

    def start(self, settings, train, test, paused: bool = False) -> None:
        """Begin a session on a copy of the playground's network (``ValueError`` if the trainer refuses)."""
        trainer = self._trainer_factory(self.playground.network.copy(), train, test, settings, self.locked)
        self.stop()
        self.settings = settings
        self._live = True
        self._edited_while_paused = False
        if paused:
            self.worker.start_paused(trainer)
            self._set_state("paused")
        else:
            self.worker.start(trainer)
            self._set_state("running")

    def resume(self) -> None:
        if self._live and self.state in ("paused", "pausing"):
            self._send_hand_edits()
            self.worker.resume()
            self._set_state("running")

    def pause(self) -> None:
        if self._live and self.state == "running":
            self.worker.pause()
            self._set_state("pausing")

    def step_once(self) -> None:
        if self._live and self.state != "running":
            self._send_hand_edits()
            self.worker.step_once()

    def stop(self) -> None:
        """End the session (between two steps); the weights already shown stay in the playground."""
        if not self._live:
            return
        self._live = False
        self._stale += 1  # what it still sends, up to its ``finished``, is ignored
        self.worker.stop()
        self.settings = None
        self._set_state("idle")
        self.finished.emit()

    def set_locked(self, layer: int, filter: int, locked: bool) -> None:
        """Lock (``True``) or unlock one kernel: training leaves a locked kernel and its bias as they are."""
        key = (int(layer), int(filter))
        new = self.locked | {key} if locked else self.locked - {key}
        if new == self.locked:
            return
        self.locked = frozenset(new)
        if self._live:
            self.worker.set_locked(self.locked)
        self.locks_changed.emit()

    def is_locked(self, layer: int, filter: int) -> bool:
        return (layer, filter) in self.locked

    def shutdown(self) -> None:
        """End the session and the thread (the window is going); waits at most for the step under way.

        Quiet: no signal is emitted, so no view runs while the window's widgets are being deleted.
        """
        if self._live:
            self._live = False
            self._stale += 1
            self.worker.stop()
        self._thread.quit()
        self._thread.wait()

    # ------------------------------------------------------------------ from the playground
    def _kernels_changed(self, layer) -> None:
        if self._applying_weights or not self._live:
            return
        if self.state == "running":  # a hand edit while training runs: the trainer takes it at once
            self.worker.set_state(self.playground.network.get_state())
        else:
            self._edited_while_paused = True

    def _send_hand_edits(self) -> None:
        if self._edited_while_paused:
            self.worker.set_state(self.playground.network.get_state())
            self._edited_while_paused = False

    def _architecture_changed(self) -> None:
        self.stop()
        network = self.playground.network
        fitting = frozenset((layer, filter) for layer, filter in self.locked
                            if layer < len(network.conv_specs) and filter < network.conv_specs[layer].filters)
        if fitting != self.locked:
            self.locked = fitting
            self.locks_changed.emit()

    # ------------------------------------------------------------------ from the worker (queued, in order)
    def _current(self) -> bool:
        """True when the signal being handled belongs to the open session (not to one stopped before)."""
        return self._live and not self._stale

    @Slot(object)
    def _worker_progress(self, progress) -> None:
        if self._current():
            self.progress.emit(progress)

    @Slot(object, object)
    def _worker_weights(self, state, kernel_gradients) -> None:
        if not self._current():
            return
        self._applying_weights = True
        try:
            self.playground.set_weights(state, kernel_gradients)
        finally:
            self._applying_weights = False
        self.weights_applied += 1

    @Slot()
    def _worker_paused(self) -> None:
        if self._current():
            self._set_state("paused")
            self.paused.emit()

    @Slot(str)
    def _worker_diverged(self, message: str) -> None:
        if self._current():
            self.diverged.emit(message)

    @Slot(str)
    def _worker_error(self, message: str) -> None:
        if self._current():
            self.error.emit(message)

    @Slot()
    def _worker_finished(self) -> None:
        if self._stale:
            self._stale -= 1
            return
        if not self._live:
            return
        self._live = False
        self.settings = None
        self._set_state("idle")
        self.finished.emit()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


def _leave_a_core_for_the_gui() -> None:
    """Let the engine's parallel kernels use every core but one when called from this (the worker's) thread."""
    from cnnstudio.engine import set_engine_threads, training_threads
    set_engine_threads(training_threads())


def _default_trainer_factory(network, train, test, settings, locked):
    from cnnstudio.training.trainer import Trainer
    return Trainer(network, train, test, settings, locked=locked)
