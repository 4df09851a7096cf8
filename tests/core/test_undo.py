"""The undo stack: newest first, bounded, merging runs of one change, and a stale entry never blocks the rest."""
import pytest

from cnnstudio.core.undo import UndoEntry, UndoStack


def test_undo_takes_back_the_newest_first_and_says_what():
    done = []
    stack = UndoStack(limit=5)
    stack.push(UndoEntry("first", lambda: done.append(1)))
    stack.push(UndoEntry("second", lambda: done.append(2)))
    assert stack.undo_text == "second" and stack.undo() == "second" and stack.undo() == "first"
    assert done == [2, 1] and stack.undo() is None and not stack.can_undo


def test_the_stack_keeps_only_the_newest_entries():
    stack = UndoStack(limit=3)
    for k in range(10):
        stack.push(UndoEntry(f"change {k}", lambda: None))
    assert len(stack) == 3 and stack.undo_text == "change 9"


def test_a_run_of_changes_with_one_merge_key_is_one_step():
    done = []
    stack = UndoStack()
    for k in range(4):
        stack.push(UndoEntry("kernel edit", lambda k=k: done.append(k), merge_key=("cell", 0)))
    stack.push(UndoEntry("kernel edit", lambda: done.append("other"), merge_key=("cell", 1)))
    assert len(stack) == 2
    stack.undo()
    stack.undo()
    assert done == ["other", 0]  # the first entry of the run restores what was there before it


def test_an_entry_that_no_longer_fits_is_dropped_with_its_reason():
    def stale():
        raise ValueError("the layers changed")
    heard = []
    stack = UndoStack()
    stack.events.changed.connect(lambda: heard.append(len(stack)))
    stack.push(UndoEntry("ok", lambda: None))
    stack.push(UndoEntry("stale", stale))
    with pytest.raises(ValueError, match="layers changed"):
        stack.undo()
    assert stack.undo_text == "ok" and heard == [1, 2, 1]
    with pytest.raises(ValueError):
        UndoStack(limit=0)
