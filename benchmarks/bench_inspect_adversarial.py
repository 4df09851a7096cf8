"""Adversarial nudge: FGSM and PGD on the default network, and the Adversarial tab's update per stroke.

Run: .venv/bin/python benchmarks/bench_inspect_adversarial.py  (one engine thread, as on the GUI thread)

Prints medians (and the best) in milliseconds: the nudge alone on a real test digit, then the whole
update after a stroke segment (the playground's forward pass, the nudge and filling the view's maps
and bars), with the view shown offscreen.  The issue asks for <= 50 ms (median) per stroke.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cnnstudio.engine import set_engine_threads  # noqa: E402
from cnnstudio.inspection.adversarial import fgsm, pgd  # noqa: E402
from cnnstudio.io.datasets import load_mnist_5k  # noqa: E402
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model  # noqa: E402


def median_ms(run, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def engine_numbers(network, image) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; one engine thread")
    fgsm(network, image, 3, 0.1)
    pgd(network, image, 3, 0.1, 2)  # compile / warm
    for name, run in (("FGSM", lambda: fgsm(network, image, 3, 0.1)),
                      ("PGD, 10 steps", lambda: pgd(network, image, 3, 0.1, 10)),
                      ("PGD, 40 steps (the most the view offers)", lambda: pgd(network, image, 3, 0.1, 40))):
        med, best = median_ms(run, 30)
        print(f"{name}: median {med:.1f} ms, best {best:.1f} ms")


def per_stroke(method: str, strokes: int = 40) -> None:
    from PySide6.QtWidgets import QApplication

    from cnnstudio.core.canvas import CanvasModel
    from cnnstudio.core.playground import Playground
    from cnnstudio.qt.inspection.adversarial_view import AdversarialView
    from cnnstudio.qt.inspection.dock import InspectContext

    app = QApplication.instance() or QApplication([])
    playground, canvas = Playground(), CanvasModel()
    canvas.events.image_changed.connect(lambda: playground.set_input(canvas.network_input()))
    view = AdversarialView(InspectContext(playground, canvas, None, lambda: None, lambda *a: None))
    view.resize(900, 480)
    view.show()
    view.method_box.setCurrentIndex(view.method_box.findData(method))
    view.target_box.setCurrentIndex(view.target_box.findData(2))
    app.processEvents()
    times = []
    canvas.begin_stroke(6, 4)
    for k in range(strokes):
        x, y = 6 + 16 * k / strokes, 4 + 20 * abs(np.sin(k / 7))
        start = time.perf_counter()
        canvas.stroke_to(x, y)  # the window's path: network input -> forward -> activations_changed
        app.processEvents()     # the view's posted refresh
        view.repaint()
        times.append((time.perf_counter() - start) * 1000)
    canvas.end_stroke()
    times = times[3:]  # the first ones warm the caches
    label = "PGD, 10 steps" if method == "pgd" else "FGSM"
    print(f"per stroke segment, {label} (forward + nudge + maps and bars painted): "
          f"median {statistics.median(times):.1f} ms, best {min(times):.1f} ms, worst {max(times):.1f} ms")
    view.close()


def main() -> None:
    set_engine_threads(1)
    network = load_model(DEFAULT_MODEL_PATH).network
    image = load_mnist_5k()[1].images[0]
    engine_numbers(network, image)
    for method in ("fgsm", "pgd"):
        per_stroke(method)


if __name__ == "__main__":
    main()
