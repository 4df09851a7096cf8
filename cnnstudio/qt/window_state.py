"""What the main window remembers between launches, and its File > Recent list.

Kept in ``QSettings`` (organisation "CNN Studio", application "cnnstudio"): the window's
geometry and dock layout, the brush size, the feature maps' colour scale and range, the
last folder of a file dialog and the last ``RECENT_COUNT`` models and images opened.

Only the app itself (``app.py`` names the application "CNN Studio") reads and writes the
user's settings; a window built by a script, a test or a benchmark gets a scratch file that
is thrown away, so it neither sees nor changes the user's layout.  ``CNNSTUDIO_SETTINGS``
names an ini file to use instead (a portable install, or a test of the settings themselves).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings

ORGANISATION = "CNN Studio"
APPLICATION = "cnnstudio"
APP_NAME = "CNN Studio"     # what app.py calls the QApplication: the user's own settings are in use
SETTINGS_ENV = "CNNSTUDIO_SETTINGS"
RECENT_COUNT = 8
STATE_VERSION = 1           # bump when the docks or toolbars change, so an old saved layout is ignored


def open_settings() -> QSettings:
    """The settings a new window uses: ``$CNNSTUDIO_SETTINGS``, the user's (in the app) or a scratch file."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    if QCoreApplication.applicationName() == APP_NAME:
        return QSettings(ORGANISATION, APPLICATION)
    scratch = tempfile.mkdtemp(prefix="cnnstudio-settings-")
    settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
    settings.scratch_folder = scratch  # the window removes this folder when it closes
    return settings


def _float(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class RecentFiles:
    """The last models and images opened, newest first, kept in ``settings`` under ``recent/files``.

    Each entry is ``(kind, path)`` with kind "model" or "image".
    """

    KEY = "recent/files"

    def __init__(self, settings: QSettings):
        self.settings = settings

    def entries(self) -> list[tuple[str, str]]:
        raw = self.settings.value(self.KEY, [])
        if isinstance(raw, str):  # QSettings gives a one-item list back as a plain string
            raw = [raw]
        entries = []
        for item in raw or []:
            kind, _, path = str(item).partition("|")
            if kind in ("model", "image") and path:
                entries.append((kind, path))
        return entries[:RECENT_COUNT]

    def _store(self, entries) -> None:
        self.settings.setValue(self.KEY, [f"{kind}|{path}" for kind, path in entries[:RECENT_COUNT]])

    def add(self, kind: str, path) -> None:
        """Put ``path`` first (once), dropping the oldest past ``RECENT_COUNT``."""
        path = str(Path(path).resolve())
        self._store([(kind, path)] + [e for e in self.entries() if e[1] != path])

    def remove(self, path: str) -> None:
        self._store([e for e in self.entries() if e[1] != path])

    def clear(self) -> None:
        self._store([])


def last_folder(settings: QSettings) -> str:
    """The folder of the last file opened or saved through a dialog (the home folder at first)."""
    folder = str(settings.value("dialogs/last_folder", "") or "")
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def remember_folder(settings: QSettings, path) -> None:
    settings.setValue("dialogs/last_folder", str(Path(path).resolve().parent))


def save_window_state(window, settings: QSettings) -> None:
    """Geometry, docks, brush size and colour scale of ``window`` (a MainWindow) into ``settings``."""
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState(STATE_VERSION))
    settings.setValue("window/main_splitter", window.splitter.saveState())
    settings.setValue("window/left_splitter", window._left.saveState())
    settings.setValue("window/right_splitter", window._right.saveState())
    settings.setValue("canvas/brush_size", window.canvas_model.brush_size)
    settings.setValue("maps/scale_mode", window.feature_maps.scale_mode)
    settings.setValue("maps/fixed_range", window.feature_maps.fixed_range)
    settings.sync()


def restore_window_state(window, settings: QSettings) -> bool:
    """Put back what ``save_window_state`` kept; False when there was no saved geometry (a first launch)."""
    brush = settings.value("canvas/brush_size")
    if brush is not None and _float(brush, 0.0) > 0:
        try:
            window.canvas_model.set_brush_size(_float(brush, window.canvas_model.brush_size))
        except ValueError:  # out of today's range: keep the default brush
            pass
    fixed = settings.value("maps/fixed_range")
    if fixed is not None and _float(fixed, 0.0) > 0:
        window.feature_maps.set_fixed_range(_float(fixed, window.feature_maps.fixed_range))
    mode = settings.value("maps/scale_mode")
    if mode is not None:
        try:
            window.feature_maps.set_scale_mode(str(mode))
        except ValueError:
            pass
    geometry = settings.value("window/geometry")
    if geometry is None or not window.restoreGeometry(geometry):
        return False
    state = settings.value("window/state")
    if state is not None:
        window.restoreState(state, STATE_VERSION)
    for key, splitter in (("main", window.splitter), ("left", window._left), ("right", window._right)):
        saved = settings.value(f"window/{key}_splitter")
        if saved is not None:
            splitter.restoreState(saved)
    return True
