"""The evaluation off the GUI thread: the network on every test image, in a worker ``QThread``.

10,000 test images take 0.5-2 s on one core (1,000 take ~70 ms), too long for a frame.  Only
copies cross: a copy of the network and the test ``Digits`` go in, an ``Evaluation``
(``cnnstudio.training.evaluate``) comes out.  Newest request wins: a newer request (the network or
the data changed) cancels the running one between two batches of 500 images, so a stale result is
never shown and never waited for long.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from cnnstudio.engine import set_engine_threads
from cnnstudio.training import evaluate
from cnnstudio.qt.widgets.worker_thread import end_worker_thread, start_worker_thread

BATCH = 500  # images per forward pass: ``evaluate``'s own batch, so the logits are the same to the bit


@dataclass
class EvaluationRequest:
    """One evaluation: ``network`` (a private copy) on ``digits`` (the test ``Digits``)."""

    network: object
    digits: object
    token: int = 0


class _Cancelled(Exception):
    """A newer request made this one stale."""


class _Tokens:
    """The newest wanted token, written by the GUI thread and read by the worker's between batches."""

    newest = 0


class _CancellableNetwork:
    """The network as ``evaluate`` uses it (``num_classes``, ``forward``), giving up between batches once
    ``token`` is no longer the newest.  Each batch is the network's own ``forward`` on the same slice
    ``Network.forward`` would take, so the results equal a plain ``evaluate`` call's."""

    def __init__(self, network, token: int, tokens: _Tokens):
        self.network, self.token, self.tokens = network, token, tokens
        self.num_classes = network.num_classes

    def forward(self, x, batch_size: int = BATCH) -> np.ndarray:
        chunks = []
        for start in range(0, len(x), batch_size):
            if self.tokens.newest != self.token:
                raise _Cancelled
            chunks.append(self.network.forward(x[start:start + batch_size], batch_size))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)


class _EvaluationWorker(QObject):
    done = Signal(int, object, float)  # token, Evaluation or an error text, seconds

    def __init__(self, tokens: _Tokens):
        super().__init__()
        self.tokens = tokens

    @Slot(object)
    def evaluate(self, request: EvaluationRequest) -> None:
        if request.token != self.tokens.newest:
            return  # overtaken while it waited in the queue
        set_engine_threads(1)  # one core for this, the rest for the GUI and training (per calling thread)
        start = time.perf_counter()
        try:
            result = evaluate(_CancellableNetwork(request.network, request.token, self.tokens), request.digits,
                              batch_size=BATCH)
        except _Cancelled:
            return
        except (ValueError, MemoryError) as err:
            result = str(err) or type(err).__name__
        self.done.emit(request.token, result, time.perf_counter() - start)


class EvaluationComputer(QObject):
    """Evaluates in a worker thread, newest request only: ``ready(Evaluation, digits, seconds)`` or
    ``failed(text)`` arrive on the GUI thread.  ``busy`` while a wanted evaluation runs; ``forget()`` drops
    it; ``stop()`` ends the thread (a running evaluation gives up at its next batch)."""

    ready = Signal(object, object, float)
    failed = Signal(str)
    _submit = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.busy = False
        self.seconds = 0.0  # how long the last evaluation took
        self._tokens = _Tokens()
        self._token = 0
        self._digits = None  # the newest request's test digits, handed back with its result
        self._worker = _EvaluationWorker(self._tokens)
        self._thread = start_worker_thread(self, self._worker, self._submit, self._worker.evaluate,
                                           self._worker.done, self._done, "evaluationThread")

    def request(self, network, digits) -> None:
        """Evaluate ``network`` (copied here) on ``digits``; a running evaluation is dropped."""
        if not self._thread.isRunning():
            return  # stopped: the window is going
        self._token += 1
        self._tokens.newest = self._token
        self._digits = digits
        self.busy = True
        self._submit.emit(EvaluationRequest(network.copy(), digits, self._token))

    def forget(self) -> None:
        """Drop the running evaluation: its result will not be shown."""
        self._token += 1
        self._tokens.newest = self._token
        self._digits = None
        self.busy = False

    @Slot(int, object, float)
    def _done(self, token: int, result, seconds: float) -> None:
        if token != self._token:
            return  # stale: a newer request is under way, or it was forgotten
        self.busy = False
        digits, self._digits = self._digits, None
        if isinstance(result, str):
            self.failed.emit(result)
            return
        self.seconds = seconds
        self.ready.emit(result, digits, seconds)

    def stop(self) -> None:
        """End the thread (the window is going); a running evaluation stops at its next batch."""
        self.forget()
        end_worker_thread(self._thread)
