"""Qt views of CNN Studio: they observe the model and send it commands."""
from .main_window import MainWindow

__all__ = ["MainWindow"]
