"""How the mouse and the keys on the kernel grid become intents: nudges, typed values, focus moves, tooltips.

``GridInput`` is mixed into ``KernelGrid`` (grid.py) and works on its state:
``_layout``, ``focus_cell``, ``_hover``, ``_click_run``, ``_editing``,
``inline_editor`` and the signals ``nudged``, ``value_entered``,
``filter_clicked`` and ``pointed_changed``.  It never changes a weight itself.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QScrollArea, QToolTip

from cnnstudio.qt.panels.kernel_editor.layout import BIAS
from cnnstudio.qt.panels.kernel_editor.words import push_words


class GridInput:
    """Mouse, wheel, keyboard, focus and inline-editing handlers of ``KernelGrid``."""

    # -- mouse
    def mousePressEvent(self, event):
        if self.take_quick_click(event.position(), event.button()):
            return
        self._commit_edit()
        hit = self.hit_test(event.position().toPoint())
        if hit is None:
            return super().mousePressEvent(event)
        kind, f, i, j = hit
        self.filter_clicked.emit(f)
        if kind != "cell":
            self._move_focus((f, self.focus_cell[1], self.focus_cell[2]))
            return
        self._move_focus((f, i, j))
        if event.button() == Qt.LeftButton:
            run = self._click_run
            if self._continues_click_run(event.position(), event.button()):
                self._click_run = ((f, i, j), run[1], run[2] + 1, time.monotonic(), event.position(), False)
            else:  # a new run: remember the value before it, so a double click can put it back
                self._click_run = ((f, i, j), self.value_at(f, i, j), 1, time.monotonic(), event.position(), False)
            self.nudged.emit(f, i, j, 1.0)
        elif event.button() == Qt.RightButton:
            self.nudged.emit(f, i, j, -1.0)

    def take_quick_click(self, position, button) -> bool:
        """A third quick click on the cell a double click just opened for typing: close it and step instead.

        That double click was rapid clicking, not a wish to type, so its two clicks count again (it had
        put their step back).  ``position`` in grid coordinates (the inline editor forwards its presses).
        """
        run = self._click_run
        if run is None or run[2] != 2 or self._editing != run[0] or not self._continues_click_run(position, button):
            return False
        target, origin, _, _, _, reverted = run
        self.cancel_edit()
        self._click_run = (target, origin, 3, time.monotonic(), position, False)
        self.nudged.emit(*target, 3.0 if reverted else 1.0)
        return True

    def _continues_click_run(self, position, button) -> bool:
        """Whether a left press at ``position`` is the next click of a quick run on a still pointer, same cell.

        The platform's double-click interval and start-drag distance decide, measured in real time and
        widget pixels from the run's last press (Qt's own double-click test cannot know a third click follows).
        """
        run = self._click_run
        if run is None or button != Qt.LeftButton:
            return False
        hit = self.hit_test(position.toPoint())
        target, _, _, last_time, last_pos, _ = run
        hints = QApplication.styleHints()
        return (hit is not None and hit[0] == "cell" and hit[1:] == target
                and time.monotonic() - last_time <= hints.mouseDoubleClickInterval() / 1000
                and (position - last_pos).manhattanLength() < hints.startDragDistance())

    def mouseDoubleClickEvent(self, event):
        hit = self.hit_test(event.position().toPoint())
        if hit is None or hit[0] != "cell":
            return super().mouseDoubleClickEvent(event)
        target = hit[1:]
        if event.button() == Qt.RightButton:  # a quick second right click still lowers
            self.nudged.emit(*target, -1.0)
            return
        if event.button() != Qt.LeftButton:
            return
        run = self._click_run
        if not self._continues_click_run(event.position(), event.button()) or run[2] != 1:
            # too slow, moved, or the fourth click of a run: a click like any other
            return self.mousePressEvent(event)
        # the first click of the double click raised the cell: put it back before typing
        reverted = run[1] != self.value_at(*target)
        self._click_run = (target, run[1], 2, time.monotonic(), event.position(), reverted)
        if reverted:
            self.value_entered.emit(*target, run[1])
        self.edit(*target)

    def mouseMoveEvent(self, event):
        hit = self.hit_test(event.position().toPoint())
        hover = hit[1:] if hit is not None and hit[0] == "cell" else None
        if hover != self._hover:
            self._update_cell(self._hover)
            self._hover = hover
            self._update_cell(hover)
            self.pointed_changed.emit()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event):
        if self._hover is not None:
            self._update_cell(self._hover)
            self._hover = None
            self.pointed_changed.emit()
        super().leaveEvent(event)

    def wheelEvent(self, event):
        hit = self.hit_test(event.position().toPoint())
        delta = event.angleDelta().y() / 120.0
        if hit is None or hit[0] != "cell" or delta == 0:
            event.ignore()  # let the scroll area scroll
            return
        self._move_focus(hit[1:])
        self.nudged.emit(*hit[1:], delta / 10.0)
        event.accept()

    def contextMenuEvent(self, event):
        # a right click on a weight or the bias lowered it (on press): only a card's title or frame exports
        if event.reason() == event.Reason.Keyboard:
            f = self.focus_cell[0]
            if 0 <= f < self._layout.filters:
                self.export_requested.emit(f, self.mapToGlobal(self.cell_rect(*self.focus_cell).center()))
            return
        hit = self.hit_test(event.pos())
        if hit is not None and hit[0] == "card":
            self.export_requested.emit(hit[1], event.globalPos())

    def event(self, event):
        if event.type() == QEvent.ToolTip:
            hit = self.hit_test(event.pos())
            if hit is not None and hit[0] == "cell":
                QToolTip.showText(event.globalPos(), self._tooltip(*hit[1:]), self)
            elif hit is not None:
                QToolTip.showText(event.globalPos(), f"<b>filter {hit[1] + 1}</b>: click to select it; right click "
                                  f"its title to save or copy its weights or picture", self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def _tooltip(self, f, i, j) -> str:
        what = f"filter {f + 1}, bias" if i == BIAS else f"filter {f + 1}, row {i + 1}, column {j + 1}"
        step = f"{self.step:g}"
        push = f"{push_words(float(self.gradients[f, i, j]))}<br>" if self.gradients is not None and i != BIAS else ""
        return (f"<b>{what}</b>: {self.value_at(f, i, j):.4f}<br>{push}"
                f"left click +{step}, right click \u2212{step}, wheel \u00b1{self.step / 10:g}<br>"
                f"double click or type a number to enter it")

    # -- keyboard and focus
    def keyPressEvent(self, event):
        if not self._layout.filters:
            return super().keyPressEvent(event)
        key, f = event.key(), self.focus_cell[0]
        moves = {Qt.Key_Left: (0, -1), Qt.Key_Right: (0, 1), Qt.Key_Up: (-1, 0), Qt.Key_Down: (1, 0)}
        if key in moves:
            self._move_focus(self._layout.neighbour(self.focus_cell, *moves[key]))
        elif key in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_F2):
            self.edit(*self.focus_cell)
        elif key in (Qt.Key_Delete, Qt.Key_Backspace):
            self.value_entered.emit(*self.focus_cell, 0.0)
        elif key in (Qt.Key_PageUp, Qt.Key_PageDown, Qt.Key_Plus):
            self.nudged.emit(*self.focus_cell, -1.0 if key == Qt.Key_PageDown else 1.0)
        elif event.text() and event.text() in "0123456789.,-\u2212":
            self.edit(*self.focus_cell, initial_text=event.text())
        else:
            return super().keyPressEvent(event)
        if self.focus_cell[0] != f:  # moving into another filter selects it
            self.filter_clicked.emit(self.focus_cell[0])

    def _move_focus(self, cell) -> None:
        if cell != self.focus_cell:
            self._update_cell(self.focus_cell)
            self.focus_cell = cell
            scroll = self._scroll_area()
            if scroll is not None:
                rect = self.cell_rect(*cell)
                scroll.ensureVisible(rect.center().x(), rect.center().y(), rect.width(), rect.height())
            self.pointed_changed.emit()
        self._update_cell(cell)

    def _scroll_area(self):
        widget = self.parentWidget()
        while widget is not None and not isinstance(widget, QScrollArea):
            widget = widget.parentWidget()
        return widget

    def focusInEvent(self, event):
        super().focusInEvent(event)
        self._update_cell(self.focus_cell)  # the focus ring appears
        self.pointed_changed.emit()

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        self._update_cell(self.focus_cell)
        self.pointed_changed.emit()

    # -- the inline editor
    def edit(self, filter: int, row: int, col: int, initial_text: str | None = None) -> None:
        """Open the inline editor on a cell; Enter commits the typed value, Esc cancels."""
        self._move_focus((filter, row, col))
        self._editing = (filter, row, col)
        text = self.inline_editor.text_of(self.value_at(filter, row, col)) if initial_text is None else initial_text
        self.inline_editor.open_over(self.cell_rect(filter, row, col), text, select=initial_text is None)

    @property
    def editing(self):
        """The (filter, row, col) being typed into, or None."""
        return self._editing

    def _commit_edit(self) -> None:
        if self._editing is None:
            return
        value = self.inline_editor.typed_value()
        if value is None:
            if self.inline_editor.hasFocus():  # stay open and say so
                self.inline_editor.show_invalid()
                return
            return self.cancel_edit()
        target, self._editing = self._editing, None
        self._close_editor()
        self.value_entered.emit(*target, value)

    def cancel_edit(self) -> None:
        """Close the inline editor without changing anything."""
        if self._editing is None:
            return
        self._editing = None
        self._close_editor()

    def _close_editor(self) -> None:
        refocus = self.inline_editor.hasFocus()
        self.inline_editor.hide()
        if refocus:
            self.setFocus(Qt.OtherFocusReason)
        self._update_cell(self.focus_cell)  # the focus ring comes back
