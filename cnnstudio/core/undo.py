"""One undo stack for changes to the network: kernel edits, settings changes, model loads, weight resets.

Qt-free.  Each change pushes an ``UndoEntry`` (a sentence for the menu and a function that
puts things back); the stack keeps the newest ``limit`` entries, so memory stays bounded
however long the learner plays.  Drawing strokes have their own undo in the canvas.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Hashable

from cnnstudio.base.events import EventGroup

UNDO_LIMIT = 50  # entries kept; the oldest are forgotten (a settings change holds a whole network's weights)


@dataclass
class UndoEntry:
    """One change that can be taken back.

    text        what the menu says after "Undo " ("kernel edit", "settings change", "model load", ...)
    restore     puts back what the change replaced
    merge_key   a change with the same key as the entry on top adds no entry (a wheel turning one cell
                is one step); None never merges
    """

    text: str
    restore: Callable[[], None]
    merge_key: Hashable | None = field(default=None)


class UndoStack:
    """The newest ``limit`` changes, newest last; ``changed()`` is emitted after a push, an undo or a clear."""

    def __init__(self, limit: int = UNDO_LIMIT):
        if limit < 1:
            raise ValueError(f"an undo stack needs room for at least 1 entry, got {limit}")
        self.events = EventGroup("changed")
        self._entries: deque[UndoEntry] = deque(maxlen=limit)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def limit(self) -> int:
        return self._entries.maxlen

    @property
    def can_undo(self) -> bool:
        return bool(self._entries)

    @property
    def undo_text(self) -> str | None:
        """What the next ``undo`` takes back, or None."""
        return self._entries[-1].text if self._entries else None

    def push(self, entry: UndoEntry) -> None:
        if entry.merge_key is not None and self._entries and self._entries[-1].merge_key == entry.merge_key:
            return  # the entry on top already restores the state from before this run of changes
        self._entries.append(entry)
        self.events.changed.emit()

    def undo(self) -> str | None:
        """Take back the newest change; returns its text, or None when there is nothing to undo.

        An entry whose ``restore`` raises ``ValueError`` (what it would restore no longer fits)
        is dropped and the error propagates, so one stale entry cannot block the rest.
        """
        if not self._entries:
            return None
        entry = self._entries.pop()
        try:
            entry.restore()
        finally:
            self.events.changed.emit()
        return entry.text

    def clear(self) -> None:
        if self._entries:
            self._entries.clear()
            self.events.changed.emit()
