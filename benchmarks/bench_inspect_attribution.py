"""Attribution maps: how long each method takes, how long the Attribution tab takes per stroke, and how
complete integrated gradients are.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_inspect_attribution.py

Prints, for the shipped default network on real test digits and on one engine thread (as the worker
runs them): the median time of each method; integrated gradients' completeness error and steps over
200 digits; then, with the Attribution view shown on a playground: the median time from a new input
(what a stroke does) to the five maps shown, and the GUI thread's share of it (the request and the
painting: the rest runs in the worker).  The target is 50 ms.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cnnstudio.engine import set_engine_threads
from cnnstudio.inspection import attribution as attr
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model

TARGET_MS = 50.0


def median_ms(samples) -> float:
    return 1e3 * statistics.median(samples)


def method_times(network, images) -> None:
    print("method                  median ms  (one engine thread, default network, 20 real digits)")
    for method in attr.METHODS:
        attr.attribute(method, network, images[0])  # warm
        samples = []
        for image in images:
            start = time.perf_counter()
            attr.attribute(method, network, image)
            samples.append(time.perf_counter() - start)
        print(f"  {method:22s}{median_ms(samples):9.2f}")


def completeness(network, images) -> None:
    errors, steps = [], []
    for image in images:
        result = attr.integrated_gradients(network, image)
        errors.append(result.completeness_error)
        steps.append(result.steps)
    errors = np.array(errors)
    counts = {s: steps.count(s) for s in sorted(set(steps))}
    print(f"integrated gradients completeness over {len(images)} test digits (predicted class, blank baseline):")
    print(f"  error median {np.median(errors):.2%}, 99th percentile {np.percentile(errors, 99):.2%}, "
          f"max {errors.max():.2%}; within 1%: {(errors <= 0.01).mean():.1%}")
    print(f"  steps used: {counts}")


def view_times(images, strokes: int = 30) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from cnnstudio.core.playground import Playground
    from cnnstudio.qt.inspection.attribution_view import AttributionView

    app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive while the view runs)
    playground = Playground()
    context = SimpleNamespace(playground=playground, canvas_model=None, training_controller=None,
                              data_source=None, message=lambda *a: None)
    view = AttributionView(context)
    view.resize(1300, 440)
    view.show()
    shown = []
    view.updated.connect(lambda: shown.append(time.perf_counter()))
    gui = []  # seconds the GUI thread spends on the view per stroke: the request and showing the maps

    def timed(method):
        def run(*args):
            start = time.perf_counter()
            method(*args)
            gui[-1] += time.perf_counter() - start
        return run

    view.refresh = timed(view.refresh)
    view.computer.ready.disconnect(view._show)
    view.computer.ready.connect(timed(view._show))
    latency = []
    for k in range(strokes + 1):
        gui.append(0.0)
        shown.clear()
        start = time.perf_counter()
        playground.set_input(images[k % len(images)][0])
        if not shown:  # wait as the app does: an idle event loop, not a busy one competing with the worker
            loop = QEventLoop()
            view.updated.connect(loop.quit)
            QTimer.singleShot(5000, loop.quit)
            loop.exec()
            view.updated.disconnect(loop.quit)
        paint_start = time.perf_counter()
        view.repaint()  # the tiles' painting, done now rather than at the next frame
        gui[-1] += time.perf_counter() - paint_start
        if k:  # the first one loads the kernels
            latency.append(time.perf_counter() - start)
    print(f"Attribution view, {strokes} new inputs (strokes), all five maps:")
    print(f"  median time to the maps shown: {median_ms(latency):.1f} ms (target {TARGET_MS:.0f} ms)")
    print(f"  of which on the GUI thread:    {median_ms(gui[1:]):.1f} ms (request, showing, painting)")
    view.stop()


def main() -> None:
    network = load_model(DEFAULT_MODEL_PATH).network
    test = load_mnist_5k()[1]
    set_engine_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    method_times(network, test.images[:20])
    completeness(network, test.images[:200])
    view_times(test.images[:40])


if __name__ == "__main__":
    main()
