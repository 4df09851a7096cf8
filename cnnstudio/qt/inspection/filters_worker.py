"""What-filters-want computations off the GUI thread: activation maximisation and the top patches.

Activation maximisation of a stage (40 batch steps on its centre units) takes ~15-100 ms on the default
network and more on wider ones, the top patches of 4,000 training digits ~0.2-0.5 s: both too long for a
frame, so they run in one worker ``QThread``.  Latest request wins,
per kind: while one runs, newer requests of its kind replace each other and only the newest runs next; a
running top-patches scan stops between batches when a newer one is asked for.  Only copies cross: a copy of
the network goes in, an ``Ascent`` or ``TopPatches`` comes out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from cnnstudio.engine import set_engine_threads
from cnnstudio.inspection.filter_wants import (
    activation_upper_bound,
    ascend,
    top_patches,
)
from cnnstudio.qt.widgets.worker_thread import end_worker_thread, start_worker_thread

ASCENT, PATCHES = "ascent", "patches"


@dataclass
class FiltersRequest:
    """One computation: ``kind`` ASCENT or PATCHES, on ``network`` (a private copy) and conv ``stage``;
    PATCHES also takes ``images`` (N, C, H, W)."""

    kind: str
    network: object
    stage: int
    images: np.ndarray | None = None
    version: int = 0    # the caller's count of weight changes, handed back with the result
    token: int = 0


@dataclass
class AscentResult:
    """An ``Ascent`` with each filter's upper bound on inputs in [0, 1] (<= 0: silent)."""

    ascent: object
    bound: np.ndarray


class _FiltersWorker(QObject):
    done = Signal(object, object, float)     # request, result (None: cancelled) or an error text, seconds
    progress = Signal(int, int, int)         # token, images done, images in all

    def __init__(self):
        super().__init__()
        self.newest_patches = 0  # written by the GUI thread; a running scan stops when it passes its token

    @Slot(object)
    def compute(self, request: FiltersRequest) -> None:
        set_engine_threads(1)  # one core for this, the rest for the GUI and training
        start = time.perf_counter()
        try:
            if request.kind == ASCENT:
                result = AscentResult(ascend(request.network, request.stage),
                                      activation_upper_bound(request.network, request.stage))
            else:
                token = request.token
                result = top_patches(request.network, request.stage, request.images,
                                     progress=lambda done, total: self.progress.emit(token, done, total),
                                     cancelled=lambda: self.newest_patches != token)
        except (ValueError, MemoryError) as err:
            result = str(err)
        request.network = request.images = None  # the GUI thread needs only the labels back
        self.done.emit(request, result, time.perf_counter() - start)


class FiltersComputer(QObject):
    """Runs FiltersRequests in a worker thread; ``ready(request, result, seconds)``, ``failed(kind, text)`` and
    ``progress(done, total)`` arrive on the GUI thread.  ``stop()`` ends the thread."""

    ready = Signal(object, object, float)
    failed = Signal(str, str)
    progress = Signal(int, int)
    _submit = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.busy = False
        self._pending: dict[str, FiltersRequest] = {}
        self._token = 0
        self._newest = {ASCENT: 0, PATCHES: 0}
        self._worker = _FiltersWorker()
        self._worker.progress.connect(self._progress)
        self._thread = start_worker_thread(self, self._worker, self._submit, self._worker.compute,
                                           self._worker.done, self._done, "filtersWorker")

    def request(self, request: FiltersRequest) -> None:
        """Compute ``request`` now if idle, else after the running one (replacing an older waiting one of its kind)."""
        self._token += 1
        request.token = self._token
        self._newest[request.kind] = request.token
        if request.kind == PATCHES:
            self._worker.newest_patches = request.token
        if self.busy:
            self._pending[request.kind] = request
        else:
            self._send(request)

    def forget(self) -> None:
        """Drop every waiting request and the running one's result (e.g. a new architecture)."""
        self._pending.clear()
        self._token += 1
        self._newest = {ASCENT: self._token, PATCHES: self._token}
        self._worker.newest_patches = self._token

    def _send(self, request: FiltersRequest) -> None:
        self.busy = True
        self._submit.emit(request)

    @Slot(int, int, int)
    def _progress(self, token: int, done: int, total: int) -> None:
        if token == self._newest[PATCHES]:
            self.progress.emit(done, total)

    @Slot(object, object, float)
    def _done(self, request: FiltersRequest, result, seconds: float) -> None:
        self.busy = False
        kind, token = request.kind, request.token
        for waiting in (ASCENT, PATCHES):  # the ascent first: it is what the cards show on top
            if waiting in self._pending:
                self._send(self._pending.pop(waiting))
                break
        if token != self._newest[kind] or result is None:
            return
        if isinstance(result, str):
            self.failed.emit(kind, result)
        else:
            self.ready.emit(request, result, seconds)

    def stop(self) -> None:
        self._pending.clear()
        self._worker.newest_patches = -1  # a running scan stops at its next batch
        end_worker_thread(self._thread)
