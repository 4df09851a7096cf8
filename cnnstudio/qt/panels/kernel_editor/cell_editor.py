"""The inline editor for typing one exact weight over its cell: Enter commits, Esc cancels, leaving it commits."""
from __future__ import annotations

import math

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtWidgets import QLineEdit

from cnnstudio.io.model_file import MAX_WEIGHT  # the playground refuses weights beyond it
from cnnstudio.qt.panels.kernel_editor.colours import ACCENT


_TYPING_STYLE = (f"QLineEdit {{ border: 2px solid {ACCENT.name()}; border-radius: 3px; "
                 f"background: white; color: black; }}")
_INVALID_STYLE = "QLineEdit { border: 2px solid #d93025; border-radius: 3px; background: #fce8e6; color: black; }"


class CellEditor(QLineEdit):
    """A line edit that opens over a cell of its parent; it only reads the text, the grid decides what happens."""

    committed = Signal()
    cancelled = Signal()

    @staticmethod
    def text_of(value: float) -> str:
        """How a weight reads when the editor opens on it: up to four decimals, no trailing zeros."""
        return f"{value:.4f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"

    def open_over(self, cell: QRect, text: str, select: bool) -> None:
        """Show ``text`` over ``cell`` (parent coordinates; kept inside the parent's width) and take the focus."""
        width, height = max(cell.width() + 8, 64), max(cell.height(), 24)
        geometry = QRect(0, 0, width, height)
        geometry.moveCenter(cell.center())
        geometry.moveLeft(min(max(geometry.left(), 0), max(self.parentWidget().width() - width, 0)))
        self.setStyleSheet(_TYPING_STYLE)
        self.setGeometry(geometry)
        self.setText(text)
        if select:
            self.selectAll()
        self.show()
        self.raise_()
        self.setFocus(Qt.OtherFocusReason)

    def typed_value(self) -> float | None:
        """The number typed (a comma or a true minus sign accepted), or None when it is no float32 weight."""
        text = self.text().strip().replace(",", ".").replace("\u2212", "-")
        try:
            value = float(text)
        except ValueError:
            return None
        if not math.isfinite(value) or abs(value) > MAX_WEIGHT:  # beyond it a forward pass overflows into NaN
            return None
        return value

    def show_invalid(self) -> None:
        """Turn red and say what a number looks like (the editor stays open)."""
        self.setStyleSheet(_INVALID_STYLE)
        self.setToolTip(f"Type a number such as 0.5 or -1.25 (between -{MAX_WEIGHT:,.0f} and {MAX_WEIGHT:,.0f})")

    def keyPressEvent(self, event):
        if event.key() in (Qt.Key_Return, Qt.Key_Enter):
            self.committed.emit()
        elif event.key() == Qt.Key_Escape:
            self.cancelled.emit()
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event):
        # a quick click right after the double click that opened it is rapid clicking: the grid takes it
        if not self.parentWidget().take_quick_click(self.mapToParent(event.position()), event.button()):
            super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event):
        if not self.parentWidget().take_quick_click(self.mapToParent(event.position()), event.button()):
            super().mouseDoubleClickEvent(event)

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        if self.isVisible() and event.reason() != Qt.PopupFocusReason:
            self.committed.emit()
