"""How the main window shares its space: panel sections, a size that fits the screen, docks that leave room.

On a laptop (1366x768, 1024x700) the panels must all stay usable: a section whose content
can be taller than its share scrolls instead of being cut off, the central panels keep a
sensible minimum size, and a dock at the bottom takes at most ``DOCK_SHARE`` of the window's
height when it opens (the learner can still drag it taller).
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from cnnstudio.qt.widgets import theme

DEFAULT_SIZE = (1400, 900)
SCREEN_SHARE = 0.94     # of the screen's free area a first window takes at most
DOCK_SHARE = 0.4        # of the window's height a bottom dock takes when it opens
# the least (width, height) of each section's body: enough to see what it is and scroll the rest
SECTION_MINIMUM = {"canvas": (220, 200), "kernels": (220, 110), "maps": (300, 160), "prediction": (150, 100),
                   "settings": (150, 110)}


class Section(QWidget):
    """A panel with a heading saying what the learner looks at and what to do with it.

    ``scroll``: the body sits in a QScrollArea, so a body taller (or wider) than the space
    given scrolls instead of being clipped or forcing the window to grow.
    """

    def __init__(self, title: str, body: QWidget, hint: str = "", scroll: bool = False, parent=None):
        super().__init__(parent)
        self.body = body
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        self.heading = None
        if title:  # a panel with its own title bar gets no second heading
            hint_html = f"&nbsp;&nbsp;<span style='color:{theme.css(theme.muted())}'>{hint}</span>" if hint else ""
            self.heading = QLabel(f"<b>{title}</b>{hint_html}")
            self.heading.setTextFormat(Qt.TextFormat.RichText)
            self.heading.setToolTip(hint)
            # a long hint is cut at the panel's edge rather than widening the column
            self.heading.setMinimumWidth(1)
            layout.addWidget(self.heading)
        self.scroll_area = None
        if scroll:
            self.scroll_area = QScrollArea()
            self.scroll_area.setWidgetResizable(True)
            self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
            self.scroll_area.setWidget(body)
            layout.addWidget(self.scroll_area, 1)
        else:
            layout.addWidget(body, 1)


def first_window_size(window: QWidget) -> tuple[int, int]:
    """DEFAULT_SIZE, shrunk to fit the free area of the screen the window will open on."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return DEFAULT_SIZE
    free = screen.availableGeometry()
    return (min(DEFAULT_SIZE[0], int(free.width() * SCREEN_SHARE)),
            min(DEFAULT_SIZE[1], int(free.height() * SCREEN_SHARE)))


def leave_room_for_panels(window, dock) -> None:
    """A bottom dock that just opened takes at most DOCK_SHARE of the window's height."""
    if dock.isFloating() or not dock.isVisible():
        return
    cap = int(window.height() * DOCK_SHARE)
    if dock.height() > cap:
        window.resizeDocks([dock], [cap], Qt.Orientation.Vertical)


def share_dock_place(window, docks) -> None:
    """Docks in the same area become tabs of one place instead of stacked strips that starve the panels."""
    first, *others = docks
    for dock in others:
        if not dock.isFloating() and window.dockWidgetArea(dock) == window.dockWidgetArea(first):
            window.tabifyDockWidget(first, dock)
