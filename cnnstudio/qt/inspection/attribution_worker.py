"""The attribution maps' computation off the GUI thread.

Saliency and Grad-CAM are one backward pass each, but SmoothGrad (32 noisy copies), integrated
gradients (33+ points on the path) and occlusion (121 patched copies) together take ~15-45 ms on one
core of a busy 2-core machine: close to a frame budget, on every stroke.  So they all run in a worker
``QThread``, latest request wins: while one computation runs, newer requests replace each other and
only the newest runs next (a stroke sends a request per mouse move).  Only copies cross: a copy of the
network and of the image go in, the ``Attribution`` results come out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from cnnstudio.engine import set_engine_threads
from cnnstudio.inspection.attribution import METHODS, attribute_all
from cnnstudio.qt.widgets.worker_thread import end_worker_thread, start_worker_thread


@dataclass
class AttributionRequest:
    """One computation: ``network`` (a private copy), ``image`` (C, H, W) copy, the class (None: predicted),
    Grad-CAM's conv ``stage`` and the ``methods`` to run."""

    network: object
    image: np.ndarray
    target: int | None = None
    stage: int | None = None
    methods: tuple = METHODS
    token: int = 0


class _AttributionWorker(QObject):
    done = Signal(int, object, float)  # token, {method: (Attribution or reason, seconds)}, seconds in all

    @Slot(object)
    def compute(self, request: AttributionRequest) -> None:
        set_engine_threads(1)  # one core for this, the other for the GUI (or training)
        start = time.perf_counter()
        results = attribute_all(request.network, request.image, request.target, request.stage, request.methods)
        self.done.emit(request.token, results, time.perf_counter() - start)


class AttributionComputer(QObject):
    """Computes attribution maps in a worker thread, newest request first.

    ``ready(results, seconds, request)`` arrives on the GUI thread.  ``stop()`` ends the thread (it waits
    for the running computation, a few tens of milliseconds).
    """

    ready = Signal(object, float, object)
    _submit = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.busy = False
        self._pending: AttributionRequest | None = None
        self._running: AttributionRequest | None = None
        self._token = 0
        self._worker = _AttributionWorker()
        self._thread = start_worker_thread(self, self._worker, self._submit, self._worker.compute,
                                           self._worker.done, self._done, "attributionWorker")

    def request(self, request: AttributionRequest) -> None:
        """Compute ``request`` now if idle, else after the running one (replacing any older waiting one)."""
        if not self._thread.isRunning():
            return  # stopped: the window is closing
        self._token += 1
        request.token = self._token
        if self.busy:
            if self._pending is not None:  # the waiting one's maps are wanted too (e.g. a stroke, then a layer)
                wanted = set(self._pending.methods) | set(request.methods)
                request.methods = tuple(m for m in METHODS if m in wanted)
            self._pending = request
        else:
            self._send(request)

    def _send(self, request: AttributionRequest) -> None:
        self.busy = True
        self._running = request
        self._submit.emit(request)

    @Slot(int, object, float)
    def _done(self, token: int, results, seconds: float) -> None:
        self.busy = False
        request, self._running = self._running, None
        pending, self._pending = self._pending, None
        if pending is not None:
            self._send(pending)
        self.ready.emit(results, seconds, request)

    def stop(self) -> None:
        self._pending = None
        end_worker_thread(self._thread)
