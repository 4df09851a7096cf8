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
