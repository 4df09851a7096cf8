"""A tiny, Qt-free event: the model announces a change, whoever listens is called.

The model never knows its listeners; Qt views connect to these events and
re-emit or repaint on the GUI thread.
"""
from __future__ import annotations

from typing import Callable


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

    def emit(self, *args) -> None:
        """Call every listener, even after one raised; then re-raise the first exception.

        NOTE: one broken listener must not leave the others (e.g. the prediction
        bars) showing stale results, yet its error must still surface.
        """
        if self._blocked:
            return
        first_error: Exception | None = None
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception as error:
                if first_error is None:
                    first_error = error
        if first_error is not None:
            raise first_error

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._callbacks)} listeners)"


class EventGroup:
    """Holds a model's events by name: ``events = EventGroup("image_changed", ...)``, ``events.image_changed.emit()``."""

    def __init__(self, *names: str):
        for name in names:
            setattr(self, name, Event(name))
