"""The step loop of a training session, Qt-free: takes commands between steps, advances one step at a time.

``StepRunner`` belongs to one thread: that thread calls ``obey(command, payload, token)``
for each command, in the order they were sent, and ``advance()`` while ``running`` is
True.  What happens is reported through ``report``, an object with the methods
``progress(Progress)``, ``weights(state, kernel_gradients)``, ``paused(token)``,
``diverged(message)``, ``error(message)`` and ``finished()``.  The app's Qt worker
(cnnstudio/qt/training/worker.py) drives it from a worker thread; ``InlineDriver``
drives it on the calling thread.
"""
from __future__ import annotations

import itertools
import time

WEIGHTS_PER_SECOND = 15  # how often the live panels see new weights while training runs
COMMANDS = ("start", "start_paused", "resume", "pause", "step", "stop", "state", "locked")


class StepRunner:
    """Runs one trainer's ``train_steps()`` generator at a time ("idle", "running" or "paused")."""

    def __init__(self, report, weights_per_second: float = WEIGHTS_PER_SECOND):
        self.report = report
        self.weights_interval = 1.0 / weights_per_second
        self.trainer = None
        self.mode = "idle"
        self.token = 0                # the token of the last command taken
        self._steps = None
        self._last_weights = 0.0

    @property
    def running(self) -> bool:
        return self.mode == "running"

    def obey(self, command: str, payload=None, token: int = 0) -> None:
        """Take one command (see ``COMMANDS``) between two steps."""
        self.token = max(self.token, token)
        if command in ("start", "start_paused"):
            self.finish()  # a session still open ends first (reporting its ``finished``)
            self.trainer = payload
            self._steps = payload.train_steps()
            self.mode = "running" if command == "start" else "paused"  # start_paused: quietly waits
        elif self.mode == "idle":
            return  # no session: nothing to pause, step, stop or change
        elif command == "resume":
            self.mode = "running"
        elif command == "pause":
            if self.mode == "running":
                self.mode = "paused"
                self._emit_weights()
            self.report.paused(self.token)  # also when already paused: every pause gets its answer
        elif command == "step" and self.mode == "paused":
            if self._step():
                self._emit_weights()
                self.report.paused(self.token)
        elif command == "stop":
            self.finish()
        elif command == "state":
            self.trainer.network.set_state(payload)
            self.trainer.set_locked(self.trainer.locked)  # a locked kernel edited by hand stays as edited
        elif command == "locked":
            self.trainer.set_locked(payload)

    def advance(self) -> bool:
        """One step if running; True while there are more steps to run."""
        if self.mode != "running":
            return False
        if not self._step():
            return False
        if time.perf_counter() - self._last_weights >= self.weights_interval:
            self._emit_weights()
        return True

    def finish(self) -> None:
        """End the open session, if any: last weights, close the generator, ``finished``."""
        if self.mode == "idle":
            return
        self._emit_weights()
        self._steps.close()
        self.mode = "idle"
        self._steps = None
        self.trainer = None
        self.report.finished()

    def _step(self) -> bool:
        """Advance the generator once; False when that ended or paused the session."""
        try:
            progress = next(self._steps)
        except StopIteration:
            self.finish()
            return False
        except Exception as err:  # noqa: BLE001 - a failed step must end the session, not the thread
            self.report.error(f"Training stopped: {type(err).__name__}: {err}")
            self.finish()
            return False
        self.report.progress(progress)
        if progress.diverged:
            # The trainer already went back to its last good weights and ended its run: show them, say why,
            # and wait with a fresh pass ready, so the user can resume (or change the settings) from there.
            self._emit_weights()
            self.report.diverged(progress.message or "Training diverged: the loss became NaN or infinite.")
            self._steps.close()
            self._steps = self.trainer.train_steps()
            self.mode = "paused"
            self.report.paused(self.token)
            return False
        if progress.finished:
            self.finish()
            return False
        return True

    def _emit_weights(self) -> None:
        self._last_weights = time.perf_counter()
        # get_state copies every array; kernel_gradients makes new ones
        self.report.weights(self.trainer.network.get_state(), self.trainer.kernel_gradients())


class DriverCommands:
    """The commands a session sends its driver; each returns the command's token (1, 2, ... in the order sent).

    A driver defines ``_send(command, payload) -> token``, which hands the command to its ``StepRunner``
    (at once, or queued for the runner's thread).
    """

    def _send(self, command: str, payload=None) -> int:
        raise NotImplementedError

    def start(self, trainer) -> int:
        """Train ``trainer`` (whose network the driver now owns) until paused, stopped or done."""
        return self._send("start", trainer)

    def start_paused(self, trainer) -> int:
        """Take ``trainer`` but wait (without a ``paused`` report) for ``step_once`` or ``resume``."""
        return self._send("start_paused", trainer)

    def resume(self) -> int:
        return self._send("resume")

    def pause(self) -> int:
        return self._send("pause")

    def step_once(self) -> int:
        """Train one mini-batch, then wait (starts nothing if the session is over)."""
        return self._send("step")

    def stop(self) -> int:
        """End the session between two steps; ``finished`` follows."""
        return self._send("stop")

    def set_state(self, state) -> int:
        """Replace the trained network's weights with ``state`` (a list of array copies) before the next step."""
        return self._send("state", state)

    def set_locked(self, locked) -> int:
        """Replace the set of ``(layer, filter)`` kernels training must leave alone."""
        return self._send("locked", frozenset(locked))


class InlineDriver(DriverCommands):
    """A session driver that runs on the calling thread: commands are taken at once, steps when ``advance`` is called.

    For tests and scripts: ``session = TrainingSession(playground, InlineDriver())`` (the session
    connects itself), then ``session.start(...)`` and ``driver.advance(steps)``.
    """

    def __init__(self):
        self.session = None
        self.runner = StepRunner(self)
        self._tokens = itertools.count(1)

    def bind(self, session) -> None:
        self.session = session

    def _send(self, command: str, payload=None) -> int:
        token = next(self._tokens)
        self.runner.obey(command, payload, token)
        return token

    def advance(self, steps: int = 1) -> int:
        """Run up to ``steps`` steps while running; returns how many ran."""
        done = 0
        while done < steps and self.runner.running:
            self.runner.advance()
            done += 1
        return done

    # reports, straight to the session
    def progress(self, progress) -> None:
        self.session.driver_progress(progress)

    def weights(self, state, kernel_gradients) -> None:
        self.session.driver_weights(state, kernel_gradients)

    def paused(self, token: int) -> None:
        self.session.driver_paused(token)

    def diverged(self, message: str) -> None:
        self.session.driver_diverged(message)

    def error(self, message: str) -> None:
        self.session.driver_error(message)

    def finished(self) -> None:
        self.session.driver_finished()
