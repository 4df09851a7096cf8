"""The main window (placeholder until the live playground lands)."""
from __future__ import annotations

from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


class MainWindow(QMainWindow):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("CNN Studio")
        self.setCentralWidget(QLabel("CNN Studio"))
        self.resize(800, 600)

    def save_screenshot(self, path: str) -> int:
        self.show()
        QApplication.processEvents()
        return 0 if self.grab().save(path) else 1
