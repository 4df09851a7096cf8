"""Event: every listener hears an emit, even after another listener raised; the error still surfaces."""
import pytest

from cnnstudio.base.events import Event, EventGroup


def test_a_raising_listener_does_not_stop_the_next_and_its_error_propagates():
    event = Event("activations_changed")
    heard = []

    def broken(value):
        raise IndexError(f"broken listener got {value}")

    event.connect(lambda value: heard.append(("first", value)))
    event.connect(broken)
    event.connect(lambda value: heard.append(("last", value)))
    with pytest.raises(IndexError, match="broken listener got 7"):
        event.emit(7)
    assert heard == [("first", 7), ("last", 7)]


def test_the_first_of_several_errors_is_raised_after_every_listener_ran():
    event = EventGroup("image_changed").image_changed
    heard = []

    def fails(error):
        def listener():
            heard.append(type(error).__name__)
            raise error
        return listener

    event.connect(fails(ValueError("first")))
    event.connect(fails(KeyError("second")))
    event.connect(lambda: heard.append("after"))
    with pytest.raises(ValueError, match="first"):
        event.emit()
    assert heard == ["ValueError", "KeyError", "after"]


def test_emit_without_errors_calls_every_listener_in_order():
    event = Event("kernels_changed")
    heard = []
    for name in ("a", "b", "c"):
        event.connect(lambda layer, name=name: heard.append((name, layer)))
    event.emit(1)
    assert heard == [("a", 1), ("b", 1), ("c", 1)]
