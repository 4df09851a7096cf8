"""Help > Keyboard shortcuts (from the actions themselves), What is this panel?, the version in About."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

import cnnstudio
from cnnstudio.qt.main_window import MainWindow
from cnnstudio.qt.window_help import PANEL_HELP


def test_shortcuts_dialog_lists_the_window_shortcuts(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNSTUDIO_SETTINGS", str(tmp_path / "s.ini"))
    window = MainWindow()
    qtbot.addWidget(window)
    dialog = window.show_shortcuts()
    keys = " ".join(keys for _, keys in dialog.rows)
    for shortcut in ("Ctrl+T", "Ctrl+E", "Ctrl+Alt+Z", "Ctrl+L"):
        assert shortcut in keys, shortcut
    dialog.close()

    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    for key in PANEL_HELP:
        window.show_panel_help(key)
    assert len(shown) == len(PANEL_HELP) and "receptive field" in shown[2]
    window.show_about()
    assert cnnstudio.__version__ in shown[-1]
