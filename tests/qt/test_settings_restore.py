"""What the window remembers across a restart, File > Recent, and View > Reset layout."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnstudio.qt.main_window import MainWindow


@pytest.fixture
def settings_file(tmp_path):
    return str(tmp_path / "cnnstudio.ini")


def build(qtbot, settings_file):
    window = MainWindow(settings=QSettings(settings_file, QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    QApplication.processEvents()
    return window


def test_settings_restored_after_restart(qtbot, settings_file, tmp_path):
    first = build(qtbot, settings_file)
    first.resize(760, 640)  # inside the offscreen screen (800x800): restoreGeometry keeps windows on screen
    first.canvas_model.set_brush_size(4.0)
    first.feature_maps.set_scale_mode("fixed")
    first.feature_maps.set_fixed_range(2.5)
    first.training.show()
    picture = tmp_path / "pictures" / "digit.png"
    picture.parent.mkdir()
    first.grab().save(str(picture), "PNG")
    assert first.open_image_file(picture)
    QApplication.processEvents()
    first.close()

    second = build(qtbot, settings_file)
    assert (second.width(), second.height()) == (760, 640)
    assert second.canvas_model.brush_size == pytest.approx(4.0)
    assert second.feature_maps.scale_mode == "fixed" and second.feature_maps.fixed_range == pytest.approx(2.5)
    assert second.training.isVisible()
    assert second.settings.value("dialogs/last_folder") == str(picture.parent.resolve())
    assert second.recent_files.entries() == [("image", str(picture.resolve()))]


def test_recent_file_that_is_gone_is_explained_and_removed(qtbot, settings_file, tmp_path, monkeypatch):
    window = build(qtbot, settings_file)
    gone = tmp_path / "old.cnnmodel"
    window.recent_files.add("model", gone)
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda *args: told.append(args[2]))
    assert not window.open_recent("model", str(gone.resolve()))
    assert told and "no longer there" in told[0]
    assert window.recent_files.entries() == []


def test_recent_keeps_the_last_eight(qtbot, settings_file, tmp_path):
    window = build(qtbot, settings_file)
    for k in range(10):
        window.recent_files.add("image", tmp_path / f"{k}.png")
    entries = window.recent_files.entries()
    assert len(entries) == 8 and entries[0][1].endswith("9.png")
    window._fill_recent_menu()
    assert len([a for a in window.recent_menu.actions() if a.text().startswith("&")]) == 8


def test_reset_layout_shows_every_panel_and_docks_back(qtbot, settings_file):
    window = build(qtbot, settings_file)
    window.view_actions["kernels"].setChecked(False)
    window.training.show()
    window.training.setFloating(True)
    window.reset_layout()
    assert window.sections["kernels"].isVisible()
    assert not window.training.isFloating()
