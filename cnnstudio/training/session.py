"""A live training session, Qt-free: locks, the pause/resume/step state machine, and the curves.

``TrainingSession`` trains a *copy* of the playground's network through a *driver*
that runs the trainer's steps somewhere: the app's driver is a Qt worker thread
(cnnstudio/qt/training/worker.py); ``InlineDriver`` (training/runner.py) runs them on
the calling thread (tests, scripts).  Both run the same ``StepRunner``.  The session never knows which.

Driver commands (each returns a token: commands are numbered in the order sent)::

    start(trainer) / start_paused(trainer) / resume() / pause() / step_once() / stop()
    set_state(weights)      hand-edited weights for the trained copy
    set_locked(locked)      the new lock set

The driver reports back, on the session's thread and in order, by calling
``driver_progress(progress)``, ``driver_weights(state, kernel_gradients)``,
``driver_paused(token)`` (token: the last command it had taken), ``driver_diverged(message)``,
``driver_error(message)`` and ``driver_finished()``.

State (``state``): "idle" (no session), "running", "pausing", "paused".  Events:
``state_changed(state)``, ``progress(Progress)``, ``paused()``, ``diverged(message)``,
``error(message)``, ``finished()``, ``locks_changed()``, ``history_changed()``.

NOTE: a "paused" report is taken only if no resume was sent after the command it answers,
so Pause then Resume within a few milliseconds leaves the session running, as the worker is.
"""
from __future__ import annotations

import weakref

from cnnstudio.base.events import EventGroup

from .history import TrainingHistory
from .replay import ReplayRecorder
from .trainer import Trainer

STATES = ("idle", "running", "pausing", "paused")


def default_trainer_factory(network, train, test, settings, locked) -> Trainer:
    return Trainer(network, train, test, settings, locked=locked)


class TrainingSession:
    """Trains a copy of ``playground.network`` through ``driver``, and puts the weights back into the playground.

    Parameters
    ----------
    playground : has ``network``, ``set_weights(state, kernel_gradients)`` and ``events`` with
        ``kernels_changed`` and ``architecture_changed`` (a ``core.playground.Playground``)
    driver : runs the steps (see the module docstring); set later with ``set_driver`` if None
    trainer_factory : ``(network, train, test, settings, locked) -> Trainer``
    """

    def __init__(self, playground, driver=None, trainer_factory=None):
        self.events = EventGroup("state_changed", "progress", "paused", "diverged", "error", "finished",
                                 "locks_changed", "history_changed")
        self.playground = playground
        self.driver = None
        self.set_driver(driver)
        self.trainer_factory = trainer_factory or default_trainer_factory
        self.locked: frozenset = frozenset()
        self.history = TrainingHistory()
        self.replay = ReplayRecorder()  # snapshots of the weights over the runs, for the training replay
        # the replay of each network an undo can bring back (the undo stack holds the network object)
        self._replay_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._replay_network = playground.network
        self.state = "idle"
        self.settings = None
        self.weights_applied = 0      # how many weight copies reached the playground (tests, benchmarks)
        self._live = False            # a session is open and its ``finished`` has not arrived
        self._stale = 0               # stopped sessions whose ``finished`` has not arrived yet
        self._resume_token = 0        # the token of the last command that set the worker running
        self._applying_weights = False
        self._edited_while_paused = False
        playground.events.kernels_changed.connect(self._kernels_changed)
        playground.events.architecture_changed.connect(self._architecture_changed)

    def set_driver(self, driver) -> None:
        """Run the steps through ``driver`` (one with a ``bind(session)`` method is told who reports to)."""
        self.driver = driver
        if driver is not None and hasattr(driver, "bind"):
            driver.bind(self)

    # ------------------------------------------------------------------ commands
    @property
    def has_session(self) -> bool:
        return self._live

    def start(self, settings, train, test, paused: bool = False) -> None:
        """Begin a run on a copy of the playground's network (``ValueError`` if the trainer refuses)."""
        trainer = self.trainer_factory(self.playground.network.copy(), train, test, settings, self.locked)
        self.stop()
        self.settings = settings
        self._live = True
        self._edited_while_paused = False
        self.history.new_run()
        self._record_replay(self.playground.network.params)  # the weights before the run's first step
        if paused:
            self._set_state("paused")
            self.driver.start_paused(trainer)
        else:
            self._set_state("running")
            self._resume_token = self.driver.start(trainer)

    def resume(self) -> None:
        if self._live and self.state in ("paused", "pausing"):
            self._send_hand_edits()
            self._set_state("running")
            self._resume_token = self.driver.resume()

    def pause(self) -> None:
        if self._live and self.state == "running":
            self._set_state("pausing")  # first: a driver on this thread answers at once
            self.driver.pause()

    def step_once(self) -> None:
        if self._live and self.state != "running":
            self._send_hand_edits()
            self.driver.step_once()

    def stop(self) -> None:
        """End the run (between two steps); the weights already shown stay in the playground."""
        if not self._live:
            return
        self._live = False
        self._stale += 1  # what it still sends, up to its ``finished``, is ignored
        self.driver.stop()
        self.settings = None
        self._set_state("idle")
        self.events.finished.emit()

    def shutdown(self) -> None:
        """End the run without a word (the window is going): no event is emitted."""
        if self._live:
            self._live = False
            self._stale += 1
            self.driver.stop()

    def set_locked(self, layer: int, filter: int, locked: bool) -> None:
        """Lock (``True``) or unlock one kernel: training leaves a locked kernel and its bias as they are."""
        key = (int(layer), int(filter))
        self.set_lock_set(self.locked | {key} if locked else self.locked - {key})

    def set_lock_set(self, locked) -> None:
        """Replace every lock at once (a loaded model's)."""
        new = frozenset((int(layer), int(filter)) for layer, filter in locked)
        if new == self.locked:
            return
        self.locked = new
        if self._live:
            self.driver.set_locked(self.locked)
        self.events.locks_changed.emit()

    def is_locked(self, layer: int, filter: int) -> bool:
        return (layer, filter) in self.locked

    def set_history(self, history: TrainingHistory) -> None:
        """Show other curves (a loaded model's, a reset's, an undo's)."""
        self.history = history
        self.events.history_changed.emit()

    # ------------------------------------------------------------------ from the playground
    def _kernels_changed(self, layer) -> None:
        if self._applying_weights or not self._live:
            return
        if self.state == "running":  # a hand edit while training runs: the trainer takes it at once
            self.driver.set_state(self.playground.network.get_state())
        else:
            self._edited_while_paused = True

    def _send_hand_edits(self) -> None:
        if self._edited_while_paused:
            self.driver.set_state(self.playground.network.get_state())
            self._edited_while_paused = False

    def _architecture_changed(self) -> None:
        self.stop()
        network = self.playground.network
        if network is not self._replay_network:
            # another network: its replay goes with it, and comes back if an undo brings that network back
            self._replay_of[self._replay_network] = self.replay.memento()
            self._replay_network = network
            memento = self._replay_of.pop(network, None)
            if memento is None:
                self.replay.clear()
            else:
                self.replay.restore(memento)
        else:  # the same network object with other layers (a settings change): its snapshots no longer fit
            self.replay.clear()
        self.set_lock_set((layer, filter) for layer, filter in self.locked
                          if layer < len(network.conv_specs) and filter < network.conv_specs[layer].filters)

    # ------------------------------------------------------------------ from the driver (in order)
    def _current(self) -> bool:
        """True when the report being handled belongs to the open run (not to one stopped before)."""
        return self._live and not self._stale

    def driver_progress(self, progress) -> None:
        if self._current():
            self.history.add(progress)
            self.events.progress.emit(progress)

    def driver_weights(self, state, kernel_gradients) -> None:
        if not self._current():
            return
        self._applying_weights = True
        try:
            self.playground.set_weights(state, kernel_gradients)
        finally:
            self._applying_weights = False
        self.weights_applied += 1
        self._record_replay(state)

    def _record_replay(self, state) -> None:
        """Snapshot ``state`` at the newest step of the curves (reports come in order: progress, then its weights)."""
        data = self.history.data
        self.replay.add(int(data["step"][-1]) if data["step"] else 0, state, data["loss"][-1] if data["loss"] else None)

    def driver_paused(self, token: int) -> None:
        if not self._current() or token < self._resume_token:
            return  # a pause (or single step) answered after a later resume: the worker runs again
        self._set_state("paused")
        self.events.paused.emit()

    def driver_diverged(self, message: str) -> None:
        if self._current():
            self.history.new_run()  # the run restarts its step count when it goes on
            self.events.diverged.emit(message)

    def driver_error(self, message: str) -> None:
        if self._current():
            self.events.error.emit(message)

    def driver_finished(self) -> None:
        if self._stale:
            self._stale -= 1
            return
        if not self._live:
            return
        self._live = False
        self.settings = None
        self._set_state("idle")
        self.events.finished.emit()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.events.state_changed.emit(state)
