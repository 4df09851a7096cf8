"""Small helpers for two-way bindings between widgets and the model."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def qt_signals_blocked(*objects):
    """Change widgets from the model without their signals echoing the change back as commands."""
    previous = [obj.blockSignals(True) for obj in objects]
    try:
        yield
    finally:
        for obj, was in zip(objects, previous):
            obj.blockSignals(was)


def listen(widget, event, callback) -> None:
    """Connect ``callback`` to a model ``event`` (``cnnstudio.base.events.Event``) while ``widget`` lives.

    The model holds its listeners strongly; this disconnects ``callback`` when the widget is
    destroyed, so a closed panel is never called and never kept alive by the model.
    """
    event.connect(callback)
    widget.destroyed.connect(lambda *_: event.disconnect(callback))
