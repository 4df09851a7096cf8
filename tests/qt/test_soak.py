"""Thousands of updates in one process neither crash nor grow memory.

Also a guard against PySide6 6.12.0's leak of a reference to None on every
void Qt call ("Fatal Python error: none_dealloc" after a few thousand calls on
Python < 3.12): on a leaking build ``sys.getrefcount(None)`` grows by about one
per call.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication
from robustness.helpers_data import settled_memory_mb as settled_memory
from robustness.helpers_data import shown_main_window

CYCLES = 3000
ALLOWED_GROWTH_MB = 30


@pytest.fixture(scope="module")
def window():
    with shown_main_window() as main:
        yield main


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc to read the RSS")
def test_thousands_of_drawn_inputs_keep_memory_flat(window):
    model = window.canvas_model
    rng = np.random.default_rng(0)

    def strokes(count: int) -> None:
        for k in range(count):
            if k % 50 == 0:
                model.clear()
                model.begin_stroke(*rng.uniform(2, 26, 2))
            model.stroke_to(*rng.uniform(2, 26, 2))  # one input change, fed and painted in this turn
            QApplication.processEvents()
            assert not window.update_pending
        model.end_stroke()

    strokes(300)  # warm-up: caches, lookup tables, fonts
    before = settled_memory()
    strokes(CYCLES)
    growth = settled_memory() - before
    assert growth < ALLOWED_GROWTH_MB, f"RSS grew by {growth:.1f} MB over {CYCLES} drawn inputs"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc to read the RSS")
def test_thousands_of_kernel_edits_keep_memory_flat(window):
    playground = window.playground
    spec = playground.network.layers[0]
    rng = np.random.default_rng(1)

    def edits(count: int) -> None:
        for _ in range(count):
            f, i, j = rng.integers(spec.filters), rng.integers(spec.kernel), rng.integers(spec.kernel)
            playground.set_kernel_cell(0, int(f), 0, int(i), int(j), float(rng.normal(0, 0.5)))
            QApplication.processEvents()

    edits(300)
    before = settled_memory()
    edits(CYCLES)
    growth = settled_memory() - before
    playground.reset_kernels(0)
    assert growth < ALLOWED_GROWTH_MB, f"RSS grew by {growth:.1f} MB over {CYCLES} kernel edits"


def test_void_qt_calls_do_not_leak_references_to_none(window):
    widget = window.feature_maps
    for _ in range(100):
        widget.update()
    before = sys.getrefcount(None)
    for _ in range(5000):
        widget.update()
    grown = sys.getrefcount(None) - before
    assert grown < 100, f"None gained {grown} references over 5000 widget.update() calls (PySide6 6.12.0 leak?)"
