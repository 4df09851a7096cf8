"""File > Export ONNX... and File > Import ONNX... of the main window.

``WindowOnnx(window)`` makes the two actions (the window puts them in its File menu) and runs
them: a file dialog that starts in the last folder, then the Qt-free export
(io/onnx_export.py) or import (io/onnx_import.py, then ``Document.import_network``: one undo
step, like a model load).  A file that cannot be written or read is explained in a message
box and changes nothing; a success is told in the status bar.  Both take milliseconds for
the networks CNN Studio shows, so they run on the GUI thread.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from cnnstudio.io.onnx_export import export_onnx
from cnnstudio.io.onnx_import import import_onnx
from cnnstudio.qt.window_state import last_folder, remember_folder

ONNX_FILTER = "ONNX models (*.onnx);;All files (*)"
STATUS_MILLISECONDS = 8000


def network_summary(network) -> str:
    """'2 conv layers and 3 dense layers' for a network's layer list."""
    counts = [(len(network.conv_specs), "conv"), (len(network.dense_specs), "dense")]
    parts = [f"{count} {kind} layer{'' if count == 1 else 's'}" for count, kind in counts if count]
    return " and ".join(parts)


class WindowOnnx:
    """The window's ONNX export and import; ``window`` is the MainWindow (its playground, document, settings)."""

    def __init__(self, window):
        self.window = window
        self.export_action = QAction("E&xport ONNX...", window)
        self.export_action.setObjectName("exportOnnxAction")
        self.export_action.setToolTip("Save the network and its weights as an ONNX model, for PyTorch, "
                                      "onnxruntime, Netron, ...")
        self.export_action.triggered.connect(lambda checked=False: self.export_onnx())
        self.import_action = QAction("I&mport ONNX...", window)  # &I is Open IDX data set
        self.import_action.setObjectName("importOnnxAction")
        self.import_action.setToolTip("Replace the network with a CNN exported from PyTorch or Keras as ONNX "
                                      "(Edit > Undo brings the old one back)")
        self.import_action.triggered.connect(lambda checked=False: self.import_onnx())

    def export_onnx(self, path=None) -> bool:
        """Write the network as an ONNX file (asking where if ``path`` is None); True once written."""
        window = self.window
        if path is None:
            suggested = Path(last_folder(window.settings)) / "cnnstudio_model.onnx"
            path, _ = QFileDialog.getSaveFileName(window, "Export ONNX model", str(suggested), ONNX_FILTER)
            if not path:
                return False
            if not Path(path).suffix:
                path += ".onnx"
        remember_folder(window.settings, path)
        try:
            export_onnx(window.playground.network, path, class_names=window.playground.class_names)
        except (OSError, ValueError) as err:  # one line each: what is wrong and the fix
            QMessageBox.warning(window, "ONNX model not exported", str(err))
            return False
        window.statusBar().showMessage(f"Exported the network to {Path(path).name} (ONNX).", STATUS_MILLISECONDS)
        return True

    def import_onnx(self, path=None) -> bool:
        """Replace the network with an ONNX file's (asking for one if ``path`` is None); True once imported.

        A file that cannot be read or shown is explained in a message box; the network,
        its weights, locks and curves stay as they were.
        """
        window = self.window
        if path is None:
            path, _ = QFileDialog.getOpenFileName(window, "Import ONNX model", last_folder(window.settings),
                                                  ONNX_FILTER)
            if not path:
                return False
        remember_folder(window.settings, path)
        name = Path(path).name
        try:
            network, class_names = import_onnx(path)
            window.document.import_network(network, class_names, name)
        except ValueError as err:  # OnnxFileError, ModelFileError: one line, what and the fix
            QMessageBox.warning(window, "ONNX model not imported", str(err))
            return False
        window.statusBar().showMessage(f"Imported {name}: {network_summary(network)}. Edit > Undo network change "
                                       f"brings the previous network back.", STATUS_MILLISECONDS)
        return True
