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


def test_every_error_is_reported_not_only_the_first(caplog):
    event = Event("input_changed")

    def fails(error):
        def listener():
            raise error
        return listener

    event.connect(fails(ValueError("first")))
    event.connect(fails(KeyError("second")))
    with caplog.at_level("ERROR", logger="cnnstudio.base.events"), pytest.raises(ValueError) as raised:
        event.emit()
    logged = [record.getMessage() for record in caplog.records]
    assert any("ValueError: first" in text for text in logged) and any("KeyError" in text for text in logged)
    if hasattr(raised.value, "__notes__"):  # Python 3.11+
        assert "KeyError: 'second'" in raised.value.__notes__[0]


def test_listeners_are_held_until_disconnected():
    event = Event("image_changed")
    heard = []
    listener = lambda value: heard.append(value)  # noqa: E731
    event.connect(listener)
    event.connect(listener)  # once only
    event.emit(1)
    assert heard == [1] and event.listeners == 1
    event.disconnect(listener)
    event.emit(2)
    assert heard == [1] and event.listeners == 0
