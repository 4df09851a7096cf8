"""The digit space's computation off the GUI thread: features of 1,000 digits and their PCA.

A forward pass of 1,000 digits through the default network takes ~100-200 ms on one core, too long
for a frame, so it runs in a worker ``QThread``.  Latest request wins: while one computation runs,
newer requests replace each other and only the newest one runs next (training sends weights much
faster than spaces can be computed).  Only copies cross: a copy of the network goes in, a
``DigitSpace`` comes out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from cnnstudio.engine import set_engine_threads
from cnnstudio.inspection.digit_space import DigitSpace, digit_space, tsne_points
from cnnstudio.qt.widgets.worker_thread import end_worker_thread, start_worker_thread


@dataclass
class SpaceRequest:
    """One computation: ``network`` (a private copy), ``images`` (N, C, H, W), ``method`` "PCA" or "t-SNE"."""

    network: object
    images: np.ndarray
    method: str = "PCA"
    previous: DigitSpace | None = None
    token: int = 0


class _SpaceWorker(QObject):
    done = Signal(int, object, float)  # token, DigitSpace (t-SNE: with its points replaced) or an error text, seconds

    @Slot(object)
    def compute(self, request: SpaceRequest) -> None:
        set_engine_threads(1)  # one core for this, the rest for the GUI and training
        start = time.perf_counter()
        try:
            space = digit_space(request.network, request.images, request.previous)
            if request.method == "t-SNE":
                space.points = tsne_points(space.features)
            result = space
        except (ValueError, MemoryError) as err:
            result = str(err)
        self.done.emit(request.token, result, time.perf_counter() - start)


class SpaceComputer(QObject):
    """Computes digit spaces in a worker thread, newest request first; ``ready(space, seconds)`` or
    ``failed(text)`` arrive on the GUI thread.  ``stop()`` ends the thread (waits for the running one)."""

    ready = Signal(object, float)
    failed = Signal(str)
    _submit = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.busy = False
        self.space: DigitSpace | None = None  # the newest result, the next fit's sign reference
        self.seconds = 0.0
        self._pending: SpaceRequest | None = None
        self._token = 0
        self._oldest_wanted = 0
        self._worker = _SpaceWorker()
        self._thread = start_worker_thread(self, self._worker, self._submit, self._worker.compute,
                                           self._worker.done, self._done, "digitSpaceWorker")

    def request(self, request: SpaceRequest) -> None:
        """Compute ``request`` now if idle, else after the running one (replacing any older waiting one)."""
        self._token += 1
        request.token = self._token
        if self.busy:
            self._pending = request
        else:
            self._send(request)

    def forget(self) -> None:
        """Drop the sign reference, any waiting request and the running one's result (new digits or a new
        architecture: an old result would put the old digits' points under the new labels)."""
        self._pending = None
        self.space = None
        self._oldest_wanted = self._token + 1

    def _send(self, request: SpaceRequest) -> None:
        self.busy = True
        if request.method == "PCA" and self.space is not None \
                and self.space.features.shape[1] == request.network.weight(-1).shape[1]:
            request.previous = self.space
        self._submit.emit(request)

    @Slot(int, object, float)
    def _done(self, token: int, result, seconds: float) -> None:
        self.busy = False
        wanted = token >= self._oldest_wanted
        if wanted and not isinstance(result, str):
            self.space = result  # before the next request goes: it turns its axes to agree with this one
        pending, self._pending = self._pending, None
        if pending is not None:
            self._send(pending)
        if not wanted:
            return
        self.seconds = seconds
        if isinstance(result, str):
            self.failed.emit(result)
        else:
            self.ready.emit(result, seconds)

    def stop(self) -> None:
        self._pending = None
        end_worker_thread(self._thread)
