"""A tiny, Qt-free event: the model announces a change, whoever listens is called.

The model never knows its listeners; Qt views connect to these events and
re-emit or repaint on the GUI thread.

Listeners are held strongly.  A Qt view connects through ``qt.widgets.signals.listen``,
which disconnects it when the widget is destroyed, so a closed panel is never called.

NOTE: holding bound methods of Qt widgets weakly (``weakref.WeakMethod``) was tried and
corrupted reference counts in PySide6 6.11 (a crash now and then after windows closed
while training ran), so views disconnect instead.
"""
from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger(__name__)


class Event:
    """A named notification: ``connect(callback)``, then ``emit(*args)`` calls every callback in order."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable] = []
        self._blocked = 0

    def connect(self, callback: Callable) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def disconnect(self, callback: Callable) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    @property
    def listeners(self) -> int:
        """How many listeners are connected."""
        return len(self._callbacks)

    def emit(self, *args) -> None:
        """Call every listener, even after one raised; then re-raise the first exception.

        NOTE: one broken listener must not leave the others (e.g. the prediction
        bars) showing stale results, yet its error must still surface.  Every error is
        reported: each is logged with its traceback, and the one raised carries a note
        naming the others.
        """
        if self._blocked:
            return
        errors: list[Exception] = []
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception as error:
                errors.append(error)
                log.error("a listener of %s raised %s: %s", self.name, type(error).__name__, error,
                          exc_info=(type(error), error, error.__traceback__))
        if errors:
            first = errors[0]
            if len(errors) > 1 and hasattr(first, "add_note"):  # Python 3.11+
                first.add_note(f"{len(errors) - 1} more listener(s) of {self.name} raised too: " +
                               "; ".join(f"{type(e).__name__}: {e}" for e in errors[1:]))
            raise first

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {self.listeners} listeners)"


class EventGroup:
    """Holds a model's events by name: ``events = EventGroup("image_changed", ...)``, ``events.image_changed.emit()``."""

    def __init__(self, *names: str):
        for name in names:
            setattr(self, name, Event(name))
