"""Real mouse events on the Inspect views' controls: pick a combo box entry, drag a slider, draw a stroke."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

LEFT = Qt.MouseButton.LeftButton


def send_mouse(widget, kind, position: QPointF, button, buttons=Qt.MouseButton.NoButton) -> None:
    """A mouse event as the window system sends it (QTest's mouseMove cannot hold a button down)."""
    QApplication.sendEvent(widget, QMouseEvent(kind, position, widget.mapToGlobal(position), button, buttons,
                                               Qt.KeyboardModifier.NoModifier))


def choose(qtbot, combo, data) -> None:
    """Open ``combo``'s list with a click and click the entry whose data is ``data``."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    qtbot.mouseClick(combo, LEFT)
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    # the open list ignores a release within a double-click interval of opening (it would be the opening click's)
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    rect = view.visualRect(view.model().index(index, 0))
    assert view.viewport().rect().contains(rect.center()), "the entry is not visible in the open list"
    qtbot.mouseClick(view.viewport(), LEFT, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())


def drag_slider(qtbot, slider, value: int) -> None:
    """Press on the slider's handle, move it to where ``value`` lies, release."""
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    style = slider.style()
    handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider)
    groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, slider)
    span = groove.width() - handle.width()
    x = groove.x() + handle.width() / 2 + QStyle.sliderPositionFromValue(slider.minimum(), slider.maximum(), value,
                                                                          span)
    start = QPointF(handle.center())
    send_mouse(slider, QEvent.Type.MouseButtonPress, start, LEFT, LEFT)
    for t in (0.25, 0.5, 0.75, 1.0):
        send_mouse(slider, QEvent.Type.MouseMove, QPointF(start.x() + (x - start.x()) * t, start.y()),
                   Qt.MouseButton.NoButton, LEFT)
    send_mouse(slider, QEvent.Type.MouseButtonRelease, QPointF(x, start.y()), LEFT)
    QApplication.processEvents()


def draw_on_canvas(window, points) -> None:
    """Press, move through ``points`` (row, col) of the drawing and release, on the window's canvas."""
    canvas = window.canvas
    rect = canvas.image_rect()
    scale = rect.width() / canvas.model.size

    def at(row, col):
        return QPointF(rect.x() + (col + 0.5) * scale, rect.y() + (row + 0.5) * scale)

    send_mouse(canvas, QEvent.Type.MouseButtonPress, at(*points[0]), LEFT, LEFT)
    for point in points[1:]:
        send_mouse(canvas, QEvent.Type.MouseMove, at(*point), Qt.MouseButton.NoButton, LEFT)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, at(*points[-1]), LEFT)
    QApplication.processEvents()


def click_at(qtbot, widget, point: QPoint) -> None:
    qtbot.mouseClick(widget, LEFT, pos=point)
