"""Command line and application start-up."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnstudio", description="CNN Studio: see what a CNN does with your drawing.")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="start, draw a sample digit, save the whole window to PATH as PNG, and exit")
    parser.add_argument("--model", metavar="FILE", type=Path,
                        help="start with this model: a .cnnmodel file, or an .onnx file (needs the onnx extra)")
    return parser


def open_start_model(window, path: Path) -> str | None:
    """Put ``--model`` into ``window`` (one undo step); the one-line reason it cannot be, or None.

    Checked before anything changes, without dialogs (a --screenshot run has nobody to answer them).
    """
    try:
        if path.suffix.lower() == ".onnx":
            from cnnstudio.io.onnx_import import import_onnx

            network, class_names = import_onnx(path)
            window.document.import_network(network, class_names, path.name)
        else:
            window.document.read(path)  # ModelFileError before the panel would show it in a dialog
            window.open_model(path)
    except ValueError as err:
        return str(err)
    return None


def run(argv) -> int:
    args = build_parser().parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from cnnstudio.qt import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CNN Studio")
    window = MainWindow()
    if args.model is not None:
        problem = open_start_model(window, args.model)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            window.close()
            return 1
    if args.screenshot:
        code = window.save_screenshot(args.screenshot)
        window.close()
        return code
    window.show()
    return app.exec()
