"""Lock buttons: one per filter of every conv layer; a locked kernel (and its bias) is left as it is by training."""
from __future__ import annotations

import math

from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QToolButton

from cnnstudio.qt.widgets.signals import listen, qt_signals_blocked
from cnnstudio.qt.widgets import theme

PER_ROW = 8


class LockButtons(QGroupBox):
    """The lock buttons (objectNames ``lock_<layer>_<filter>``) of a ``TrainingSession``'s locks.

    Clicking one locks or unlocks the kernel in the session; a change of the session's locks
    (a loaded model) or of the architecture re-syncs the buttons.
    """

    def __init__(self, playground, session, parent=None):
        super().__init__("Lock kernels (training leaves them as they are)", parent)
        self.setObjectName("locksBox")
        self.playground, self.session = playground, session
        self.buttons: dict[tuple[int, int], QToolButton] = {}
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(6, 4, 6, 4)
        self.grid.setSpacing(2)
        self.rebuild()
        listen(self, playground.events.architecture_changed, self.rebuild)

    def rebuild(self) -> None:
        """One row of buttons per conv layer, as the network is now."""
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:  # hidden at once: until the deferred delete it would sit at its old place
                widget.hide()
                widget.deleteLater()
        self.buttons.clear()
        row = 0
        for layer, spec in enumerate(self.playground.network.conv_specs):
            label = QLabel(f"conv {layer + 1}")
            label.setStyleSheet(f"color: {theme.css(theme.muted())};")
            self.grid.addWidget(label, row, 0)
            for filter in range(spec.filters):
                button = QToolButton()
                button.setObjectName(f"lock_{layer}_{filter}")
                button.setCheckable(True)
                button.setText(str(filter + 1))
                button.setToolTip(f"Lock filter {filter + 1} of conv {layer + 1}: training leaves its kernel "
                                  f"and bias exactly as they are")
                button.setFixedSize(26, 22)
                button.setStyleSheet(f"QToolButton:checked {{ background: {theme.css(theme.marked_background())}; "
                                     f"color: {theme.css(theme.panel_text())}; "
                                     f"border: 1px solid {theme.css(theme.warning())}; font-weight: bold; }}")
                button.setChecked(self.session.is_locked(layer, filter))
                button.toggled.connect(lambda on, l=layer, f=filter: self.session.set_locked(l, f, on))
                self.buttons[(layer, filter)] = button
                self.grid.addWidget(button, row + filter // PER_ROW, 1 + filter % PER_ROW)
            row += max(1, math.ceil(spec.filters / PER_ROW))

    def sync(self) -> None:
        """Check exactly the buttons of the session's locked kernels."""
        for (layer, filter), button in self.buttons.items():
            locked = self.session.is_locked(layer, filter)
            if button.isChecked() != locked:
                with qt_signals_blocked(button):
                    button.setChecked(locked)
