"""What filters want: activation maximisation (of each filter's centre unit) per stage, top patches on the
4,000 training digits, how far each filter rises over a blank input, and the GUI thread's share (showing
results, a kernel edit).

Run: .venv/bin/python benchmarks/bench_inspect_filters.py  (one engine thread, as the view's worker uses)
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cnnstudio.engine import set_engine_threads
from cnnstudio.inspection import filter_wants as fw
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model


def median_ms(run, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def engine_numbers(network, train) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; one engine thread")
    for stage in range(len(network.conv_specs)):
        fw.ascend(network, stage, steps=2)  # compile / warm
        med, best = median_ms(lambda stage=stage: fw.ascend(network, stage), 5)
        F = network.conv_specs[stage].filters
        print(f"activation maximisation, conv {stage + 1} ({F} filters, {fw.STEPS} steps, one batch): "
              f"median {med:.0f} ms, best {best:.0f} ms ({best / fw.STEPS:.2f} ms a step)")
    for stage in range(len(network.conv_specs)):
        med, best = median_ms(lambda stage=stage: fw.top_patches(network, stage, train.images), 3)
        print(f"top patches, conv {stage + 1}, {len(train):,} images: median {med:.0f} ms, best {best:.0f} ms")


def rise_over_blank(network, train) -> None:
    print("\nrise over a blank input: the centre unit's activation reached / max(its activation on an all-zero "
          "input, 1e-3 x the stage's mean on digits):")
    for stage in range(len(network.conv_specs)):
        ascent = fw.ascend(network, stage)
        floor = fw.BLANK_FLOOR * float(fw.stage_activations(network, train.images[:500], stage).mean())
        silent = fw.activation_upper_bound(network, stage) <= 0
        ratio = ascent.activation / np.maximum(ascent.blank, floor)
        live = np.flatnonzero(~silent)
        low = live[ratio[live].argmin()]
        field = ascent.field
        print(f"  conv {stage + 1} (centre unit {ascent.centre}, field {field.height}x{field.width}): silent filters "
              f"{[int(f) + 1 for f in np.flatnonzero(silent)]}; >= 10x for {int(np.sum(ratio[live] >= 10))} of "
              f"{live.size}; lowest {ratio[low]:.1f}x (filter {int(low) + 1}: {ascent.activation[low]:.3f} over "
              f"blank {ascent.blank[low]:.3f})")
        print(f"    per filter: {' '.join(f'{r:.0f}x' if f in live else 'silent' for f, r in enumerate(ratio))}")


def gui_numbers(network) -> None:
    from drawings import a_drawn_seven
    from PySide6.QtWidgets import QApplication

    from cnnstudio.core.playground import Playground
    from cnnstudio.qt.inspection.dock import InspectContext
    from cnnstudio.qt.inspection.filters_view import FiltersView

    app = QApplication.instance() or QApplication([])
    playground = Playground()
    playground.set_input(a_drawn_seven())
    view = FiltersView(InspectContext(playground, None, None, load_mnist_5k, lambda *a: None))
    view.resize(1100, 600)
    view.show()
    for stage in range(len(network.conv_specs)):
        view.layer_box.setCurrentIndex(stage)
        view.ascents[stage] = (view.version, _ascent_result(network, stage))
        view.patches[stage] = (view.version, fw.top_patches(network, stage, load_mnist_5k()[0].images[:500]))
        med, _ = median_ms(lambda: (view._show_cached(), app.processEvents()), 20)
        print(f"GUI thread: showing conv {stage + 1}'s results on its cards: median {med:.1f} ms")
    print("GUI thread per stroke: nothing (what a filter wants does not depend on the drawing; the view does not "
          "listen to it)")
    cell = iter(range(10_000))
    edit, _ = median_ms(lambda: (playground.set_kernel_cell(0, 0, 0, 1, 1, 0.01 * next(cell)), app.processEvents()),
                        20)
    print(f"GUI thread: a kernel edit (playground update + a copy of the network sent to the worker): "
          f"median {edit:.1f} ms")
    view.stop()


def _ascent_result(network, stage):
    from cnnstudio.qt.inspection.filters_worker import AscentResult
    return AscentResult(fw.ascend(network, stage), fw.activation_upper_bound(network, stage))


if __name__ == "__main__":
    set_engine_threads(1)
    shipped = load_model(DEFAULT_MODEL_PATH).network
    training = load_mnist_5k()[0]
    engine_numbers(shipped, training)
    rise_over_blank(shipped, training)
    gui_numbers(shipped)
