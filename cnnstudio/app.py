"""Command line and application start-up."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnstudio", description="CNN Studio: see what a CNN does with your drawing.")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="start, draw a sample digit, save the whole window to PATH as PNG, and exit")
    return parser


def run(argv) -> int:
    args = build_parser().parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from cnnstudio.qt import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CNN Studio")
    window = MainWindow()
    if args.screenshot:
        code = window.save_screenshot(args.screenshot)
        window.close()
        return code
    window.show()
    return app.exec()
