"""The named data sets read off the GUI thread: full MNIST and Fashion-MNIST take 0.5-1.5 s the first time.

``DataLoader`` reads one of ``CATALOG_SETS`` (through ``make_dataset``: unzip, checksum, float32)
in a worker ``QThread`` and hands the (train, test) ``Digits`` back through a signal, queued to
the GUI thread.  Newest request wins: a read cannot be interrupted, so an older one runs to its
end and its result is dropped.  ``DataLoading`` is what a caller that must not wait is told meanwhile.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal, Slot

from cnnstudio.training import make_dataset
from cnnstudio.qt.widgets.worker_thread import end_worker_thread, start_worker_thread

# the data choices read from disk as a whole (no drawings, no opened file), and their short names
CATALOG_SETS = {"mnist": "MNIST 5k", "mnist-full": "MNIST full", "fashion": "Fashion-MNIST"}


class DataLoading(ValueError):
    """The chosen data is being read off the GUI thread; ask again once it is in.

    A ``ValueError``, so a caller that shows the reason of any ``ValueError`` says something true.
    ``what`` is the data's short name ("MNIST full").
    """

    def __init__(self, what: str):
        super().__init__(f"{what} is still loading. Fix: wait a moment; it is read once per session.")
        self.what = what


class _LoadWorker(QObject):
    done = Signal(int, str, object, float)  # token, data key, (train, test) or an error text, seconds

    @Slot(int, object)
    def load(self, token: int, settings) -> None:
        start = time.perf_counter()
        try:
            result = make_dataset(settings)
        except (ValueError, OSError, MemoryError) as err:  # DatasetError is a ValueError
            result = str(err) or type(err).__name__
        self.done.emit(token, settings.data, result, time.perf_counter() - start)


class DataLoader(QObject):
    """Reads a ``CATALOG_SETS`` choice in a worker thread; ``loaded(data, (train, test), seconds)`` or
    ``failed(data, text)`` arrive on the GUI thread for the newest request only.

    ``loading`` is the data key being read (None when idle); ``stop()`` ends the thread, waiting for
    a read under way (at most about a second).
    """

    loaded = Signal(str, object, float)
    failed = Signal(str, str)
    _submit = Signal(int, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loading: str | None = None
        self._token = 0
        self._worker = _LoadWorker()
        self._thread = start_worker_thread(self, self._worker, self._submit, self._worker.load,
                                           self._worker.done, self._done, "dataLoaderThread")

    def request(self, settings) -> None:
        """Read ``settings.data`` (a ``CATALOG_SETS`` key) unless that is what is being read already."""
        if settings.data not in CATALOG_SETS:
            raise ValueError(f"{settings.data!r} is not read from disk as a whole. Fix: use one of "
                             f"{', '.join(CATALOG_SETS)}.")
        if settings.data == self.loading or not self._thread.isRunning():
            return
        self._token += 1
        self.loading = settings.data
        self._submit.emit(self._token, settings)

    @Slot(int, str, object, float)
    def _done(self, token: int, data: str, result, seconds: float) -> None:
        if token != self._token:
            return  # a newer request is under way: it alone reports
        self.loading = None
        if isinstance(result, str):
            self.failed.emit(data, result)
        else:
            self.loaded.emit(data, result, seconds)

    def stop(self) -> None:
        """End the thread (the window is going); a read under way finishes first, its result unused."""
        self._token += 1
        self.loading = None
        end_worker_thread(self._thread)
