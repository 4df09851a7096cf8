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
        if self._blocked:
            return
        for callback in list(self._callbacks):
            callback(*args)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._callbacks)} listeners)"


class EventGroup:
    """Holds a model's events by name: ``events = EventGroup("image_changed", ...)``, ``events.image_changed.emit()``."""

    def __init__(self, *names: str):
        for name in names:
            setattr(self, name, Event(name))
