"""How long the real window takes from a mouse event to every panel repainted.

    .venv/bin/python benchmarks/bench_gui.py [--strokes 20] [--moves 60] [--clicks 300]

Builds the whole ``MainWindow`` offscreen (1400 x 900, default network, all
maps shown), then sends real ``QMouseEvent``s:

- strokes on the canvas: press, many moves, release;
- clicks on kernel-editor cells (left then right, so the weights come back).

Each sample is timed from just before the event is sent until the window has
no update pending: the event is delivered, the coalesced update has run (the
drawing fed to the network) and every changed panel has been painted into the
backing store.  Prints the median and 99th percentile against the targets
(median <= 4 ms, p99 <= 16 ms), the engine/paint split the status bar shows,
and how many samples really repainted the maps.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TARGET_MEDIAN_MS = 4.0
TARGET_P99_MS = 16.0


class PaintCounter(QObject):
    """Counts Paint events of the widgets it is installed on."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def mouse_event(widget, kind, position: QPointF, button=Qt.MouseButton.NoButton,
                buttons=Qt.MouseButton.NoButton) -> QMouseEvent:
    return QMouseEvent(kind, position, widget.mapToGlobal(position), button, buttons,
                       Qt.KeyboardModifier.NoModifier)


def percentile(samples, q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def finish(app, window) -> None:
    """Let the event loop run until the coalesced update and its repaint are done."""
    app.processEvents()
    while window.update_pending:
        app.processEvents()


class Samples:
    """Per event: wall seconds, GUI-thread CPU seconds, the status bar's engine/paint split, maps repainted."""

    def __init__(self):
        self.wall, self.cpu, self.engine, self.paint, self.repainted = [], [], [], [], 0

    def time(self, app, window, maps_painter: PaintCounter, *deliveries) -> None:
        """Send (widget, event) pairs, then wait until every panel is repainted; record one sample."""
        before = maps_painter.count
        start, start_cpu = time.perf_counter(), time.thread_time()
        for widget, event in deliveries:
            QApplication.sendEvent(widget, event)
        finish(app, window)
        self.wall.append(time.perf_counter() - start)
        self.cpu.append(time.thread_time() - start_cpu)
        self.engine.append(window.last_engine_seconds)
        self.paint.append(window.last_paint_seconds)
        self.repainted += maps_painter.count > before


def stroke_points(rect, stroke: int, moves: int) -> list[QPointF]:
    """A wavy line across the canvas image, different for every stroke."""
    rng = np.random.default_rng(stroke)
    x0, y0 = rect.x() + 0.15 * rect.width(), rect.y() + rng.uniform(0.2, 0.8) * rect.height()
    points = []
    for k in range(moves + 1):
        t = k / moves
        x = x0 + t * 0.7 * rect.width()
        y = y0 + 0.15 * rect.height() * math.sin(2 * math.pi * (t * 1.5 + stroke / 7))
        points.append(QPointF(x, y))
    return points


def bench_strokes(app, window, maps_painter, strokes: int, moves: int):
    canvas = window.canvas
    samples = Samples()
    press, move, release = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease)
    left = Qt.MouseButton.LeftButton
    for stroke in range(strokes):
        if stroke % 4 == 0:
            window.canvas_model.clear()
            finish(app, window)
        points = stroke_points(canvas.image_rect(), stroke, moves)
        for k, point in enumerate(points):
            event = (mouse_event(canvas, press, point, left, left) if k == 0
                     else mouse_event(canvas, move, point, Qt.MouseButton.NoButton, left))
            samples.time(app, window, maps_painter, (canvas, event))
        QApplication.sendEvent(canvas, mouse_event(canvas, release, points[-1], left, Qt.MouseButton.NoButton))
        finish(app, window)
    return samples


def bench_kernel_clicks(app, window, maps_painter, clicks: int):
    editor = window.kernel_editor
    grid = editor.grid
    spec = window.playground.network.layers[editor.layer]
    rng = np.random.default_rng(0)
    samples = Samples()
    for k in range(clicks):
        f, i, j = rng.integers(spec.filters), rng.integers(spec.kernel), rng.integers(spec.kernel)
        centre = QPointF(editor.cell_rect(int(f), int(i), int(j)).center())
        for button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):  # +step, then -step back
            samples.time(app, window, maps_painter,
                         (grid, mouse_event(grid, QEvent.Type.MouseButtonPress, centre, button, button)),
                         (grid, mouse_event(grid, QEvent.Type.MouseButtonRelease, centre, button,
                                            Qt.MouseButton.NoButton)))
        app.processEvents()
    return samples


def report(name: str, samples: Samples) -> bool:
    ms = [s * 1e3 for s in samples.wall]
    median, p99 = statistics.median(ms), percentile(ms, 99)
    ok = median <= TARGET_MEDIAN_MS and p99 <= TARGET_P99_MS
    print(f"{name}: {len(ms)} events, maps repainted after {samples.repainted}/{len(ms)}")
    print(f"  event -> all panels repainted: median {median:.2f} ms, p99 {p99:.2f} ms, max {max(ms):.2f} ms "
          f"(targets: median <= {TARGET_MEDIAN_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms) -> "
          f"{'met' if ok else 'NOT met'}")
    cpu = [s * 1e3 for s in samples.cpu]
    print(f"  GUI-thread CPU time: median {statistics.median(cpu):.2f} ms, p99 {percentile(cpu, 99):.2f} ms "
          f"(wall >> CPU means other processes held the cores)")
    print(f"  status bar split (medians): engine {statistics.median(samples.engine) * 1e3:.2f} ms, "
          f"paint {statistics.median(samples.paint) * 1e3:.2f} ms")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20, help="strokes drawn on the canvas")
    parser.add_argument("--moves", type=int, default=60, help="mouse moves per stroke")
    parser.add_argument("--clicks", type=int, default=150, help="kernel cells clicked (left, then right)")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from cnnstudio.qt import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.draw_sample_digit()
    finish(app, window)
    window.feature_maps.fit()
    finish(app, window)
    maps_painter = PaintCounter()
    window.feature_maps.graphics_view().viewport().installEventFilter(maps_painter)

    # warm-up: first paints build caches (fonts, lookup tables)
    bench_strokes(app, window, maps_painter, 2, 20)
    bench_kernel_clicks(app, window, maps_painter, 10)

    print(f"CNN Studio window {window.width()}x{window.height()}, offscreen, default network "
          f"({sum(s.filters for s in window.playground.network.conv_specs) * 3} maps)")
    ok = report("canvas strokes", bench_strokes(app, window, maps_painter, args.strokes, args.moves))
    ok &= report("kernel cell clicks", bench_kernel_clicks(app, window, maps_painter, args.clicks))
    print("all targets met" if ok else "some targets NOT met")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
