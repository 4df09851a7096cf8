"""How many threads the engine's batch-parallel kernels use, per calling thread.

Numba's thread count is thread-local: each caller (the GUI thread, a training
worker) sets its own.  The app's policy:

- the GUI thread runs on one thread (its batches are small: occlusion maps,
  evaluations), so it never competes with a trainer for cores;
- a training worker uses every core but one (``training_threads()``), leaving
  one for the GUI.  On a 2-core machine that is one thread, which also avoids
  OpenMP's worst case there: workers spinning at a barrier while the thread
  they wait for has no core made a batch 100x slower on a busy machine.
"""
from __future__ import annotations

import contextlib

import numba


def set_engine_threads(count: int) -> None:
    """Use ``count`` threads (clipped to 1..available) in this thread's parallel kernels."""
    numba.set_num_threads(max(1, min(int(count), numba.config.NUMBA_NUM_THREADS)))


def training_threads() -> int:
    """Threads for a training worker: every core but one, at least one."""
    return max(1, numba.config.NUMBA_NUM_THREADS - 1)


@contextlib.contextmanager
def engine_threads(count: int):
    """Run this block's parallel kernels on ``count`` threads (this thread only), then restore."""
    before = numba.get_num_threads()
    set_engine_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(before)
