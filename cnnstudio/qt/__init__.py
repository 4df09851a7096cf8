"""Qt views of CNN Studio: they observe the model and send it commands.

``MainWindow`` is imported on first use, so a test of one panel does not build them all.
"""
import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major")

__all__ = ["MainWindow"]


def __getattr__(name):
    if name == "MainWindow":
        from cnnstudio.qt.main_window import MainWindow
        return MainWindow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
