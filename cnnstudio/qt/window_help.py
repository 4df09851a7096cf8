"""Help > Keyboard shortcuts, Help > What is this panel?, and the About text.

The shortcut list is read from the window's actions themselves, so it is never out of
date; the panel explanations are README.md's "What is in the window", a sentence or three each.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QMessageBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from cnnstudio import __version__

# (title, explanation) per panel key of MainWindow.sections and per dock
PANEL_HELP = {
    "canvas": ("Canvas", "Draw a digit with the mouse or a pen; the right button or the Eraser toggle erases. "
               "Brush size, Clear, Undo/Redo (one stroke is one step, Ctrl+Z / Ctrl+Shift+Z). Open or drop a "
               "picture. MNIST framing scales the drawing's box to 20x20 and centres it in 28x28, as MNIST did; "
               "the small Network input preview shows what the network sees. 64 to 256 px image mode runs the "
               "kernels on photos."),
    "kernels": ("Kernels", "Every filter of a conv layer as coloured cells with their values. Left click adds a "
                "step, right click subtracts one, the wheel fine-tunes, double click or type an exact value. "
                "Presets (blur, sharpen, Sobel, ...), Randomise and Reset to trained; deeper layers have one "
                "kernel per input channel, and a bias."),
    "maps": ("Feature maps", "For each conv layer, one row per filter: the convolution, the activation and the "
             "pooled map. Red is positive, blue negative; a colour bar under each column. Hover any cell: its "
             "receptive field lights up on the input and earlier maps, its kernel cells in the kernel editor, "
             "and the arithmetic is written under the maps. Right-click a map to save it as PNG or its numbers "
             "as CSV or .npy."),
    "prediction": ("Prediction", "The ten softmax probabilities of the dense layer; the top class is "
                   "highlighted."),
    "settings": ("Layer settings", "Kernel size, stride, padding (or 'same'), filters, activation and pooling "
                 "of each conv layer, with the output-size arithmetic for the current input. Impossible "
                 "settings are explained under the field with a fix; a change that replaces trained weights "
                 "says so and can be undone (Ctrl+Alt+Z)."),
    "training": ("Training", "Train (start, pause, step, reset; optimiser, learning rate, batch size, epochs, "
                 "data), Evaluate (test accuracy, confusion matrix, worst mistakes) and My digits (press 0-9 "
                 "to label the drawing and keep it). View > Training, Ctrl+T."),
    "explain": ("Explain", "A step-through of one layer (the window sliding, products, sum and bias, ReLU, "
                "pooling, flatten, dense, softmax), X or O, ANN vs CNN, receptive fields, occlusion and the "
                "guided lessons of the Lessons menu. Ctrl+E."),
    "inspect": ("Inspect", "What the network learned, on your drawing: which pixels decide the answer "
                "(saliency, SmoothGrad, integrated gradients, Grad-CAM, occlusion), what each filter wants, "
                "a replay of training, adversarial nudges and the digit space. View > Inspect panel, Ctrl+I."),
}


def shortcut_rows(actions) -> list[tuple[str, str]]:
    """(what it does, keys) for every action with a shortcut (or a menu-only hint after a tab), sorted by name."""
    rows = {}
    for action in actions:
        text, _, hint = action.text().partition("\t")
        keys = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()]
        if not keys and hint:
            keys = [hint]
        if keys:
            rows[text.replace("&", "").rstrip(".").strip()] = ", ".join(keys)
    return sorted(rows.items(), key=lambda row: row[0].lower())


def all_actions(window: QWidget) -> list[QAction]:
    """Every action of ``window``: its own, its menus' (recursively) and its children's."""
    seen, found = set(), []

    def visit(actions):
        for action in actions:
            if id(action) in seen:
                continue
            seen.add(id(action))
            found.append(action)
            if action.menu() is not None:
                visit(action.menu().actions())

    visit(window.actions())
    visit(window.menuBar().actions())
    visit(window.findChildren(QAction))
    return found


class ShortcutsDialog(QDialog):
    """A two-column table, what and keys, of every shortcut of a window's actions."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(all_actions(window))
        self.table = QTableWidget(len(self.rows), 2)
        self.table.setHorizontalHeaderLabels(["Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (text, keys) in enumerate(self.rows):
            self.table.setItem(row, 0, QTableWidgetItem(text))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        note = QLabel("Also: 0-9 label the drawing for My digits (when no field has the focus); in the kernel "
                      "editor, the arrow keys move between cells.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(460, 480)


def panel_help_html(key: str) -> str:
    title, text = PANEL_HELP[key]
    return f"<h3>{title}</h3><p>{text}</p>"


def about_html() -> str:
    return (f"<h3>CNN Studio {__version__}</h3><p>Draw a digit and watch a convolutional neural network "
            "look at it: every kernel, every feature map, every pooling step and the final "
            "prediction, updated as you draw.</p><p>Edit the kernels and the layer settings to "
            "see what each part does. Help &gt; What is this panel? explains each panel.</p>")


class WindowHelp:
    """Help menu commands, mixed into ``MainWindow``."""

    def show_about(self) -> None:
        QMessageBox.about(self, "About CNN Studio", about_html())

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help > Keyboard shortcuts: every shortcut of the window's actions (shown, not modal)."""
        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_panel_help(self, key: str) -> None:
        """Help > What is this panel?: what ``key``'s panel shows and how to use it."""
        QMessageBox.information(self, f"What is this panel? {PANEL_HELP[key][0]}", panel_help_html(key))
