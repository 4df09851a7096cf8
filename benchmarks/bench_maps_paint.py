"""Time one live update of the feature maps: ``playground.set_input`` -> every map repainted.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_maps_paint.py [width height]
Prints the median and p99 over a few hundred updates (a stroke growing pixel by pixel),
for the whole update and for the paint alone.
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main(width: int = 1000, height: int = 650, updates: int = 400) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from cnnstudio.core.playground import Playground
    from cnnstudio.qt.panels.feature_maps import QtFeatureMaps

    playground = Playground()
    maps = QtFeatureMaps(playground)
    maps.resize(width, height)
    maps.show()
    app.processEvents()
    image = np.zeros((28, 28), dtype=np.float32)
    rng = np.random.default_rng(0)
    whole, paint_only = [], []
    for step in range(updates + 20):
        r, c = rng.integers(2, 26, size=2)
        image[r - 1:r + 2, c - 1:c + 2] = 1.0
        if step % 60 == 0:
            image[:] = 0
        start = time.perf_counter()
        playground.set_input(image)
        computed = time.perf_counter()
        maps.repaint()
        app.processEvents()
        end = time.perf_counter()
        if step >= 20:  # warm-up: compilation, first paints
            whole.append(end - start)
            paint_only.append(end - computed)
    for name, samples in (("set_input + repaint", whole), ("repaint only", paint_only)):
        ms = np.array(samples) * 1e3
        print(f"{name:>20}: median {np.median(ms):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms "
              f"({len(ms)} updates at {width}x{height})")


if __name__ == "__main__":
    main(*(int(v) for v in sys.argv[1:3]))
