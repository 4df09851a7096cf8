"""The one place where the engine's Numba flags live.

Every kernel of the engine is compiled with ``kernel`` (serial) or
``parallel_kernel`` (batch-parallel with ``prange``).  Both release the GIL so a
worker thread can train while the GUI thread keeps drawing, and both are cached
on disk so only the first launch pays for compilation.

``fastmath`` is limited to flags that let LLVM reorder and fuse float
reductions (``reassoc``, ``contract``): the gradient checks in float64 stay
meaningful and NaN/inf propagate, which the trainer relies on to detect a
diverging run.
"""
import numba

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

kernel = numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
parallel_kernel = numba.njit(cache=True, nogil=True, fastmath=FASTMATH, parallel=True)
prange = numba.prange
