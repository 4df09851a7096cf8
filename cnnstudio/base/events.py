"""A tiny, Qt-free event: the model announces a change, whoever listens is called.

The model never knows its listeners; Qt views connect to these events and
re-emit or repaint on the GUI thread.

Listeners that are bound methods are held weakly: a view that is gone (deleted, garbage
collected) stops being called without having to disconnect.  Plain functions and lambdas
are held strongly (nothing else would keep them alive), so a view that connects a lambda
capturing itself disconnects it when it is destroyed.
"""
from __future__ import annotations

import logging
import weakref
from typing import Callable

log = logging.getLogger(__name__)


def _reference(callback: Callable):
    """A weak reference for a bound method, the callback itself otherwise; called, it gives the callback (or None)."""
    if getattr(callback, "__self__", None) is not None and getattr(callback, "__func__", None) is not None:
        return weakref.WeakMethod(callback)
    return lambda: callback


class Event:
    """A named notification: ``connect(callback)``, then ``emit(*args)`` calls every callback in order."""

    def __init__(self, name: str):
        self.name = name
        self._references: list = []
        self._blocked = 0

    def _live(self) -> list[Callable]:
        callbacks, live = [], []
        for reference in self._references:
            callback = reference()
            if callback is not None:
                callbacks.append(callback)
                live.append(reference)
        self._references = live
        return callbacks

    def connect(self, callback: Callable) -> None:
        if callback not in self._live():
            self._references.append(_reference(callback))

    def disconnect(self, callback: Callable) -> None:
        self._references = [r for r in self._references if r() is not None and r() != callback]

    @property
    def listeners(self) -> int:
        """How many listeners are still alive."""
        return len(self._live())

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
        for callback in self._live():
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
